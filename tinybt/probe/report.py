"""Evaluation results as markdown tables and results.json / results.md files.

`results` is evaluate.summarise's output: per task the rows (arms, then "majority")
with accuracy and balanced accuracy and their 95 % intervals per label fraction, and
per arm Recall@10 / NDCG@10; "differences" holds paired a − b intervals.

"≈ majority": at a label fraction where every arm's accuracy interval overlaps the majority
class's, no arm is distinguishable from predicting the majority class, and ranking the arms
would rank noise. The task table marks that column, and a difference table marks a cell
whose two arms both overlap the majority class's interval.
"""

import json
from pathlib import Path

from tinybt.atomic import write_text

MAJORITY = "majority"
POPULAR = "most popular"
AT_MAJORITY = "≈ majority"


def pct(ci):
    """A 0..1 value with its interval, in percent: "71.2 [69.8, 72.5]"."""
    return f"{100 * ci['mean']:.1f} [{100 * ci['lo']:.1f}, {100 * ci['hi']:.1f}]"


def diff_cell(ci, majority=False):
    """A paired difference in points with its verdict, "+1.3 [+0.2, +2.4] **ahead**", and
    " (≈ majority)" when `majority` (both rows overlap the majority row: at_majority)."""
    from tinybt.probe.stats import verdict

    mark = verdict(ci)
    return (f"{100 * ci['mean']:+.1f} [{100 * ci['lo']:+.1f}, {100 * ci['hi']:+.1f}]" + (f" **{mark}**" if mark else "")
            + (f" ({AT_MAJORITY})" if majority else ""))


def at_majority(task, i, arms):
    """Every arm's accuracy interval at fraction i overlaps the majority row's (False if an arm
    is not in the task's rows). task: one task of results["probe"]."""
    rows = task.get("rows", {})
    if MAJORITY not in rows or not all(a in rows for a in arms):
        return False
    m = rows[MAJORITY]["cells"][i]["accuracy"]
    return all(c["lo"] <= m["hi"] and m["lo"] <= c["hi"] for c in (rows[a]["cells"][i]["accuracy"] for a in arms))


def fraction_label(f):
    return f"{100 * f:g} % labels"


def protocol_line(meta):
    """Which users pretrained and which were scored: one line every table carries."""
    return (f"{meta['dataset']}; encoders {meta['pretrain_text']}; probes: {meta['folds']}-fold stratified CV over "
            f"the labelled users of the {meta['split']} pool, {meta['seeds']} label seeds, L2 chosen by inner CV "
            f"on the labelled training users; cells: mean [95 % bootstrap interval] (docs/protocol.md).")


def format_probe_tables(results):
    """One table per task: rows = arms + majority; per fraction accuracy % and balanced accuracy %."""
    lines = []
    for task, res in results["probe"].items():
        lines += [f"### {task}", ""]
        if "skipped" in res:
            lines += [f"Task {task!r} {res['skipped']}.", ""]
            continue
        fr = res["fractions"]
        lines += [f"{res['n_classes']} classes, {res['n_users']} labelled users in the {res['pool']} pool, each "
                  f"scored once per label seed; labelled training users per fold: "
                  + ", ".join(f"{fraction_label(f['fraction'])} ≈ {round(sum(f['n_labelled']) / len(f['n_labelled']))}"
                              for f in fr) + ".", "",
                  "| model | runs | " + " | ".join(f"{fraction_label(f['fraction'])}: acc % | bal. acc %" for f in fr) + " |",
                  "|---|---:|" + "---:|---:|" * len(fr)]
        flat = [at_majority(res, i, [a for a in res["rows"] if a != MAJORITY]) for i in range(len(fr))]
        for name, row in res["rows"].items():
            marks = [f" {AT_MAJORITY}" if f and name != MAJORITY else "" for f in flat]
            cells = [f"{pct(c['accuracy'])}{m} | {pct(c['balanced'])}" for c, m in zip(row["cells"], marks)]
            lines.append(f"| {name} | {row['runs']} | " + " | ".join(cells) + " |")
        if any(flat):
            lines += ["", f"{AT_MAJORITY} ({', '.join(fraction_label(f['fraction']) for f, x in zip(fr, flat) if x)}): "
                      "every row's accuracy interval overlaps the majority class's, so no row is distinguishable "
                      "from predicting the majority class there; do not rank them."]
        lines.append("")
    return lines


