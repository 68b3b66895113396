"""The paper's comparison: Barlow Twins vs the dual encoder across batch sizes (`tinybt compare`).

For one dataset and encoder, both objectives train at each batch size for the same
number of epochs, so every run sees the same training examples (one per pretraining
user per epoch, less the dropped last partial batch) and a batch of 16 takes 16× the
optimiser steps of a batch of 256. Peak learning rate: each batch size's default,
3e-2·√(B/128) (train/config.py's default_lr, validated on val users in docs/tuning.md);
the schedule's warm-up and cosine are fractions of each run's own steps. With `--lr`,
every batch size gets that lr, or lr·√(B/128) with `--lr-scaling sqrt`.
Each (objective, batch size) trains `--seeds-pretrain` times (seeds seed, seed+1, ...),
so the seed-to-seed spread enters every interval (stats.py's two-level bootstrap).

Then every run and the reference rows are evaluated on identical folds and label subsets
(evaluate.py; the untrained encoder has one run per pretraining seed, from the parameters
those runs started from: both objectives draw the encoder first from the seed), and
the paired differences BT − dual, BT − bag of items (whole history, and the last max_len items
the encoder sees), BT − untrained (and, with --probe-projector, BT's projector output − dual) get 95 % intervals.
OUT/compare.json, OUT/compare.md and, when matplotlib is importable,
OUT/accuracy_vs_batch.png and OUT/accuracy_vs_labels.png (with --split val: the same
names ending in -val, so tuning never overwrites the test results). Each run keeps its folder
OUT/<objective>-b<B>-s<seed>; a folder holding a finished run of the same config is reused
and an unfinished one resumed, so an interrupted comparison continues where it stopped.
"""

import json
import math
import time
from dataclasses import asdict, replace
from functools import partial
from pathlib import Path

from tinybt.atomic import atomic_open, write_text
from tinybt.errors import TinyBTError
from tinybt.probe.evaluate import BAG, BAG_WINDOW, OBJECTIVE_ROW, PRETRAIN_TEXT, RANDOM, check_fractions, \
    check_options, check_tasks, dataset_title, difference, encoder_run, projector_row, projector_run, \
    reference_arms, score, summarise, task_labels
from tinybt.probe import FOLDS, LABEL_FRACTIONS
from tinybt.probe.report import MAJORITY, format_differences, format_probe_tables, format_retrieval, protocol_line
from tinybt.run.config import LR, LR_BATCH

BATCH_SIZES = (16, 32, 64, 128, 256)
OBJECTIVES = ("barlow", "dual")
SEEDS_PRETRAIN = 3
PLOTS = ("accuracy_vs_batch", "accuracy_vs_labels")


def output_name(stem, split, ext):
    """compare.json (test) / compare-val.json (val)."""
    return f"{stem}{'' if split == 'test' else '-' + split}.{ext}"


def scaled_lr(lr, batch_size, scaling):
    if scaling == "none":
        return lr
    if scaling == "sqrt":
        return lr * math.sqrt(batch_size / LR_BATCH)
    raise TinyBTError(f"--lr-scaling: expected none or sqrt, got {scaling!r}")


def row_name(objective, batch_size):
    return f"{OBJECTIVE_ROW[objective]} B={batch_size}"


def _same_recipe(a, b):
    ignore = {"version": "", "threads": None}
    return asdict(a) | ignore == asdict(b) | ignore


def train_or_reuse(cfg, path, echo):
    """Train cfg into path, or reuse/resume a run already there; -> its metrics rows (one per epoch)."""
    from tinybt.run import run_dir
    from tinybt.train.trainer import train

    if not (path / run_dir.CONFIG).exists():
        echo(f"train {path.name} ...")
        train(cfg, out=path, progress=False)
    elif not _same_recipe(run_dir.load_config(path), cfg):
        raise TinyBTError(f"--out: {path} holds a run with another config; pick a fresh --out")
    elif len(run_dir.read_metrics(path)) >= cfg.epochs:
        echo(f"reuse {path}")
    else:
        echo(f"resume {path}")
        train(resume=path, threads=cfg.threads, progress=False)
    return run_dir.read_metrics(path)


