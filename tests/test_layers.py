"""The basic layers: float64 gradient checks on edge shapes, analytic properties,
dtype preservation and input errors (fast == reference: tests/test_kernels_*.py)."""

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from scipy.stats import norm

from tinybt.check.cases import layers as L
from tinybt.check.gradcheck import all_cases
from tinybt.nn.activations import gelu_backward, gelu_forward, sigmoid
from tinybt.nn.batchnorm import batchnorm_backward, batchnorm_forward, batchnorm_init
from tinybt.nn.embedding import embedding_backward, embedding_forward, embedding_init
from tinybt.nn.layernorm import layernorm_backward, layernorm_forward, layernorm_init
from tinybt.nn.linear import linear_init
from tinybt.params import cast
from tinybt.nn.pooling import last_pool_backward, last_pool_forward, mean_pool_backward, mean_pool_forward
from tinybt.nn.positional import positional_forward, positional_init

from check_helpers import assert_gradcheck

LAYER_CASES = ["linear", "linear_nobias", "embedding", "positional", "layernorm",
               "batchnorm_train", "batchnorm_train_noaffine", "relu", "gelu", "last_pool", "mean_pool"]
FEW = settings(max_examples=15, deadline=None, derandomize=True)


@pytest.fixture(scope="module")
def registered():
    return {c.name: c for c in all_cases() if c.name in LAYER_CASES}


@pytest.mark.parametrize("name", LAYER_CASES)
def test_registered_case_passes(registered, name):
    assert_gradcheck(registered[name])


# ---- float64 gradient checks on edge shapes ----------------------------------

EDGE = [
    ("linear B=1", lambda r: L.linear_case(r, lead=(1,), din=1, dout=1)),
    ("linear B=1 T=1", lambda r: L.linear_case(r, lead=(1, 1), din=3, dout=2, bias=False)),
    ("linear 3-d", lambda r: L.linear_case(r, lead=(2, 1, 3))),
    ("embedding B=1 T=1", lambda r: L.embedding_case(r, ids=[[4]])),
    ("embedding all but one padding", lambda r: L.embedding_case(r, ids=[[0, 0, 3, 0], [0, 0, 0, 0]])),
    ("embedding repeated ids", lambda r: L.embedding_case(r, ids=[[2, 2, 2], [2, 7, 0]])),
    ("positional B=1 T=1", lambda r: L.positional_case(r, B=1, T=1)),
    ("positional T=max_len", lambda r: L.positional_case(r, T=5, max_len=5)),
    ("layernorm B=1", lambda r: L.layernorm_case(r, lead=(1,), D=3)),
    ("layernorm B=1 T=1", lambda r: L.layernorm_case(r, lead=(1, 1), D=7)),
    ("batchnorm N=2 D=1", lambda r: L.batchnorm_case(r, N=2, D=1, x_scale=0.01)),
    ("batchnorm noaffine N=2", lambda r: L.batchnorm_case(r, N=2, D=3, affine=False, x_scale=0.01)),
    ("last_pool B=1 T=1", lambda r: L.pool_case(r, "last", B=1, T=1, lengths=(1,))),
    ("mean_pool B=1 T=1", lambda r: L.pool_case(r, "mean", B=1, T=1, lengths=(1,))),
    ("last_pool all but one padding", lambda r: L.pool_case(r, "last", B=1, T=4, lengths=(1,))),
    ("mean_pool all but one padding", lambda r: L.pool_case(r, "mean", B=1, T=4, lengths=(1,))),
    ("mean_pool full", lambda r: L.pool_case(r, "mean", B=2, T=3, lengths=(3, 3))),
] + [(f"{a} {s}", lambda r, a=a, s=s: L.activation_case(r, a, shape=s))
     for a in L.ACTIVATIONS for s in [(1,), (1, 1, 1), (2, 3, 2)]]


@pytest.mark.parametrize("make", [m for _, m in EDGE], ids=[n for n, _ in EDGE])
def test_gradcheck_edge_shapes(make):
    assert_gradcheck(make(np.random.default_rng(3)))


@FEW
@given(seed=st.integers(0, 2**16), B=st.integers(1, 3), T=st.integers(1, 4), D=st.integers(1, 4))
def test_gradcheck_random_shapes(seed, B, T, D):
    rng = np.random.default_rng(seed)
    lengths = tuple(rng.integers(1, T + 1, size=B))
    for c in [L.linear_case(rng, lead=(B, T), din=D, dout=D + 1),
              L.layernorm_case(rng, lead=(B, T), D=D + 2),
              L.positional_case(rng, B=B, T=T, max_len=T + 1, D=D),
              L.batchnorm_case(rng, N=B + 2, D=D),
              L.embedding_case(rng, ids=rng.integers(0, 8, size=(B, T))),
              L.pool_case(rng, "last", B=B, T=T, H=D, lengths=lengths),
              L.pool_case(rng, "mean", B=B, T=T, H=D, lengths=lengths)]:
        assert_gradcheck(c)


