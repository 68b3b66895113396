"""The transformer encoder's fast path: the blocks, final LayerNorm and mean pooling of
tinybt/models/encoder.py on the valid positions only.

Padded positions never reach the user vector: they are masked as keys, and the mean
pools over valid positions only. So this path packs the valid tokens of the batch
into one (N, D) array (N = Σ lengths, sequence b's tokens contiguous from starts[b])
and runs every position-wise layer (LayerNorm, the QKV / output / FFN GEMMs, GELU)
on N rows instead of B·T. Attention runs per sequence over its own L_b tokens
(`_attention_fwd` / `_attention_bwd`, parallel over sequences, each head's matrix
products by BLAS on contiguous copies, the softmax as row loops with kernels/exp.py's
exp), so no padded key or query is ever scored. With ragged batches that skips the
padding's share of the work, and it drops the (B, nh, T, T) masks and the reshapes of
the reference path (`benchmarks/bench_step.py --backend fast|reference` times a step).
The residual adds write into the block's fresh arrays instead of new ones.
Same function of the valid tokens; tests/test_kernels_transformer.py compares the
whole encoder.
"""

import math
from typing import NamedTuple

import numpy as np
from numba import njit, prange

from tinybt.kernels import activations, layernorm
from tinybt.kernels.exp import exp
from tinybt.kernels.linear import linear_backward, linear_forward
from tinybt.params import prefixed, sub


class Packed(NamedTuple):
    idx: np.ndarray       # (N,) flat (b·T + t) index of each valid token
    starts: np.ndarray    # (B,) first packed row of each sequence
    lengths: np.ndarray   # (B,)
    a_off: np.ndarray     # (B,) offset of each sequence's nh·L² attention weights
    shape: tuple          # (B, T, D)


class PackedBlockCache(NamedTuple):
    ln1: tuple
    in_proj: tuple        # nn/linear.py caches: each holds its input and weight
    qkv: np.ndarray       # (N, 3D)
    A: np.ndarray         # flat attention weights
    out_proj: tuple
    ln2: tuple
    linear1: tuple
    gelu: np.ndarray      # (N, 4D) the GELU's slope
    linear2: tuple


class PackedTransformerCache(NamedTuple):
    packed: Packed
    blocks: list
    norm: tuple
    n_heads: int


def pack(lengths, B, T, D, n_heads):
    lengths = np.asarray(lengths, np.int64)
    idx = np.flatnonzero((np.arange(T)[None, :] < lengths[:, None]).ravel())
    starts = np.cumsum(lengths) - lengths
    sq = n_heads * lengths ** 2
    return Packed(idx, starts, lengths, np.cumsum(sq) - sq, (B, T, D))


@njit(cache=True)
def _head(a, s, L, c0, E):
    """Rows s:s+L, columns c0:c0+E of a, as a contiguous copy (BLAS needs one)."""
    return np.ascontiguousarray(a[s:s + L, c0:c0 + E])


@njit(cache=True)
def _qkv_heads(qkv, s, L, h, E, D):
    """Head h's q, k, v (L, E) of the sequence at rows s:s+L of the fused (N, 3D) projection."""
    return _head(qkv, s, L, h * E, E), _head(qkv, s, L, D + h * E, E), _head(qkv, s, L, 2 * D + h * E, E)


@njit(parallel=True, cache=True, fastmath=layernorm.REASSOC)
def _attention_fwd(qkv, starts, lengths, a_off, nh, scale, ctx, A):
    """Per sequence b and head h: A = softmax(q kᵀ · scale) over its L_b tokens, ctx = A v."""
    D = ctx.shape[1]
    E = D // nh
    zero = A.dtype.type(0)
    for b in prange(len(starts)):
        s, L = starts[b], lengths[b]
        for h in range(nh):
            q, k, v = _qkv_heads(qkv, s, L, h, E, D)
            S = np.dot(q, k.T)
            for i in range(L):                       # row softmax, max subtracted: no overflow
                m = S[i, 0]
                for j in range(1, L):
                    m = max(m, S[i, j])
                total = zero
                for j in range(L):
                    p = exp((S[i, j] - m) * scale)
                    S[i, j] = p
                    total += p
                for j in range(L):
                    S[i, j] /= total
            A[a_off[b] + h * L * L:a_off[b] + (h + 1) * L * L] = S.ravel()
            ctx[s:s + L, h * E:(h + 1) * E] = np.dot(S, v)


