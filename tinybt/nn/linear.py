"""Linear layer y = x Wᵀ + b (PyTorch nn.Linear layout: weight (Dout, Din))."""

import math
from typing import NamedTuple

import numpy as np

from tinybt.params import uniform


class LinearCache(NamedTuple):
    x: np.ndarray        # (..., Din)
    W: np.ndarray        # (Dout, Din): W itself, not the dict, which an optimizer may refill before backward
    has_bias: bool


def linear_init(rng, din, dout, bias=True, dtype=np.float32):
    """PyTorch default: kaiming_uniform(a=√5) on W and U(±1/√Din) on b, i.e. both U(±1/√Din)."""
    bound = 1.0 / math.sqrt(din)
    params = {"weight": uniform(rng, (dout, din), bound, dtype)}
    if bias:
        params["bias"] = uniform(rng, (dout,), bound, dtype)
    return params


def linear_forward(x, params):
    """x (..., Din), weight (Dout, Din), optional bias (Dout,) -> out (..., Dout)."""
    W = params["weight"]
    out = x @ W.T
    if "bias" in params:
        out += params["bias"]
    return out, LinearCache(x, W, "bias" in params)


def linear_backward(dout, cache):
    """dout (..., Dout) -> dx (..., Din), {"weight": (Dout, Din)[, "bias": (Dout,)]}."""
    x, W, has_bias = cache
    dx = dout @ W                                  # y = x Wᵀ: ∂y/∂x = W
    # every leading position contributes to dW, so flatten them into one batch axis
    d2 = dout.reshape(-1, dout.shape[-1])
    grads = {"weight": d2.T @ x.reshape(-1, x.shape[-1])}
    if has_bias:
        grads["bias"] = d2.sum(axis=0)
    return dx, grads
