"""tinybt/kernels/transformer.py (valid tokens packed, attention per sequence) == the reference
transformer encoder of tinybt/models/encoder.py (every position, key-padding mask)."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tinybt.backend import use_backend
from tinybt.kernels.transformer import pack
from tinybt.models.encoder import EncoderConfig, encoder_backward, encoder_forward, encoder_init


def both(enc, ids, lengths, params, du):
    res = {}
    for name in ("fast", "reference"):
        with use_backend(name):
            u, cache = encoder_forward(ids, lengths, params, enc)
            res[name] = (u, encoder_backward(du, cache)[1])
    return res


@pytest.mark.parametrize("dtype,tol", [(np.float32, 2e-5), (np.float64, 1e-12)])
@settings(max_examples=10, deadline=None, derandomize=True)
@given(seed=st.integers(0, 2**16), B=st.integers(1, 4), T=st.integers(1, 6), heads=st.sampled_from([1, 2, 4]))
def test_fast_equals_reference_path(dtype, tol, seed, B, T, heads):
    rng = np.random.default_rng(seed)
    enc = EncoderConfig("transformer", 15, 8, n_layers=2, n_heads=heads, max_len=T, pooling="mean")
    # PyTorch's init leaves LayerNorm at identity and biases 0: jitter so none can hide
    params = {k: (v + 0.1 * rng.standard_normal(v.shape)).astype(dtype)
              for k, v in encoder_init(rng, enc, np.float64).items()}
    lengths = rng.integers(1, T + 1, size=B)
    ids = np.where(np.arange(T) < lengths[:, None], rng.integers(1, 17, size=(B, T)), 0)
    r = both(enc, ids, lengths, params, rng.standard_normal((B, 8)).astype(dtype))
    (u1, g1), (u2, g2) = r["fast"], r["reference"]
    assert u1.dtype == u2.dtype == dtype and sorted(g1) == sorted(g2)
    np.testing.assert_allclose(u1, u2, rtol=tol, atol=tol)
    for k in g2:
        assert g1[k].dtype == dtype
        np.testing.assert_allclose(g1[k], g2[k], rtol=tol, atol=10 * tol, err_msg=k)


def test_pack_keeps_each_sequence_contiguous():
    pk = pack(np.array([3, 1, 2]), 3, 4, 8, n_heads=2)
    assert pk.idx.tolist() == [0, 1, 2, 4, 8, 9]                 # b·T + t of the valid tokens
    assert pk.starts.tolist() == [0, 3, 4]
    assert pk.a_off.tolist() == [0, 18, 20]                      # 2 heads · L² weights per sequence
