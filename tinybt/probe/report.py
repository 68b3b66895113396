"""Probe results as markdown tables and results.json / results.md files.

`results` maps a row name ("Barlow Twins", "dual encoder", "random encoder",
"bag of items", ...) to {task: the dict returned by `probe`}. The "majority" row
is not passed in: the label subsets depend only on labels, split and seeds, so
every row holds the same majority rates; the table takes them from the first row
that has the task.
"""

import json
from pathlib import Path

from tinybt.atomic import write_text

MAJORITY = "majority"


def _cell(summary):
    return f"{100 * summary['mean']:.1f} ± {100 * summary['std']:.1f}"


def _fraction_label(f):
    return f"{100 * f:g} % labels"


def format_markdown(results, title=None, split="test"):
    """One table per task: rows = encoders + majority, columns = label fractions,
    cells = `split` (test or val) accuracy % mean ± std over seeds."""
    tasks = list(dict.fromkeys(t for row in results.values() for t in row))
    lines = [f"## {title}", ""] if title else []
    for task in tasks:
        first = next(row[task] for row in results.values() if task in row)
        fractions = [fr["fraction"] for fr in first["fractions"]]
        lines += [f"### {task}", "",
                  f"{first['n_classes']} classes; {first['n_train']} train / {first['n_val']} val / "
                  f"{first['n_test']} test users with a label; {split} accuracy %, mean ± std over "
                  f"{first['seeds']} seeds (one run when every train label is used).", "",
                  "| model | " + " | ".join(_fraction_label(f) for f in fractions) + " |",
                  "|---|" + "---:|" * len(fractions)]
        rows = [(name, row.get(task)) for name, row in results.items()] + [(MAJORITY, first)]
        for name, res in rows:
            by_fraction = {fr["fraction"]: fr for fr in res["fractions"]} if res else {}
            key = "majority" if name == MAJORITY else "accuracy"
            cells = [_cell(by_fraction[f][key]) if f in by_fraction else "—" for f in fractions]
            lines.append(f"| {name} | " + " | ".join(cells) + " |")
        lines.append("")
    return "\n".join(lines)


def write_results(run_dir, results, meta=None, title=None, split="test"):
    """Write run_dir/results.json ({"meta", "results"}) and run_dir/results.md (results-val.*
    for split="val", so tuning never overwrites the test results); returns both paths."""
    run_dir = Path(run_dir)
    stem = "results" if split == "test" else f"results-{split}"
    json_path, md_path = run_dir / f"{stem}.json", run_dir / f"{stem}.md"
    write_text(json_path, json.dumps({"meta": meta or {}, "results": results}, indent=1) + "\n")
    write_text(md_path, format_markdown(results, title, split))
    return json_path, md_path
