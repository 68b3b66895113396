"""Golden files: every gradient-check case written out for framework ports.

    DIR/manifest.json     format, tinybt version, conventions, per case: file, config, tolerances
    DIR/<case>.npz        input/<name>, param/<name>, upstream/<name>, output/<name>, grad/<name>

`grad/<name>` is ∂S/∂<name> with S = Σ_k Σ output[k] ⊙ upstream[k], for every
float input and parameter (the Case contract of tinybt/check/gradcheck.py). Floats are
float64, integers int64. The cases are whatever `all_cases(SEED)` registers, so
a new case in tinybt/check/cases/ shows up here without touching this file. They run on
the reference path (tinybt/backend.py): the goldens are the plain NumPy maths.

The .npz files are written by hand (fixed zip timestamps, sorted keys) so that
exporting twice gives identical bytes and `git diff` shows only real changes.
"""

import io
import json
import os
import shutil
import tempfile
import zipfile
from pathlib import Path
from typing import NamedTuple

import numpy as np

from tinybt import __version__
from tinybt.atomic import atomic_open, check_folder, write_text
from tinybt.backend import use_backend
from tinybt.errors import TinyBTError
from tinybt.check.gradcheck import _REGISTRY, all_cases, rel_error

FORMAT = "tinybt-golden"
FORMAT_VERSION = 1
SEED = 0

# A port passes a tensor when every entry has |port − golden| ≤ atol + rtol·|golden|.
# Both sides are float64, so only summation order differs: ~1e-13 relative in practice.
PORT_TOL = {"output": {"atol": 1e-9, "rtol": 1e-7}, "grad": {"atol": 1e-9, "rtol": 1e-7}}
# `golden check`: tinybt against its own goldens; only BLAS/platform rounding may differ.
SELF_TOL = {"atol": 1e-11, "rtol": 1e-9}

# one line per case for `golden list`; a case not listed shows its function's docstring's first sentence
DESCRIPTIONS = {
    "batchnorm_train": "BatchNorm1d in training mode: batch statistics and the running-stat update",
    "embedding": "Embedding lookup of ids (3, 4) with padding; the padding row gets no gradient",
    "masked_softmax": "Softmax under a keep-mask, including a row with every key masked (outputs 0)",
    "linear": "Linear y = x W^T + b on x (2, 3, 4), weight (5, 4)",
    "linear_nobias": "Linear without bias, y = x W^T",
    "positional": "Learned positional embedding added at each position t",
    "layernorm": "LayerNorm over the last dim, biased variance, eps 1e-5, affine",
    "batchnorm_train_noaffine": "BatchNorm1d in training mode without weight and bias",
    "relu": "ReLU",
    "gelu": "Exact (erf) GELU",
    "last_pool": "User vector = the state at the last valid step of a padded sequence",
    "mean_pool": "User vector = the mean of the states over the valid steps of a padded sequence",
    "probe_logreg": "The linear probe's loss: cross-entropy of a linear layer + l2/2·||weight||² (bias free)",
    "gru": "PyTorch-semantics GRU (gates r|z|n) over a padded batch with lengths 4, 1, 2",
    "attention_pad": "Multi-head attention with a key-padding mask (True = padding)",
    "transformer_block_pad": "Pre-LN transformer block (MHA, exact-GELU FFN) over a padded batch",
    "model_bt_gru": "Whole Barlow Twins model: GRU encoder, projector, BT loss on two augmented views",
    "model_bt_transformer": "Whole Barlow Twins model: transformer encoder, projector, BT loss on two views",
    "model_dual": "Whole dual encoder: GRU user vectors against next-item embeddings, in-batch softmax",
}

