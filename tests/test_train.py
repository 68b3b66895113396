"""Training loop, config validation, example drawing, checkpoints, run folder and embed."""

import json
from types import SimpleNamespace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tinybt.errors import TinyBTError
from tinybt.models import encode
from tinybt.run import checkpoint
from tinybt.run.run_dir import read_metrics
from tinybt.train import trainer
from tinybt.run.config import TrainConfig
from tinybt.train.embed import embed, load_run
from tinybt.data.views import barlow_views, next_item_log_q, next_item_pairs
from tinybt.train.trainer import train

from train_helpers import assert_same_checkpoint, metrics, tiny_config


# ---- config -------------------------------------------------------------------

@pytest.mark.parametrize("over, flag", [
    (dict(encoder="transformer", dim=8, heads=3), "--heads"),
    (dict(projector="256-x-256"), "--projector"),
    (dict(projector="256--256"), "--projector"),
    (dict(batch_size=1), "--batch-size"),
    (dict(objective="dual", batch_size=1), "--batch-size"),
    (dict(augment="crop:0.6,shuffle:0.2"), "--augment"),
    (dict(augment="crop:2"), "--augment"),
    (dict(lr=0.0), "--lr"),
    (dict(tau=-1.0), "--tau"),
    (dict(epochs=0), "--epochs"),
    (dict(dataset="ml-2m"), "--dataset"),
])
def test_bad_settings_name_their_flag(over, flag):
    with pytest.raises(TinyBTError, match="^" + flag):
        TrainConfig(**over).validate()


def test_config_round_trips_through_json():
    cfg = TrainConfig(encoder="transformer", dim=16, heads=4, seed=3, data_dir="/x")
    assert TrainConfig.from_json(cfg.to_json()) == cfg
    with pytest.raises(TinyBTError, match="unexpected settings"):
        TrainConfig.from_json(json.dumps({"dim": 8, "colour": "red"}))


def test_default_lr_shrinks_with_the_batch_and_an_explicit_lr_is_kept():
    assert TrainConfig(batch_size=128).validate().lr == pytest.approx(3e-2)
    assert TrainConfig(batch_size=16).validate().lr == pytest.approx(3e-2 * (16 / 128) ** 0.5)
    assert TrainConfig(batch_size=16, lr=1e-3).validate().lr == 1e-3
    cfg = TrainConfig(batch_size=32).validate()
    assert TrainConfig.from_json(cfg.to_json()).lr == cfg.lr            # config.json holds the number used


def test_pretrain_users_all_by_default_and_old_runs_load_as_train(data_dir, tmp_path):
    assert TrainConfig().pretrain_users == "all"
    old = json.loads(TrainConfig(dim=8).to_json())
    del old["pretrain_users"]                      # a config.json written before the field existed
    assert TrainConfig.from_json(json.dumps(old)).pretrain_users == "train"
    with pytest.raises(TinyBTError, match="--pretrain-users: expected all or train"):
        TrainConfig(pretrain_users="some").validate()
    seqs = trainer.load_sequences(tiny_config(data_dir))[1]
    every = trainer.setup(tiny_config(data_dir), out=tmp_path / "a").rows
    held_out = trainer.setup(tiny_config(data_dir, pretrain_users="train"), out=tmp_path / "b").rows
    assert np.array_equal(every, np.arange(seqs.n_users))              # every history, never a future
    assert np.array_equal(held_out, seqs.rows("train"))


# ---- examples -------------------------------------------------------------------

@settings(max_examples=30, deadline=None)
@given(st.lists(st.integers(2, 12), min_size=2, max_size=8), st.integers(1, 6), st.integers(0, 2**31))
def test_next_item_pairs_are_history_prefixes(lengths, max_len, seed):
    rng = np.random.default_rng(seed)
    offsets = np.concatenate([[0], np.cumsum(lengths)])
    seqs = SimpleNamespace(hist_values=rng.integers(1, 50, offsets[-1]), hist_offsets=offsets)
    rows = rng.permutation(len(lengths))
    ids, lens, targets = next_item_pairs(seqs, rows, rng, max_len)
    for b, r in enumerate(rows):
        h = seqs.hist_values[offsets[r]:offsets[r + 1]]
        t = np.flatnonzero(h == targets[b])               # candidate cut points
        prefix = ids[b, :lens[b]]
        assert np.all(ids[b, lens[b]:] == 0) and 1 <= lens[b] <= max_len
        assert any(1 <= c <= len(h) - 1 and np.array_equal(prefix, h[max(0, c - max_len):c]) for c in t)


