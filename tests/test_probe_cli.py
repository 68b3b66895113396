"""`tinybt probe RUN_DIR` and the probe at the end of `tinybt train`.

The fast tests build a run folder by hand: config.json + a checkpoint holding the
parameters the run would start from. Such a run's encoder row must then equal the
"random encoder" reference row exactly, and the majority row must equal the test
rate of the most frequent train class, computed here from the labels directly.
"""

import json
import sys

import numpy as np
import pytest

from tinybt.cli import main
from tinybt.data.fingerprint import fingerprint
from tinybt.data.labels import make_labels
from tinybt.errors import TinyBTError
from tinybt.evaluate import BAG, RANDOM, check_tasks
from tinybt.train import checkpoint, run_dir
from tinybt.train.config import TrainConfig
from tinybt.train.trainer import encoder_config, init_model, load_sequences

from train_helpers import run_cli

TASKS = "favorite_genre,mainstream"


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
                             "--label-fractions", "0.1,1"])
    with pytest.raises(SystemExit) as e:
        main()
    mp.undo()
    assert e.value.code == 0
    return json.loads((path / "results.json").read_text()), (path / "results.md").read_text()


def test_probe_writes_json_and_markdown_with_reference_rows(probed):
    res, md = probed
    rows = res["results"]
    assert set(rows) == {"Barlow Twins (gru)", RANDOM, BAG}
    for row in rows.values():
        assert list(row) == TASKS.split(",")
        for task in row.values():
            assert [fr["fraction"] for fr in task["fractions"]] == [0.1, 1.0]
            for fr in task["fractions"]:
                assert 0 <= fr["accuracy"]["mean"] <= 1 and fr["accuracy"]["std"] >= 0
    for name in ("Barlow Twins (gru)", RANDOM, BAG, "majority"):
        assert md.count(f"| {name} |") == 2          # one line per task table
    assert res["meta"]["tasks"] == TASKS.split(",") and res["meta"]["seeds"] == 2


def test_untrained_run_equals_the_random_encoder_row(probed):
    rows = probed[0]["results"]
    assert rows["Barlow Twins (gru)"] == rows[RANDOM]
    assert rows[BAG] != rows[RANDOM]


def test_majority_row_is_the_test_rate_of_the_train_majority_class(probed, untrained_run):
    _, ds, seqs = untrained_run
    for task in TASKS.split(","):
        y = make_labels(ds, seqs, task)[0]
        ytr, yte = y[(seqs.split == 0) & (y >= 0)], y[(seqs.split == 2) & (y >= 0)]
        expect = np.mean(yte == np.argmax(np.bincount(ytr)))
        full = probed[0]["results"][BAG][task]["fractions"][-1]
        assert full["fraction"] == 1.0
        assert full["majority"]["mean"] == pytest.approx(expect)


def test_val_split_reports_validation_rates(untrained_run, monkeypatch, capsys):
    path, ds, seqs = untrained_run
    code, out, _ = run_cli(["probe", path, "--tasks", "mainstream", "--seeds", "1", "--label-fractions", "1",
                            "--split", "val"], monkeypatch, capsys)
    assert code == 0 and "val accuracy %" in out
    res = json.loads((path / "results-val.json").read_text())
    y = make_labels(ds, seqs, "mainstream")[0]
    expect = np.mean(y[seqs.split == 1] == np.argmax(np.bincount(y[seqs.split == 0])))
    fr = res["results"][RANDOM]["mainstream"]["fractions"][0]
    assert fr["majority"]["mean"] == pytest.approx(expect)
    assert fr["accuracy"]["mean"] == pytest.approx(fr["runs"]["val_accuracy"][0])


@pytest.mark.parametrize("args, flag", [
    (["--tasks", "favourite_genre"], "--tasks"),
    (["--tasks", ","], "--tasks"),
    (["--label-fractions", "0,0.5"], "--label-fractions"),
    (["--label-fractions", "1.5"], "--label-fractions"),
    (["--label-fractions", "a lot"], "--label-fractions"),
    (["--seeds", "0"], "--seeds"),
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


@pytest.mark.slow
def test_train_ends_with_a_probe_table_unless_no_probe(tmp_path, monkeypatch, capsys):
    common = ["train", "--dataset", "synthetic", "--epochs", "1", "--dim", "8", "--max-len", "12",
              "--projector", "16-16", "--batch-size", "64"]
    code, out, _ = run_cli([*common, "--out", tmp_path / "a"], monkeypatch, capsys)
    assert code == 0
    assert "### favorite_genre" in out and "| random encoder |" in out and "| majority |" in out
    rows = json.loads((tmp_path / "a" / "results.json").read_text())["results"]
    assert rows["Barlow Twins (gru)"] != rows[RANDOM]          # one epoch of training moved it
    code, out, _ = run_cli([*common, "--out", tmp_path / "b", "--no-probe"], monkeypatch, capsys)
    assert code == 0 and "###" not in out and not (tmp_path / "b" / "results.json").exists()
