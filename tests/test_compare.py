"""`tinybt compare` on a tiny config: the runs, the tables, the plots (when matplotlib is there)."""

import json
import sys

import numpy as np
import pytest

from tinybt.cli import main
from tinybt.probe.compare import PLOTS, format_compare, format_robustness, plot, row_name, scaled_lr
from tinybt.errors import TinyBTError
from tinybt.probe.evaluate import BAG, BAG_WINDOW, RANDOM, projector_row
from tinybt.run.config import TrainConfig, default_lr
from tinybt.data.views import history_lengths
from tinybt.train.trainer import load_sequences

from train_helpers import run_cli

TINY_SETTINGS = ["--dataset", "synthetic", "--epochs", "1", "--dim", "8", "--max-len", "12", "--projector", "16-16",
        "--tasks", "mainstream", "--label-fractions", "0.5,1", "--seeds", "2",
                 "--seeds-pretrain", "2", "--folds", "3", "--jobs", "2", "--probe-projector"]
TINY = TINY_SETTINGS + ["--batch-sizes", "32,64"]


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


@pytest.mark.slow
def test_every_objective_batch_size_and_seed_is_trained_and_probed(compared):
    out, res = compared
    runs = res["meta"]["runs"]
    assert [(r["objective"], r["batch_size"], r["seed"]) for r in runs] == \
        [(o, b, s) for o in ("barlow", "dual") for b in (32, 64) for s in (0, 1)]
    rows = res["results"]["probe"]["mainstream"]["rows"]
    assert set(rows) == {row_name(o, b) for o in ("barlow", "dual") for b in (32, 64)} | \
        {projector_row(row_name("barlow", b)) for b in (32, 64)} | {RANDOM, BAG, BAG_WINDOW, "majority"}
    assert rows[projector_row(row_name("barlow", 64))]["runs"] == 2 and rows[BAG_WINDOW]["runs"] == 1
    assert rows[row_name("barlow", 32)]["runs"] == 2 and rows[RANDOM]["runs"] == 2 and rows[BAG]["runs"] == 1
    md = (out / "compare.md").read_text()
    for name in rows:
        assert f"| {name} |" in md
    assert "pretrained on every user's history" in md and "Wall time of this command" in md
    for r in runs:
        assert (out / f"{r['objective']}-b{r['batch_size']}-s{r['seed']}" / "checkpoint.npz").is_file()
        assert r["lr"] == default_lr(r["batch_size"])            # no --lr: each batch size's default


@pytest.mark.slow
def test_every_run_sees_the_same_examples(compared):
    runs = compared[1]["meta"]["runs"]
    _, seqs = load_sequences(TrainConfig(dataset="synthetic", max_len=12))
    every = np.arange(seqs.n_users)              # pretrain_users="all"; the dual encoder needs 2 history items
    n_users = {"barlow": seqs.n_users, "dual": int(np.sum(history_lengths(seqs, every) >= 2))}
    for r in runs:
        # one epoch: every pretraining user once, less the dropped partial batch
        n = n_users[r["objective"]]
        assert n - r["batch_size"] < r["steps"] * r["batch_size"] <= n
    steps = {(r["objective"], r["batch_size"]): r["steps"] for r in runs}
    assert steps["barlow", 32] >= 2 * steps["barlow", 64]


@pytest.mark.slow
def test_difference_tables_are_paired_barlow_minus_the_others(compared):
    out, res = compared
    comps = res["results"]["comparisons"]
    assert list(comps) == ["Barlow Twins − dual encoder", f"Barlow Twins − {BAG}", f"Barlow Twins − {BAG_WINDOW}",
                           f"Barlow Twins − {RANDOM}", "Barlow Twins projector output − dual encoder"]
    assert [(d["a"], d["b"]) for d in comps["Barlow Twins projector output − dual encoder"]] == \
        [(projector_row(row_name("barlow", B)), row_name("dual", B)) for B in (32, 64)]
    assert all(d["recall"] is None for d in comps["Barlow Twins projector output − dual encoder"])
    md = (out / "compare.md").read_text()
    rows = res["results"]["probe"]["mainstream"]["rows"]
    for d in comps["Barlow Twins − dual encoder"]:
        B = d["batch_size"]
        assert (d["a"], d["b"]) == (row_name("barlow", B), row_name("dual", B))
        for i, ci in enumerate(d["probe"]["mainstream"]):
            point = rows[d["a"]]["cells"][i]["accuracy"]["mean"] - rows[d["b"]]["cells"][i]["accuracy"]["mean"]
            assert ci["mean"] == pytest.approx(point) and ci["lo"] <= ci["mean"] <= ci["hi"]
        first = d["probe"]["mainstream"][0]
        assert f"| mainstream | {B} | {100 * first['mean']:+.1f} [{100 * first['lo']:+.1f}, " in md
        assert d["recall"] is not None


