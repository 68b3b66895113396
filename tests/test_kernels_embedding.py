"""tinybt/kernels/embedding.py (scatter-add backward) == np.add.at in tinybt/nn/embedding.py."""

import numpy as np
import pytest

from tinybt.backend import use_backend
from tinybt.nn.embedding import embedding_backward, embedding_forward, embedding_init


@pytest.mark.parametrize("dtype,rtol", [(np.float32, 1e-6), (np.float64, 1e-14)])
def test_fast_equals_reference_path(dtype, rtol):
    rng = np.random.default_rng(0)
    params = embedding_init(rng, 12, 5, dtype=dtype)
    ids = rng.integers(0, 12, size=(7, 9))                 # repeats and padding
    dout = rng.standard_normal((7, 9, 5)).astype(dtype)
    grads = {}
    for name in ("fast", "reference"):
        with use_backend(name):
            _, cache = embedding_forward(ids, params)
            grads[name] = embedding_backward(dout, cache)[1]["weight"]
    assert grads["fast"].dtype == grads["reference"].dtype == dtype
    assert not grads["fast"][0].any()
    np.testing.assert_allclose(grads["fast"], grads["reference"], rtol=rtol, atol=rtol)
