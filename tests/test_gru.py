"""GRU (tinybt/nn/gru.py): gradient checks, closed forms, padding, torch (fast == reference: test_kernels_gru.py)."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tinybt.check.cases.sequence import gru_case
from tinybt.backend import BACKENDS, use_backend
from tinybt.nn.gru import gru_backward, gru_forward, gru_init

from check_helpers import assert_gradcheck

SEEDS = st.integers(0, 2**31 - 1)


def _data(rng, B, T, D, H, dtype=np.float64):
    return (rng.standard_normal((B, T, D)).astype(dtype), rng.integers(1, T + 1, size=B),
            gru_init(rng, D, H, dtype), rng.standard_normal((B, T, H)).astype(dtype))


@pytest.mark.parametrize("B,T,D,H,lengths", [
    (3, 4, 5, 6, [4, 1, 2]),      # ragged, with a length-1 sequence
    (1, 1, 3, 2, [1]),            # B = 1, T = 1
    (1, 5, 3, 4, [1]),            # all but one position is padding
    (3, 4, 2, 3, [1, 1, 1]),      # every sequence has length 1
    (2, 3, 2, 3, [3, 3]),         # no padding at all
])
def test_gradcheck_edges(B, T, D, H, lengths):
    assert_gradcheck(gru_case(np.random.default_rng(0), B, T, D, H, lengths))


@settings(max_examples=10, deadline=None)
@given(seed=SEEDS, B=st.integers(1, 3), T=st.integers(1, 4), D=st.integers(1, 3), H=st.integers(1, 3))
def test_gradcheck_random_shapes(seed, B, T, D, H):
    rng = np.random.default_rng(seed)
    assert_gradcheck(gru_case(rng, B, T, D, H, rng.integers(1, T + 1, size=B)))


@settings(max_examples=25, deadline=None)
@given(seed=SEEDS, B=st.integers(1, 3), T=st.integers(1, 6))
def test_zero_weights_closed_form(seed, B, T):
    """All weights 0 and the z biases cancelling (b_iz = −b_hz): z = ½, r = σ(b_ir + b_hr), and
    n = tanh(c) with c = b_in + r·b_hn is the same every step, so h_t = ½ h_{t−1} + ½ tanh(c),
    h_0 = 0, i.e. out[t] = (1 − 2^−(t+1)) tanh(c) at valid steps and 0 at padded ones."""
    rng = np.random.default_rng(seed)
    D, H = 2, 3
    x, lengths, p, _ = _data(rng, B, T, D, H)
    p["weight_ih_l0"][:] = 0
    p["weight_hh_l0"][:] = 0
    b_ih, b_hh = p["bias_ih_l0"], p["bias_hh_l0"]
    b_hh[H:2 * H] = -b_ih[H:2 * H]
    r = 1 / (1 + np.exp(-(b_ih[:H] + b_hh[:H])))
    tanh_c = np.tanh(b_ih[2 * H:] + r * b_hh[2 * H:])
    t = np.arange(T)
    expected = (1 - 0.5 ** (t + 1))[None, :, None] * tanh_c * (t[None, :] < lengths[:, None])[..., None]
    for backend in BACKENDS:
        with use_backend(backend):
            out, _ = gru_forward(x, lengths, p)
        np.testing.assert_allclose(out, expected, rtol=1e-12, atol=1e-15)


@settings(max_examples=20, deadline=None)
@given(seed=SEEDS, extra=st.integers(1, 3))
def test_padding_changes_nothing(seed, extra):
    """Garbage at padded positions (inside T and appended after it) in both x and dout
    changes neither the valid outputs nor any gradient; the padded outputs and dx are 0."""
    rng = np.random.default_rng(seed)
    B, T, D, H = 3, 4, 3, 4
    x, lengths, p, dout = _data(rng, B, T, D, H)
    pad = np.arange(T + extra)[None, :] >= lengths[:, None]                     # (B, T + extra)
    x2 = np.where(pad[..., None], 5 * rng.standard_normal((B, T + extra, D)), np.pad(x, ((0, 0), (0, extra), (0, 0))))
    dout2 = np.where(pad[..., None], rng.standard_normal((B, T + extra, H)), np.pad(dout, ((0, 0), (0, extra), (0, 0))))
    dout = np.where(pad[:, :T, None], 0, dout)
    out, c = gru_forward(x, lengths, p)
    dx, g = gru_backward(dout, c)
    out2, c2 = gru_forward(x2, lengths, p)
    dx2, g2 = gru_backward(dout2, c2)
    np.testing.assert_allclose(out2[:, :T], out, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(dx2[:, :T], dx, rtol=1e-12, atol=1e-14)
    assert not out2[pad].any() and not dx2[pad].any()
    for k in p:
        np.testing.assert_allclose(g2[k], g[k], rtol=1e-12, atol=1e-14)


def test_batch_equals_each_sequence_alone():
    """Batching ragged sequences gives each the result it gets alone, cut to its own length."""
    rng = np.random.default_rng(3)
    x, _, p, dout = _data(rng, 4, 5, 3, 4)
    lengths = np.array([5, 2, 1, 4])
    out, c = gru_forward(x, lengths, p)
    dx, g = gru_backward(dout, c)
    g_sum = {k: 0 for k in p}
    for b, L in enumerate(lengths):
        o, cb = gru_forward(x[b:b + 1, :L], np.array([L]), p)
        np.testing.assert_allclose(out[b, :L], o[0], rtol=1e-12, atol=1e-14)
        dxb, gb = gru_backward(dout[b:b + 1, :L], cb)
        np.testing.assert_allclose(dx[b, :L], dxb[0], rtol=1e-12, atol=1e-14)
        g_sum = {k: g_sum[k] + gb[k] for k in p}
    for k in p:
        np.testing.assert_allclose(g[k], g_sum[k], rtol=1e-10, atol=1e-13)


@pytest.mark.parametrize("backend", BACKENDS)
def test_batch_order_changes_nothing(backend):
    """Permuting the batch rows (unsorted lengths with ties) permutes out, dx and nothing else."""
    rng = np.random.default_rng(5)
    x, _, p, dout = _data(rng, 6, 5, 3, 4)
    lengths = np.array([2, 5, 2, 1, 5, 3])
    perm = rng.permutation(6)
    with use_backend(backend):
        out, c = gru_forward(x, lengths, p)
        dx, g = gru_backward(dout, c)
        out2, c2 = gru_forward(x[perm], lengths[perm], p)
        dx2, g2 = gru_backward(dout[perm], c2)
    np.testing.assert_allclose(out2, out[perm], rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(dx2, dx[perm], rtol=1e-12, atol=1e-14)
    for k in p:
        np.testing.assert_allclose(g2[k], g[k], rtol=1e-10, atol=1e-13)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("backend", BACKENDS)
def test_dtype_preserved(dtype, backend):
    x, lengths, p, dout = _data(np.random.default_rng(0), 2, 3, 4, 5, dtype)
    with use_backend(backend):
        out, c = gru_forward(x, lengths, p)
        dx, g = gru_backward(dout, c)
    assert out.dtype == dx.dtype == dtype and out.shape == (2, 3, 5) and dx.shape == x.shape
    assert {k: (v.dtype, v.shape) for k, v in g.items()} == {k: (dtype, v.shape) for k, v in p.items()}


@pytest.mark.parametrize("lengths,match", [([0, 2], r"\[1, 3\]"), ([4, 1], r"\[1, 3\]"),
                                           ([1, 2, 3], "shape"), ([1.0, 2.0], "integer")])
def test_bad_lengths_raise(lengths, match):
    x, _, p, _ = _data(np.random.default_rng(0), 2, 3, 2, 2)
    with pytest.raises(ValueError, match=match):
        gru_forward(x, np.array(lengths), p)


def test_init_matches_torch_layout():
    p = gru_init(np.random.default_rng(0), 5, 4)
    assert {k: v.shape for k, v in p.items()} == {"weight_ih_l0": (12, 5), "weight_hh_l0": (12, 4),
                                                  "bias_ih_l0": (12,), "bias_hh_l0": (12,)}
    assert all(v.dtype == np.float32 and np.abs(v).max() <= 0.5 for v in p.values())   # U(±1/√H)


def test_matches_torch_packed_gru():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(2)
    B, T, D, H = 4, 5, 3, 6
    x, _, p, dout = _data(rng, B, T, D, H)
    lengths = np.array([5, 1, 3, 2])
    out, c = gru_forward(x, lengths, p)
    dx, g = gru_backward(dout, c)
    m = torch.nn.GRU(D, H, batch_first=True).double()
    m.load_state_dict({k: torch.tensor(v) for k, v in p.items()})
    xt = torch.tensor(x, requires_grad=True)
    packed = torch.nn.utils.rnn.pack_padded_sequence(xt, torch.tensor(lengths), batch_first=True,
                                                     enforce_sorted=False)
    ot, _ = torch.nn.utils.rnn.pad_packed_sequence(m(packed)[0], batch_first=True, total_length=T)
    (ot * torch.tensor(dout)).sum().backward()
    np.testing.assert_allclose(out, ot.detach().numpy(), atol=1e-12)
    np.testing.assert_allclose(dx, xt.grad.numpy(), atol=1e-12)
    for name, prm in m.named_parameters():
        np.testing.assert_allclose(g[name], prm.grad.numpy(), atol=1e-12)
