"""Probe several finished runs of one data setting together, paired against a reference run.

`tinybt probe` takes one run folder; this probes many with tinybt's own functions
(tinybt/probe/evaluate.py: score, summarise, difference), so every run is fitted on the same
folds and label subsets and each run − reference difference is paired over users:

    python docs/results/ml-1m-pairs-augment-val/probe_runs.py --reference RUNS/default \\
        --split val --label-fractions 0.01,0.1 --seeds 3 --jobs 1 --out RUNS/ablation.json \\
        RUNS/crop-0.6 RUNS/crop-0.4 ...

Rows: each run (named by its folder), the reference run, the untrained encoder of the
reference run's config, bag of items (whole history and last max_len) and majority.
Every run must share the data and max_len (one encoder config). Prints one markdown table
(accuracy mean [95 % interval] per task × fraction, then run − reference in points) and
writes the numbers as JSON.
"""

import argparse
import json
from pathlib import Path

from tinybt.data.fingerprint import fingerprint
from tinybt.probe.evaluate import (check_fractions, check_tasks, difference, encoder_run, reference_arms,
                                   score, summarise)
from tinybt.run import checkpoint, run_dir
from tinybt.train.embed import load_run


def pct(c):
    return f"{100 * c['mean']:.1f} [{100 * c['lo']:.1f}, {100 * c['hi']:.1f}]"


def diff(c):
    mark = " **ahead**" if c["lo"] > 0 else " **behind**" if c["hi"] < 0 else ""
    return f"{100 * c['mean']:+.1f} [{100 * c['lo']:+.1f}, {100 * c['hi']:+.1f}]{mark}"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("runs", nargs="+", type=Path)
    ap.add_argument("--reference", type=Path, required=True)
    ap.add_argument("--split", default="val", choices=("val", "test"))
    ap.add_argument("--label-fractions", default="0.01,0.1")
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--jobs", type=int, default=1)
    ap.add_argument("--out", type=Path, required=True)
    a = ap.parse_args()
    fractions = check_fractions([float(x) for x in a.label_fractions.split(",")])

    cfg, ds, seqs, enc, ref_params = load_run(a.reference)
    ref = f"reference: {a.reference.name}"
    arms = {ref: [encoder_run(ref_params, enc, seqs)]}
    configs, data = {}, fingerprint(ds)
    for path in a.runs:
        run_dir.check_data(path, data)      # a run trained on other data has other vectors
        other = run_dir.load_config(path, flag="RUN")
        if (other.max_len, other.dataset, other.encoder, other.dim) != (cfg.max_len, cfg.dataset, cfg.encoder, cfg.dim):
            raise SystemExit(f"{path}: not the reference's data setting")
        configs[path.name] = other.augment
        arms[path.name] = [encoder_run(checkpoint.load(path / run_dir.CHECKPOINT)[0], enc, seqs)]
    arms |= reference_arms([cfg], seqs, enc)
    scores = score(arms, ds, seqs, check_tasks(None, ds), fractions, a.seeds, a.split, jobs=a.jobs, echo=print)
    results = summarise(scores)
    results["differences"] = {p.name: difference(scores, p.name, ref) for p in a.runs}
    results["augment"] = {ref: cfg.augment} | configs
    a.out.write_text(json.dumps(results, indent=1) + "\n")

    tasks = list(results["probe"])
    cols = [(t, i, f) for t in tasks for i, f in enumerate(fractions)]
    head = " | ".join(f"{t} {100 * f:g} %" for t, _, f in cols)
    print(f"| row | --augment | {head} |\n|---|---|" + "---:|" * len(cols))
    for arm in results["probe"][tasks[0]]["rows"]:
        cells = " | ".join(pct(results["probe"][t]["rows"][arm]["cells"][i]["accuracy"]) for t, i, _ in cols)
        print(f"| {arm} | {results['augment'].get(arm, '')} | {cells} |")
    print(f"\n| run − reference (points) | --augment | {head} |\n|---|---|" + "---:|" * len(cols))
    for name, d in results["differences"].items():
        print(f"| {name} | {configs[name]} | " + " | ".join(diff(d["probe"][t][i]) for t, i, _ in cols) + " |")


if __name__ == "__main__":
    main()