CONVENTIONS = {
    "dtype": "Every float array is float64, every integer array int64 (ids, lengths, labels, steps), "
             "masks are bool (each case's config says whether True means keep or padding).",
    "ids": "Items are re-indexed to 1..V; id 0 is padding, id V+1 is the [MASK] token "
           "(embedding tables have V+2 rows). Sequences are right-padded; lengths[b] is the valid prefix.",
    "embedding": "Row lookup (nn.Embedding(V+2, D, padding_idx=0)); the padding row gets no gradient.",
    "positional": "Learned positional embedding: row t of a (T_max, D) table is added at position t.",
    "linear": "y = x W^T + b, weight (out, in) as torch.nn.Linear.",
    "gru": "PyTorch nn.GRU semantics, one layer, batch_first. r = sigmoid(W_ir x + b_ir + W_hr h + b_hr), "
           "z = sigmoid(W_iz x + b_iz + W_hz h + b_hz), n = tanh(W_in x + b_in + r * (W_hn h + b_hn)), "
           "h' = (1 - z) * n + z * h; h0 = 0. weight_ih_l0 (3H, D), weight_hh_l0 (3H, H), bias_ih_l0 and "
           "bias_hh_l0 (3H,) are stacked r|z|n. Padded steps (t >= length) leave h unchanged and output 0 "
           "(as pack_padded_sequence / pad_packed_sequence). The user vector: with config encoder.pooling "
           "'mean' (tinybt train's default) the mean of h over the valid steps, with 'last' or no pooling "
           "given (cases written before it was a setting) h at the last valid step. "
           "Full backpropagation through time.",
    "attention": "Multi-head scaled dot-product attention (nn.MultiheadAttention layout: in_proj_weight (3D, D) "
                 "and in_proj_bias (3D,) stacked q|k|v, out_proj.weight, out_proj.bias), logits scaled by "
                 "1/sqrt(head_dim). The key-padding mask (key position t >= length) sets the logit to -inf "
                 "before the softmax; no causal mask (every position sees the whole history).",
    "transformer_block": "Pre-LN: x = x + MHA(LN1(x)); x = x + FFN(LN2(x)), FFN = Linear(D, 4D) -> GELU -> "
                         "Linear(4D, D), no dropout; as nn.TransformerEncoderLayer(norm_first=True, "
                         "activation='gelu', batch_first=True, dropout=0). The encoder adds the positional "
                         "embedding, runs the blocks, applies a final LayerNorm; the user vector is the mean "
                         "over valid positions.",
    "gelu": "Exact GELU: x * Phi(x) = 0.5 x (1 + erf(x / sqrt 2)) (nn.GELU(approximate='none')).",
    "layernorm": "Over the last dim, biased variance, eps 1e-5, affine weight/bias.",
    "batchnorm": "nn.BatchNorm1d over the batch dim, training mode only: normalises with the biased batch "
                 "variance, eps 1e-5, and updates running_mean/running_var with momentum 0.1 using the UNBIASED "
                 "batch variance (running = 0.9 running + 0.1 batch).",
    "barlow_twins_loss": "Each view z1, z2 (N, P) is standardised per feature over the batch (biased variance, "
                         "eps 1e-5, no affine: BatchNorm1d(P, affine=False) in training mode); "
                         "C = z1_hat^T z2_hat / N; L = sum_i (1 - C_ii)^2 + lambda * sum_{i != j} C_ij^2. "
                         "N < 2 is an error.",
    "dual_encoder_loss": "Row-wise unit vectors u_hat = u / max(|u|, 1e-8), e_hat likewise (F.normalize(x, dim=1, "
                         "eps=1e-8)) of the user vectors u (B, D) and next-item embeddings e (B, D); logits "
                         "S = u_hat e_hat^T / tau (B, B); loss = mean_i -log softmax(S_i)_i (in-batch negatives). "
                         "Duplicate next items: where item_ids[j] == item_ids[i] for j != i, column j is not a "
                         "negative for row i: S_ij = -inf (zero gradient); every row still counts in the mean. "
                         "With input log_q (B,) (logQ correction), S_ij = u_hat_i . e_hat_j / tau - log_q[j] "
                         "before the masking; log_q gets no grad.",
    "cross_entropy": "torch.nn.functional.cross_entropy(logits, y, weight=w, reduction='mean'): "
                     "sum_i w_{y_i} l_i / sum_i w_{y_i}.",
    "adam": "torch.optim.Adam / AdamW semantics: m = b1 m + (1 - b1) g; v = b2 v + (1 - b2) g^2; "
            "p -= lr * (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps) (eps outside the sqrt); "
            "Adam adds weight_decay * p to g first, AdamW multiplies p by (1 - lr * weight_decay) first.",
    "gradients": "grad/<name> = dS/d<name>, S = sum_k sum(output[k] * upstream[k]), for every float input "
                 "and parameter; integer inputs have no grad.",
    "trajectory": "A trajectory output (e.g. output/loss of shape (10,)) is the loss at each of the optimiser "
                  "steps, computed before the step; it has no upstream and no grads. Every step uses the "
                  "full-batch gradient of the case's fixed inputs.",
    "training": "The *_train10 cases take tinybt train's optimiser steps: config.grad_clip > 0 clips the "
                "global gradient norm first; then AdamW (config.optimizer) at the learning rate of config."
                "schedule 'warmup_cosine': for step s (0-based) of total_steps T with W warmup_steps, "
                "lr = peak_lr (s + 1) / W for s < W, else min_lr + (peak_lr - min_lr) (1 + cos(pi (s - W) / "
                "(T - W))) / 2. output/lr[s] is the lr of step s.",
}


