"""tinybt/kernels/gru.py (packed, Numba time loop) == the masked NumPy loop of tinybt/nn/gru.py."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tinybt.backend import use_backend
from tinybt.kernels.gru import pack
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
