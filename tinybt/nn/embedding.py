"""Item embedding lookup (PyTorch nn.Embedding with padding_idx): out = W[ids].

Ids are 1..V, 0 is padding, V+1 is [MASK], so W is (V+2, D). The backward is a
scatter-add of the upstream rows into dW; the padding row gets no gradient.

Two forms of that gradient (`embedding_grad`, switched like tinybt/backend.py, between
steps only):

    dense   dW (V+2, D), zero outside the batch's ids (the default; the goldens fix it)
    sparse  RowGrad(rows, values, shape): rows = the sorted unique non-padding ids of the
            batch, values[k] = Σ_{i: ids_i = rows[k]} dout_i, the same sums in the same order
            as dW[rows[k]], so dense() rebuilds dW bit for bit (nn.Embedding(sparse=True)
            after coalesce()). Cost O(B·T·D) instead of O(V·D) for a (V+2, D) table.
"""

import contextlib
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from tinybt import backend
from tinybt.kernels import embedding as kernel

GRAD_MODES = ("dense", "sparse")
_grad_mode = "dense"


class EmbeddingCache(NamedTuple):
    ids: np.ndarray        # int (...)
    shape: tuple           # W's shape (V+2, D)
    dtype: np.dtype        # W's dtype
    padding_idx: int | None


@dataclass(frozen=True)
class RowGrad:
    """A row-sparse gradient of a (V, D) table: rows (K,) int64 sorted unique, values (K, D)."""
    rows: np.ndarray
    values: np.ndarray
    shape: tuple

    __array_ufunc__ = None      # NumPy must not treat it as an array: `dense + RowGrad` is a TypeError

    def dense(self):
        out = np.zeros(self.shape, self.values.dtype)
        out[self.rows] = self.values
        return out

    def __add__(self, other):
        """The gradient of a table read in two places (the dual model's item table): rows of both,
        the values of a row shared by both summed (self's first)."""
        if not isinstance(other, RowGrad) or other.shape != self.shape:
            raise TypeError(f"RowGrad {self.shape} + {type(other).__name__}: both must be RowGrads of one table")
        rows, inv = np.unique(np.concatenate([self.rows, other.rows]), return_inverse=True)
        values = np.zeros((len(rows), self.shape[1]), self.values.dtype)
        values[inv[:len(self.rows)]] = self.values
        values[inv[len(self.rows):]] += other.values
        return RowGrad(rows, values, self.shape)


def grad_array(g):
    """The array holding a gradient's numbers: g itself, or a RowGrad's values (for norms, NaN checks)."""
    return g.values if isinstance(g, RowGrad) else g


@contextlib.contextmanager
def embedding_grad(mode):
    """Within the block, embedding_backward returns `mode` ("dense" or "sparse") gradients."""
    global _grad_mode
    if mode not in GRAD_MODES:
        raise ValueError(f"embedding_grad must be one of {', '.join(GRAD_MODES)}, got {mode!r}")
    before, _grad_mode = _grad_mode, mode
    try:
        yield
    finally:
        _grad_mode = before


def embedding_init(rng, num_embeddings, dim, padding_idx=0, dtype=np.float32):
    """PyTorch default: N(0, 1), padding row zeroed (padding_idx=None: no padding row)."""
    W = rng.standard_normal((num_embeddings, dim)).astype(dtype)
    if padding_idx is not None:
        W[padding_idx] = 0
    return {"weight": W}


def embedding_forward(ids, params, padding_idx=0):
    """ids int (...), weight (V+2, D) -> out (..., D)."""
    W = params["weight"]
    ids = check_ids(ids, W.shape[0])
    return W[ids], EmbeddingCache(ids, W.shape, W.dtype, padding_idx)


def check_ids(ids, n_rows):
    """ids as an integer array in [0, n_rows), or ValueError."""
    ids = np.asarray(ids)
    if ids.dtype.kind not in "iu":
        raise ValueError(f"embedding ids must be integers, got {ids.dtype}")
    # negative ids would silently wrap around to the last rows
    if ids.size and (ids.min() < 0 or ids.max() >= n_rows):
        raise ValueError(f"embedding ids must lie in [0, {n_rows - 1}], "
                         f"got range [{ids.min()}, {ids.max()}]")
    return ids


def embedding_backward(dout, cache):
    """dout (..., D) -> (None, {"weight": (V+2, D) or RowGrad}); ids get no gradient."""
    if _grad_mode == "sparse":
        return None, {"weight": _sparse_backward(dout, cache)}
    if backend.fast():
        return kernel.embedding_backward(dout, cache)
    dW = np.zeros(cache.shape, cache.dtype)
    np.add.at(dW, cache.ids.reshape(-1), dout.reshape(-1, cache.shape[1]))   # repeated ids add up
    if cache.padding_idx is not None:
        dW[cache.padding_idx] = 0
    return None, {"weight": dW}


def _sparse_backward(dout, cache):
    dout = dout.reshape(-1, cache.shape[1])
    rows, inv = np.unique(cache.ids.reshape(-1), return_inverse=True)   # inv keeps the ids' order: same sums as dW
    if backend.fast():
        values = kernel.row_sums(inv.reshape(-1), dout, (len(rows), cache.shape[1]), cache.dtype)
    else:
        values = np.zeros((len(rows), cache.shape[1]), cache.dtype)
        np.add.at(values, inv.reshape(-1), dout)
    return _drop_padding(rows, values, cache.shape, cache.padding_idx)  # summed, then dropped: cheaper than masking dout


def _drop_padding(rows, values, shape, padding_idx):
    if padding_idx is not None:
        keep = rows != padding_idx
        rows, values = rows[keep], values[keep]
    return RowGrad(rows.astype(np.int64), values, shape)


def embedding_grad_of_rows(rows, values, shape, padding_idx=0):
    """{"weight": the table's gradient} in the current mode, from rows (K,) the ascending distinct ids
    read and values (K, D) the upstream summed per id (a fused reader's own sums: kernels/gru.py)."""
    g = _drop_padding(rows, values, shape, padding_idx)
    return {"weight": g if _grad_mode == "sparse" else g.dense()}