def compare(settings, batch_sizes=BATCH_SIZES, out=None, lr_scaling="none", tasks=None,
            label_fractions=LABEL_FRACTIONS, seeds=5, split="test", folds=FOLDS, seeds_pretrain=SEEDS_PRETRAIN,
            jobs=1, echo=print, projector=False):
    """settings: TrainConfig fields shared by every run (projector: probe BT's projector output
    too). Returns the markdown file written."""
    from tinybt.data.fingerprint import fingerprint
    from tinybt.run import checkpoint, run_dir
    from tinybt.run.config import TrainConfig
    from tinybt.train.trainer import encoder_config, load_sequences

    t_start = time.perf_counter()
    check_options(seeds, split, folds, jobs)
    fractions = check_fractions(label_fractions)
    if not batch_sizes or min(batch_sizes) < 2:
        raise TinyBTError(f"--batch-sizes: expected batch sizes >= 2 like 16,32,64, got {batch_sizes}")
    if seeds_pretrain < 1:
        raise TinyBTError(f"--seeds-pretrain: must be at least 1, got {seeds_pretrain}")
    batch_sizes = sorted(set(batch_sizes))
    base = TrainConfig(**settings).validate()
    scaled_lr(base.lr, 2, lr_scaling)          # a bad --lr-scaling fails now, not after training
    ds, seqs = load_sequences(base)
    labels = task_labels(ds, seqs, check_tasks(tasks, ds))
    data, name = fingerprint(ds), dataset_title(ds)
    del ds      # its interaction columns (memory-mapped) end with the labels, as in evaluate.py
    out = Path(out or f"runs/compare-{base.dataset}-{base.encoder}")
    out.mkdir(parents=True, exist_ok=True)
    pretrain_seeds = [base.seed + i for i in range(seeds_pretrain)]

    runs = []
    for objective in OBJECTIVES:
        for B in batch_sizes:
            for s in pretrain_seeds:
                lr = None if settings.get("lr") is None else scaled_lr(base.lr, B, lr_scaling)   # None: default_lr(B)
                cfg = replace(base, objective=objective, batch_size=B, lr=lr, seed=s).validate()
                path = out / f"{objective}-b{B}-s{s}"
                metrics = train_or_reuse(cfg, path, echo)
                seconds = sum(r["seconds"] for r in metrics)
                runs.append({"objective": objective, "batch_size": B, "seed": s, "lr": cfg.lr, "run_dir": str(path),
                             "steps": sum(r["steps"] for r in metrics), "train_seconds": round(seconds, 1),
                             "final_loss": metrics[-1]["loss"]})
                echo(f"  {objective} B={B} seed {s}: {runs[-1]['steps']} steps, {seconds:.0f} s")

    t0 = time.perf_counter()
    enc = encoder_config(base, seqs)
    arms = {}
    for r in runs:
        run_dir.check_data(r["run_dir"], data)      # a reused run trained on other data has other vectors
        params, buffers = checkpoint.load(Path(r["run_dir"]) / run_dir.CHECKPOINT)[:2]
        row = row_name(r["objective"], r["batch_size"])
        arms.setdefault(row, []).append(encoder_run(params, enc, seqs))
        if projector and r["objective"] == "barlow":
            arms.setdefault(projector_row(row), []).append(projector_run(params, buffers, enc, seqs))
    arms |= reference_arms([replace(base, seed=s) for s in pretrain_seeds], seqs, enc)
    scores = score(arms, labels, seqs, fractions, seeds, split, folds, jobs, echo=echo)
    results = summarise(scores)
    bt, dual = partial(row_name, "barlow"), partial(row_name, "dual")
    pairs = (("Barlow Twins − dual encoder", bt, dual),
             (f"Barlow Twins − {BAG}", bt, lambda B: BAG),
             (f"Barlow Twins − {BAG_WINDOW}", bt, lambda B: BAG_WINDOW),
             (f"Barlow Twins − {RANDOM}", bt, lambda B: RANDOM))
    if projector:
        pairs += (("Barlow Twins projector output − dual encoder", lambda B: projector_row(bt(B)), dual),)
    results["comparisons"] = {name: [difference(scores, a(B), b(B)) | {"batch_size": B} for B in batch_sizes]
                              for name, a, b in pairs}
    meta = {"settings": asdict(base), "dataset": name, "batch_sizes": batch_sizes,
            "lr_rule": (f"{LR:g}·√(B/{LR_BATCH}) (the default)" if settings.get("lr") is None
                        else f"{base.lr:g} (scaling: {lr_scaling})"),
            "tasks": list(labels), "label_fractions": list(fractions), "seeds": seeds,
            "folds": folds, "split": split, "pretrain_seeds": pretrain_seeds,
            "pretrain_users": base.pretrain_users, "pretrain_text": PRETRAIN_TEXT[base.pretrain_users],
            "jobs": jobs, "runs": runs, "probe_seconds": round(time.perf_counter() - t0, 1),
            "wall_seconds": round(time.perf_counter() - t_start, 1)}
    write_text(out / output_name("compare", split, "json"), json.dumps({"meta": meta, "results": results}, indent=1) + "\n")
    plotted = plot(results, meta, out)
    md = out / output_name("compare", split, "md")
    write_text(md, format_compare(results, meta, plotted))
    return md