def case_arrays(c):
    """The arrays of one prepared case, under their golden keys, sorted."""
    # store the tensors as they were before the run, whatever the run does to them
    inputs = {k: np.array(v, copy=True) for k, v in c.inputs.items()}
    params = {k: np.array(v, copy=True) for k, v in c.params.items()}
    out, gin, gpar = c.run(c.inputs, c.params, c.upstream)
    arrays = {}
    groups = [("input", inputs), ("param", params), ("output", out)]
    if gin or gpar:            # a case without grads (a trajectory) needs no upstream
        groups += [("upstream", c.upstream), ("grad", {**(gin or {}), **(gpar or {})})]
    for kind, d in groups:
        for name, v in d.items():
            a = np.asarray(v)
            if a.dtype.kind != "b":     # masks stay bool
                a = a.astype(np.float64 if a.dtype.kind == "f" else np.int64)
            arrays[f"{kind}/{name}"] = a
    return dict(sorted(arrays.items()))


def _write_npz(path, arrays):
    """np.savez-compatible, but byte-for-byte reproducible (fixed timestamp)."""
    with atomic_open(path) as f, zipfile.ZipFile(f, "w", zipfile.ZIP_STORED) as zf:
        for key, a in arrays.items():
            buf = io.BytesIO()
            np.lib.format.write_array(buf, a, allow_pickle=False)
            zf.writestr(zipfile.ZipInfo(key + ".npy", date_time=(1980, 1, 1, 0, 0, 0)), buf.getvalue())


def build(seed=SEED, only=None):
    """(manifest, {case name: arrays}) computed by this tinybt; only: patterns (selected()) or None."""
    cases, data = {}, {}
    with use_backend("reference"):
        computed = [(c, case_arrays(c)) for c in all_cases(seed) if selected(c.name, only)]
    for c, arrays in computed:
        cases[c.name] = {
            "file": f"{c.name}.npz",
            "doc": " ".join((_REGISTRY[c.name].__doc__ or "").split()),
            "config": c.config,
            "tolerances": PORT_TOL,
            "arrays": {k: {"shape": list(a.shape), "dtype": str(a.dtype)} for k, a in arrays.items()},
        }
        data[c.name] = arrays
    manifest = {"format": FORMAT, "format_version": FORMAT_VERSION, "tinybt_version": __version__,
                "seed": seed, "conventions": CONVENTIONS, "cases": dict(sorted(cases.items()))}
    return manifest, data


def export(dest, force=False):
    """Write the golden folder atomically (temp folder, then rename). Returns the case names."""
    dest = Path(dest)
    if dest.exists() and not dest.is_dir():
        raise TinyBTError(f"golden export: {dest} exists and is not a directory")
    if dest.is_dir() and any(dest.iterdir()) and not force:
        raise TinyBTError(f"golden export: {dest} is not empty (pass --force to replace it)")
    here = Path.cwd().resolve()
    if dest.resolve() in (here, *here.parents):
        raise TinyBTError(f"golden export: {dest} is the current folder or holds it; --force would move "
                          "it away under our feet: export into a subfolder")
    check_folder(dest.resolve().parent, "golden export")
    manifest, data = build()
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.tmp-", dir=dest.parent))
    old = None
    try:
        for name, arrays in data.items():
            _write_npz(tmp / manifest["cases"][name]["file"], arrays)
        write_text(tmp / "manifest.json", json.dumps(manifest, indent=1, sort_keys=True) + "\n")
        if dest.is_dir():       # move the old folder aside so DEST is never half-written
            old = Path(tempfile.mkdtemp(prefix=f".{dest.name}.old-", dir=dest.parent))
            os.replace(dest, old / "d")
        os.replace(tmp, dest)
    except BaseException as e:
        if old and not dest.exists():
            os.replace(old / "d", dest)
        shutil.rmtree(tmp, ignore_errors=True)
        if isinstance(e, OSError) and e.filename and Path(e.filename).parent == tmp:
            # name the file the user asked for, not its place in the temporary folder
            raise OSError(e.errno, e.strerror, str(dest / Path(e.filename).name)) from None
        raise
    finally:
        if old:
            shutil.rmtree(old, ignore_errors=True)
    return list(data)


