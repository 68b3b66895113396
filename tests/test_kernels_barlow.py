"""tinybt/kernels/barlow.py == tinybt/losses/barlow.py, float32 and float64, both product orders."""

import numpy as np
import pytest

from tinybt.check.gradcheck import numeric_grad, rel_error
from tinybt.kernels import barlow as kernel

from check_helpers import bt_loss_on
from test_barlow import SHAPES, views

fast_bt, reference_bt = bt_loss_on("fast"), bt_loss_on("reference")


def close(a, b, rtol):
    """Loss parts and gradients of two results agree (gradients relative to their scale)."""
    for k in ("loss", "on_diag", "off_diag", "on_diag_per_p", "off_diag_per_p"):
        assert float(getattr(a, k)) == pytest.approx(float(getattr(b, k)), rel=rtol, abs=rtol), k
    assert rel_error(a.dz1, b.dz1) < rtol and rel_error(a.dz2, b.dz2) < rtol


# N = 2 only in float64: there ẑ = ±1 and dz is a float32 cancellation of O(eps) terms,
# ill-conditioned by nature, so two float32 implementations need not agree.
AGREEMENT = [(n, p, dtype, rtol) for n, p in SHAPES + [(2, 3), (40, 130)]
             for dtype, rtol in ((np.float64, 1e-11), (np.float32, 2e-4))
             if not (n == 2 and dtype == np.float32)]


@pytest.mark.parametrize("n,p,dtype,rtol", AGREEMENT)
def test_fast_equals_reference_path(n, p, dtype, rtol):
    z1, z2 = views(n * p, n, p, dtype)
    k, r = fast_bt(z1, z2, 0.3), reference_bt(z1, z2, 0.3)
    assert k.dz1.dtype == k.dz2.dtype == k.loss.dtype == dtype
    assert r.dz1.dtype == r.loss.dtype == dtype
    close(k, r, rtol)
    if dtype == np.float32:   # and both are close to the float64 truth
        close(k, reference_bt(z1.astype(np.float64), z2.astype(np.float64), 0.3), rtol)


@pytest.mark.parametrize("n,p", [(9, 37), (37, 9)])
def test_parallel_chunks_agree(monkeypatch, n, p):
    """Force the multi-threaded path (normally only for N·P >= 2^18): column chunks of a width
    that does not divide P must cover every column exactly once."""
    monkeypatch.setattr(kernel, "PARALLEL_MIN", 0)
    z1, z2 = views(7, n, p)
    close(fast_bt(z1, z2, 0.3), reference_bt(z1, z2, 0.3), 1e-11)


@pytest.mark.parametrize("n,p", [(8, 96), (12, 12)])
def test_kernel_keeps_gram_matrices_below_p_and_c_from_p(n, p):
    """B < P (a wide projector): the cache holds the two B×B Gram matrices and no P×P matrix,
    and its gradient passes float64 finite differences of the reference (P×P) loss."""
    z1, z2 = views(11, n, p)
    *_, cache = kernel.barlow_twins_forward(z1, z2, 0.3, 1e-5)
    arrays = [a for a in cache if isinstance(a, np.ndarray)]
    if n < p:
        assert cache.k1.shape == cache.k2.shape == (n, n) and cache.c_n is None
        assert max(a.size for a in arrays) == n * p
    else:
        assert cache.k1 is None and cache.c_n.shape == (p, p)
    res = fast_bt(z1, z2, 0.3)
    for z, dz in ((z1, res.dz1), (z2, res.dz2)):
        num = numeric_grad(lambda: float(reference_bt(z1, z2, 0.3).loss), z)
        assert rel_error(dz, num) < 1e-7
