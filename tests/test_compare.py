"""`tinybt compare` on a tiny config: the runs, the tables, the plots (when matplotlib is there)."""

import json
import sys

import numpy as np
import pytest

from tinybt.cli import main
from tinybt.compare import PLOTS, format_compare, plot, row_name, scaled_lr
from tinybt.errors import TinyBTError
from tinybt.evaluate import BAG, RANDOM
from tinybt.train.config import TrainConfig
from tinybt.train.trainer import load_sequences

from train_helpers import run_cli

TINY = ["--dataset", "synthetic", "--epochs", "1", "--dim", "8", "--max-len", "12", "--projector", "16-16",
        "--tasks", "mainstream", "--label-fractions", "0.5,1", "--seeds", "2", "--batch-sizes", "32,64"]


@pytest.fixture(scope="module")
def compared(tmp_path_factory):
    out = tmp_path_factory.mktemp("cmp") / "c"
    mp = pytest.MonkeyPatch()
    mp.setattr(sys, "argv", ["tinybt", "compare", *TINY, "--out", str(out)])
    with pytest.raises(SystemExit) as e:
        main()
    mp.undo()
    assert e.value.code == 0
    return out, json.loads((out / "compare.json").read_text())


def test_every_objective_and_batch_size_is_trained_and_probed(compared):
    out, res = compared
    names = [row_name(o, b) for o in ("barlow", "dual") for b in (32, 64)]
    assert list(res["results"]) == names + [RANDOM, BAG]
    md = (out / "compare.md").read_text()
    for name in names + [RANDOM, BAG, "majority"]:
        assert f"| {name} |" in md
    assert "| mainstream | 32 |" in md and "| mainstream | 64 |" in md      # BT − dual rows
    for r in res["meta"]["runs"]:
        assert (out / f"{r['objective']}-b{r['batch_size']}" / "checkpoint.npz").is_file()


def test_every_run_sees_the_same_examples(compared):
    runs = compared[1]["meta"]["runs"]
    _, seqs = load_sequences(TrainConfig(dataset="synthetic", max_len=12))
    n_train = len(seqs.rows("train"))
    for r in runs:
        # one epoch: every train user once, less the dropped partial batch
        assert n_train - r["batch_size"] < r["steps"] * r["batch_size"] <= n_train
    steps = {(r["objective"], r["batch_size"]): r["steps"] for r in runs}
    assert steps["barlow", 32] >= 2 * steps["barlow", 64]


def test_difference_table_is_barlow_minus_dual(compared):
    out, res = compared
    R = res["results"]
    d = 100 * (R[row_name("barlow", 64)]["mainstream"]["fractions"][0]["accuracy"]["mean"]
               - R[row_name("dual", 64)]["mainstream"]["fractions"][0]["accuracy"]["mean"])
    assert f"| mainstream | 64 | {d:+.1f} |" in (out / "compare.md").read_text()


def test_plots_when_matplotlib_is_present(compared):
    pytest.importorskip("matplotlib")
    out = compared[0]
    for p in (f"{name}.png" for name in PLOTS):
        assert (out / p).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert f"]({p})" in (out / "compare.md").read_text()


def test_without_matplotlib_tables_only_with_a_note(compared, tmp_path, monkeypatch):
    res = compared[1]
    monkeypatch.setitem(sys.modules, "matplotlib", None)          # import matplotlib -> ImportError
    assert plot(res["results"], res["meta"], tmp_path) == []
    assert list(tmp_path.iterdir()) == []
    assert "matplotlib is not installed" in format_compare(res["results"], res["meta"], [])


def test_rerun_reuses_finished_runs_and_val_keeps_the_test_files(compared, monkeypatch, capsys):
    out, res = compared
    ckpts = {p: p.stat().st_mtime_ns for p in out.glob("*/checkpoint.npz")}
    code, printed, err = run_cli(["compare", *TINY, "--out", out, "--split", "val"], monkeypatch, capsys)
    assert code == 0 and err.count("reuse ") == 4
    assert printed.strip() == (out / "compare-val.md").read_text().strip()
    assert {p: p.stat().st_mtime_ns for p in out.glob("*/checkpoint.npz")} == ckpts
    assert json.loads((out / "compare.json").read_text())["results"] == res["results"]
    val = json.loads((out / "compare-val.json").read_text())
    assert val["meta"]["split"] == "val" and "val accuracy" in (out / "compare-val.md").read_text()
    assert val["results"][BAG]["mainstream"] != res["results"][BAG]["mainstream"]


def test_another_config_in_out_is_refused(compared, monkeypatch, capsys):
    out = compared[0]
    code, _, err = run_cli(["compare", *TINY[:-2], "--batch-sizes", "32", "--lr", "0.02", "--out", out], monkeypatch, capsys)
    assert code == 2 and err.startswith("error: --out:")


@pytest.mark.parametrize("args, flag", [
    (["--batch-sizes", "1,32"], "--batch-sizes"),
    (["--batch-sizes", "x"], "--batch-sizes"),
    (["--label-fractions", "0"], "--label-fractions"),
    (["--tasks", "gender,colour"], "--tasks"),
    (["--seeds", "0"], "--seeds"),
])
def test_bad_flags_name_the_flag(tmp_path, monkeypatch, capsys, args, flag):
    code, _, err = run_cli(["compare", *TINY, *args, "--out", tmp_path / "c"], monkeypatch, capsys)
    assert code == 2 and err.startswith(f"error: {flag}:")
    assert not (tmp_path / "c").exists()                       # refused before training anything


def test_lr_scaling():
    assert scaled_lr(1e-3, 16, "none") == 1e-3
    assert scaled_lr(1e-3, 512, "sqrt") == pytest.approx(2e-3)
    assert np.isclose(scaled_lr(1e-3, 32, "sqrt") / scaled_lr(1e-3, 128, "sqrt"), 0.5)
    with pytest.raises(TinyBTError, match="--lr-scaling"):
        scaled_lr(1e-3, 16, "linear")