# ---- dtype in = dtype out ----------------------------------------------------

@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", LAYER_CASES)
def test_dtype_preserved(registered, name, dtype):
    c = registered[name]
    outs, gin, gpar = c.run(cast(c.inputs, dtype), cast(c.params, dtype), cast(c.upstream, dtype))
    for what, d in (("output", outs), ("input grad", gin), ("param grad", gpar)):
        for k, v in d.items():
            if np.asarray(v).dtype.kind == "f":
                assert v.dtype == dtype, f"{name}: {what} {k} is {v.dtype}, expected {np.dtype(dtype)}"


# ---- analytic properties --------------------------------------------------------

@FEW
@given(x=arrays(np.float64, st.tuples(st.integers(1, 4), st.integers(2, 8)), elements=st.floats(-1e3, 1e3)))
def test_layernorm_rows_zero_mean_unit_variance(x):
    D = x.shape[1]
    out, _ = layernorm_forward(x, layernorm_init(D, np.float64))
    var = x.var(axis=1)
    np.testing.assert_allclose(out.mean(axis=1), 0, atol=1e-8)
    # unit variance up to eps: var(out) = σ² / (σ² + eps) exactly
    np.testing.assert_allclose(out.var(axis=1), var / (var + 1e-5), rtol=1e-8, atol=1e-8)


@FEW
@given(seed=st.integers(0, 2**16), N=st.integers(2, 8), D=st.integers(1, 4))
def test_batchnorm_input_grad_orthogonal_to_ones_and_xhat(seed, N, D):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((N, D)) * rng.uniform(0.1, 10, D) + rng.standard_normal(D)
    params = {"weight": np.ones(D), "bias": rng.standard_normal(D)}
    buffers = batchnorm_init(D, dtype=np.float64)[1]
    # eps = 0 makes the fact exact: dx ⟂ 1 and dx ⟂ xhat per column (with eps, ⟂ 1 still holds)
    out, cache = batchnorm_forward(x, params, buffers, eps=0.0)
    dout = rng.standard_normal((N, D))
    dx, _ = batchnorm_backward(dout, cache)
    xhat, rstd = cache[:2]
    scale = np.abs(dout).max() * rstd.max() * N   # the size dx's terms have before they cancel
    np.testing.assert_allclose(dx.sum(axis=0), 0, atol=1e-12 * scale)
    np.testing.assert_allclose((dx * xhat).sum(axis=0), 0, atol=1e-12 * scale)


def test_batchnorm_running_stats_match_pytorch_formula():
    rng = np.random.default_rng(0)
    x1, x2 = rng.standard_normal((6, 3)) * 2 + 1, rng.standard_normal((4, 3)) - 2
    params, buffers = batchnorm_init(3, dtype=np.float64)
    batchnorm_forward(x1, params, buffers)
    batchnorm_forward(x2, params, buffers, momentum=0.2)
    rm = 0.8 * (0.1 * x1.mean(0)) + 0.2 * x2.mean(0)
    rv = 0.8 * (0.9 + 0.1 * x1.var(0, ddof=1)) + 0.2 * x2.var(0, ddof=1)   # unbiased, as PyTorch
    np.testing.assert_allclose(buffers["running_mean"], rm, rtol=1e-12)
    np.testing.assert_allclose(buffers["running_var"], rv, rtol=1e-12)
    assert buffers["num_batches_tracked"] == 2


def test_batchnorm_matches_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(1)
    xs = [rng.standard_normal((5, 4)) * 3 + 2 for _ in range(2)]
    params, buffers = batchnorm_init(4, dtype=np.float64)
    params["weight"] = rng.uniform(0.5, 2, 4)
    params["bias"] = rng.standard_normal(4)
    bn = torch.nn.BatchNorm1d(4).double()
    bn.load_state_dict({**{k: torch.tensor(v) for k, v in params.items()},
                        **{k: torch.tensor(v) for k, v in buffers.items()}})
    for x in xs:
        out, _ = batchnorm_forward(x, params, buffers)
        np.testing.assert_allclose(out, bn(torch.tensor(x)).detach().numpy(), rtol=1e-10, atol=1e-12)
    for k, v in bn.state_dict().items():
        np.testing.assert_allclose(buffers.get(k, params.get(k)), v.numpy(), rtol=1e-12)


