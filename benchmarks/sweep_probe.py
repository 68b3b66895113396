"""Paired probe of several trained runs: which configuration is better, with intervals.

    python benchmarks/sweep_probe.py BASE_RUN RUN [RUN ...] --split val

Every run's encoder output is probed on the same folds and label subsets (the protocol
of docs/protocol.md, on the tuning pool with --split val), beside the reference rows of
BASE_RUN (untrained encoder, both bag-of-items rows, majority). Prints one markdown table
per task: each row's accuracy, mean [95 % interval], and its difference from BASE_RUN,
paired over users; then each row's selection score, its mean accuracy over every
task × fraction cell (as docs/tuning.md selects). The runs must share the data, split
and history window (max_len), since they are scored user by user.
"""

import argparse
from pathlib import Path

import numpy as np

from tinybt.probe.evaluate import difference, encoder_run, reference_arms, score, summarise
from tinybt.probe.stats import verdict
from tinybt.train.embed import load_run

SAME = ("dataset", "data_dir", "split_seed", "min_interactions", "max_len")


def load_arms(paths):
    """{run folder name: [encoder run]} for every path, plus BASE's reference rows; -> (arms, ds, seqs)."""
    arms, base = {}, None
    for p in paths:
        cfg, ds, seqs, enc, params = load_run(p)
        if base is None:
            base = (cfg, ds, seqs, enc)
        elif any(getattr(cfg, k) != getattr(base[0], k) for k in SAME):
            raise SystemExit(f"{p}: its {', '.join(SAME)} must match {paths[0]}'s to be scored user by user")
        arms[Path(p).name] = [encoder_run(params, enc, seqs)]
    cfg, ds, seqs, enc = base
    return arms | reference_arms([cfg], seqs, enc), ds, seqs


def cell(ci, sign=""):
    """A 0..1 value with its interval, in points: "71.2 [69.8, 72.5]" (sign="+": "+1.3 [...]")."""
    return f"{100 * ci['mean']:{sign}.1f} [{100 * ci['lo']:{sign}.1f}, {100 * ci['hi']:{sign}.1f}]"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("runs", nargs="+", help="BASE_RUN first, then the runs to compare with it")
    ap.add_argument("--split", default="val", choices=("val", "test"))
    ap.add_argument("--tasks", default=None, help="comma-separated [the dataset's defaults]")
    ap.add_argument("--label-fractions", default="0.01,0.1")
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--jobs", type=int, default=1)
    a = ap.parse_args()
    from tinybt.data.labels import default_tasks

    arms, ds, seqs = load_arms(a.runs)
    tasks = a.tasks.split(",") if a.tasks else default_tasks(ds.name)
    fractions = tuple(float(f) for f in a.label_fractions.split(","))
    scores = score(arms, ds, seqs, tasks, fractions, a.seeds, a.split, jobs=a.jobs, echo=print)
    summary = summarise(scores)
    base = Path(a.runs[0]).name
    diffs = {arm: difference(scores, arm, base) for arm in arms if arm != base}
    for task in tasks:
        rows = summary["probe"][task]["rows"]
        heads = [f"{fr:.0%} labels" for fr in fractions]
        print(f"\n#### {task} ({a.split} pool, {summary['probe'][task]['n_users']} users): accuracy %, "
              f"and − {base} (points, paired)\n")
        print("| row | " + " | ".join(heads + [f"− base, {h}" for h in heads]) + " |")
        print("|---|" + "---:|" * (2 * len(fractions)))
        for arm, row in rows.items():
            acc = [cell(c["accuracy"]) for c in row["cells"]]
            d = [f"{cell(ci, '+')} {verdict(ci)}".strip() for ci in diffs[arm]["probe"][task]] if arm in diffs else [""] * len(fractions)
            print(f"| {arm} | " + " | ".join(acc + d) + " |")
    cells = {arm: [100 * c["accuracy"]["mean"] for t in tasks for c in summary["probe"][t]["rows"][arm]["cells"]]
             for arm in summary["probe"][tasks[0]]["rows"]}
    print(f"\n#### Selection score: mean accuracy % over the {len(tasks)} tasks × {len(fractions)} fractions\n")
    print("| row | score |\n|---|---:|")
    for arm, v in sorted(cells.items(), key=lambda kv: -np.mean(kv[1])):
        print(f"| {arm} | {np.mean(v):.2f} |")


if __name__ == "__main__":
    main()
