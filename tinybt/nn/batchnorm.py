"""BatchNorm1d over x (N, D) in training mode, exactly as PyTorch computes it.

Each column is normalised by the batch mean and *biased* variance. The projector
is used only for pretraining, so evaluation mode never runs; the running
statistics are still updated as PyTorch does, because they are state_dict
entries: a port's BatchNorm1d must reproduce them (the golden files check
running_mean/running_var) and checkpoints load into nn.BatchNorm1d as they are.
With affine=False (params == {}) it is the standardisation of the Barlow Twins loss.
"""

from typing import NamedTuple

import numpy as np


class BatchNormCache(NamedTuple):
    xhat: np.ndarray          # (N, D) normalised input
    rstd: np.ndarray          # (D,) 1 / √(σ² + eps)
    w: np.ndarray | None      # (D,), None without affine


def batchnorm_init(d, affine=True, dtype=np.float32):
    """-> (params, buffers) with PyTorch BatchNorm1d's state_dict names and defaults."""
    params = {"weight": np.ones(d, dtype), "bias": np.zeros(d, dtype)} if affine else {}
    buffers = {"running_mean": np.zeros(d, dtype), "running_var": np.ones(d, dtype),
               "num_batches_tracked": np.array(0, np.int64)}
    return params, buffers


EPS, MOMENTUM = 1e-5, 0.1       # PyTorch's BatchNorm1d defaults


def batchnorm_forward(x, params, buffers, momentum=MOMENTUM, eps=EPS):
    """x (N, D), weight/bias (D,) or {} -> out (N, D). Updates `buffers` (rebinds its entries)."""
    check_batch(x)
    mean = x.mean(axis=0)
    var = x.var(axis=0)                           # biased: used for normalising
    update_running_stats(buffers, mean, var, x.shape[0], momentum)
    rstd = (1 / np.sqrt(var + eps)).astype(x.dtype)
    xhat = (x - mean) * rstd
    w = params.get("weight")
    out = xhat * w + params["bias"] if params else xhat
    return out, BatchNormCache(xhat, rstd, w)


def check_batch(x):
    if x.shape[0] < 2:
        raise ValueError(f"batch norm in training mode needs a batch of at least 2 rows, got {x.shape[0]}")


def update_running_stats(buffers, mean, var, N, momentum):
    """The running statistics after a batch of N rows with this mean and biased variance (rebinds
    `buffers`' entries). PyTorch updates running_var with the UNBIASED variance (× N/(N−1)); so do we."""
    rm, rv = buffers["running_mean"], buffers["running_var"]
    buffers["running_mean"] = ((1 - momentum) * rm + momentum * mean).astype(rm.dtype)
    buffers["running_var"] = ((1 - momentum) * rv + momentum * var * (N / (N - 1))).astype(rv.dtype)
    buffers["num_batches_tracked"] = buffers["num_batches_tracked"] + 1


def batchnorm_backward(dout, cache):
    """dout (N, D) -> dx (N, D), {"weight": (D,), "bias": (D,)} or {}.

    The batch statistics depend on x, so (as in LayerNorm, but per column) the
    components of dxhat along 1 and along xhat are removed.
    """
    xhat, rstd, w = cache
    dxhat = dout * w if w is not None else dout    # out = xhat · w + b
    dx = rstd * (dxhat - dxhat.mean(axis=0) - xhat * (dxhat * xhat).mean(axis=0))
    grads = {"weight": (dout * xhat).sum(axis=0), "bias": dout.sum(axis=0)} if w is not None else {}
    return dx, grads
