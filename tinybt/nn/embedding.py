"""Item embedding lookup (PyTorch nn.Embedding with padding_idx): out = W[ids].

Ids are 1..V, 0 is padding, V+1 is [MASK], so W is (V+2, D). The backward is a
scatter-add of the upstream rows into dW; the padding row gets no gradient.
"""

from typing import NamedTuple

import numpy as np

from tinybt import backend
from tinybt.kernels import embedding as kernel


class EmbeddingCache(NamedTuple):
    ids: np.ndarray        # int (...)
    shape: tuple           # W's shape (V+2, D)
    dtype: np.dtype        # W's dtype
    padding_idx: int | None


def embedding_init(rng, num_embeddings, dim, padding_idx=0, dtype=np.float32):
    """PyTorch default: N(0, 1), padding row zeroed (padding_idx=None: no padding row)."""
    W = rng.standard_normal((num_embeddings, dim)).astype(dtype)
    if padding_idx is not None:
        W[padding_idx] = 0
    return {"weight": W}


def embedding_forward(ids, params, padding_idx=0):
    """ids int (...), weight (V+2, D) -> out (..., D)."""
    W = params["weight"]
    ids = np.asarray(ids)
    if ids.dtype.kind not in "iu":
        raise ValueError(f"embedding ids must be integers, got {ids.dtype}")
    # negative ids would silently wrap around to the last rows
    if ids.size and (ids.min() < 0 or ids.max() >= W.shape[0]):
        raise ValueError(f"embedding ids must lie in [0, {W.shape[0] - 1}], "
                         f"got range [{ids.min()}, {ids.max()}]")
    return W[ids], EmbeddingCache(ids, W.shape, W.dtype, padding_idx)


def embedding_backward(dout, cache):
    """dout (..., D) -> (None, {"weight": (V+2, D)}); ids get no gradient."""
    if backend.fast():
        return kernel.embedding_backward(dout, cache)
    dW = np.zeros(cache.shape, cache.dtype)
    np.add.at(dW, cache.ids.reshape(-1), dout.reshape(-1, cache.shape[1]))   # repeated ids add up
    if cache.padding_idx is not None:
        dW[cache.padding_idx] = 0
    return None, {"weight": dW}
