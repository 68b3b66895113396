"""Barlow Twins projector outputs for many users: the encoder, then the projector in evaluation mode.

The probe reads the encoder output by default (`tinybt embed` too); this is the other vector
the Barlow Twins paper's users ask about. Evaluation mode is what PyTorch's model.eval()
computes: each BatchNorm normalises with its RUNNING statistics,
    (x − running_mean) / √(running_var + eps) · weight + bias,
so a user's vector does not depend on the other users of its batch. The projector itself
(models/projector.py) only trains, with batch statistics; the running statistics it keeps
are exactly the ones used here.
"""

import numpy as np

from tinybt.models.encode import encode_users
from tinybt.models.projector import _n_linear
from tinybt.nn.activations import relu_forward
from tinybt.nn.batchnorm import EPS
from tinybt.nn.linear import linear_forward
from tinybt.params import sub


def projector_eval(u, params, buffers):
    """u (N, D) -> z (N, P): the projector with every BatchNorm in evaluation mode."""
    n = _n_linear(params)
    for j in range(n):
        u, _ = linear_forward(u, sub(params, f"projector.{3 * j}"))
        if j < n - 1:
            name = f"projector.{3 * j + 1}"
            bn, stats = sub(params, name), sub(buffers, name)
            rstd = (1 / np.sqrt(stats["running_var"] + EPS)).astype(u.dtype)
            u, _ = relu_forward((u - stats["running_mean"]) * rstd * bn["weight"] + bn["bias"])
    return u


def project_users(params, buffers, enc, seqs):
    """Every user of seqs -> projector outputs (U, P) in the params' dtype."""
    return projector_eval(encode_users(params, enc, seqs), params, buffers)
