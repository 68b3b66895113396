"""Learned positional embedding: out = x + W[:T] (W as nn.Embedding(max_len, D).weight)."""

from typing import NamedTuple

import numpy as np

from tinybt.nn.embedding import embedding_init


class PositionalCache(NamedTuple):
    T: int               # rows of W used
    shape: tuple         # W's shape (max_len, D)


def positional_init(rng, max_len, d, dtype=np.float32):
    """PyTorch nn.Embedding default: N(0, 1), no padding row."""
    return embedding_init(rng, max_len, d, padding_idx=None, dtype=dtype)


def positional_forward(x, params):
    """x (B, T, D), weight (max_len, D) -> out (B, T, D)."""
    W = params["weight"]
    T = x.shape[1]
    if T > W.shape[0]:
        raise ValueError(f"sequence length {T} exceeds the positional embedding's "
                         f"max_len {W.shape[0]}; build the model with max_len >= {T}")
    return x + W[:T], PositionalCache(T, W.shape)


def positional_backward(dout, cache):
    """dout (B, T, D) -> dx (B, T, D), {"weight": (max_len, D)}; rows ≥ T get zero."""
    T, shape = cache
    dW = np.zeros(shape, dout.dtype)
    dW[:T] = dout.sum(axis=0)
    return dout, {"weight": dW}
