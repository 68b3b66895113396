"""Results tables and files."""

import json

import pytest

from tinybt.atomic import write_text
from tinybt.probe.report import format_markdown, write_results


def _ci(mean, lo, hi):
    return {"mean": mean, "lo": lo, "hi": hi}


def _task(cells, n_classes=3):
    """A hand-made summarised task: cells[row] = [(acc, bal) per fraction] as (mean, lo, hi)."""
    return {"n_users": 100, "n_classes": n_classes, "folds": 5, "pool": "test", "seeds": 5,
            "fractions": [{"fraction": f, "n_labelled": [2, 2, 2, 2, 2], "n_runs": 5} for f in (0.01, 1.0)],
            "rows": {name: {"runs": 3, "cells": [{"accuracy": _ci(*a), "balanced": _ci(*b)} for a, b in row]}
                     for name, row in cells.items()}}


RESULTS = {
    "probe": {
        "genre": _task({"Barlow Twins": [((0.5234, 0.5, 0.55), (0.4, 0.38, 0.42)), ((0.7, 0.68, 0.72), (0.6, 0.58, 0.62))],
                        "majority": [((0.25, 0.2, 0.3), (0.333, 0.333, 0.333)), ((0.3, 0.25, 0.35), (0.333, 0.333, 0.333))]}),
        "gender": {"skipped": "skipped: only 3 labelled users in the test pool; 5-fold cross-validation needs at least 10"},
    },
    "retrieval": {"most popular": {"recall": _ci(0.1, 0.09, 0.11), "ndcg": _ci(0.12, 0.11, 0.13), "runs": 1}},
    "retrieval_users": 100,
    "differences": [{"a": "Barlow Twins", "b": "bag of items", "recall": None,
                     "probe": {"genre": [_ci(0.02, 0.01, 0.03), _ci(-0.01, -0.02, 0.005)],
                               "gender": "skipped: too few"}}],
}
META = {"dataset": "toy", "pretrain_text": "pretrained on every user's history", "folds": 5, "split": "test",
        "seeds": 5, "label_fractions": [0.01, 1.0]}


def test_markdown_has_one_table_per_task_with_intervals_a_majority_row_and_skipped_tasks():
    md = format_markdown(RESULTS, META, title="toy")
    assert md.startswith("## toy") and "5-fold stratified CV" in md and "pretrained on every user's history" in md
    genre, gender = md.split("### genre")[1].split("### gender")
    assert "| model | runs | 1 % labels: acc % | bal. acc % | 100 % labels: acc % | bal. acc % |" in genre
    assert "| Barlow Twins | 3 | 52.3 [50.0, 55.0] | 40.0 [38.0, 42.0] | 70.0 [68.0, 72.0] | 60.0 [58.0, 62.0] |" in genre
    assert "| majority | 3 | 25.0 [20.0, 30.0] |" in genre
    assert "Task 'gender' skipped: only 3 labelled users" in gender
    assert "| most popular | 1 | 10.0 [9.0, 11.0] | 12.0 [11.0, 13.0] |" in gender
    diff = md.split("### Barlow Twins − bag of items")[1]
    assert "| genre | +2.0 [+1.0, +3.0] **ahead** | -1.0 [-2.0, +0.5] |" in diff


def test_cells_where_every_row_overlaps_the_majority_class_say_so():
    # 1 % labels: both arms' intervals overlap the majority's (one from below, one from above);
    # 100 %: Barlow Twins clears it, so that column ranks as usual
    age = _task({"Barlow Twins": [((0.36, 0.33, 0.39), (0.2, 0.18, 0.22)), ((0.45, 0.43, 0.47), (0.3, 0.28, 0.32))],
                 "bag of items": [((0.34, 0.31, 0.351), (0.19, 0.17, 0.21)), ((0.36, 0.34, 0.38), (0.2, 0.18, 0.22))],
                 "majority": [((0.35, 0.351, 0.36), (0.14, 0.14, 0.14)), ((0.35, 0.34, 0.36), (0.14, 0.14, 0.14))]})
    diff = {"a": "Barlow Twins", "b": "bag of items", "recall": None,
            "probe": {"age": [_ci(0.02, 0.01, 0.03), _ci(0.09, 0.07, 0.11)]}}
    md = format_markdown({"probe": {"age": age}, "retrieval": {}, "retrieval_users": 0, "differences": [diff]}, META)
    table = md.split("### age")[1]
    assert "| Barlow Twins | 3 | 36.0 [33.0, 39.0] ≈ majority | 20.0 [18.0, 22.0] | 45.0 [43.0, 47.0] | 30.0" in table
    assert "| bag of items | 3 | 34.0 [31.0, 35.1] ≈ majority | 19.0 [17.0, 21.0] | 36.0 [34.0, 38.0] | 20.0" in table
    assert "| majority | 3 | 35.0 [35.1, 36.0] | 14.0" in table
    assert "≈ majority (1 % labels): every row's accuracy interval overlaps the majority class's" in table
    differences = md.split("### Barlow Twins − bag of items")[1].split("### age")[0]
    assert "| age | +2.0 [+1.0, +3.0] **ahead** (≈ majority) | +9.0 [+7.0, +11.0] **ahead** |" in differences
    assert "(≈ majority): both rows' accuracy intervals overlap the majority class's" in differences
    # one arm clear of the majority at 1 % too: nothing is marked
    age["rows"]["Barlow Twins"]["cells"][0]["accuracy"] = _ci(0.40, 0.37, 0.43)
    md = format_markdown({"probe": {"age": age}, "retrieval": {}, "retrieval_users": 0, "differences": [diff]}, META)
    assert "≈ majority" not in md


def test_write_results_writes_both_files_and_no_temporaries(tmp_path):
    json_path, md_path = write_results(tmp_path, RESULTS, META)
    assert json.loads(json_path.read_text()) == {"meta": META, "results": RESULTS}
    assert md_path.read_text() == format_markdown(RESULTS, META)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["results.json", "results.md"]
    write_results(tmp_path, RESULTS, META | {"split": "val"}, split="val")     # tuning keeps the test files
    assert sorted(p.name for p in tmp_path.iterdir()) == ["results-val.json", "results-val.md",
                                                          "results.json", "results.md"]


def test_failed_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path):
    path = tmp_path / "results.md"
    write_text(path, "old\n")
    with pytest.raises(TypeError):
        write_text(path, b"not text")
    assert path.read_text() == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["results.md"]
