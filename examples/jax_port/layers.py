"""The basic layers as pure functions of arrays; parameters are plain dicts under the
golden's (PyTorch state_dict) names, weights in PyTorch's layouts (Linear weight (out, in))."""

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax
from jax.scipy.special import erf

from .registry import port


def linear(x, p):
    """x (..., in), p {"weight" (out, in), optional "bias" (out,)} -> (..., out)."""
    y = x @ p["weight"].T
    return y + p["bias"] if "bias" in p else y


def embedding(ids, weight, padding_idx=0):
    """ids (...) int -> weight[ids] (..., D). As nn.Embedding(padding_idx=0): the padding row
    is read like any other but gets no gradient (stop_gradient on that row only)."""
    return weight.at[padding_idx].set(lax.stop_gradient(weight[padding_idx]))[ids]


def layernorm(x, p, eps=1e-5):
    """Over the last dim, biased variance, affine."""
    mu = x.mean(-1, keepdims=True)
    var = ((x - mu) ** 2).mean(-1, keepdims=True)
    return (x - mu) / jnp.sqrt(var + eps) * p["weight"] + p["bias"]


def batchnorm_train(x, p, eps=1e-5):
    """x (N, C) -> (out, batch mean, biased batch variance): normalised with the batch's own
    statistics, then scaled and shifted when p holds weight/bias (affine)."""
    mu, var = x.mean(0), x.var(0)
    out = (x - mu) / jnp.sqrt(var + eps)
    if "weight" in p:
        out = out * p["weight"] + p["bias"]
    return out, mu, var


def running_stats(p, mu, var, n, momentum=0.1):
    """The new (running_mean, running_var): momentum-weighted, with the UNBIASED batch variance."""
    return ((1 - momentum) * p["running_mean"] + momentum * mu,
            (1 - momentum) * p["running_var"] + momentum * var * n / (n - 1))


def gelu(x):
    """Exact GELU, x Φ(x) with the erf (not the tanh approximation)."""
    return 0.5 * x * (1 + erf(x / np.sqrt(2)))


ACTIVATIONS = {"relu": jax.nn.relu, "gelu": gelu}


def last_step(h, lengths):
    """h (B, T, H), lengths (B,) -> h[b, lengths[b] - 1] (B, H)."""
    return h[jnp.arange(h.shape[0]), lengths - 1]


def valid_mean(h, lengths):
    """h (B, T, H), lengths (B,) -> mean over the valid prefix (B, H)."""
    valid = (jnp.arange(h.shape[1]) < lengths[:, None])[:, :, None]
    return jnp.where(valid, h, 0).sum(1) / lengths[:, None]


@port("linear", "linear_nobias")
def linear_case(inputs, params, config):
    return {"out": linear(inputs["x"], params)}


@port("embedding")
def embedding_case(inputs, params, config):
    return {"out": embedding(inputs["ids"], params["weight"], config["padding_idx"])}


@port("positional")
def positional_case(inputs, params, config):
    x = inputs["x"]
    return {"out": x + params["weight"][:x.shape[1]]}


@port("layernorm")
def layernorm_case(inputs, params, config):
    return {"out": layernorm(inputs["x"], params, config["eps"])}


@port("batchnorm_train", "batchnorm_train_noaffine")
def batchnorm_case(inputs, params, config):
    x = inputs["x"]
    out, mu, var = batchnorm_train(x, params, config["eps"])
    mean, var = running_stats(params, mu, var, x.shape[0], config["momentum"])
    return {"out": out, "running_mean": mean, "running_var": var}


for _name, _act in ACTIVATIONS.items():
    port(_name)(lambda inputs, params, config, _act=_act: {"out": _act(inputs["x"])})


port("last_pool")(lambda inputs, params, config: {"out": last_step(inputs["h"], inputs["lengths"])})
port("mean_pool")(lambda inputs, params, config: {"out": valid_mean(inputs["h"], inputs["lengths"])})