def load(src):
    """(manifest, {case name: {key: array}}) from a golden folder, validated."""
    src = Path(src)
    mpath = src / "manifest.json"
    try:
        manifest = json.loads(mpath.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise TinyBTError(f"golden: {mpath} not found (expected a folder written by `tinybt golden export`)")
    except json.JSONDecodeError as e:
        raise TinyBTError(f"golden: {mpath} line {e.lineno}: not valid JSON ({e.msg})")
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT or not isinstance(manifest.get("cases"), dict):
        raise TinyBTError(f"golden: {mpath}: format is not {FORMAT!r}")
    if manifest.get("format_version") != FORMAT_VERSION:
        raise TinyBTError(f"golden: {mpath}: format_version {manifest.get('format_version')!r}, "
                          f"this tinybt reads {FORMAT_VERSION}")
    data = {}
    for name, meta in manifest["cases"].items():
        if not isinstance(meta, dict) or not {"file", "config", "tolerances"} <= set(meta):
            raise TinyBTError(f"golden: {mpath}: case {name!r} needs \"file\", \"config\" and \"tolerances\"")
        if not isinstance(meta["file"], str) or Path(meta["file"]).name != meta["file"]:
            raise TinyBTError(f"golden: {mpath}: case {name!r}: \"file\" must be a file name in {src}, "
                              f"got {json.dumps(meta['file'])}")
        f = src / meta["file"]
        try:
            with np.load(f, allow_pickle=False) as z:
                data[name] = {k: z[k] for k in z.files}
        except (OSError, ValueError, EOFError, zipfile.BadZipFile) as e:
            raise TinyBTError(f"golden: {f}: cannot read ({type(e).__name__}: {e})") from None
    return manifest, data


class Row(NamedTuple):
    """One line of a check report: a compared tensor, or why one could not be compared."""
    case: str
    tensor: str
    abs: float = np.inf
    rel: float = np.inf
    share: float = np.inf       # max |a − e| / (atol + rtol |e|): ok ⟺ share ≤ 1
    ok: bool = False
    tol: dict | None = None     # {"atol", "rtol"} it was held to
    note: str = ""              # instead of numbers: "expected shape ..., got ...", "not produced", ...
    count: int = 1              # golden tensors the row stands for (a missing case: all of its)
    missing: bool = False       # the whole case is missing from one side


def compare(expected, actual, atol, rtol):
    """One tensor: (max abs err, max rel err, share of tolerance used, ok), or None when the
    shapes differ.

    rel err is relative to the tensor's scale (as in gradcheck); share is
    max |a − e| / (atol + rtol |e|), so ok ⟺ share ≤ 1.
    """
    e, a = np.asarray(expected, np.float64), np.asarray(actual, np.float64)
    if e.shape != a.shape:
        return None
    if e.size == 0:
        return 0.0, 0.0, 0.0, True
    err = np.abs(a - e)
    err = np.where(np.isnan(err), np.inf, err)
    share = float((err / (atol + rtol * np.abs(e))).max())
    return float(err.max()), rel_error(a, e), share, share <= 1.0


def compare_row(case, key, expected, actual, tol):
    """The report row of one tensor held to tol = {"atol", "rtol"}."""
    got = compare(expected, actual, tol["atol"], tol["rtol"])
    if got is None:
        shape = tuple(np.shape(expected)), tuple(np.shape(actual))
        return Row(case, key, tol=tol, note=f"expected shape {shape[0]}, got {shape[1]}")
    return Row(case, key, *got, tol=tol)


def missing_case(case, n_tensors, label):
    """The one row of a case that one side does not have (it stands for all n_tensors of its tensors)."""
    return Row(case, label, note=f"{n_tensors} tensors", count=max(n_tensors, 1), missing=True)


def selected(name, only):
    """True when case `name` matches one of the `--only` patterns (a pattern matches the names
    that contain it), or there are none."""
    return not only or any(p in name for p in only)


def check_only(only, names):
    """Refuse an --only pattern that selects no case of `names`."""
    for p in only or ():
        if not any(p in n for n in names):
            raise TinyBTError(f"--only: no case name contains {p!r}; `tinybt golden list` shows them all")


def _result(r):
    return "pass" if r.ok else "missing" if r.missing else "FAIL"


def report(rows, echo=print, failures_only=False):
    """Prints a table of Rows, the worst tensor of each failing case and a summary; True when all pass."""
    echo(f"{'case':<30} {'tensor':<40} {'max abs':>9} {'max rel':>9} {'tol used':>9}  result")
    for r in rows:
        if r.ok and failures_only:
            continue
        if r.note:
            echo(f"{r.case:<30} {r.tensor:<40} {r.note:>29}  {_result(r)}")
        else:
            echo(f"{r.case:<30} {r.tensor:<40} {r.abs:9.2e} {r.rel:9.2e} {100 * r.share:8.2g}%  {_result(r)}")
    bad = [r for r in rows if not r.ok]
    failing = sorted({r.case for r in bad})
    missing = sorted({r.case for r in bad if r.missing})
    for case in failing:
        if case not in missing:
            echo(_worst(case, [r for r in bad if r.case == case]))
    n = sum(r.count for r in rows)
    echo(f"{n - sum(r.count for r in bad)}/{n} tensors pass"
         + (f"; missing: {', '.join(missing)}" if missing else "")
         + (f"; FAILED: {', '.join(failing)}" if failing else ""))
    return not bad


def _worst(case, bad):
    """One line: the failing case's worst tensor, its relative error and the tolerance it missed."""
    measured = [r for r in bad if not r.note]
    if not measured:
        return f"worst of {case}: {bad[0].tensor}, {bad[0].note}"
    w = max(measured, key=lambda r: r.share)
    return (f"worst of {case}: {w.tensor} max rel {w.rel:.2e}, {100 * w.share:.2g}% of the tolerance "
            f"(atol {w.tol['atol']:g} + rtol {w.tol['rtol']:g}·|golden|)")


def check(src, echo=print, only=None):
    """Recompute the cases of folder `src` (only: --only patterns) with this tinybt and compare;
    prints the differing tensors and a summary. True when all agree."""
    manifest, golden = load(src)
    mine, data = build(manifest.get("seed", SEED), only)
    names = sorted(n for n in set(golden) | set(data) if selected(n, only))
    check_only(only, names + list(data))
    rows = []
    for name in names:
        if name not in data or name not in golden:
            where, there = ("this tinybt", golden) if name not in data else (str(src), data)
            rows.append(missing_case(name, len(there[name]), f"(case missing from {where})"))
            continue
        if manifest["cases"][name]["config"] != mine["cases"][name]["config"]:
            rows.append(Row(name, "(config differs)", note="config differs"))
        for key in sorted(set(golden[name]) | set(data[name])):
            if key not in golden[name] or key not in data[name]:
                rows.append(Row(name, key, note=f"missing from {'this tinybt' if key in golden[name] else src}"))
                continue
            rows.append(compare_row(name, key, golden[name][key], data[name][key], SELF_TOL))
    return report(rows, echo, failures_only=True)


def describe(name, make):
    """A case's one-line description: DESCRIPTIONS, else the first sentence of its function's docstring."""
    doc = " ".join((make.__doc__ or "").split())
    return DESCRIPTIONS.get(name) or (doc.split(". ")[0].rstrip(".") if doc else "(no description)")


def list_cases():
    """[(name, one-line description)] of every case, in export order."""
    import tinybt.check.cases  # noqa: F401  (importing it registers every case)

    return [(name, describe(name, make)) for name, make in sorted(_REGISTRY.items())]
