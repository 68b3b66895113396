"""Pooling a right-padded sequence (B, T, H) with valid lengths (B,) into (B, H).

mean: mean over the valid prefix (the user vector of both encoders by default).
last: h at the last valid step (the GRU's alternative, --pooling last).
"""

from typing import NamedTuple

import numpy as np

from tinybt.lengths import check_lengths


class MeanPoolCache(NamedTuple):
    wts: np.ndarray      # (B, T, 1): 1/len on valid steps, 0 on padding


class LastPoolCache(NamedTuple):
    shape: tuple         # h's shape (B, T, H)
    idx: np.ndarray      # (B,) the last valid step of each row


def last_pool_forward(h, lengths):
    """h (B, T, H), lengths int (B,) -> out (B, H) = h[b, lengths[b] − 1]."""
    B, T, _ = h.shape
    idx = check_lengths(lengths, B, T, "pooling") - 1
    return h[np.arange(B), idx], LastPoolCache(h.shape, idx)


def last_pool_backward(dout, cache):
    """dout (B, H) -> dh (B, T, H), {}: the gradient lands on the last valid step only."""
    shape, idx = cache
    dh = np.zeros(shape, dout.dtype)
    dh[np.arange(shape[0]), idx] = dout
    return dh, {}


def mean_pool_forward(h, lengths):
    """h (B, T, H), lengths int (B,) -> out (B, H) = Σ_{t < len} h[b, t] / len."""
    B, T, _ = h.shape
    lengths = check_lengths(lengths, B, T, "pooling")
    # weight 1/len on valid steps, 0 on padding: forward and backward are the same weights
    wts = ((np.arange(T) < lengths[:, None]) / lengths[:, None]).astype(h.dtype)[:, :, None]
    return (h * wts).sum(axis=1), MeanPoolCache(wts)


def mean_pool_backward(dout, cache):
    """dout (B, H) -> dh (B, T, H), {}: padded steps get zero gradient."""
    return cache.wts * dout[:, None, :], {}