@FEW
@given(ids=arrays(np.int64, st.tuples(st.integers(1, 4), st.integers(1, 5)), elements=st.integers(0, 5)),
       dtype=st.sampled_from([np.float32, np.float64]))
def test_embedding_grad_is_per_id_sum_and_padding_row_zero(ids, dtype):
    rng = np.random.default_rng(int(ids.sum()))
    params = embedding_init(rng, 6, 3, dtype=dtype)
    out, cache = embedding_forward(ids, params)
    np.testing.assert_array_equal(out, params["weight"][ids])
    dout = rng.standard_normal(ids.shape + (3,)).astype(dtype)
    dids, grads = embedding_backward(dout, cache)
    assert dids is None
    for v in range(6):
        expected = 0 if v == 0 else dout[ids == v].sum(axis=0)
        np.testing.assert_allclose(grads["weight"][v], expected, rtol=1e-5, atol=1e-6)


def test_embedding_init_like_pytorch():
    W = embedding_init(np.random.default_rng(0), 2000, 16)["weight"]
    assert W.dtype == np.float32 and not W[0].any()
    assert abs(W[1:].std() - 1) < 0.02 and abs(W[1:].mean()) < 0.02


def test_linear_init_bounds():
    p = linear_init(np.random.default_rng(0), 25, 40, dtype=np.float64)
    assert p["weight"].shape == (40, 25) and p["bias"].shape == (40,)
    for v in p.values():
        assert np.abs(v).max() <= 0.2 and np.abs(v).max() > 0.18
    assert "bias" not in linear_init(np.random.default_rng(0), 3, 2, bias=False)


@FEW
@given(seed=st.integers(0, 2**16), c=st.floats(-100, 100), B=st.integers(1, 4), T=st.integers(1, 5))
def test_pooling_constant_sequence_and_padding_gets_no_gradient(seed, c, B, T):
    rng = np.random.default_rng(seed)
    lengths = rng.integers(1, T + 1, size=B)
    valid = np.arange(T) < lengths[:, None]
    h = np.where(valid[..., None], c, rng.standard_normal((B, T, 3)) * 1e3)  # garbage in padding
    out, cache = mean_pool_forward(h, lengths)
    np.testing.assert_allclose(out, c, rtol=1e-12, atol=1e-12)
    dout = rng.standard_normal((B, 3))
    dh, _ = mean_pool_backward(dout, cache)
    assert not dh[~valid].any()
    np.testing.assert_allclose(dh.sum(axis=1), dout)   # total weight 1 over the valid steps
    out, cache = last_pool_forward(h, lengths)
    np.testing.assert_array_equal(out, h[np.arange(B), lengths - 1])
    dh, _ = last_pool_backward(dout, cache)
    assert not dh[~valid].any()
    np.testing.assert_array_equal(dh[np.arange(B), lengths - 1], dout)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sigmoid_stable_for_huge_inputs(dtype):
    """The GRU gates' σ: no overflow warning, exact 0/1 at the ends, σ(x) + σ(−x) = 1."""
    x = np.array([-1e4, -800, -100, -1, 0, 1, 100, 800, 1e4], dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with np.errstate(over="raise", invalid="raise", divide="raise"):
            s = sigmoid(x)
    assert s.dtype == dtype and np.all(np.isfinite(s))
    np.testing.assert_array_equal(s[[0, -1]], [0, 1])
    np.testing.assert_allclose(s + sigmoid(-x), 1, rtol=1e-6)
    assert s[4] == 0.5


# ---- bad inputs -------------------------------------------------------------------

def test_bad_inputs_raise():
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="max_len 3"):
        positional_forward(np.zeros((1, 4, 2)), positional_init(rng, 3, 2))
    with pytest.raises(ValueError, match="at least 2"):
        batchnorm_forward(np.zeros((1, 3)), *batchnorm_init(3))
    h = np.zeros((2, 3, 1))
    for bad in ([0, 1], [1, 4]):
        for fwd in (last_pool_forward, mean_pool_forward):
            with pytest.raises(ValueError, match=r"\[1, 3\]"):
                fwd(h, np.array(bad))
    with pytest.raises(ValueError, match="shape"):
        mean_pool_forward(h, np.array([1, 1, 1]))
    with pytest.raises(ValueError, match=r"\[0, 4\]"):
        embedding_forward(np.array([[1, -1]]), embedding_init(rng, 5, 2))