def format_retrieval(results):
    ret = results["retrieval"]
    lines = ["### next-item retrieval", "",
             f"{results['retrieval_users']} users; their future items ranked among all items by cosine(user vector, "
             f"item embedding), history items excluded; most popular = history counts.", "",
             "| model | runs | Recall@10 % | NDCG@10 % |", "|---|---:|---:|---:|"]
    for name, r in ret.items():
        lines.append(f"| {name} | {r['runs']} | {pct(r['recall'])} | {pct(r['ndcg'])} |")
    return lines + [""]


def format_differences(diffs, fractions, title, probe, label=None):
    """Paired a − b accuracy differences, points: one row per (task, diff), one column per fraction.
    probe: results["probe"], to mark the cells where both arms are ≈ majority. `label(diff)` names
    the extra column (e.g. the batch size)."""
    lines = [f"### {title}", "",
             "| task |" + (" batch |" if label else "") + " " + " | ".join(fraction_label(f) for f in fractions) + " |",
             "|---|" + ("---:|" if label else "") + "---:|" * len(fractions)]
    tasks = list(dict.fromkeys(t for d in diffs for t in d["probe"]))
    marked = False
    for task in tasks:
        for d in diffs:
            cells = d["probe"][task]
            extra = f" {label(d)} |" if label else ""
            if isinstance(cells, str):
                body = f"{cells}" + " |" * (len(fractions) - 1)
            else:
                flat = [at_majority(probe.get(task, {}), i, (d["a"], d["b"])) for i in range(len(cells))]
                marked |= any(flat)
                body = " | ".join(diff_cell(c, f) for c, f in zip(cells, flat))
            lines.append(f"| {task} |{extra} {body} |")
    if marked:
        lines += ["", f"({AT_MAJORITY}): both rows' accuracy intervals overlap the majority class's; the "
                  "difference is between two rows that predict no better than the class balance."]
    recall = [d for d in diffs if d["recall"] is not None]
    if recall:
        lines += ["", "| Recall@10 difference |" + (" batch |" if label else "") + " points |",
                  "|---|" + ("---:|" if label else "") + "---:|"]
        lines += [f"| {d['a']} − {d['b']} |" + (f" {label(d)} |" if label else "") + f" {diff_cell(d['recall'])} |"
                  for d in recall]
    return lines + [""]


def format_markdown(results, meta, title=None):
    """The whole report of one evaluation (tinybt probe)."""
    lines = [f"## {title}", ""] if title else []
    lines += [protocol_line(meta), ""]
    for d in results.get("differences", []):
        lines += format_differences([d], meta["label_fractions"], f"{d['a']} − {d['b']} (accuracy, points)",
                                    results["probe"])
    lines += format_probe_tables(results) + format_retrieval(results)
    return "\n".join(lines)


def write_results(run_dir, results, meta, title=None, split="test"):
    """Write run_dir/results.json ({"meta", "results"}) and run_dir/results.md (results-val.*
    for split="val", so tuning never overwrites the test results); returns both paths."""
    run_dir = Path(run_dir)
    stem = "results" if split == "test" else f"results-{split}"
    json_path, md_path = run_dir / f"{stem}.json", run_dir / f"{stem}.md"
    write_text(json_path, json.dumps({"meta": meta, "results": results}, indent=1) + "\n")
    write_text(md_path, format_markdown(results, meta, title))
    return json_path, md_path
