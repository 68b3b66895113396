"""Whole models: gradient checks, state_dict naming, and analytic facts about the composition."""

import numba
import numpy as np
import pytest

from tinybt.check.cases.models import barlow_case, model_bt_gru, model_bt_transformer, model_dual
from tinybt.check.gradcheck import check
from tinybt.models.barlow_model import barlow_backward, barlow_forward, barlow_init, stack_views
from tinybt.models.dual_model import dual_backward, dual_forward, dual_init
from tinybt.models.encoder import EncoderConfig, encoder_forward, encoder_init
from tinybt.models.projector import projector_init


@pytest.fixture
def one_thread():
    """Tiny tensors: thread hand-off in the parallel kernels costs more than the work."""
    before = numba.get_num_threads()
    numba.set_num_threads(1)
    yield
    numba.set_num_threads(before)


@pytest.mark.parametrize("make", [model_bt_gru, model_bt_transformer, model_dual])
def test_model_gradcheck(make, one_thread):
    c = make(np.random.default_rng(0))
    rows = check(c)
    assert len(rows) == len(c.params) - (c.name == "model_bt_transformer")   # see final_norm.bias below
    worst = max(rows, key=lambda r: r[1])
    assert worst[1] <= 1e-6, worst


def test_bt_final_norm_bias_has_zero_gradient(one_thread):
    """A constant shift of every user vector is invisible to BatchNorm + the BT loss."""
    c = barlow_case(np.random.default_rng(1), "transformer")
    views = ((c.inputs["ids1"], c.inputs["lengths1"]), (c.inputs["ids2"], c.inputs["lengths2"]))
    enc = EncoderConfig(**c.config["encoder"], pooling="last")     # the case predates pooling (models.py)
    buffers = projector_init(np.random.default_rng(0), enc.dim, [6, 6, 6], np.float64)[1]
    res, cache = barlow_forward(c.params, buffers, views, 0.1, enc)
    g = barlow_backward(1.0, cache)[1]["final_norm.bias"]
    assert np.abs(g).max() <= 1e-12 * max(1.0, abs(float(res.loss)))
    shifted = dict(c.params, **{"final_norm.bias": c.params["final_norm.bias"] + 3.0})
    res2, _ = barlow_forward(shifted, buffers, views, 0.1, enc)
    assert np.isclose(res2.loss, res.loss, rtol=1e-9)


def test_projector_names_follow_nn_sequential():
    params, buffers = projector_init(np.random.default_rng(0), 4, [5, 6, 7], np.float32)
    shapes = {k: v.shape for k, v in params.items()}
    assert shapes == {"projector.0.weight": (5, 4), "projector.1.weight": (5,), "projector.1.bias": (5,),
                      "projector.3.weight": (6, 5), "projector.4.weight": (6,), "projector.4.bias": (6,),
                      "projector.6.weight": (7, 6)}
    assert set(buffers) == {f"projector.{i}.{b}" for i in (1, 4)
                            for b in ("running_mean", "running_var", "num_batches_tracked")}
    single, no_buffers = projector_init(np.random.default_rng(0), 4, [3], np.float32)
    assert set(single) == {"projector.0.weight"} and no_buffers == {}


@pytest.mark.parametrize("kind", ["gru", "transformer"])
def test_encoder_names(kind):
    enc = EncoderConfig(kind, n_items=10, dim=8, n_layers=2, n_heads=2, max_len=6, pooling="mean")
    p = encoder_init(np.random.default_rng(0), enc)
    assert p["item_emb.weight"].shape == (12, 8)                       # V + 2 rows: padding, [MASK]
    if kind == "gru":
        assert p["gru.weight_ih_l0"].shape == (24, 8) and p["gru.weight_hh_l0"].shape == (24, 8)
    else:
        assert p["pos_emb.weight"].shape == (6, 8) and p["final_norm.weight"].shape == (8,)
        assert p["layers.1.self_attn.in_proj_weight"].shape == (24, 8)
        assert p["layers.0.linear1.weight"].shape == (32, 8) and "layers.2.norm1.weight" not in p


@pytest.mark.parametrize("kind", ["gru", "transformer"])
def test_encoder_rows_are_independent_and_padding_is_inert(kind):
    """No batch statistics: encoding two batches stacked = encoding each; extra padding changes nothing."""
    rng = np.random.default_rng(2)
    enc = EncoderConfig(kind, n_items=10, dim=8, n_layers=1, n_heads=2, max_len=7, pooling="mean")
    p = encoder_init(rng, enc, np.float64)
    len1, len2 = np.array([3, 5, 1]), np.array([4, 2, 4])
    ids1 = np.where(np.arange(5) < len1[:, None], rng.integers(1, 12, (3, 5)), 0)
    ids2 = np.where(np.arange(4) < len2[:, None], rng.integers(1, 12, (3, 4)), 0)
    u1, _ = encoder_forward(ids1, len1, p, enc)
    u2, _ = encoder_forward(ids2, len2, p, enc)
    both, _ = encoder_forward(stack_views(ids1, ids2), np.concatenate([len1, len2]), p, enc)
    np.testing.assert_allclose(both, np.concatenate([u1, u2]), rtol=1e-12, atol=1e-12)
    wide, _ = encoder_forward(np.pad(ids1, ((0, 0), (0, 2))), len1, p, enc)
    np.testing.assert_allclose(wide, u1, rtol=1e-12, atol=1e-12)


def test_bt_loss_symmetric_in_the_views_and_float32_stays_float32():
    enc = EncoderConfig("gru", n_items=10, dim=8, n_layers=1, n_heads=1, max_len=50, pooling="mean")
    rng = np.random.default_rng(3)
    params, buffers = barlow_init(rng, enc, [6, 6], np.float32)
    lengths = np.array([3, 5, 2, 4])
    a = np.where(np.arange(5) < lengths[:, None], rng.integers(1, 12, (4, 5)), 0)
    b = np.where(np.arange(5) < lengths[:, None], rng.integers(1, 12, (4, 5)), 0)
    r1, cache = barlow_forward(params, buffers, ((a, lengths), (b, lengths)), 0.05, enc)
    r2, _ = barlow_forward(params, buffers, ((b, lengths), (a, lengths)), 0.05, enc)
    assert np.isclose(r1.loss, r2.loss, rtol=1e-5)
    _, grads = barlow_backward(1.0, cache)
    assert set(grads) == set(params)
    assert all(g.dtype == np.float32 for g in grads.values())
    assert int(buffers["projector.1.num_batches_tracked"]) == 4       # two steps x one BN call per view


def test_dual_item_table_is_shared():
    """The target side reads item_emb.weight: a target-only item gets gradient only from that side."""
    enc = EncoderConfig("gru", n_items=10, dim=8, n_layers=1, n_heads=1, max_len=50, pooling="mean")
    rng = np.random.default_rng(4)
    params, buffers = dual_init(rng, enc, np.float64)
    assert buffers == {} and set(params) == set(encoder_init(rng, enc))
    ids = np.array([[1, 2, 0], [3, 1, 2], [2, 0, 0]])
    lengths = np.array([2, 3, 1])
    targets = np.array([7, 8, 9])                                     # never in any history
    loss, cache = dual_forward(params, ids, lengths, targets, 0.2, enc)
    g = dual_backward(1.0, cache)[1]["item_emb.weight"]
    assert np.all(np.abs(g[[7, 8, 9]]).sum(axis=1) > 0)
    assert np.all(g[[0, 4, 5, 6, 10, 11]] == 0)                       # padding, unused items, [MASK]
    assert np.isfinite(loss)