def _mean(results, row, task, i, key="accuracy"):
    return results["probe"][task]["rows"][row]["cells"][i][key]["mean"]


def _probed(results, meta):
    return [t for t in meta["tasks"] if "skipped" not in results["probe"][t]]


def format_compare(results, meta, plotted):
    """Settings and runs, the paired differences, then the per-task and retrieval tables."""
    s = meta["settings"]
    train_s = sum(r["train_seconds"] for r in meta["runs"])
    lines = [f"# Barlow Twins vs dual encoder: {meta['dataset']}, {s['encoder']}", "",
             f"{s['epochs']} epoch(s) per run (same examples for every batch size), peak lr {meta['lr_rule']}, "
             f"D={s['dim']}, pooling {s['pooling']}, max_len={s['max_len']}, projector "
             f"{s['projector']}, λ={s['lambd']:g}, τ={s['tau']:g}, dual-encoder sampling correction "
             f"{s['sampling_correction']}, augment {s['augment']}, "
             f"pretraining seeds {', '.join(map(str, meta['pretrain_seeds']))}.", "",
             protocol_line(meta), "",
             f"Wall time of this command: {meta['wall_seconds']:.0f} s (training {train_s:.0f} s summed over runs, "
             f"including reused ones; evaluation {meta['probe_seconds']:.0f} s on {meta['jobs']} process(es)).", "",
             "A difference is **ahead** (**behind**) only when its whole 95 % interval lies above (below) 0 "
             "(paired bootstrap over users and pretraining seeds).", ""]
    fractions = meta["label_fractions"]
    for name, diffs in results["comparisons"].items():
        lines += format_differences(diffs, fractions, f"{name} (accuracy, points)", results["probe"],
                                    label=lambda d: d["batch_size"])
    if plotted:
        lines += [f"![{p}]({p})" for p in plotted] + [""]
    else:
        lines += ["(matplotlib is not installed: tables only; `pip install matplotlib` for the plots.)", ""]
    lines += format_robustness(results, meta)
    lines += ["## Per task", ""] + format_probe_tables(results) + format_retrieval(results)
    lines += ["## Runs", "", "| objective | batch | seed | lr | steps | train s | final loss |",
              "|---|---:|---:|---:|---:|---:|---:|"]
    for r in meta["runs"]:
        lines.append(f"| {OBJECTIVE_ROW[r['objective']]} | {r['batch_size']} | {r['seed']} | {r['lr']:.3g} | "
                     f"{r['steps']} | {r['train_seconds']:.0f} | {r['final_loss']:.4g} |")
    return "\n".join(lines) + "\n"


