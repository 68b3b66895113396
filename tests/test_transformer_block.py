"""Pre-LN transformer block (tinybt/nn/transformer_block.py)."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tinybt.check.cases.sequence import block_case
from tinybt.nn.transformer_block import block_backward, block_forward, block_init

from check_helpers import assert_gradcheck
from padding_helpers import check_appended_padding, random_data, right_padding

SEEDS = st.integers(0, 2**31 - 1)
TORCH_NAMES = ["self_attn.in_proj_weight", "self_attn.in_proj_bias", "self_attn.out_proj.weight",
               "self_attn.out_proj.bias", "linear1.weight", "linear1.bias", "linear2.weight", "linear2.bias",
               "norm1.weight", "norm1.bias", "norm2.weight", "norm2.bias"]


def _data(rng, B, T, D, dtype=np.float64):
    return random_data(block_init, rng, B, T, D, dtype)


@pytest.mark.parametrize("kw", [
    {},                                                                   # padded rows
    {"B": 1, "T": 1, "D": 4, "n_heads": 2},                               # B = 1, T = 1
    {"B": 1, "T": 4, "D": 4, "key_padding_mask": [[False, True, True, True]]},   # all but one padded
])
def test_gradcheck(kw):
    assert_gradcheck(block_case(np.random.default_rng(0), **kw))


@settings(max_examples=15, deadline=None)
@given(seed=SEEDS)
def test_zero_branch_outputs_make_the_identity(seed):
    """Both residual branches end in a linear map; zero those two and the block is x ↦ x,
    with dx = dout exactly."""
    rng = np.random.default_rng(seed)
    x, p, dout = _data(rng, 2, 3, 4)
    for k in ("self_attn.out_proj.weight", "self_attn.out_proj.bias", "linear2.weight", "linear2.bias"):
        p[k][:] = 0
    out, c = block_forward(x, p, 2, right_padding(rng, 2, 3))
    np.testing.assert_array_equal(out, x)
    np.testing.assert_array_equal(block_backward(dout, c)[0], dout)


@settings(max_examples=15, deadline=None)
@given(seed=SEEDS)
def test_permutation_equivariant_without_masks(seed):
    """No masks: attention mixes positions symmetrically and the rest is per-position, so
    permuting the positions permutes the outputs."""
    rng = np.random.default_rng(seed)
    x, p, _ = _data(rng, 2, 5, 8)
    perm = rng.permutation(5)
    np.testing.assert_allclose(block_forward(x[:, perm], p, 2)[0], block_forward(x, p, 2)[0][:, perm],
                               rtol=1e-12, atol=1e-12)


@settings(max_examples=15, deadline=None)
@given(seed=SEEDS, extra=st.integers(1, 3))
def test_appended_padding_changes_nothing(seed, extra):
    """Appended padded positions (garbage x, mask True, zero upstream) change neither the
    outputs at the original positions nor any gradient."""
    rng = np.random.default_rng(seed)
    x, p, dout = _data(rng, 3, 4, 8)
    check_appended_padding(block_forward, block_backward, x, p, dout, rng, extra, 1e-10, 1e-12)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dtype_preserved(dtype):
    rng = np.random.default_rng(0)
    x, p, dout = _data(rng, 2, 3, 4, dtype)
    out, c = block_forward(x, p, 2, right_padding(rng, 2, 3))
    dx, g = block_backward(dout, c)
    assert out.dtype == dx.dtype == dtype and out.shape == dx.shape == x.shape
    assert {k: (v.dtype, v.shape) for k, v in g.items()} == {k: (dtype, v.shape) for k, v in p.items()}


def test_init_names_and_shapes():
    p = block_init(np.random.default_rng(0), 8)
    assert sorted(p) == sorted(TORCH_NAMES)
    assert p["linear1.weight"].shape == (32, 8) and p["linear2.weight"].shape == (8, 32)
    assert (p["norm1.weight"] == 1).all() and not p["norm2.bias"].any()


def _torch_layer(torch, D, nh):
    return torch.nn.TransformerEncoderLayer(d_model=D, nhead=nh, dim_feedforward=4 * D, dropout=0.0,
                                            activation="gelu", batch_first=True, norm_first=True).double()


def test_init_matches_torch_state_dict():
    torch = pytest.importorskip("torch")
    ours = block_init(np.random.default_rng(0), 8)
    theirs = _torch_layer(torch, 8, 2).state_dict()
    assert {k: v.shape for k, v in ours.items()} == {k: tuple(v.shape) for k, v in theirs.items()}


def test_matches_torch_encoder_layer():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(1)
    B, T, D, nh = 3, 5, 8, 2
    x, p, dout = _data(rng, B, T, D)
    kpm = right_padding(rng, B, T)
    out, c = block_forward(x, p, nh, kpm)
    dx, g = block_backward(dout, c)
    m = _torch_layer(torch, D, nh)
    m.load_state_dict({k: torch.tensor(v) for k, v in p.items()})
    xt = torch.tensor(x, requires_grad=True)
    ot = m(xt, src_key_padding_mask=torch.tensor(kpm))
    (ot * torch.tensor(dout)).sum().backward()
    np.testing.assert_allclose(out, ot.detach().numpy(), atol=1e-12)
    np.testing.assert_allclose(dx, xt.grad.numpy(), atol=1e-12)
    for name, prm in m.named_parameters():
        np.testing.assert_allclose(g[name], prm.grad.numpy(), atol=1e-12)
