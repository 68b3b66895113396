"""The lazy row-wise Adam update for RowGrad gradients (tinybt/optim/adam.py's docstring):
bit-identical to dense Adam where the docstring says so, and exactly its stated difference
elsewhere; global-norm clipping of a RowGrad; the trainer's --embedding-grad sparse."""

import json

import numpy as np
import pytest

from tinybt.nn.embedding import RowGrad
from tinybt.optim import Adam, clip_grad_norm
from tinybt.run.run_dir import CHECKPOINT
from tinybt.train import trainer

from train_helpers import saved_params, tiny_config

V, D = 9, 3
OPTS = [dict(weight_decay=0.0, decoupled=True), dict(weight_decay=0.2, decoupled=False),
        dict(weight_decay=0.2, decoupled=True)]


def table(seed, dtype=np.float64):
    rng = np.random.default_rng(seed)
    return {"w": rng.standard_normal((V, D)).astype(dtype), "b": rng.standard_normal(D).astype(dtype)}


def rows_grad(rng, rows, dtype=np.float64):
    rows = np.asarray(rows, np.int64)
    return RowGrad(rows, rng.standard_normal((len(rows), D)).astype(dtype), (V, D))


def run(opt_kw, grads, dense, dtype=np.float64):
    """Apply the steps `grads` (dicts of RowGrad / arrays) -> (params, optimiser); dense: as arrays."""
    p, opt = table(0, dtype), Adam(lr=0.05, **opt_kw)
    for g in grads:
        opt.step(p, {k: v.dense() if dense and isinstance(v, RowGrad) else v for k, v in g.items()})
    return p, opt


def assert_rows_equal(a, b, rows=slice(None)):
    """p, m and v of table "w" agree bit for bit on `rows`."""
    (pa, oa), (pb, ob) = a, b
    assert np.array_equal(pa["w"][rows], pb["w"][rows])
    assert np.array_equal(oa.exp_avg["w"][rows], ob.exp_avg["w"][rows])
    assert np.array_equal(oa.exp_avg_sq["w"][rows], ob.exp_avg_sq["w"][rows])


@pytest.mark.parametrize("opt_kw", OPTS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_every_row_touched_every_step_is_dense_adam_bit_for_bit(opt_kw, dtype):
    rng = np.random.default_rng(1)
    grads = [{"w": rows_grad(rng, range(V), dtype), "b": rng.standard_normal(D).astype(dtype)} for _ in range(5)]
    lazy, dense = run(opt_kw, grads, False, dtype), run(opt_kw, grads, True, dtype)
    assert_rows_equal(lazy, dense)
    assert lazy[1].steps == dense[1].steps == {"w": 5, "b": 5}
    assert np.array_equal(lazy[0]["b"], dense[0]["b"]) and lazy[0]["w"].dtype == dtype


def test_rows_touched_from_their_first_step_on_are_dense_adam_without_weight_decay():
    """Growing row sets (a row, once touched, is touched at every later step) and wd = 0: a row
    not yet touched has m = v = 0, so its dense update is 0 too, and the whole state agrees."""
    rng = np.random.default_rng(2)
    grads = [{"w": rows_grad(rng, range(k))} for k in (2, 2, 5, 7, 9)]
    assert_rows_equal(run(OPTS[0], grads, False), run(OPTS[0], grads, True))


@pytest.mark.parametrize("opt_kw", OPTS)
def test_untouched_rows_are_left_alone_where_dense_adam_decays_and_moves_them(opt_kw):
    rng = np.random.default_rng(3)
    touched, left = np.array([0, 4, 7]), np.array([1, 2, 3, 5, 6, 8])
    first = {"w": rows_grad(rng, range(V))}
    second = {"w": rows_grad(rng, touched)}
    before, lazy, dense = run(opt_kw, [first], False), run(opt_kw, [first, second], False), \
        run(opt_kw, [first, second], True)
    # untouched rows: exactly the state after step 1; the step count still moves on (bias correction)
    assert_rows_equal(before, lazy, left)
    assert lazy[1].steps == {"w": 2}
    # touched rows: dense Adam on just those rows, with the same history
    sub, opt = {"w": table(0)["w"][touched]}, Adam(lr=0.05, **opt_kw)
    opt.step(sub, {"w": first["w"].values[touched]})
    opt.step(sub, {"w": second["w"].values})
    assert np.array_equal(lazy[0]["w"][touched], sub["w"])
    assert np.array_equal(lazy[1].exp_avg["w"][touched], opt.exp_avg["w"])
    # dense Adam at step 2 on the untouched rows, whose gradient is 0 (+ wd·p for Adam's L2):
    b1, b2, lr, wd = 0.9, 0.999, 0.05, opt_kw["weight_decay"]
    p1, m1, v1 = before[0]["w"][left], before[1].exp_avg["w"][left], before[1].exp_avg_sq["w"][left]
    g = np.zeros_like(p1) if opt_kw["decoupled"] else wd * p1
    p = p1 * (1 - lr * wd) if opt_kw["decoupled"] else p1
    m, v = b1 * m1 + (1 - b1) * g, b2 * v1 + (1 - b2) * g * g
    p = p - lr / (1 - b1 ** 2) * m / (np.sqrt(v / (1 - b2 ** 2)) + 1e-8)
    for got, want in ((dense[0]["w"][left], p), (dense[1].exp_avg["w"][left], m),
                      (dense[1].exp_avg_sq["w"][left], v)):
        np.testing.assert_allclose(got, want, rtol=1e-12)
    assert not np.any(dense[0]["w"][left] == lazy[0]["w"][left])


def test_clipping_a_row_grad_is_clipping_its_dense_gradient():
    rng = np.random.default_rng(4)
    sparse = {"w": rows_grad(rng, [1, 5]), "b": rng.standard_normal(D)}
    dense = {"w": sparse["w"].dense(), "b": sparse["b"].copy()}
    assert clip_grad_norm(sparse, 0.5) == pytest.approx(clip_grad_norm(dense, 0.5), rel=1e-15)
    np.testing.assert_allclose(sparse["w"].dense(), dense["w"], rtol=1e-15, atol=0)
    np.testing.assert_allclose(sparse["b"], dense["b"], rtol=1e-15)


def test_sparse_training_leaves_rows_no_batch_reads_at_their_init(data_dir, tmp_path):
    """Without the mask augmentation no view reads the [MASK] row V+1: with weight decay, dense
    AdamW shrinks it at every step, the lazy update never touches it."""
    kw = dict(augment="crop:0.6,reorder:0.6", weight_decay=0.1, epochs=1, grad_clip=1.0)
    init = trainer.setup(tiny_config(data_dir, **kw), out=tmp_path / "init").params["item_emb.weight"]
    final = {}
    for mode in ("dense", "sparse"):
        path = trainer.train(tiny_config(data_dir, embedding_grad=mode, **kw), out=tmp_path / mode, progress=False)
        assert json.loads((path / "config.json").read_text(encoding="utf-8"))["embedding_grad"] == mode
        assert (path / CHECKPOINT).exists()
        final[mode] = saved_params(path)["param/item_emb.weight"]
    assert np.array_equal(final["sparse"][-1], init[-1])
    assert np.all(np.abs(final["dense"][-1]) < np.abs(init[-1]))
    assert not np.array_equal(final["sparse"][1:-1], init[1:-1])    # the item rows did train