@pytest.mark.slow
def test_batch_size_robustness_table(compared):
    """The drop from the largest to the smallest batch, recomputed from the arms' means."""
    res = compared[1]
    md = format_robustness(res["results"], res["meta"])
    assert md[0] == "## Batch-size robustness: B = 64 → 32"
    cell = lambda B, i: res["results"]["probe"]["mainstream"]["rows"][row_name("barlow", B)]["cells"][i]["accuracy"]["mean"]  # noqa: E731
    drops = [100 * (cell(64, i) - cell(32, i)) / cell(64, i) for i in range(2)]
    assert f"{drops[0]:+.1f} %" in md[6] and f"{drops[1]:+.1f} %" in md[7]
    assert any(line.startswith(f"Barlow Twins: mean relative drop {sum(drops) / 2:+.1f} %") for line in md)
    assert format_robustness(res["results"], res["meta"] | {"batch_sizes": [32]}) == []


@pytest.mark.slow
def test_plots_when_matplotlib_is_present(compared):
    pytest.importorskip("matplotlib")
    out = compared[0]
    for p in (f"{name}.png" for name in PLOTS):
        assert (out / p).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert f"]({p})" in (out / "compare.md").read_text()


@pytest.mark.slow
def test_without_matplotlib_tables_only_with_a_note(compared, tmp_path, monkeypatch):
    res = compared[1]
    monkeypatch.setitem(sys.modules, "matplotlib", None)          # import matplotlib -> ImportError
    assert plot(res["results"], res["meta"], tmp_path) == []
    assert list(tmp_path.iterdir()) == []
    assert "matplotlib is not installed" in format_compare(res["results"], res["meta"], [])


@pytest.mark.slow
def test_rerun_reuses_finished_runs_and_val_keeps_the_test_files(compared, monkeypatch, capsys):
    out, res = compared
    ckpts = {p: p.stat().st_mtime_ns for p in out.glob("*/checkpoint.npz")}
    code, printed, err = run_cli(["compare", *TINY, "--out", out, "--split", "val"], monkeypatch, capsys)
    assert code == 0 and err.count("reuse ") == 8
    assert printed.strip() == (out / "compare-val.md").read_text().strip()
    assert {p: p.stat().st_mtime_ns for p in out.glob("*/checkpoint.npz")} == ckpts
    assert json.loads((out / "compare.json").read_text())["results"] == res["results"]
    val = json.loads((out / "compare-val.json").read_text())
    assert val["meta"]["split"] == "val" and "the val pool" in (out / "compare-val.md").read_text()
    assert val["results"]["probe"]["mainstream"]["n_users"] < res["results"]["probe"]["mainstream"]["n_users"]


@pytest.mark.slow
def test_another_config_in_out_is_refused(compared, monkeypatch, capsys):
    out = compared[0]
    code, _, err = run_cli(["compare", *TINY_SETTINGS, "--batch-sizes", "32", "--lr", "0.02", "--out", out], monkeypatch, capsys)
    assert code == 2 and err.startswith("error: --out:")


@pytest.mark.parametrize("args, flag", [
    (["--batch-sizes", "1,32"], "--batch-sizes"),
    (["--batch-sizes", "x"], "--batch-sizes"),
    (["--label-fractions", "0"], "--label-fractions"),
    (["--tasks", "gender,colour"], "--tasks"),
    (["--seeds", "0"], "--seeds"),
    (["--seeds-pretrain", "0"], "--seeds-pretrain"),
    (["--folds", "1"], "--folds"),
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
