"""Probe parallelism: tinybt's spawned worker processes against threads, on a trained run.

    python benchmarks/bench_probe_pool.py RUN_DIR                 # the encoder rows
    python benchmarks/bench_probe_pool.py RUN_DIR --arms all      # + both bag-of-items rows

The probes of `tinybt probe RUN_DIR` (docs/protocol.md; its tasks and label fractions) run
three ways in this process, one after another: in-process (--jobs 1, the reference),
on JOBS spawned processes (tinybt/probe/pool.py, what --jobs runs), and on JOBS threads
of one process sharing the arrays. Prints each one's wall time, its speed-up over the
reference, and whether every prediction equals the reference's (the fits are deterministic).
"""

import argparse
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from tinybt.probe import evaluate
from tinybt.probe.evaluate import BAG, BAG_WINDOW, OBJECTIVE_ROW, check_tasks, encoder_run, reference_arms
from tinybt.probe.pool import load_shared, run_tasks, shared_folder
from tinybt.train.embed import load_run


def thread_tasks(fn, folder, tasks, names, jobs, on_tick, on_done):
    """pool.run_tasks on `jobs` threads of this process (same signature, same results)."""
    shared = load_shared(folder)
    with ThreadPoolExecutor(jobs) as ex:
        futures = [ex.submit(fn, shared, task, lambda units, i=i: on_tick(i, units)) for i, task in enumerate(tasks)]
        return [f.result() for f in futures]


def predictions(probes):
    return [fr["pred"] for ts in probes.values() for outs in ts.values() for o in outs for fr in o["fractions"]]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("run_dir")
    ap.add_argument("--arms", choices=("encoders", "all"), default="encoders")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--label-fractions", default="0.01,0.1,1")
    a = ap.parse_args()
    cfg, ds, seqs, enc, params = load_run(a.run_dir)
    tasks = check_tasks(None, ds)
    arms = {f"{OBJECTIVE_ROW[cfg.objective]} ({cfg.encoder})": [encoder_run(params, enc, seqs)]}
    arms |= reference_arms([cfg], seqs, enc)
    if a.arms == "encoders":
        arms = {k: v for k, v in arms.items() if k not in (BAG, BAG_WINDOW)}
    runs = {arm: len(r) for arm, r in arms.items()}
    arrays = evaluate.probe_arrays(arms, evaluate.task_labels(ds, seqs, tasks), seqs.split)
    kw = dict(pool="test", folds=5, label_fractions=tuple(map(float, a.label_fractions.split(","))), seeds=5, seed=0)
    print(f"{evaluate.dataset_title(ds)}: {', '.join(arms)}; tasks {', '.join(tasks)}; fractions {kw['label_fractions']}")
    print(f"{'how':<22} {'wall s':>8} {'speed-up':>9}  same predictions")
    ref, ref_pred = None, None
    for how, jobs, runner in (("in-process", 1, run_tasks), (f"{a.jobs} spawned processes", a.jobs,
                              run_tasks), (f"{a.jobs} threads", a.jobs, thread_tasks)):
        evaluate.run_tasks = runner
        t0 = time.perf_counter()
        with shared_folder(dict(arrays)) as folder:
            out = evaluate._probes(folder, runs, tasks, kw, jobs, echo=None)
        wall = time.perf_counter() - t0
        pred = predictions(out)
        ref, ref_pred = (wall, pred) if ref is None else (ref, ref_pred)
        same = all(np.array_equal(p, q) for p, q in zip(pred, ref_pred))
        print(f"{how:<22} {wall:8.1f} {ref / wall:8.2f}×  {same}", flush=True)


if __name__ == "__main__":
    main()
