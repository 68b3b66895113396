"""Probe several finished runs of one data setting together, paired against a reference run.

`tinybt probe` takes one run folder; this probes many with tinybt's own functions
(tinybt/probe/evaluate.py: score, summarise, difference), so every run is fitted on the same
folds and label subsets and each run − reference difference is paired over users:

    python benchmarks/probe_runs.py --reference RUNS/default \\
        --split val --label-fractions 0.01,0.1 --seeds 3 --jobs 1 --out RUNS/ablation.json \\
        RUNS/crop-0.6 RUNS/crop-0.4 ...

Rows: each run (named by its folder; folders of the same name, e.g. one per pretraining seed,
are one row with several runs, bootstrapped over users and runs), the reference run(s), the
untrained encoder of the reference runs' configs, bag of items (whole history and last max_len)
and majority.
Every run must share the data and max_len (one encoder config). Prints one markdown table
(accuracy mean [95 % interval] per task × fraction, and each row's mean over those cells:
the selection score of docs/tuning.md), then run − reference in points, and writes the
numbers as JSON. Used for docs/tuning.md (the transformer) and docs/results/ml-1m-pairs-augment-val.
"""

import argparse
import json
from pathlib import Path

from tinybt.data.fingerprint import fingerprint
from tinybt.probe.evaluate import (check_fractions, check_tasks, difference, encoder_run, reference_arms,
                                   score, summarise, task_labels)
from tinybt.probe.report import at_majority, diff_cell, pct
from tinybt.run import checkpoint, run_dir
from tinybt.train.embed import load_run


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("runs", nargs="+", type=Path)
    ap.add_argument("--reference", type=Path, action="append", required=True,
                    help="the reference run (repeat it for several pretraining seeds)")
    ap.add_argument("--split", default="val", choices=("val", "test"))
    ap.add_argument("--label-fractions", default="0.01,0.1")
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--jobs", type=int, default=1)
    ap.add_argument("--out", type=Path, required=True)
    a = ap.parse_args()
    fractions = check_fractions([float(x) for x in a.label_fractions.split(",")])

    cfg, ds, seqs, enc, _ = load_run(a.reference[0])
    data, ref = fingerprint(ds), f"reference: {a.reference[0].name}"
    arms, configs, augment = {}, {}, {}

    def add(arm, path):
        """One more run (pretraining seed) of `arm`: runs whose folders share a name are one arm."""
        run_dir.check_data(path, data)      # a run trained on other data has other vectors
        other = run_dir.load_config(path, flag="RUN")
        if (other.max_len, other.dataset, other.encoder, other.dim) != (cfg.max_len, cfg.dataset, cfg.encoder, cfg.dim):
            raise SystemExit(f"{path}: not the reference's data setting")
        if augment.setdefault(arm, other.augment) != other.augment:
            raise SystemExit(f"{path}: --augment {other.augment}, but {arm} has {augment[arm]}")
        configs.setdefault(arm, []).append(other)
        arms.setdefault(arm, []).append(encoder_run(checkpoint.load(path / run_dir.CHECKPOINT)[0], enc, seqs))

    for path in a.reference:
        add(ref, path)
    for path in a.runs:
        add(path.name, path)
    names = list(dict.fromkeys(p.name for p in a.runs))
    arms |= reference_arms(configs[ref], seqs, enc)
    scores = score(arms, task_labels(ds, seqs, check_tasks(None, ds)), seqs, fractions, a.seeds, a.split,
                   jobs=a.jobs, echo=print)
    results = summarise(scores)
    results["differences"] = {n: difference(scores, n, ref) for n in names}
    results["augment"] = augment
    results["pretrain_seeds"] = {arm: [c.seed for c in cs] for arm, cs in configs.items()}
    a.out.write_text(json.dumps(results, indent=1) + "\n", encoding="utf-8")

    tasks = list(results["probe"])
    cols = [(t, i, f) for t in tasks for i, f in enumerate(fractions)]
    head = " | ".join(f"{t} {100 * f:g} %" for t, _, f in cols)
    print(f"| row | --augment | {head} | mean |\n|---|---|" + "---:|" * (len(cols) + 1))
    for arm in results["probe"][tasks[0]]["rows"]:
        acc = [results["probe"][t]["rows"][arm]["cells"][i]["accuracy"] for t, i, _ in cols]
        mean = 100 * sum(c["mean"] for c in acc) / len(acc)
        print(f"| {arm} | {augment.get(arm, '')} | {' | '.join(map(pct, acc))} | {mean:.2f} |")
    print(f"\n| run − reference (points) | --augment | {head} |\n|---|---|" + "---:|" * len(cols))
    for name, d in results["differences"].items():
        print(f"| {name} | {augment[name]} | " + " | ".join(
            diff_cell(d["probe"][t][i], at_majority(results["probe"][t], i, (name, ref))) for t, i, _ in cols) + " |")
    print("\n(≈ majority): both rows' accuracy intervals overlap the majority row's.")


if __name__ == "__main__":
    main()
