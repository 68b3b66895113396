"""What every port's check.py shares: walk a golden folder's cases, compare, print the report.

A port supplies `port` (golden case name -> function) and `run_case(fn, arrays, config)`
-> {golden key: numpy array} for the outputs and grads it computed; this module does the
rest, so the PyTorch and the JAX port print the same table (tinybt.check.golden.report).
"""

import argparse
import sys

from tinybt.errors import TinyBTError
from tinybt.check.golden import NO_MATCH, compare, load, report


def split(arrays, kind):
    """The arrays of one kind, prefix cut: ({"input/x": a, "param/w": b}, "input") -> {"x": a}."""
    p = kind + "/"
    return {k[len(p):]: v for k, v in arrays.items() if k.startswith(p)}


def check_port(golden_dir, port, run_case, only=None, echo=print):
    """True when the port matches every case of the folder within the manifest's tolerances.
    A case the port does not know, a crash, a missing tensor: a failing row each."""
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


def main(check, doc):
    """The command line of a port's check.py: GOLDEN_DIR [--only TEXT]; exit 0 / 1 (a tensor
    fails) / 2 (the folder cannot be read)."""
    ap = argparse.ArgumentParser(description=doc.splitlines()[0])
    ap.add_argument("golden_dir")
    ap.add_argument("--only", help="check only cases whose name contains this text")
    args = ap.parse_args()
    try:
        ok = check(args.golden_dir, only=args.only)
    except TinyBTError as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(2)
    sys.exit(0 if ok else 1)


def registry():
    """-> (PORT, port): an empty {case name: function} table and the decorator filling it,
    `@port("linear", "linear_nobias")` registering one function under several cases."""
    table = {}

    def port(*names):
        def deco(fn):
            for n in names:
                table[n] = fn
            return fn
        return deco

    return table, port
