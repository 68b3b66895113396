"""Barlow Twins projector: user vector (B, D) -> z (B, P).

`--projector 256-256-256` is, as in the original Barlow Twins code,
    nn.Sequential(Linear(D, 256, bias=False), BatchNorm1d(256), ReLU(),
                  Linear(256, 256, bias=False), BatchNorm1d(256), ReLU(),
                  Linear(256, 256, bias=False))
so the names are projector.0.weight, projector.1.weight/bias (+ buffers
projector.1.running_mean/running_var/num_batches_tracked), projector.3.weight, ...,
projector.6.weight. The final Linear has no bias either: the BT loss standardises
each feature over the batch, so a bias there would always get a zero gradient.
With a single width ("256") the projector is one Linear(D, 256, bias=False).

BatchNorm buffers live in their own dict (not optimised). The projector is used
only for pretraining, so it always runs in training mode (batch statistics); the
running statistics are kept only as the state_dict entries a port checks.

On the fast backend each BatchNorm + ReLU pair is one fused kernel
(kernels/batchnorm.py); the Linear layers are BLAS products on both backends.
"""

from typing import NamedTuple

import numpy as np

from tinybt import backend
from tinybt.kernels import batchnorm as kernel
from tinybt.nn.activations import relu_backward, relu_forward
from tinybt.nn.batchnorm import (EPS, MOMENTUM, batchnorm_backward, batchnorm_forward, batchnorm_init,
                                 check_batch, update_running_stats)
from tinybt.nn.linear import linear_backward, linear_forward, linear_init
from tinybt.params import prefixed, sub


class ProjectorLayerCache(NamedTuple):
    linear: tuple
    bn: tuple | None       # None after the last Linear
    relu: np.ndarray | None


class FusedBNReLUCache(NamedTuple):
    out: np.ndarray        # the ReLU's output: its mask is out > 0
    xhat: np.ndarray
    rstd: np.ndarray
    w: np.ndarray


def _bn_relu_forward(x, params, buffers, momentum=MOMENTUM, eps=EPS):
    """BatchNorm1d (training mode) then ReLU -> out, (bn cache, relu cache). Rebinds `buffers`' entries."""
    if not backend.fast():
        x, c_bn = batchnorm_forward(x, params, buffers, momentum, eps)
        x, c_relu = relu_forward(x)
        return x, (c_bn, c_relu)
    check_batch(x)
    out, xhat, rstd, mean, var = kernel.bn_relu_forward(x, params["weight"], params["bias"], eps)
    update_running_stats(buffers, mean, var, x.shape[0], momentum)
    return out, (FusedBNReLUCache(out, xhat, rstd, params["weight"]), None)


def _bn_relu_backward(dout, c_bn, c_relu):
    """-> dx, {"weight", "bias"} of the BatchNorm."""
    if isinstance(c_bn, FusedBNReLUCache):
        dx, dw, db = kernel.bn_relu_backward(np.ascontiguousarray(dout), *c_bn)
        return dx, {"weight": dw, "bias": db}
    dout, _ = relu_backward(dout, c_relu)
    return batchnorm_backward(dout, c_bn)


def projector_init(rng, d, widths, dtype=np.float32):
    """d = D, widths = [P1, ..., P] -> (params, buffers)."""
    params, buffers = {}, {}
    dims = [d] + list(widths)
    for j in range(len(widths)):
        params |= prefixed(linear_init(rng, dims[j], dims[j + 1], bias=False, dtype=dtype), f"projector.{3 * j}")
        if j < len(widths) - 1:
            p, b = batchnorm_init(dims[j + 1], dtype=dtype)
            params |= prefixed(p, f"projector.{3 * j + 1}")
            buffers |= prefixed(b, f"projector.{3 * j + 1}")
    return params, buffers


def _n_linear(params):
    """The number of Linear layers, read off the names (projector.0, .3, .6, ...: Linear, BatchNorm,
    ReLU repeat), so that the forward needs only the params, like every other layer."""
    n = 0
    while f"projector.{3 * n}.weight" in params:
        n += 1
    return n


def projector_forward(x, params, buffers):
    """x (B, D) -> z (B, P), caches (one per Linear). Updates the BatchNorm running stats in `buffers`."""
    n = _n_linear(params)
    caches = []
    for j in range(n):
        x, c_lin = linear_forward(x, sub(params, f"projector.{3 * j}"))
        c_bn = c_relu = None
        if j < n - 1:
            name = f"projector.{3 * j + 1}"
            b = sub(buffers, name)
            x, (c_bn, c_relu) = _bn_relu_forward(x, sub(params, name), b)
            buffers.update(prefixed(b, name))        # the BatchNorm rebinds its dict's entries
        caches.append(ProjectorLayerCache(c_lin, c_bn, c_relu))
    return x, caches


def projector_backward(dz, caches):
    """dz (B, P) -> dx (B, D), grads with the params' keys."""
    grads = {}
    for j in reversed(range(len(caches))):
        c = caches[j]
        if c.bn is not None:
            dz, g = _bn_relu_backward(dz, c.bn, c.relu)
            grads |= prefixed(g, f"projector.{3 * j + 1}")
        dz, g = linear_backward(dz, c.linear)
        grads |= prefixed(g, f"projector.{3 * j}")
    return dz, grads
