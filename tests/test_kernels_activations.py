"""tinybt/kernels/activations.py (GELU) == the scipy-erf GELU of tinybt/nn/activations.py."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from scipy.stats import norm

from tinybt.backend import use_backend
from tinybt.nn.activations import gelu_backward, gelu_forward


@settings(max_examples=15, deadline=None, derandomize=True)
@given(x=arrays(np.float64, st.integers(1, 20), elements=st.floats(-40, 40)),
       dtype=st.sampled_from([np.float32, np.float64]))
def test_fast_matches_reference_and_x_phi(x, dtype):
    x = x.astype(dtype)
    dout = np.linspace(-1, 1, x.size).astype(dtype)
    res = {}
    for name in ("fast", "reference"):
        with use_backend(name):
            out, cache = gelu_forward(x)
            res[name] = (out, gelu_backward(dout, cache)[0])
    tol = dict(rtol=1e-6, atol=1e-6) if dtype == np.float32 else dict(rtol=1e-13, atol=1e-14)
    for a, b in zip(res["fast"], res["reference"]):
        assert a.dtype == b.dtype == dtype
        np.testing.assert_allclose(a, b, **tol)
    # the analytic definition, with Φ from scipy.stats rather than erf
    np.testing.assert_allclose(res["fast"][0], x * norm.cdf(x.astype(np.float64)), **tol)
