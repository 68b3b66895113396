"""The GRU encoder: item_emb -> GRU (H = D) -> pooling over the valid steps -> u (B, D).

    ids (B, T), lengths (B,) -> x = item_emb[ids] (B, T, D) -> h = GRU(x) (B, T, D)
    u = mean of h over t < length (pooling "mean", the default) or h[length − 1] ("last")

On the fast backend the three layers run as one (kernels/gru.py encoder_forward: the
valid cells only, the input projection over the batch's distinct items); the
reference backend calls the layers one by one. The cache's gru entry says which backward undoes it.
"""

from typing import NamedTuple

import numpy as np

from tinybt import backend
from tinybt.kernels import gru as kernel
from tinybt.nn.embedding import check_ids, embedding_backward, embedding_forward, embedding_grad_of_rows, embedding_init
from tinybt.nn.gru import gru_backward, gru_forward, gru_init
from tinybt.nn.pooling import last_pool_backward, last_pool_forward, mean_pool_backward, mean_pool_forward
from tinybt.params import prefixed, sub

POOL = {"mean": (mean_pool_forward, mean_pool_backward), "last": (last_pool_forward, last_pool_backward)}


class GRUEncoderCache(NamedTuple):
    pooling: str
    emb: tuple | None     # None on the fast path, whose one cache is in gru
    gru: tuple            # nn/gru.py's cache, or kernels/gru.py's GRUEncoderKernelCache
    pool: tuple | None


def init(rng, n_items, dim, dtype=np.float32):
    """item_emb (V+2, D), then the GRU's weights (PyTorch's init for both)."""
    params = prefixed(embedding_init(rng, n_items + 2, dim, dtype=dtype), "item_emb")
    return params | prefixed(gru_init(rng, dim, dim, dtype), "gru")


def gru_encoder_forward(ids, lengths, params, cfg):
    """ids int (B, T), lengths int (B,) -> u (B, D), cache."""
    if backend.fast():
        E = params["item_emb.weight"]
        u, c = kernel.encoder_forward(check_ids(ids, len(E)), lengths, E, sub(params, "gru"), cfg.pooling)
        return u, GRUEncoderCache(cfg.pooling, None, c, None)
    x, c_emb = embedding_forward(ids, sub(params, "item_emb"))
    h, c_gru = gru_forward(x, lengths, sub(params, "gru"))
    u, c_pool = POOL[cfg.pooling][0](h, lengths)
    return u, GRUEncoderCache(cfg.pooling, c_emb, c_gru, c_pool)


def gru_encoder_backward(du, cache):
    """du (B, D) -> (None, grads): pooling spreads du over the steps, then backprop through time."""
    if isinstance(cache.gru, kernel.GRUEncoderKernelCache):
        (items, d_items), g_gru = kernel.encoder_backward(du, cache.gru)
        g_emb = embedding_grad_of_rows(items, d_items, cache.gru.table)
        return None, prefixed(g_gru, "gru") | prefixed(g_emb, "item_emb")
    dh, _ = POOL[cache.pooling][1](du, cache.pool)
    dx, g_gru = gru_backward(dh, cache.gru)
    _, g_emb = embedding_backward(dx, cache.emb)
    return None, prefixed(g_gru, "gru") | prefixed(g_emb, "item_emb")