@settings(max_examples=30, deadline=None)
@given(st.lists(st.integers(2, 9), min_size=1, max_size=6), st.integers(0, 2**31))
def test_next_item_log_q_is_the_exact_target_distribution(lengths, seed):
    """q_i = P(next_item_pairs draws item i), by enumerating every (user, cut point) pair."""
    rng = np.random.default_rng(seed)
    offsets = np.concatenate([[0], np.cumsum(lengths)])
    n_items = 6
    seqs = SimpleNamespace(hist_values=rng.integers(1, n_items + 1, offsets[-1]), hist_offsets=offsets,
                           n_items=n_items)
    rows = np.arange(len(lengths))
    want = np.zeros(n_items + 2)
    for r in rows:                                   # user r w.p. 1/N, cut t w.p. 1/(L−1)
        for t in range(1, lengths[r]):
            want[seqs.hist_values[offsets[r] + t]] += 1 / len(rows) / (lengths[r] - 1)
    q = np.exp(next_item_log_q(seqs, rows))
    np.testing.assert_allclose(q, want, rtol=1e-12, atol=0)
    assert q.sum() == pytest.approx(1.0) and q[0] == q[-1] == 0      # padding and [MASK] are never targets


def test_dual_runs_correct_with_log_q_unless_told_not_to(data_dir, tmp_path):
    """The default dual run shifts the loss by its targets' log q; old config.json files (no field)
    load with the correction off, as they were trained."""
    run = trainer.setup(tiny_config(data_dir, objective="dual"), out=tmp_path / "a")
    assert np.array_equal(run.log_q, next_item_log_q(run.seqs, run.rows))
    assert trainer.setup(tiny_config(data_dir, objective="dual", sampling_correction="none"),
                         out=tmp_path / "b").log_q is None
    assert trainer.setup(tiny_config(data_dir), out=tmp_path / "c").log_q is None       # Barlow Twins
    old = json.loads(TrainConfig(objective="dual").to_json())
    del old["sampling_correction"]
    assert TrainConfig.from_json(json.dumps(old)).sampling_correction == "none"
    with pytest.raises(TinyBTError, match="--sampling-correction: expected logq or none"):
        TrainConfig(sampling_correction="yes").validate()


def test_barlow_views_are_two_augmentations_of_the_same_rows(data_dir):
    _, seqs = trainer.load_sequences(tiny_config(data_dir))
    aug = tiny_config(data_dir, augment="mask:1.0").augment_config()
    rows = seqs.rows("train")[:5]
    (a, la), (b, lb) = barlow_views(seqs, rows, np.random.default_rng(0), aug, 10)
    full = np.minimum(np.diff(seqs.hist_offsets)[rows], 10)
    assert np.array_equal(la, full) and np.array_equal(lb, full)       # masking keeps lengths
    assert np.all(a[np.arange(a.shape[1]) < la[:, None]] == seqs.mask_id)


# ---- training -------------------------------------------------------------------

