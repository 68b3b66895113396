"""`tinybt probe RUN_DIR` and the probe at the end of `tinybt train`.

The fast tests build a run folder by hand: config.json + a checkpoint holding the
parameters the run would start from. Such a run's encoder row must then equal the
"untrained encoder" reference row exactly, and the majority row must equal the rate of
each fold's training-fold majority class, computed here from the labels directly.
"""

import json
import sys

import numpy as np
import pytest

from tinybt.cli import main
from tinybt.data.fingerprint import fingerprint
from tinybt.data.labels import make_labels
from tinybt.errors import TinyBTError
from tinybt.probe.evaluate import BAG, BAG_WINDOW, RANDOM, check_tasks
from tinybt.probe.folds import pool_mask, stratified_folds
from tinybt.probe.report import POPULAR
from tinybt.run import checkpoint, run_dir
from tinybt.run.config import TrainConfig
from tinybt.train.trainer import encoder_config, init_model, load_sequences

from train_helpers import run_cli

TASKS = "favorite_genre,mainstream"
BT, PROJ = "Barlow Twins (gru)", "Barlow Twins (gru) projector output"


@pytest.fixture(scope="module")
def untrained_run(tmp_path_factory):
    """A synthetic run folder whose checkpoint holds the initial parameters."""
    cfg = TrainConfig(dataset="synthetic", dim=8, max_len=12, projector="16-16", seed=3).validate()
    ds, seqs = load_sequences(cfg)
    path = run_dir.create(tmp_path_factory.mktemp("runs") / "hand", cfg, fingerprint(ds))
    params, buffers = init_model(cfg, encoder_config(cfg, seqs), np.random.default_rng(cfg.seed))
    checkpoint.save(path / run_dir.CHECKPOINT, params, buffers, {}, np.random.default_rng(0), 1)
    return path, ds, seqs


@pytest.fixture(scope="module")
def probed(untrained_run, tmp_path_factory):
    """Run `tinybt probe` once (module scope: the probe is the slow part)."""
    path = untrained_run[0]
    mp = pytest.MonkeyPatch()
    mp.setattr(sys, "argv", ["tinybt", "probe", str(path), "--tasks", TASKS, "--seeds", "2",
                             "--label-fractions", "0.1,1", "--folds", "4", "--jobs", "1", "--probe-projector"])
    with pytest.raises(SystemExit) as e:
        main()
    mp.undo()
    assert e.value.code == 0
    return json.loads((path / "results.json").read_text()), (path / "results.md").read_text()


def test_probe_writes_json_and_markdown_with_reference_rows(probed):
    res, md = probed
    probes = res["results"]["probe"]
    assert list(probes) == TASKS.split(",")
    for task in probes.values():
        assert set(task["rows"]) == {BT, PROJ, RANDOM, BAG, BAG_WINDOW, "majority"}
        assert task["folds"] == 4 and [f["fraction"] for f in task["fractions"]] == [0.1, 1.0]
        for row in task["rows"].values():
            for cell in row["cells"]:
                for ci in (cell["accuracy"], cell["balanced"]):
                    assert 0 <= ci["lo"] <= ci["mean"] <= ci["hi"] <= 1
    for name, n in ((BT, 3), (PROJ, 2), (RANDOM, 3), (BAG, 2), (BAG_WINDOW, 2), ("majority", 2), (POPULAR, 1)):
        assert md.count(f"| {name} |") == n          # one line per task table (+ retrieval for encoders)
    assert set(res["results"]["retrieval"]) == {"Barlow Twins (gru)", RANDOM, POPULAR}
    assert "4-fold stratified CV" in md and "pretrained on every user's history" in md
    assert res["meta"]["tasks"] == TASKS.split(",") and res["meta"]["seeds"] == 2 and res["meta"]["folds"] == 4


def test_untrained_run_equals_the_untrained_encoder_row(probed):
    res = probed[0]["results"]
    for task in res["probe"].values():
        assert task["rows"]["Barlow Twins (gru)"] == task["rows"][RANDOM]
        assert task["rows"][BAG] != task["rows"][RANDOM]
        assert task["rows"][BAG] != task["rows"][BAG_WINDOW]        # max_len 12 < most synthetic histories
    assert res["retrieval"]["Barlow Twins (gru)"] == res["retrieval"][RANDOM]
    assert [(d["a"], d["b"]) for d in res["differences"]] == \
        [(BT, BAG), (BT, BAG_WINDOW), (BT, RANDOM), (PROJ, BT)]
    diff = next(d for d in res["differences"] if d["b"] == RANDOM)
    for cells in diff["probe"].values():
        assert all(c == {"mean": 0.0, "lo": 0.0, "hi": 0.0} for c in cells)


def _fold_majority_rate(seqs, y, pool, folds):
    """Each user predicted by the majority class of the other folds (all labels used)."""
    users = np.flatnonzero(pool_mask(seqs.split, pool) & (y >= 0))
    yp = y[users]
    fold = stratified_folds(yp, folds, 0)
    maj = [np.argmax(np.bincount(yp[fold != j])) for j in range(folds)]
    return np.mean(yp == np.array(maj)[fold])


def test_majority_row_is_the_rate_of_the_training_folds_majority_class(probed, untrained_run):
    _, ds, seqs = untrained_run
    for task in TASKS.split(","):
        y = make_labels(ds, seqs, task)[0]
        full = probed[0]["results"]["probe"][task]["rows"]["majority"]["cells"][-1]
        assert full["accuracy"]["mean"] == pytest.approx(_fold_majority_rate(seqs, y, "test", 4))


