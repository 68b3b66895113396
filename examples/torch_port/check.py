"""Check the PyTorch port against a tinybt golden folder.

    python examples/torch_port/check.py GOLDEN_DIR [--only TEXT]

For every case: load input/* and param/* into float64 torch tensors, run the
port, compare each output/<name>; then backpropagate S = Σ output ⊙ upstream
with autograd and compare each grad/<name>. Prints per tensor the max abs
error, max rel error (relative to the tensor's scale) and the share of the
tolerance used (max |port − golden| / (atol + rtol |golden|)); exits 1 when
any tensor fails, 2 when the folder cannot be read.
"""

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))   # so `torch_port` imports as a package

from tinybt.errors import TinyBTError  # noqa: E402
from tinybt.golden import NO_MATCH, compare, load, report  # noqa: E402
from torch_port import PORT  # noqa: E402

def split(arrays, kind):
    p = kind + "/"
    return {k[len(p):]: v for k, v in arrays.items() if k.startswith(p)}


def run_case(fn, arrays, config):
    """-> {golden key: numpy array} computed by the port (outputs and grads)."""
    # a tensor is differentiated exactly when the golden has its grad (class weights, buffers: data)
    inputs = {k: torch.tensor(v, requires_grad=f"grad/{k}" in arrays) for k, v in split(arrays, "input").items()}
    params = {k: torch.tensor(v, requires_grad=f"grad/{k}" in arrays) for k, v in split(arrays, "param").items()}
    outputs, module = fn(inputs, params, config)
    got = {f"output/{k}": v.detach().numpy() for k, v in outputs.items()}
    upstream = split(arrays, "upstream")
    if upstream:
        s = sum((outputs[k] * torch.from_numpy(u)).sum() for k, u in upstream.items())
        s.backward()
        named = dict(module.named_parameters()) if module is not None else {}
        for k, t in {**inputs, **params}.items():
            g = named[k].grad if k in named else t.grad
            if g is not None:
                got[f"grad/{k}"] = g.numpy()
            elif t.requires_grad:          # autograd: untouched tensor, zero gradient
                got[f"grad/{k}"] = np.zeros(tuple(t.shape))
    return got


def check(golden_dir, port=PORT, only=None, echo=print):
    """True when the port matches every case of the folder within the manifest's tolerances."""
    torch.set_default_dtype(torch.float64)
    torch.set_num_threads(1)         # tiny tensors: threads only add contention
    manifest, golden = load(golden_dir)
    rows = []
    for name, arrays in golden.items():
        if only and only not in name:
            continue
        meta = manifest["cases"][name]
        if name not in port:
            rows.append((name, "(no port for this case)", *NO_MATCH))
            continue
        try:
            got = run_case(port[name], arrays, meta["config"])
        except Exception as e:      # a crashing port is a failing row, not a traceback
            msg = " ".join(str(e).split())
            rows.append((name, f"(port raised {type(e).__name__}: {msg})"[:200], *NO_MATCH))
            continue
        for key in sorted(k for k in arrays if k.startswith(("output/", "grad/"))):
            if key not in got:
                rows.append((name, key + " (not produced)", *NO_MATCH))
                continue
            tol = meta["tolerances"][key.split("/")[0]]
            rows.append((name, key, *compare(arrays[key], got[key], tol["atol"], tol["rtol"])))
    return report(rows, echo)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("golden_dir")
    ap.add_argument("--only", help="check only cases whose name contains this text")
    args = ap.parse_args()
    try:
        ok = check(args.golden_dir, only=args.only)
    except TinyBTError as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(2)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
