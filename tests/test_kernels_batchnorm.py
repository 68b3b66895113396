"""tinybt/kernels/batchnorm.py (BatchNorm1d + ReLU fused) == nn/batchnorm.py then nn/activations.py's
relu, through the projector that uses them: output, running statistics, dx and every gradient."""

import numpy as np
import pytest

from tinybt.backend import use_backend
from tinybt.models.projector import projector_backward, projector_forward, projector_init


@pytest.mark.parametrize("dtype,tol", [(np.float32, 2e-5), (np.float64, 1e-12)])
@pytest.mark.parametrize("seed,N,widths", [(0, 2, [5, 3]), (1, 7, [8, 8, 4]), (2, 33, [16, 9, 12])])
def test_fast_equals_reference_path(dtype, tol, seed, N, widths):
    rng = np.random.default_rng(seed)
    params, buffers = projector_init(rng, 6, widths, np.float64)
    # jitter the BatchNorm's identity init, so a swapped weight and bias cannot hide
    params = {k: (v + 0.3 * rng.standard_normal(v.shape)).astype(dtype) for k, v in params.items()}
    x = (rng.standard_normal((N, 6)) * 2 + 1).astype(dtype)
    dz = rng.standard_normal((N, widths[-1])).astype(dtype)
    res = {}
    for name in ("fast", "reference"):
        b = {k: np.array(v, dtype=v.dtype if v.dtype.kind == "i" else dtype) for k, v in buffers.items()}
        with use_backend(name):
            z, caches = projector_forward(x, params, b)
            z, caches = projector_forward(x[::-1].copy(), params, b)        # running stats: two updates
            res[name] = (z, b, *projector_backward(dz, caches))
    (z1, b1, dx1, g1), (z2, b2, dx2, g2) = res["fast"], res["reference"]
    np.testing.assert_allclose(z1, z2, rtol=tol, atol=tol)
    np.testing.assert_allclose(dx1, dx2, rtol=tol, atol=10 * tol)
    assert sorted(b1) == sorted(b2) and sorted(g1) == sorted(g2)
    for k in b2:
        assert b1[k].dtype == b2[k].dtype
        np.testing.assert_allclose(b1[k], b2[k], rtol=tol, atol=tol, err_msg=k)
    for k in g2:
        assert g1[k].dtype == g2[k].dtype == dtype
        np.testing.assert_allclose(g1[k], g2[k], rtol=tol, atol=10 * tol, err_msg=k)
