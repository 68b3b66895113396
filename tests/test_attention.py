"""Masked softmax (tinybt/nn/softmax.py) and multi-head self-attention (tinybt/nn/attention.py)."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tinybt.check.cases.sequence import attention_case, masked_softmax_case
from tinybt.nn.attention import mha_backward, mha_forward, mha_init
from tinybt.backend import BACKENDS, use_backend
from tinybt.nn.softmax import masked_softmax_backward, masked_softmax_forward

from check_helpers import assert_gradcheck
from padding_helpers import check_appended_padding, random_data, right_padding

SEEDS = st.integers(0, 2**31 - 1)


# ---- masked softmax ----------------------------------------------------------

@settings(max_examples=40, deadline=None)
@given(seed=SEEDS, N=st.integers(1, 5), K=st.integers(1, 6), scale=st.sampled_from([1.0, 50.0, 1e4]),
       backend=st.sampled_from(BACKENDS))
def test_softmax_masked_keys_get_zero_and_rows_sum_to_one(seed, N, K, scale, backend):
    rng = np.random.default_rng(seed)
    logits = scale * rng.standard_normal((N, K))
    keep = rng.random((N, K)) < 0.5
    with use_backend(backend):
        p, _ = masked_softmax_forward(logits, keep)
    assert np.isfinite(p).all() and (p >= 0).all()
    assert not p[~keep].any()
    sums = p.sum(axis=-1)
    np.testing.assert_allclose(sums[keep.any(axis=-1)], 1.0, rtol=1e-12)
    assert not sums[~keep.any(axis=-1)].any()          # a row with every key masked is all zeros


def test_softmax_all_masked_row_has_zero_output_and_gradient():
    logits = np.array([[1.0, 2.0, 3.0], [0.5, -1.0, 2.0]])
    keep = np.array([[True, False, True], [False, False, False]])
    p, c = masked_softmax_forward(logits, keep)
    np.testing.assert_allclose(p[0], np.exp([1.0, 0, 3.0]) * [1, 0, 1] / (np.e + np.e ** 3))
    assert not p[1].any()
    dl, g = masked_softmax_backward(np.ones_like(p) + np.arange(3), c)
    assert g == {} and not dl[1].any() and dl[0, 1] == 0


@pytest.mark.parametrize("shape,mask", [((3, 2, 5), None), ((1, 1), np.array([[True]])),
                                        ((2, 3), np.array([[False, True, False], [True, True, True]]))])
def test_softmax_gradcheck(shape, mask):
    assert_gradcheck(masked_softmax_case(np.random.default_rng(0), shape, mask))


def test_softmax_rejects_non_bool_mask():
    with pytest.raises(ValueError, match="boolean"):
        masked_softmax_forward(np.zeros((2, 3)), np.ones((2, 3), int))


# ---- attention ---------------------------------------------------------------

def _attention_data(rng, B, T, D, dtype=np.float64):
    return random_data(mha_init, rng, B, T, D, dtype)


@pytest.mark.parametrize("kw", [
    {},                                                             # default: padded rows, 2 heads
    {"B": 1, "T": 1, "D": 4, "n_heads": 2},                         # B = 1, T = 1
    {"B": 1, "T": 4, "key_padding_mask": [[False, True, True, True]]},    # all but one position padded
    {"B": 2, "T": 3, "D": 6, "n_heads": 1},
    {"B": 2, "T": 3, "D": 8, "n_heads": 4},
])
def test_attention_gradcheck(kw):
    assert_gradcheck(attention_case(np.random.default_rng(0), **kw))


@settings(max_examples=25, deadline=None)
@given(seed=SEEDS, B=st.integers(1, 3), T=st.integers(1, 5), n_heads=st.sampled_from([1, 2, 4]))
def test_single_unmasked_key_returns_its_value_projection(seed, B, T, n_heads):
    """With one visible key j per row, every query's weights are 1 on j, so each head's output is
    v_j and the layer returns out_proj(x_j W_vᵀ + b_v) at every query, whatever the queries are."""
    rng = np.random.default_rng(seed)
    D = 8
    x, p, _ = _attention_data(rng, B, T, D)
    j = rng.integers(0, T, size=B)
    kpm = np.arange(T)[None, :] != j[:, None]
    out, _ = mha_forward(x, p, n_heads, kpm)
    v = x[np.arange(B), j] @ p["in_proj_weight"][2 * D:].T + p["in_proj_bias"][2 * D:]
    expected = v @ p["out_proj.weight"].T + p["out_proj.bias"]
    np.testing.assert_allclose(out, np.broadcast_to(expected[:, None], out.shape), rtol=1e-12, atol=1e-13)


@settings(max_examples=20, deadline=None)
@given(seed=SEEDS, extra=st.integers(1, 3))
def test_appended_padding_changes_nothing(seed, extra):
    """Appending padded positions (garbage x, key_padding_mask True, no upstream) leaves the
    outputs at the original positions and every gradient unchanged."""
    rng = np.random.default_rng(seed)
    x, p, dout = _attention_data(rng, 3, 4, 8)
    check_appended_padding(mha_forward, mha_backward, x, p, dout, rng, extra, 1e-12, 1e-13)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_attention_dtype_preserved(dtype):
    rng = np.random.default_rng(0)
    x, p, dout = _attention_data(rng, 2, 3, 4, dtype)
    out, c = mha_forward(x, p, 2, right_padding(rng, 2, 3))
    dx, g = mha_backward(dout, c)
    assert out.dtype == dx.dtype == dtype and out.shape == dx.shape == x.shape
    assert {k: (v.dtype, v.shape) for k, v in g.items()} == {k: (dtype, v.shape) for k, v in p.items()}


def test_attention_rejects_bad_arguments():
    x, p, _ = _attention_data(np.random.default_rng(0), 2, 3, 4)
    with pytest.raises(ValueError, match="divisible"):
        mha_forward(x, p, 3)
    with pytest.raises(ValueError, match="True = padding"):
        mha_forward(x, p, 2, np.zeros((2, 3), int))


def test_init_layout():
    p = mha_init(np.random.default_rng(0), 6)
    assert {k: v.shape for k, v in p.items()} == {"in_proj_weight": (18, 6), "in_proj_bias": (18,),
                                                  "out_proj.weight": (6, 6), "out_proj.bias": (6,)}
    assert not p["in_proj_bias"].any() and not p["out_proj.bias"].any()


def test_matches_torch_multihead_attention():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(1)
    B, T, D, nh = 3, 5, 8, 2
    x, p, dout = _attention_data(rng, B, T, D)
    kpm = right_padding(rng, B, T)
    out, c = mha_forward(x, p, nh, kpm)
    dx, g = mha_backward(dout, c)
    m = torch.nn.MultiheadAttention(D, nh, dropout=0.0, batch_first=True).double()
    m.load_state_dict({k: torch.tensor(v) for k, v in p.items()})
    xt = torch.tensor(x, requires_grad=True)
    ot, _ = m(xt, xt, xt, key_padding_mask=torch.tensor(kpm), need_weights=False)
    (ot * torch.tensor(dout)).sum().backward()
    np.testing.assert_allclose(out, ot.detach().numpy(), atol=1e-12)
    np.testing.assert_allclose(dx, xt.grad.numpy(), atol=1e-12)
    for name, prm in m.named_parameters():
        np.testing.assert_allclose(g[name], prm.grad.numpy(), atol=1e-12)
