"""Summarise a max_len sweep of `tinybt compare`: one markdown table and one plot.

The sweep it reads is one compare per max_len M in {50, 100, 200, all}, on validation users:

    tinybt compare --dataset ml-1m --data-dir $DATA/ml-1m-pairs --encoder gru --batch-sizes 64 \\
        --max-len M --split val --seeds-pretrain 2 --label-fractions 0.01,0.1 --seeds 3 \\
        --threads 1 --jobs 1 --out SWEEP/maxlen-M

and it is run as

    python benchmarks/sweep_maxlen.py SWEEP/maxlen-50 SWEEP/maxlen-100 SWEEP/maxlen-200 \\
        SWEEP/maxlen-all --plot-dir OUT

Each folder's compare-val.json (or compare.json for the test pool) gives every arm's accuracy
per task × label fraction as mean [95 % interval]. The table has one block of rows per
max_len (one row per arm) and one column per task × fraction; the plot draws accuracy against
max_len, one line per arm, one panel per task, at the largest label fraction. The last column is
the plain mean of an arm's cell means (no interval): a one-number summary for choosing max_len. Intervals of two
max_len values come from different compares: they are not paired, so compare them by overlap.
With --paired it also prints each compare's paired Barlow Twins − other arm differences (one
batch size per compare), **ahead** / **behind** where the interval excludes 0.
"""

import argparse
import json
from pathlib import Path

from tinybt.probe.report import at_majority, diff_cell, pct

ARMS = ("Barlow Twins", "dual encoder", "bag of items", "bag of items (last max_len)",
        "untrained encoder", "majority")
COLORS = ("tab:blue", "tab:red", "tab:green", "tab:olive", "tab:gray", "k")     # as tinybt compare's plots


def load(folder):
    """(max_len, compare.json) of one sweep folder."""
    folder = Path(folder)
    path = next(p for p in (folder / "compare-val.json", folder / "compare.json") if p.is_file())
    data = json.loads(path.read_text(encoding="utf-8"))
    return data["meta"]["settings"]["max_len"], data


def arm_key(rows, arm):
    """The row of `arm` in one task's rows: "Barlow Twins B=64" is matched by "Barlow Twins"."""
    if arm in rows:
        return arm
    found = [r for r in rows if r.startswith(arm + " B=")]
    if len(found) != 1:
        raise SystemExit(f"expected one row for {arm!r}, found {found}")
    return found[0]


def cell(data, task, arm, i):
    """The accuracy cell {mean, lo, hi} of `arm` at label fraction i."""
    rows = data["results"]["probe"][task]["rows"]
    return rows[arm_key(rows, arm)]["cells"][i]["accuracy"]


def table(sweep):
    """One markdown table: a row per (max_len, arm), a column per task × label fraction."""
    meta = sweep[0][1]["meta"]
    cols = [(t, i, f) for t in meta["tasks"] for i, f in enumerate(meta["label_fractions"])]
    lines = ["| max_len | arm | " + " | ".join(f"{t} {100 * f:g} %" for t, _, f in cols) + " | mean of the cells |",
             "|---|---|" + "---:|" * (len(cols) + 1)]
    for max_len, data in sweep:
        for arm in ARMS:
            cells = [cell(data, t, arm, i) for t, i, _ in cols]
            mean = 100 * sum(c["mean"] for c in cells) / len(cells)
            lines.append(f"| {max_len} | {arm} | " + " | ".join(map(pct, cells)) + f" | {mean:.2f} |")
    return "\n".join(lines)


def paired(sweep):
    """Barlow Twins − each other arm, paired over users and seeds within each compare (points)."""
    meta = sweep[0][1]["meta"]
    cols = [(t, i, f) for t in meta["tasks"] for i, f in enumerate(meta["label_fractions"])]
    lines = ["| max_len | difference | " + " | ".join(f"{t} {100 * f:g} %" for t, _, f in cols) + " |",
             "|---|---|" + "---:|" * len(cols)]
    for max_len, data in sweep:
        probe = data["results"]["probe"]
        for name, (d,) in data["results"]["comparisons"].items():
            lines.append(f"| {max_len} | {name} | " + " | ".join(
                diff_cell(d["probe"][t][i], at_majority(probe[t], i, (d["a"], d["b"]))) for t, i, _ in cols) + " |")
    return "\n".join(lines + ["", "(≈ majority): both rows' accuracy intervals overlap the majority row's."])


def plot(sweep, out):
    """accuracy_vs_maxlen.png in `out`: one panel per task at the largest label fraction."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    meta = sweep[0][1]["meta"]
    i, f = len(meta["label_fractions"]) - 1, meta["label_fractions"][-1]
    x = list(range(len(sweep)))
    fig, axes = plt.subplots(1, len(meta["tasks"]), figsize=(4.5 * len(meta["tasks"]), 3.6), squeeze=False)
    for ax, task in zip(axes[0], meta["tasks"]):
        for k, (arm, color) in enumerate(zip(ARMS, COLORS)):
            cells = [cell(data, task, arm, i) for _, data in sweep]
            mean = [100 * c["mean"] for c in cells]
            err = [[m - 100 * c["lo"] for m, c in zip(mean, cells)], [100 * c["hi"] - m for m, c in zip(mean, cells)]]
            dodge = [v + 0.05 * (k - (len(ARMS) - 1) / 2) for v in x]      # intervals side by side
            ax.errorbar(dodge, mean, yerr=err, color=color, ls=":" if arm == "majority" else "-", marker="o", ms=3,
                        lw=1, elinewidth=0.7, capsize=2, label=arm)
        ax.set(xlabel="max_len (encoder window)", ylabel=f"{meta['split']}-pool CV accuracy % ({100 * f:g} % labels)",
               title=task)
        ax.set_xticks(x, [str(m) for m, _ in sweep])
    axes[0][-1].legend(fontsize=7, loc="center left", bbox_to_anchor=(1.02, 0.5))
    fig.tight_layout()
    out.mkdir(parents=True, exist_ok=True)
    fig.savefig(out / "accuracy_vs_maxlen.png", dpi=110, bbox_inches="tight")
    plt.close(fig)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("folders", nargs="+", help="compare output folders, one per max_len, in sweep order")
    ap.add_argument("--plot-dir", type=Path, help="write accuracy_vs_maxlen.png here")
    ap.add_argument("--paired", action="store_true", help="then a second table: each compare's paired "
                    "Barlow Twins − other arm differences")
    args = ap.parse_args()
    sweep = [load(f) for f in args.folders]
    print(table(sweep))
    if args.paired:
        print()
        print(paired(sweep))
    if args.plot_dir:
        plot(sweep, args.plot_dir)


if __name__ == "__main__":
    main()