def format_robustness(results, meta):
    """Accuracy at the largest and smallest batch and the relative drop, per objective (the
    paper's claim is that Barlow Twins loses less); [] with one batch size."""
    lo, hi = min(meta["batch_sizes"]), max(meta["batch_sizes"])
    if lo == hi:
        return []
    fractions = meta["label_fractions"]
    head = [f"{OBJECTIVE_ROW[o]} {c}" for o in OBJECTIVES for c in (f"B={hi}", f"B={lo}", "drop")]
    lines = [f"## Batch-size robustness: B = {hi} → {lo}", "",
             "Accuracy % (mean [95 % interval] per arm; not a paired difference) and the relative drop "
             f"100·(acc(B={hi}) − acc(B={lo})) / acc(B={hi}).", "",
             "| task | labels | " + " | ".join(head) + " |", "|---|---:|" + "---:|" * len(head)]
    drops = {o: [] for o in OBJECTIVES}
    for task in _probed(results, meta):
        for i, f in enumerate(fractions):
            cells = []
            for o in OBJECTIVES:
                a, b = (results["probe"][task]["rows"][row_name(o, B)]["cells"][i]["accuracy"] for B in (hi, lo))
                drops[o].append(100 * (a["mean"] - b["mean"]) / a["mean"])
                cells += [f"{100 * c['mean']:.1f} [{100 * c['lo']:.1f}, {100 * c['hi']:.1f}]" for c in (a, b)]
                cells.append(f"{drops[o][-1]:+.1f} %")
            lines.append(f"| {task} | {100 * f:g} % | " + " | ".join(cells) + " |")
    lines.append("")
    for o, d in drops.items():
        if d:
            lines.append(f"{OBJECTIVE_ROW[o]}: mean relative drop {sum(d) / len(d):+.1f} % "
                         f"(cells from {min(d):+.1f} % to {max(d):+.1f} %).  ")
    return lines + [""]


def plot(results, meta, out):
    """The two PNGs, or [] without matplotlib."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return []
    tasks, fractions, sizes = _probed(results, meta), meta["label_fractions"], meta["batch_sizes"]
    if not tasks:
        return []
    last = len(fractions) - 1
    colors = {"barlow": "tab:blue", "dual": "tab:red"}
    styles = ["-", "--", ":", "-."]
    refs = ((BAG, "tab:green"), (BAG_WINDOW, "tab:olive"), (RANDOM, "tab:gray"))

    fig, axes = plt.subplots(1, len(tasks), figsize=(4.5 * len(tasks), 3.6), squeeze=False)
    for ax, task in zip(axes[0], tasks):
        for obj in OBJECTIVES:
            for i, (f, ls) in enumerate(zip(fractions, styles * 4)):
                ax.plot(sizes, [100 * _mean(results, row_name(obj, B), task, i) for B in sizes], ls,
                        color=colors[obj], marker="o", ms=3, label=f"{OBJECTIVE_ROW[obj]}, {100 * f:g} % labels")
        for name, c in refs:
            ax.axhline(100 * _mean(results, name, task, last), color=c, lw=0.8,
                       label=f"{name}, {100 * fractions[-1]:g} % labels")
        ax.axhline(100 * _mean(results, MAJORITY, task, last), color="k", lw=0.6, ls=":",
                   label="majority")
        ax.set(xscale="log", xlabel="batch size", ylabel=f"{meta['split']}-pool CV accuracy %", title=task)
        ax.minorticks_off()
        ax.set_xticks(sizes, [str(b) for b in sizes])
    names = [output_name(p, meta["split"], "png") for p in PLOTS]
    _save(fig, axes, out / names[0])

    fig, axes = plt.subplots(1, len(tasks), figsize=(4.5 * len(tasks), 3.6), squeeze=False)
    for ax, task in zip(axes[0], tasks):
        for obj in OBJECTIVES:
            for B, ls in zip(sorted({sizes[0], sizes[-1]}), styles):
                ax.plot([100 * f for f in fractions], [100 * _mean(results, row_name(obj, B), task, i) for i in range(len(fractions))],
                        ls, color=colors[obj], marker="o", ms=3, label=row_name(obj, B))
        for name, c in refs:
            ax.plot([100 * f for f in fractions], [100 * _mean(results, name, task, i) for i in range(len(fractions))],
                    color=c, lw=0.8, label=name)
        ax.plot([100 * f for f in fractions], [100 * _mean(results, MAJORITY, task, i) for i in range(len(fractions))],
                color="k", lw=0.6, ls=":", label="majority")
        ax.set(xscale="log", xlabel="labelled training-fold users %", ylabel=f"{meta['split']}-pool CV accuracy %", title=task)
        ax.minorticks_off()
        ax.set_xticks([100 * f for f in fractions], [f"{100 * f:g}" for f in fractions])
    _save(fig, axes, out / names[1])
    return names


def _save(fig, axes, path):
    """Legend right of the last panel; written atomically (never half a PNG)."""
    import matplotlib.pyplot as plt

    axes[0][-1].legend(fontsize=7, loc="center left", bbox_to_anchor=(1.02, 0.5))
    fig.tight_layout()
    with atomic_open(path) as f:
        fig.savefig(f, dpi=110, bbox_inches="tight", format="png")
    plt.close(fig)
