"""Time every probe of a run one by one and fit the cost model that orders them and sets the ETA.

    TINYBT_PROBE_CACHE=0 python benchmarks/probe_cost.py RUN_DIR          # ~9 CPU-min on ML-1M pairs

Runs each (arm, task, label fraction) probe of `tinybt probe RUN_DIR` (the run's own row, the
untrained encoder and both bag-of-items rows) in this process, one thread, and records its CPU
time. Then fits evaluate.py's model, seconds ≈ FIT_S · fits + ROW_S · rows · classes · width
(width: feature columns, or SPARSE_X × nonzeros per row for a sparse bag of items), by least
squares on log seconds, and prints each probe's measured time, the model's, and the ratio of
the two, beside the same ratio for a model of rows fitted alone (what the bar counted before).
"""

import argparse
import time

import numpy as np
import scipy.optimize
import scipy.sparse

from tinybt.probe import evaluate
from tinybt.probe.evaluate import OBJECTIVE_ROW, check_tasks, encoder_run, reference_arms
from tinybt.probe.linear_probe import probe, probe_plan
from tinybt.train.embed import load_run


def measure(run_dir, fractions):
    """[(arm, task, fraction, cpu seconds, fits, rows, classes, width, sparse)] for every probe."""
    cfg, ds, seqs, enc, params = load_run(run_dir)
    arms = {f"{OBJECTIVE_ROW[cfg.objective]} ({cfg.encoder})": [encoder_run(params, enc, seqs)]}
    arms |= reference_arms([cfg], seqs, enc)
    rows = []
    for task in check_tasks(None, ds):
        y = evaluate.make_labels(ds, seqs, task)[0]
        for arm, runs in arms.items():
            X = runs[0]["features"]
            sparse = scipy.sparse.issparse(X)
            width = X.nnz / X.shape[0] if sparse else X.shape[1]
            for f in fractions:
                plan = probe_plan(y, seqs.split, label_fractions=(f,))
                t0 = time.process_time()
                probe(X, y, seqs.split, label_fractions=(f,))
                rows.append((arm, task, f, time.process_time() - t0, len(plan), sum(plan), int(y.max()) + 1,
                             width, sparse))
                print(f"  {arm}, {task}, {f:.0%}: {rows[-1][3]:.1f} s", flush=True)
    return rows


def model(p, r):
    fit_s, row_s, sparse_x = np.exp(p)
    _, _, _, _, fits, n, classes, width, sparse = r
    return fit_s * fits + row_s * n * classes * width * (sparse_x if sparse else 1.0)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("run_dir")
    ap.add_argument("--label-fractions", default="0.01,0.1,1")
    a = ap.parse_args()
    rows = measure(a.run_dir, tuple(map(float, a.label_fractions.split(","))))
    secs = np.array([r[3] for r in rows])
    res = scipy.optimize.least_squares(lambda p: [np.log(model(p, r)) for r in rows] - np.log(secs),
                                       np.log([0.05, 1e-6, 5.0]))
    fit_s, row_s, sparse_x = np.exp(res.x)
    by_rows = np.array([r[5] for r in rows], float)
    by_rows *= secs.sum() / by_rows.sum()
    print(f"\nFIT_S, ROW_S, SPARSE_X = {fit_s:.2g}, {row_s:.2g}, {sparse_x:.2g}   "
          f"(total {secs.sum():.0f} CPU-s over {len(rows)} probes)\n")
    print("| arm | task | labels | CPU s | model s | model / CPU | rows-only / CPU |")
    print("|---|---|---:|---:|---:|---:|---:|")
    for r, s, b in zip(rows, secs, by_rows):
        m = model(res.x, r)
        print(f"| {r[0]} | {r[1]} | {r[2]:.0%} | {s:.1f} | {m:.1f} | {m / s:.2f} | {b / s:.2f} |")
    worst = lambda est: np.exp(np.max(np.abs(np.log(est / secs))))
    print(f"\nworst factor: model {worst(np.array([model(res.x, r) for r in rows])):.1f}×, "
          f"rows alone {worst(by_rows):.1f}×")


if __name__ == "__main__":
    main()
