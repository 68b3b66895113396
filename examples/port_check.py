"""What every port's check.py shares: walk a golden folder's cases, compare, print the report.

A port supplies `port` (golden case name -> function) and `run_case(fn, arrays, config)`
-> {golden key: numpy array} for the outputs and grads it computed; this module does the
rest, so the PyTorch and the JAX port print the same table (tinybt.check.golden.report):
a case the port lacks is reported as missing, a wrong shape with both shapes, and the
worst tensor of each failing case with its error and tolerance (docs/golden.md).
"""

import argparse
import sys

from tinybt.errors import TinyBTError
from tinybt.check.golden import Row, check_only, compare_row, load, missing_case, report, selected


def split(arrays, kind):
    """The arrays of one kind, prefix cut: ({"input/x": a, "param/w": b}, "input") -> {"x": a}."""
    p = kind + "/"
    return {k[len(p):]: v for k, v in arrays.items() if k.startswith(p)}


def check_port(golden_dir, port, run_case, only=None, echo=print):
    """True when the port matches every case of the folder within the manifest's tolerances.
    only: a pattern or a list of them (a case is checked when its name contains one).
    A case the port does not know is a "missing" row; a crash, a missing tensor, a wrong
    shape: a failing row each."""
    manifest, golden = load(golden_dir)
    only = [only] if isinstance(only, str) else only
    check_only(only, list(golden))
    rows = []
    for name, arrays in golden.items():
        if not selected(name, only):
            continue
        meta = manifest["cases"][name]
        compared = sorted(k for k in arrays if k.startswith(("output/", "grad/")))
        if name not in port:
            rows.append(missing_case(name, len(compared), "(no port for this case)"))
            continue
        try:
            got = run_case(port[name], arrays, meta["config"])
        except Exception as e:      # a crashing port is a failing row, not a traceback
            msg = " ".join(str(e).split())
            rows.append(Row(name, f"(port raised {type(e).__name__}: {msg})"[:200], note="crashed",
                            count=len(compared)))
            continue
        for key in compared:
            tol = meta["tolerances"][key.split("/")[0]]
            if key not in got:
                rows.append(Row(name, key, tol=tol, note="not produced by the port"))
                continue
            rows.append(compare_row(name, key, arrays[key], got[key], tol))
    return report(rows, echo)


def main(check, doc):
    """The command line of a port's check.py: GOLDEN_DIR [--only TEXT]; exit 0 / 1 (a tensor
    fails) / 2 (the folder cannot be read)."""
    ap = argparse.ArgumentParser(description=doc.splitlines()[0])
    ap.add_argument("golden_dir")
    ap.add_argument("--only", action="append", metavar="PAT",
                    help="check only cases whose name contains PAT (repeat for several)")
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
