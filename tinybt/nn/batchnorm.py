"""BatchNorm1d over x (N, D), exactly PyTorch's training and evaluation semantics.

Training normalises each column by the batch mean and *biased* variance and
updates the running statistics; evaluation uses the running statistics.
With affine=False (params == {}) it is the standardisation of the Barlow
Twins loss.
"""

import numpy as np


def batchnorm_init(d, affine=True, dtype=np.float32):
    """-> (params, buffers) with PyTorch BatchNorm1d's state_dict names and defaults."""
    params = {"weight": np.ones(d, dtype), "bias": np.zeros(d, dtype)} if affine else {}
    buffers = {"running_mean": np.zeros(d, dtype), "running_var": np.ones(d, dtype),
               "num_batches_tracked": np.array(0, np.int64)}
    return params, buffers


def batchnorm_forward(x, params, buffers, training=True, momentum=0.1, eps=1e-5):
    """x (N, D), weight/bias (D,) or {} -> out (N, D). Updates `buffers` when training."""
    N = x.shape[0]
    if training:
        if N < 2:
            raise ValueError(f"batch norm in training mode needs a batch of at least 2 rows, got {N}")
        mean = x.mean(axis=0)
        var = x.var(axis=0)                       # biased: used for normalising
        # PyTorch updates running_var with the UNBIASED variance (× N/(N−1)); so do we
        rm, rv = buffers["running_mean"], buffers["running_var"]
        buffers["running_mean"] = ((1 - momentum) * rm + momentum * mean).astype(rm.dtype)
        buffers["running_var"] = ((1 - momentum) * rv + momentum * var * (N / (N - 1))).astype(rv.dtype)
        buffers["num_batches_tracked"] = buffers["num_batches_tracked"] + 1
    else:
        mean, var = buffers["running_mean"], buffers["running_var"]
    rstd = (1 / np.sqrt(var + eps)).astype(x.dtype)
    xhat = (x - mean) * rstd
    w = params.get("weight")
    out = xhat * w + params["bias"] if params else xhat
    return out, (xhat, rstd, w, training)


def batchnorm_backward(dout, cache):
    """dout (N, D) -> dx (N, D), {"weight": (D,), "bias": (D,)} or {}.

    Training: the batch statistics depend on x, so (as in LayerNorm, but per
    column) the components of dxhat along 1 and along xhat are removed.
    Evaluation: the statistics are constants and dx is a per-column scaling.
    """
    xhat, rstd, w, training = cache
    dxhat = dout * w if w is not None else dout
    if training:
        dx = rstd * (dxhat - dxhat.mean(axis=0) - xhat * (dxhat * xhat).mean(axis=0))
    else:
        dx = rstd * dxhat
    grads = {"weight": (dout * xhat).sum(axis=0), "bias": dout.sum(axis=0)} if w is not None else {}
    return dx, grads
