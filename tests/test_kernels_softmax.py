"""tinybt/kernels/softmax.py == the NumPy masked softmax of tinybt/nn/softmax.py."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tinybt.backend import use_backend
from tinybt.nn.softmax import masked_softmax_backward, masked_softmax_forward


def both(logits, mask, dp):
    res = {}
    for name in ("fast", "reference"):
        with use_backend(name):
            p, cache = masked_softmax_forward(logits, mask)
            res[name] = (p, masked_softmax_backward(dp, cache)[0])
    return res


@pytest.mark.parametrize("dtype,tol", [(np.float32, 1e-6), (np.float64, 1e-14)])
def test_fast_equals_reference_path(dtype, tol):
    rng = np.random.default_rng(0)
    logits = (3 * rng.standard_normal((2, 3, 4, 5))).astype(dtype)
    mask = rng.random((2, 1, 4, 5)) < 0.6                  # broadcast over the head axis
    mask[0, 0, 1] = False                                  # with an all-masked row
    dp = rng.standard_normal(logits.shape).astype(dtype)
    r = both(logits, mask, dp)
    for a, b in zip(r["fast"], r["reference"]):
        assert a.dtype == b.dtype == dtype and a.shape == b.shape
        np.testing.assert_allclose(a, b, rtol=tol, atol=tol)


@settings(max_examples=25, deadline=None, derandomize=True)
@given(seed=st.integers(0, 2**16), N=st.integers(1, 5), K=st.integers(1, 6),
       scale=st.sampled_from([1.0, 50.0, 1e4]))
def test_fast_matches_reference_at_any_scale(seed, N, K, scale):
    rng = np.random.default_rng(seed)
    logits = scale * rng.standard_normal((N, K))
    r = both(logits, rng.random((N, K)) < 0.5, rng.standard_normal((N, K)))
    for a, b in zip(r["fast"], r["reference"]):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)
