"""Elementwise activations: relu (the projector), gelu (exact, erf; the transformer FFN), and the
stable sigmoid the GRU gates use.

Each layer is `<act>_forward(x) -> (out, cache)`, `<act>_backward(dout, cache) -> (dx, {})`.
"""

import math

import numpy as np
from scipy.special import erf

from tinybt import backend
from tinybt.kernels import activations as kernel

_INV_SQRT2 = 1.0 / math.sqrt(2.0)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)


# ---- relu ------------------------------------------------------------------

def relu_forward(x):
    """x (...) -> max(x, 0) (...)."""
    mask = x > 0
    return np.where(mask, x, 0).astype(x.dtype, copy=False), mask


def relu_backward(dout, mask):
    return np.where(mask, dout, 0).astype(dout.dtype, copy=False), {}


# ---- sigmoid: the GRU's gates ------------------------------------------------

def sigmoid(x):
    """1 / (1 + e^−x) without overflow: only ever exponentiate −|x| ≤ 0."""
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e)).astype(x.dtype, copy=False)


# ---- gelu (exact): x Φ(x), Φ the standard normal CDF ------------------------

def gelu_forward(x):
    """x (...) -> x · Φ(x) = x · ½(1 + erf(x/√2)) (...)."""
    if backend.fast():
        return kernel.gelu_forward(x)
    return x * 0.5 * (1 + erf(x * _INV_SQRT2)), x


def gelu_backward(dout, x):
    if backend.fast():
        return kernel.gelu_backward(dout, x)
    cdf = 0.5 * (1 + erf(x * _INV_SQRT2))
    pdf = np.exp(-0.5 * x * x) * _INV_SQRT_2PI
    return dout * (cdf + x * pdf), {}       # d/dx x Φ(x) = Φ(x) + x φ(x)