def test_val_split_probes_the_validation_users_only(untrained_run, monkeypatch, capsys):
    path, ds, seqs = untrained_run
    code, out, _ = run_cli(["probe", path, "--tasks", "mainstream", "--seeds", "1", "--label-fractions", "1",
                            "--split", "val", "--jobs", "2"], monkeypatch, capsys)
    assert code == 0 and "the val pool" in out
    res = json.loads((path / "results-val.json").read_text())
    y = make_labels(ds, seqs, "mainstream")[0]
    task = res["results"]["probe"]["mainstream"]
    assert task["n_users"] == np.sum((seqs.split == 1) & (y >= 0))
    assert task["rows"]["majority"]["cells"][0]["accuracy"]["mean"] == \
        pytest.approx(_fold_majority_rate(seqs, y, "val", 5))


@pytest.mark.parametrize("args, flag", [
    (["--tasks", "favourite_genre"], "--tasks"),
    (["--tasks", ","], "--tasks"),
    (["--label-fractions", "0,0.5"], "--label-fractions"),
    (["--label-fractions", "1.5"], "--label-fractions"),
    (["--label-fractions", "a lot"], "--label-fractions"),
    (["--seeds", "0"], "--seeds"),
    (["--folds", "1"], "--folds"),
    (["--jobs", "0"], "--jobs"),
])
def test_bad_flags_name_the_flag(untrained_run, monkeypatch, capsys, args, flag):
    code, _, err = run_cli(["probe", untrained_run[0], *args], monkeypatch, capsys)
    assert code == 2
    assert err.startswith(f"error: {flag}:") and err.count("\n") == 1


def test_bad_run_dirs(tmp_path, monkeypatch, capsys):
    cfg = TrainConfig(dataset="synthetic").validate()
    no_ckpt = run_dir.create(tmp_path / "fresh", cfg)
    (tmp_path / "empty").mkdir()
    for path, expect in ((tmp_path / "nowhere", "is not a directory"),
                         (tmp_path / "empty", "no config.json"),
                         (no_ckpt, "no checkpoint.npz")):
        code, _, err = run_cli(["probe", path], monkeypatch, capsys)
        assert code == 2 and err.startswith("error: RUN_DIR:") and expect in err
    assert not (no_ckpt / "results.json").exists()


def test_missing_demographics_are_refused_by_name(untrained_run):
    ds = untrained_run[1]
    bare = type(ds)(**{**ds.__dict__, "demographics": {}, "demographic_names": {}})
    with pytest.raises(TinyBTError, match="--tasks: dataset 'synthetic' has no 'gender'"):
        check_tasks(["gender"], bare)
    assert check_tasks(None, bare) == ["favorite_genre", "rating_level", "mainstream"]


def test_a_rating_task_on_constant_ratings_is_refused_by_name(untrained_run):
    ds, seqs = untrained_run[1], untrained_run[2]
    flat = type(ds)(**{**ds.__dict__, "rating": np.full_like(ds.rating, 3.0)})
    message = r"--tasks: task 'rating_level' needs varying ratings, but every rating of dataset 'synthetic' is 3"
    with pytest.raises(TinyBTError, match=message):
        check_tasks(["mainstream", "rating_level"], flat)
    with pytest.raises(TinyBTError, match="task 'rating_level' needs varying ratings"):
        make_labels(flat, seqs, "rating_level")
    assert check_tasks(["mainstream"], flat) == ["mainstream"]
    assert check_tasks(["rating_level"], ds) == ["rating_level"]       # real ratings vary


@pytest.mark.slow
def test_train_ends_with_a_probe_table_unless_no_probe(tmp_path, monkeypatch, capsys):
    common = ["train", "--dataset", "synthetic", "--epochs", "1", "--dim", "8", "--max-len", "12",
              "--projector", "16-16", "--batch-size", "64"]
    code, out, _ = run_cli([*common, "--out", tmp_path / "a"], monkeypatch, capsys)
    assert code == 0
    assert "### favorite_genre" in out and f"| {RANDOM} |" in out and "| majority |" in out
    rows = json.loads((tmp_path / "a" / "results.json").read_text())["results"]["probe"]["favorite_genre"]["rows"]
    assert rows["Barlow Twins (gru)"] != rows[RANDOM]          # one epoch of training moved it
    code, out, _ = run_cli([*common, "--out", tmp_path / "b", "--no-probe"], monkeypatch, capsys)
    assert code == 0 and "###" not in out and not (tmp_path / "b" / "results.json").exists()


def test_a_task_with_too_few_labels_is_skipped_with_a_note_not_the_table(untrained_run, monkeypatch):
    import tinybt.probe.evaluate as ev
    from tinybt.probe.report import format_markdown

    _, ds, seqs = untrained_run
    real = ev.make_labels

    def few_mainstream_labels(ds, seqs, task):
        y, names = real(ds, seqs, task)
        return (np.where(np.arange(len(y)) < 3, y, -1) if task == "mainstream" else y), names

    monkeypatch.setattr(ev, "make_labels", few_mainstream_labels)
    X = np.random.default_rng(0).standard_normal((seqs.n_users, 4))
    labels = ev.task_labels(ds, seqs, ["favorite_genre", "mainstream"])
    arms = {"x": [{"features": X, "items": None}]}
    scores = ev.score(arms, labels, seqs, label_fractions=(1.0,), seeds=1, folds=2)
    assert arms == {"x": [{"items": None}]}, "score keeps no copy of the features the probes read from files"
    assert scores["probe"]["mainstream"].startswith("skipped: only")
    assert isinstance(scores["probe"]["favorite_genre"], dict)
    results = ev.summarise(scores, n_boot=50)
    meta = {"dataset": "synthetic", "pretrain_text": "p", "folds": 2, "split": "test", "seeds": 1,
            "label_fractions": [1.0]}
    md = format_markdown(results, meta)
    assert "Task 'mainstream' skipped: only" in md and "| x | 1 |" in md
