"""Gradient-check cases for the basic layers (tinybt/nn/).

Each `<layer>_case(rng, ...)` builds a small float64 Case; the registered
`@case` functions use the defaults, and tests/test_layers.py reuses the same
builders on edge shapes (B = 1, T = 1, all-but-one padding, ...).
"""

import numpy as np

from tinybt.check.gradcheck import Case, case, layer_run
from tinybt.nn.activations import gelu_backward, gelu_forward, relu_backward, relu_forward
from tinybt.nn.batchnorm import batchnorm_backward, batchnorm_forward
from tinybt.nn.embedding import embedding_backward, embedding_forward, embedding_init
from tinybt.nn.layernorm import layernorm_backward, layernorm_forward
from tinybt.nn.linear import linear_backward, linear_forward, linear_init
from tinybt.nn.pooling import last_pool_backward, last_pool_forward, mean_pool_backward, mean_pool_forward
from tinybt.nn.positional import positional_backward, positional_forward, positional_init

F64 = np.float64


def _layer_run(forward, backward):
    """run() for `out, cache = forward(x, params)`, `dx, grads = backward(dout, cache)`."""
    return layer_run(lambda inputs, params: forward(inputs["x"], params), backward)


def linear_case(rng, lead=(2, 3), din=4, dout=5, bias=True):
    return Case("linear" if bias else "linear_nobias", _layer_run(linear_forward, linear_backward),
                {"x": rng.standard_normal(lead + (din,))}, linear_init(rng, din, dout, bias, F64),
                {"bias": bias})


def embedding_case(rng, ids=None, V=6, D=3):
    """Default ids (3, 4) include padding. The upstream is zero at padding positions (as the
    masked layers above give): PyTorch's padding row gets no gradient by convention, although
    the forward reads it, so a non-zero upstream there would make the true gradient differ."""
    if ids is None:
        ids = rng.integers(1, V + 2, size=(3, 4))
        ids[0, 2:] = ids[2, 1:] = 0
    ids = np.asarray(ids)
    params = embedding_init(rng, V + 2, D, dtype=F64)
    params["weight"][0] = rng.standard_normal(D)   # non-zero, so a leak from row 0 would show
    run = layer_run(lambda inputs, params: embedding_forward(inputs["ids"], params, padding_idx=0),
                    embedding_backward, x=None)
    upstream = {"out": rng.standard_normal(ids.shape + (D,)) * (ids != 0)[..., None]}
    return Case("embedding", run, {"ids": ids}, params, {"padding_idx": 0}, upstream=upstream)


def positional_case(rng, B=2, T=3, max_len=5, D=4):
    return Case("positional", _layer_run(positional_forward, positional_backward),
                {"x": rng.standard_normal((B, T, D))}, positional_init(rng, max_len, D, F64))


def layernorm_case(rng, lead=(2, 3), D=5):
    params = {"weight": rng.standard_normal(D), "bias": rng.standard_normal(D)}
    return Case("layernorm", _layer_run(layernorm_forward, layernorm_backward),
                {"x": rng.standard_normal(lead + (D,))}, params, {"eps": 1e-5})


BN_BUFFERS = ("running_mean", "running_var", "num_batches_tracked")


def batchnorm_case(rng, N=5, D=3, affine=True, x_scale=2.0):
    """Buffers travel in params (they are state_dict entries) but get no gradient. The updated
    running stats are extra outputs (with no upstream) so ports can check them.
    With N = 2 the normalised batch is ±1 whatever x is, so ∂out/∂x is only eps/σ² in size:
    pass a small x_scale there to keep that gradient measurable."""
    cfg = {"training": True, "momentum": 0.1, "eps": 1e-5, "affine": affine}
    params = {"weight": rng.uniform(0.5, 1.5, D), "bias": rng.standard_normal(D)} if affine else {}
    params.update(running_mean=rng.standard_normal(D), running_var=rng.uniform(0.5, 2.0, D),
                  num_batches_tracked=np.array(3, np.int64))

    def run(inputs, params, upstream):
        buffers = {k: params[k] for k in BN_BUFFERS}
        p = {k: v for k, v in params.items() if k not in BN_BUFFERS}
        out, cache = batchnorm_forward(inputs["x"], p, buffers, cfg["momentum"], cfg["eps"])
        outputs = {"out": out, "running_mean": buffers["running_mean"], "running_var": buffers["running_var"]}
        if upstream is None:
            return outputs, None, None
        dx, grads = batchnorm_backward(upstream["out"], cache)
        return outputs, {"x": dx}, grads

    return Case("batchnorm_train" + ("" if affine else "_noaffine"), run,
                {"x": rng.standard_normal((N, D)) * x_scale + 1}, params, cfg,
                upstream={"out": rng.standard_normal((N, D))})


ACTIVATIONS = {"relu": (relu_forward, relu_backward), "gelu": (gelu_forward, gelu_backward)}


def activation_case(rng, name, shape=(3, 4)):
    fwd, bwd = ACTIVATIONS[name]
    x = rng.standard_normal(shape) * 2
    x[np.abs(x) < 0.01] = 0.5   # keep relu's finite differences off its kink
    return Case(name, _layer_run(lambda x, _: fwd(x), bwd), {"x": x})


def pool_case(rng, kind, B=3, T=4, H=2, lengths=(4, 1, 2)):
    fwd, bwd = {"last": (last_pool_forward, last_pool_backward),
                "mean": (mean_pool_forward, mean_pool_backward)}[kind]
    return Case(f"{kind}_pool", layer_run(lambda inputs, _: fwd(inputs["h"], inputs["lengths"]), bwd, x="h"),
                {"h": rng.standard_normal((B, T, H)), "lengths": np.array(lengths, np.int64)})


case("linear")(linear_case)
case("linear_nobias")(lambda rng: linear_case(rng, bias=False))
case("embedding")(embedding_case)
case("positional")(positional_case)
case("layernorm")(layernorm_case)
case("batchnorm_train")(batchnorm_case)
case("batchnorm_train_noaffine")(lambda rng: batchnorm_case(rng, affine=False))
for _act in ACTIVATIONS:
    case(_act)(lambda rng, _act=_act: activation_case(rng, _act))
case("last_pool")(lambda rng: pool_case(rng, "last"))
case("mean_pool")(lambda rng: pool_case(rng, "mean"))