@njit(parallel=True, cache=True, fastmath=layernorm.REASSOC)
def _attention_bwd(qkv, dctx, starts, lengths, a_off, nh, scale, A, dqkv):
    """dqkv (N, 3D): ∂/∂q, ∂/∂k, ∂/∂v of Σ dctx ⊙ ctx, per sequence and head."""
    D = dctx.shape[1]
    E = D // nh
    zero = A.dtype.type(0)
    for b in prange(len(starts)):
        s, L = starts[b], lengths[b]
        for h in range(nh):
            q, k, v = _qkv_heads(qkv, s, L, h, E, D)
            dc = _head(dctx, s, L, h * E, E)
            P = A[a_off[b] + h * L * L:a_off[b] + (h + 1) * L * L].reshape(L, L)
            dqkv[s:s + L, 2 * D + h * E:2 * D + (h + 1) * E] = np.dot(P.T, dc)    # ctx = P v
            dP = np.dot(dc, v.T)
            for i in range(L):                                                    # softmax backward
                rowdot = zero
                for j in range(L):
                    rowdot += dP[i, j] * P[i, j]
                for j in range(L):
                    dP[i, j] = P[i, j] * (dP[i, j] - rowdot) * scale
            dqkv[s:s + L, h * E:(h + 1) * E] = np.dot(dP, k)                       # S = q kᵀ · scale
            dqkv[s:s + L, D + h * E:D + (h + 1) * E] = np.dot(dP.T, q)


def _block_forward(x, p, pk, n_heads):
    D = x.shape[1]
    h1, c_ln1 = layernorm.layernorm_forward(x, sub(p, "norm1"))
    qkv, c_in = linear_forward(h1, {"weight": p["self_attn.in_proj_weight"],      # fused q|k|v: one GEMM
                                    "bias": p["self_attn.in_proj_bias"]})
    A = np.empty(int(pk.a_off[-1] + n_heads * pk.lengths[-1] ** 2), x.dtype)
    ctx = np.empty_like(x)
    _attention_fwd(qkv, pk.starts, pk.lengths, pk.a_off, n_heads, x.dtype.type(1 / math.sqrt(D // n_heads)), ctx, A)
    x1, c_out = linear_forward(ctx, sub(p, "self_attn.out_proj"))
    x1 += x                                     # in place, here and below: every fresh page costs a fault
    h2, c_ln2 = layernorm.layernorm_forward(x1, sub(p, "norm2"))
    f, c_l1 = linear_forward(h2, sub(p, "linear1"))
    g, slope = activations.gelu_forward(f)
    f, c_l2 = linear_forward(g, sub(p, "linear2"))
    x1 += f
    return x1, PackedBlockCache(c_ln1, c_in, qkv, A, c_out, c_ln2, c_l1, slope, c_l2)


def _block_backward(dout, c, pk, n_heads):
    D = dout.shape[1]
    d, g = linear_backward(dout, c.linear2)
    grads = prefixed(g, "linear2")
    d *= c.gelu                                 # GELU backward: times its slope
    d, g = linear_backward(d, c.linear1)
    grads |= prefixed(g, "linear1")
    dx1, g = layernorm.layernorm_backward(d, c.ln2)
    grads |= prefixed(g, "norm2")
    dx1 += dout
    dctx, g = linear_backward(dx1, c.out_proj)
    grads |= prefixed(g, "self_attn.out_proj")
    dqkv = np.empty_like(c.qkv)
    _attention_bwd(c.qkv, dctx, pk.starts, pk.lengths, pk.a_off, n_heads, dout.dtype.type(1 / math.sqrt(D // n_heads)),
                   c.A, dqkv)
    d, g = linear_backward(dqkv, c.in_proj)
    grads |= {"self_attn.in_proj_weight": g["weight"], "self_attn.in_proj_bias": g["bias"]}
    d, g = layernorm.layernorm_backward(d, c.ln1)
    grads |= prefixed(g, "norm1")
    d += dx1
    return d, grads


def transformer_forward(x, lengths, params, n_layers, n_heads):
    """x (B, T, D) embeddings + positions, lengths (B,) -> u (B, D): the blocks, final_norm
    and the valid mean of tinybt/models/encoder.py. params: the model's flat dict."""
    B, T, D = x.shape
    pk = pack(lengths, B, T, D, n_heads)
    h = np.ascontiguousarray(x.reshape(B * T, D)[pk.idx])
    caches = []
    for i in range(n_layers):
        h, c = _block_forward(h, sub(params, f"layers.{i}"), pk, n_heads)
        caches.append(c)
    h, c_norm = layernorm.layernorm_forward(h, sub(params, "final_norm"))
    u = np.add.reduceat(h, pk.starts, axis=0) / pk.lengths[:, None].astype(h.dtype)
    return u, PackedTransformerCache(pk, caches, c_norm, n_heads)


def transformer_backward(du, cache):
    """du (B, D) -> dx (B, T, D) (0 at padded positions), grads with the params' keys."""
    pk = cache.packed
    d = np.repeat(du / pk.lengths[:, None].astype(du.dtype), pk.lengths, axis=0)
    d, g = layernorm.layernorm_backward(d, cache.norm)
    grads = prefixed(g, "final_norm")
    for i in reversed(range(len(cache.blocks))):
        d, g = _block_backward(d, cache.blocks[i], pk, cache.n_heads)
        grads |= prefixed(g, f"layers.{i}")
    B, T, D = pk.shape
    dx = np.zeros((B * T, D), du.dtype)
    dx[pk.idx] = d
    return dx.reshape(B, T, D), grads
