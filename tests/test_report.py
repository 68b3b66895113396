"""Results tables and files."""

import json

import numpy as np
import pytest

from tinybt.probe.linear_probe import probe
from tinybt.atomic import write_text
from tinybt.probe.report import format_markdown, write_results


def _result(acc, maj, fractions=(0.01, 1.0)):
    """A hand-made probe result: acc[f] = (mean, std), maj[f] = (mean, std)."""
    return {"n_classes": 3, "n_train": 80, "n_val": 10, "n_test": 10, "l2_grid": [1.0], "seeds": 5,
            "seed": 0, "fractions": [{"fraction": f, "n_train": 2, "n_runs": 5,
                                      "accuracy": {"mean": acc[f][0], "std": acc[f][1]},
                                      "majority": {"mean": maj[f][0], "std": maj[f][1]},
                                      "runs": {}} for f in fractions]}


RESULTS = {
    "Barlow Twins": {"genre": _result({0.01: (0.5234, 0.0123), 1.0: (0.7, 0.0)},
                                      {0.01: (0.25, 0.01), 1.0: (0.3, 0.0)})},
    "dual encoder": {"genre": _result({0.01: (0.41, 0.02), 1.0: (0.655, 0.0)},
                                      {0.01: (0.25, 0.01), 1.0: (0.3, 0.0)}),
                     "gender": _result({0.01: (0.6, 0.05), 1.0: (0.71, 0.0)},
                                       {0.01: (0.55, 0.0), 1.0: (0.58, 0.0)})},
}


def test_markdown_has_one_table_per_task_with_percent_cells_and_a_majority_row():
    md = format_markdown(RESULTS, title="ml-100k")
    assert md.startswith("## ml-100k")
    genre, gender = md.split("### genre")[1].split("### gender")
    assert "| model | 1 % labels | 100 % labels |" in genre
    assert "| Barlow Twins | 52.3 ± 1.2 | 70.0 ± 0.0 |" in genre
    assert "| dual encoder | 41.0 ± 2.0 | 65.5 ± 0.0 |" in genre
    assert "| majority | 25.0 ± 1.0 | 30.0 ± 0.0 |" in genre
    assert "| Barlow Twins | — | — |" in gender          # no result for this task
    assert "| majority | 55.0 ± 0.0 | 58.0 ± 0.0 |" in gender
    rows = [line for line in genre.splitlines() if line.startswith("| ")]
    names = [r.split(" | ")[0][2:] for r in rows]
    assert names == ["model", "Barlow Twins", "dual encoder", "majority"]


def test_write_results_writes_both_files_and_no_temporaries(tmp_path):
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((300, 4)), rng.integers(0, 2, size=300)
    split = rng.choice(3, size=300, p=[0.6, 0.2, 0.2])
    results = {"random encoder": {"noise": probe(X, y, split, label_fractions=(0.1, 1.0), seeds=2)}}
    json_path, md_path = write_results(tmp_path, results, meta={"dataset": "toy"})
    assert json.loads(json_path.read_text()) == {"meta": {"dataset": "toy"}, "results": results}
    assert md_path.read_text() == format_markdown(results)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["results.json", "results.md"]
    _, md_val = write_results(tmp_path, results, split="val")     # tuning keeps the test files
    assert "; val accuracy %" in md_val.read_text() and "test accuracy" not in md_val.read_text()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["results-val.json", "results-val.md",
                                                          "results.json", "results.md"]


def test_failed_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path):
    path = tmp_path / "results.md"
    write_text(path, "old\n")
    with pytest.raises(TypeError):
        write_text(path, b"not text")
    assert path.read_text() == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["results.md"]
