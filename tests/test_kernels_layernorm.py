"""tinybt/kernels/layernorm.py == the NumPy LayerNorm of tinybt/nn/layernorm.py."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tinybt.backend import use_backend
from tinybt.kernels.linear import MIN_ROWS
from tinybt.nn.layernorm import layernorm_backward, layernorm_forward


def both(x, params, dout):
    """{backend: (out, dx, grads)}."""
    res = {}
    for name in ("fast", "reference"):
        with use_backend(name):
            out, cache = layernorm_forward(x, params)
            res[name] = (out, *layernorm_backward(dout, cache))
    return res


@settings(max_examples=15, deadline=None, derandomize=True)
@given(seed=st.integers(0, 2**16), N=st.integers(1, 6), D=st.integers(1, 9),
       dtype=st.sampled_from([np.float32, np.float64]))
def test_fast_equals_reference_path(seed, N, D, dtype):
    check(seed, N, D, dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_fast_equals_reference_path_in_row_blocks(dtype):
    """Enough rows for one block per Numba thread: the dweight/dbias partials add up right."""
    check(0, MIN_ROWS // 2 + 1, 7, dtype)


def check(seed, N, D, dtype):
    rng = np.random.default_rng(seed)
    x = (rng.standard_normal((N, 2, D)) * 3 + 1).astype(dtype)
    params = {"weight": rng.standard_normal(D).astype(dtype), "bias": rng.standard_normal(D).astype(dtype)}
    dout = rng.standard_normal(x.shape).astype(dtype)
    r = both(x, params, dout)
    tol = dict(rtol=1e-5, atol=1e-5) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-12)
    (out, dx, g), (rout, rdx, rg) = r["fast"], r["reference"]
    for a, b in [(out, rout), (dx, rdx)] + [(g[k], rg[k]) for k in rg]:
        assert a.dtype == b.dtype == dtype and a.shape == b.shape
        np.testing.assert_allclose(a, b, **tol)
