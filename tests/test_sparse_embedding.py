"""Row-sparse embedding gradients (tinybt/nn/embedding.py, RowGrad): the dense gradient's
numbers, bit for bit, on both paths and through the models that read the item table."""

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from tinybt.backend import use_backend
from tinybt.check.gradcheck import numeric_grad, rel_error
from tinybt.models.dual_model import dual_backward, dual_forward, dual_init
from tinybt.models.encoder import EncoderConfig, encoder_backward, encoder_forward, encoder_init
from tinybt.nn.embedding import RowGrad, embedding_backward, embedding_forward, embedding_grad, embedding_init


def lookup_grad(mode, backend, ids, dout, params, padding_idx=0):
    with use_backend(backend), embedding_grad(mode):
        _, cache = embedding_forward(ids, params, padding_idx)
        return embedding_backward(dout, cache)[1]["weight"]


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 10_000), st.integers(1, 30), st.integers(1, 9), st.sampled_from([0, None]),
       st.sampled_from(["fast", "reference"]), st.sampled_from([np.float32, np.float64]))
def test_sparse_gradient_is_the_dense_one_bit_for_bit(seed, v, n, padding_idx, backend, dtype):
    rng = np.random.default_rng(seed)
    params = embedding_init(rng, v + 2, 3, padding_idx=padding_idx, dtype=dtype)
    ids = rng.integers(0, v + 2, size=(n, 4))                # repeats and padding
    dout = rng.standard_normal((n, 4, 3)).astype(dtype)
    dense = lookup_grad("dense", backend, ids, dout, params, padding_idx)
    sparse = lookup_grad("sparse", backend, ids, dout, params, padding_idx)
    assert isinstance(sparse, RowGrad) and sparse.values.dtype == dtype and sparse.shape == dense.shape
    want = np.unique(ids[ids != padding_idx]) if padding_idx is not None else np.unique(ids)
    np.testing.assert_array_equal(sparse.rows, want)        # sorted, unique, no padding row
    assert np.array_equal(sparse.dense(), dense)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_fast_equals_reference_sparse_path(dtype):
    rng = np.random.default_rng(3)
    params = embedding_init(rng, 50, 6, dtype=dtype)
    ids = rng.integers(0, 50, size=(20, 7))
    dout = rng.standard_normal((20, 7, 6)).astype(dtype)
    a, b = (lookup_grad("sparse", name, ids, dout, params) for name in ("fast", "reference"))
    assert np.array_equal(a.rows, b.rows) and np.array_equal(a.values, b.values)


def test_sparse_gradient_matches_finite_differences():
    """S = Σ W[ids] ⊙ dout in float64: ∂S/∂W from the RowGrad against central differences."""
    rng = np.random.default_rng(5)
    params = embedding_init(rng, 9, 4, dtype=np.float64)
    ids = np.array([[1, 3, 3, 0], [8, 1, 0, 0]])
    dout = rng.standard_normal((2, 4, 4))

    def s():
        out, _ = embedding_forward(ids, params)
        out[ids == 0] = 0                                    # padding_idx: the padding row is a constant
        return float(np.sum(out * dout))

    num = numeric_grad(s, params["weight"])
    g = lookup_grad("sparse", "reference", ids, dout, params)
    assert rel_error(g.dense(), num) < 1e-9
    np.testing.assert_array_equal(g.rows, [1, 3, 8])


def test_adding_row_grads_is_adding_the_dense_ones():
    shape = (7, 2)
    a = RowGrad(np.array([1, 4]), np.array([[1.0, 2.0], [0.1, 0.2]]), shape)
    b = RowGrad(np.array([0, 4, 6]), np.array([[3.0, 3.0], [0.3, 0.7], [5.0, 6.0]]), shape)
    s = a + b
    np.testing.assert_array_equal(s.rows, [0, 1, 4, 6])
    assert np.array_equal(s.dense(), a.dense() + b.dense())
    with pytest.raises(TypeError):
        a + a.dense()
    with pytest.raises(TypeError):
        a.dense() + a
    with pytest.raises(TypeError):
        a + RowGrad(a.rows, a.values, (8, 2))


def test_unknown_mode_is_refused():
    with pytest.raises(ValueError, match="embedding_grad must be one of dense, sparse"):
        with embedding_grad("lazy"):
            pass


@pytest.mark.parametrize("kind", ["gru", "transformer"])
@pytest.mark.parametrize("backend", ["fast", "reference"])
def test_encoder_item_table_gradient_is_the_dense_one(kind, backend):
    enc = EncoderConfig(kind, 30, 8, 1, 2, 6, "mean")
    rng = np.random.default_rng(1)
    params = encoder_init(rng, enc)
    lengths = rng.integers(1, 7, size=5)
    ids = np.where(np.arange(6) < lengths[:, None], rng.integers(1, 32, size=(5, 6)), 0)
    du = rng.standard_normal((5, 8)).astype(np.float32)
    grads = {}
    for mode in ("dense", "sparse"):
        with use_backend(backend), embedding_grad(mode):
            _, cache = encoder_forward(ids, lengths, params, enc)
            grads[mode] = encoder_backward(du, cache)[1]
    assert isinstance(grads["sparse"]["item_emb.weight"], RowGrad)
    assert np.array_equal(grads["sparse"]["item_emb.weight"].dense(), grads["dense"]["item_emb.weight"])
    for k in grads["dense"].keys() - {"item_emb.weight"}:
        assert np.array_equal(grads["sparse"][k], grads["dense"][k]), k


def test_dual_model_shared_table_gradient_is_the_dense_one():
    """The dual model reads item_emb twice (histories, targets): the two RowGrads add up."""
    enc = EncoderConfig("gru", 20, 8, 1, 2, 5, "mean")
    rng = np.random.default_rng(2)
    params, _ = dual_init(rng, enc)
    lengths = rng.integers(1, 6, size=6)
    ids = np.where(np.arange(5) < lengths[:, None], rng.integers(1, 21, size=(6, 5)), 0)
    targets = rng.permutation(np.arange(1, 21))[:6]
    targets[0] = ids[0, 0]                                   # a row both lookups touch
    grads = {}
    for mode in ("dense", "sparse"):
        with embedding_grad(mode):
            _, cache = dual_forward(params, ids, lengths, targets, 0.1, enc)
            grads[mode] = dual_backward(1.0, cache)[1]["item_emb.weight"]
    assert np.array_equal(grads["sparse"].dense(), grads["dense"])
