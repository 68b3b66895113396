"""tinybt/kernels/gru.py (packed, Numba time loop) == the masked NumPy loop of tinybt/nn/gru.py,
and its fused encoder (distinct items, packed pooling) == models/gru_encoder.py's layers one by one."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tinybt.backend import use_backend
from tinybt.kernels.gru import distinct, pack
from tinybt.models.encoder import EncoderConfig, encoder_backward, encoder_forward, encoder_init
from tinybt.nn.embedding import RowGrad, embedding_grad
from tinybt.nn.gru import gru_backward, gru_forward, gru_init

SEEDS = st.integers(0, 2**31 - 1)


def both(x, lengths, p, dout):
    """{backend: (out, dx, grads)}."""
    res = {}
    for name in ("fast", "reference"):
        with use_backend(name):
            out, cache = gru_forward(x, lengths, p)
            res[name] = (out, *gru_backward(dout, cache))
    return res


def assert_agree(r, tol):
    (o1, dx1, g1), (o2, dx2, g2) = r["fast"], r["reference"]
    for a, b in ((o1, o2), (dx1, dx2)):
        assert a.dtype == b.dtype and a.shape == b.shape
        np.testing.assert_allclose(a, b, rtol=tol, atol=tol)
    for k in g2:
        assert g1[k].dtype == g2[k].dtype
        np.testing.assert_allclose(g1[k], g2[k], rtol=tol, atol=10 * tol)


@pytest.mark.parametrize("dtype,tol", [(np.float32, 2e-5), (np.float64, 1e-12)])
@settings(max_examples=15, deadline=None, derandomize=True)
@given(seed=SEEDS, B=st.integers(1, 5), T=st.integers(1, 6))
def test_fast_equals_reference_path(dtype, tol, seed, B, T):
    rng = np.random.default_rng(seed)
    D, H = 4, 6
    x = rng.standard_normal((B, T, D)).astype(dtype)
    p = gru_init(rng, D, H, dtype)
    assert_agree(both(x, rng.integers(1, T + 1, size=B), p, rng.standard_normal((B, T, H)).astype(dtype)), tol)


@pytest.mark.parametrize("dtype,tol", [(np.float32, 2e-5), (np.float64, 1e-12)])
def test_fast_saturates_like_reference_path(dtype, tol):
    """Pre-activations far past float32's exp overflow (|a| > 88) give finite gates that saturate
    to 0/1 (tanh to ±1) in the kernels exactly as in the reference, in either dtype."""
    rng = np.random.default_rng(4)
    B, T, D, H = 4, 3, 2, 3
    x = (rng.choice([-1, 1], (B, T, D)) * rng.uniform(50, 1e4, (B, T, D))).astype(dtype)
    p = gru_init(rng, D, H, dtype)
    r = both(x, np.array([3, 1, 2, 3]), p, rng.standard_normal((B, T, H)).astype(dtype))
    assert all(np.isfinite(a).all() for a in r["fast"][:2])
    assert_agree(r, tol)


@settings(max_examples=25, deadline=None, derandomize=True)
@given(seed=SEEDS, B=st.integers(1, 6), T=st.integers(1, 5))
def test_pack_covers_valid_cells_step_by_step(seed, B, T):
    """Every valid (t, b) cell appears once, step after step; step t's rows come longest sequence
    first, and prev points at the same sequence's cell one step earlier."""
    lengths = np.random.default_rng(seed).integers(1, T + 1, size=B)
    b, t, n, off, prev = pack(lengths, B, T)
    assert sorted(zip(t, b)) == [(k, i) for k in range(T) for i in range(B) if k < lengths[i]]
    assert (np.diff(t) >= 0).all() and (off == np.searchsorted(t, np.arange(T))).all()
    assert (n == (lengths[None, :] > np.arange(T)[:, None]).sum(axis=1)).all()
    for k in range(1, T):
        assert (b[off[k]:off[k] + n[k]] == b[off[k - 1]:off[k - 1] + n[k]]).all()   # a prefix of step k − 1
    assert (b[prev] == b[B:]).all() and (t[prev] == t[B:] - 1).all()


@pytest.mark.parametrize("dtype,tol", [(np.float32, 2e-5), (np.float64, 1e-12)])
@pytest.mark.parametrize("pooling", ["mean", "last"])
@pytest.mark.parametrize("grad_mode", ["dense", "sparse"])
@settings(max_examples=10, deadline=None, derandomize=True)
@given(seed=SEEDS, B=st.integers(1, 5), T=st.integers(1, 6))
def test_fast_encoder_equals_reference_layers(dtype, tol, pooling, grad_mode, seed, B, T):
    """Few items (repeats within and across sequences, [MASK] = V + 1 among them): u and every
    gradient, the item table's in either form, as the reference's embedding -> GRU -> pooling."""
    rng = np.random.default_rng(seed)
    enc = EncoderConfig("gru", 5, 4, n_layers=1, n_heads=1, max_len=T, pooling=pooling)
    params = {k: v.astype(dtype) for k, v in encoder_init(rng, enc, np.float64).items()}
    lengths = rng.integers(1, T + 1, size=B)
    ids = np.where(np.arange(T) < lengths[:, None], rng.integers(1, 7, size=(B, T)), 0)
    du = rng.standard_normal((B, 4)).astype(dtype)
    res = {}
    for name in ("fast", "reference"):
        with use_backend(name), embedding_grad(grad_mode):
            u, cache = encoder_forward(ids, lengths, params, enc)
            res[name] = (u, encoder_backward(du, cache)[1])
    (u1, g1), (u2, g2) = res["fast"], res["reference"]
    assert u1.dtype == u2.dtype == dtype and sorted(g1) == sorted(g2)
    np.testing.assert_allclose(u1, u2, rtol=tol, atol=tol)
    for k in g2:
        a, b = g1[k], g2[k]
        if isinstance(b, RowGrad):
            assert isinstance(a, RowGrad) and a.rows.tolist() == b.rows.tolist() and a.shape == b.shape
            a, b = a.values, b.values
        assert a.dtype == dtype
        np.testing.assert_allclose(a, b, rtol=tol, atol=10 * tol, err_msg=k)


def test_distinct_items_and_each_cells_row():
    items, rows = distinct(np.array([4, 1, 4, 6, 1]), 8)
    assert items.tolist() == [1, 4, 6] and rows.tolist() == [1, 0, 1, 2, 0]