def test_run_folder_contents_and_reproducibility(data_dir, tmp_path):
    cfg = tiny_config(data_dir, epochs=2)
    a = train(cfg, out=tmp_path / "a", progress=False)
    b = train(tiny_config(data_dir, epochs=2), out=tmp_path / "b", progress=False)
    saved = json.loads((a / "config.json").read_text())
    assert saved["seed"] == 7 and saved["split_seed"] == 0 and saved["version"]
    rows = [json.loads(x) for x in (a / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in rows] == [1, 2]
    assert {"loss", "on_diag", "off_diag", "on_diag_per_p", "off_diag_per_p", "lr", "seconds",
            "examples_per_s"} <= set(rows[0])
    assert np.isclose(rows[0]["loss"], rows[0]["on_diag"] + 0.05 * rows[0]["off_diag"])
    assert metrics(a) == metrics(b)
    assert_same_checkpoint(a, b)
    c = train(tiny_config(data_dir, epochs=2, seed=8), out=tmp_path / "c", progress=False)
    assert metrics(c) != metrics(a)


def test_refuses_to_overwrite_a_run(data_dir, tmp_path):
    train(tiny_config(data_dir, epochs=1, objective="dual"), out=tmp_path / "r", progress=False)
    with pytest.raises(TinyBTError, match="already holds a run"):
        train(tiny_config(data_dir, epochs=1), out=tmp_path / "r", progress=False)


def test_batch_larger_than_the_train_users(data_dir, tmp_path):
    with pytest.raises(TinyBTError, match="--batch-size: 4096"):
        train(tiny_config(data_dir, batch_size=4096), out=tmp_path / "r", progress=False)


def test_nan_stops_and_keeps_the_last_good_checkpoint(data_dir, tmp_path, monkeypatch):
    cfg = tiny_config(data_dir, epochs=3)
    n_steps = trainer.load_sequences(cfg)[1].n_users // cfg.batch_size    # pretrain_users="all"
    real, calls = trainer.barlow_step, []

    def poisoned(run, rows):                   # NaN at the 3rd step of epoch 2
        loss, parts, backward = real(run, rows)
        calls.append(1)
        return (float("nan") if len(calls) == n_steps + 3 else loss), parts, backward

    monkeypatch.setattr(trainer, "barlow_step", poisoned)
    with pytest.raises(TinyBTError, match=r"loss became nan at epoch 2 step 3; last good checkpoint kept at "
                                          r".*checkpoint.npz; try a lower --lr"):
        train(cfg, out=tmp_path / "r", progress=False)
    *_, epoch = checkpoint.load(tmp_path / "r" / "checkpoint.npz")
    assert epoch == 1 and len(metrics(tmp_path / "r")) == 1


# ---- checkpoint ---------------------------------------------------------------

def test_checkpoint_round_trip_is_exact(tmp_path):
    rng = np.random.default_rng(5)
    rng.random(3)
    params = {"a.weight": rng.standard_normal((3, 2)).astype(np.float32)}
    buffers = {"p.1.num_batches_tracked": np.array(4, np.int64)}
    checkpoint.save(tmp_path / "c.npz", params, buffers, {"step/a.weight": np.array(2)}, rng, 3)
    p, b, o, r, e = checkpoint.load(tmp_path / "c.npz")
    assert e == 3 and np.array_equal(p["a.weight"], params["a.weight"]) and int(b["p.1.num_batches_tracked"]) == 4
    assert int(o["step/a.weight"]) == 2
    assert np.array_equal(r.random(4), rng.random(4))                   # same stream continues
    assert not list(tmp_path.glob("*.tmp*"))


@pytest.mark.parametrize("damage", ["truncate", "garbage", "missing"])
def test_bad_checkpoint_is_a_clear_error(tmp_path, damage):
    f = tmp_path / "checkpoint.npz"
    checkpoint.save(f, {"w": np.ones(3, np.float32)}, {}, {}, np.random.default_rng(0), 1)
    if damage == "truncate":
        f.write_bytes(f.read_bytes()[:100])
    elif damage == "garbage":
        f.write_bytes(b"not a zip file at all")
    else:
        f.unlink()
    with pytest.raises(TinyBTError, match="checkpoint"):
        checkpoint.load(f)


# ---- embed --------------------------------------------------------------------

@pytest.mark.parametrize("encoder", ["gru", "transformer"])
def test_embed_writes_every_user(data_dir, tmp_path, encoder):
    run = train(tiny_config(data_dir, epochs=1, encoder=encoder), out=tmp_path / "r", progress=False)
    cfg, ds, seqs, enc, params = load_run(run)
    assert embed(run, tmp_path / "u.npy") == (seqs.n_users, 8)
    U = np.load(tmp_path / "u.npy")
    assert U.shape == (seqs.n_users, 8) and U.dtype == np.float32 and np.isfinite(U).all()
    embed(run, tmp_path / "u.csv")
    lines = (tmp_path / "u.csv").read_text(encoding="utf-8").splitlines()
    assert lines[0] == "user_id," + ",".join(f"d{j}" for j in range(8))
    assert [int(x.split(",")[0]) for x in lines[1:]] == ds.user_keys[seqs.users].tolist()
    np.testing.assert_allclose(np.array([x.split(",")[1:] for x in lines[1:]], float), U, rtol=1e-6)
    with pytest.raises(TinyBTError, match="--out: expected a file ending in .npy or .csv"):
        embed(run, tmp_path / "u.txt")


# ---- the screen ------------------------------------------------------------------

BIG_ROW = {"epoch": 1000, "loss": 1.2345e6, "on_diag_per_p": 1.2345e-5, "off_diag_per_p": 1.2345e-5,
           "eff_rank": 1023.99, "seconds": 3599.0}


@pytest.mark.parametrize("objective", ["barlow", "dual"])
def test_the_epoch_line_fits_100_columns_with_large_numbers(objective):
    row = BIG_ROW if objective == "barlow" else {k: v for k, v in BIG_ROW.items() if "diag" not in k}
    line = trainer.epoch_line(row, 1000, 999 * 3600)
    assert line.startswith("epoch 1000/1000  loss 1.234e+06  ") and line.endswith("  59:59  ETA 999:00:00")
    assert ("on/P 1.23e-05  off/P 1.23e-05" in line) == (objective == "barlow") and len(line) <= 100
    assert len(trainer.epoch_line(dict(row, epoch=10000, seconds=59.9), 10000, 99 * 3600)) <= 100


def test_the_steady_epoch_time_comes_from_the_second_half_of_the_steps(monkeypatch):
    """A cold process compiles during the first steps: 10 s for steps 1-2 of 4, then 1 s each.
    The estimate for a whole epoch is 4 s, not the 12 s this one took."""
    clock = iter([0.0, 10.0, 12.0])                   # meter start, after step 2 (half), the call
    monkeypatch.setattr(trainer.time, "perf_counter", lambda: next(clock))
    meter = trainer._Meter(SimpleNamespace(lr=1e-3, epochs=1, objective="dual"), False, 1, 4)
    for _ in range(4):
        meter.add(1.0, {}, 1e-3)
    assert meter.steady() == 4.0


def test_the_eta_is_the_remaining_epochs_at_the_mean_epoch_time_without_the_compiling_first():
    assert trainer.time_left([30.0], 2) == 60.0                 # only the first so far, and no estimate
    assert trainer.time_left([30.0], 2, steady=1.5) == 3.0      # its compiled second half says 1.5 s
    assert trainer.time_left([1.0], 2, steady=1.5) == 2.0       # never longer than the epoch itself
    assert trainer.time_left([30.0, 2.0, 4.0], 10, steady=1.0) == 30.0     # later epochs are measured
    assert trainer.time_left([30.0, 2.0, 4.0], 10) == 30.0
    line = trainer.epoch_line(dict(BIG_ROW, seconds=1.84), 30, trainer.time_left([9.0, 1.8, 1.9], 27))
    assert line.endswith("  1.8s  ETA 0:50")


@pytest.mark.parametrize("objective, encoder", [("barlow", "gru"), ("dual", "transformer")])
def test_train_echoes_one_short_line_per_epoch_and_keeps_the_whole_row(data_dir, tmp_path, objective, encoder):
    lines = []
    run = train(tiny_config(data_dir, epochs=2, objective=objective, encoder=encoder), out=tmp_path / "r",
                echo=lines.append)
    epochs = [s for s in lines if s.startswith("epoch ")]
    assert [s.split("  ")[0] for s in epochs] == ["epoch 1/2", "epoch 2/2"]
    assert all(len(s) <= 100 and "eff_rank" in s for s in epochs) and epochs[-1].endswith("ETA 0:00")
    assert ("on/P" in epochs[0]) == (objective == "barlow")
    assert {"lr", "steps", "examples_per_s", "std_min", "align"} <= set(read_metrics(run)[0])


def test_embedding_users_shows_a_bar_of_users_once_it_takes_long(data_dir, tmp_path, monkeypatch, capsys):
    run = train(tiny_config(data_dir, epochs=1), out=tmp_path / "r", progress=False)
    _, _, seqs, enc, params = load_run(run)
    capsys.readouterr()
    monkeypatch.setattr(encode, "DELAY", 0.0)               # as if the users took longer than DELAY
    encode.encode_users(params, enc, seqs, batch_size=64)
    lines = capsys.readouterr().err.splitlines()
    assert [s.split(" [")[0] for s in lines] == [f"embed {seqs.n_users} users"] * 2
    assert f"{100 * 64 / seqs.n_users:3.0f}%" in lines[0] and "100%" in lines[1]
