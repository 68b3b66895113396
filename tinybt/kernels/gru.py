"""The GRU's fast path (tinybt/nn/gru.py is the reference: same gates, same results).

Packed like pack_padded_sequence (`pack`): rows sorted longest first make the
sequences still running at step t a prefix of n_t rows, so only the valid (t, b)
cells are computed and stored, step after step; padded cells cost nothing.

Work split: the input projection x W_ihᵀ is one matmul up front, over the distinct
inputs (`rows` maps each cell to its row of that product); each step then does one
BLAS matmul h W_hhᵀ and a fused Numba kernel for the elementwise gate work, the
whole time loop inside one Numba call per direction. Each step works on a
contiguous slice of the packed arrays.

The layer (gru_forward) has one input row per cell. The encoder (encoder_forward:
item_emb -> GRU -> pooling of models/gru_encoder.py) feeds the embeddings of the
batch's distinct items: an id's x W_ihᵀ is the same row at every cell that reads
it, so the projection costs U·D·3H for U distinct items instead of N·D·3H for N
cells, and so do ∂W_ih and the embedding's gradient, from dgi summed per item.
It never forms the padded (B, T, D) inputs or (B, T, H) outputs: the pooling reads
the packed states.
"""

from typing import NamedTuple

import numpy as np
import numba
from numba import njit, prange

from tinybt.kernels.embedding import row_sums
from tinybt.kernels.exp import exp
from tinybt.kernels.linear import matmul_rows, matmul_tn
from tinybt.lengths import check_lengths


class GRUKernelCache(NamedTuple):
    xp: np.ndarray        # (U, D) the inputs: one per cell (the layer) or per distinct item (the encoder)
    rows: np.ndarray | None   # (N,) each cell's row of xp; None: row i is cell i
    b: np.ndarray         # (N,) each cell's batch row
    t: np.ndarray         # (N,) each cell's step
    n: np.ndarray         # (T,) cells per step
    off: np.ndarray       # (T,) first packed row of each step
    prev: np.ndarray      # (N − B,) packed row of the state entering each cell of steps ≥ 1
    W_ih: np.ndarray
    W_hh: np.ndarray
    hs: np.ndarray        # (N, H) state after each cell
    acts: np.ndarray      # (N, 3H) r|z|n per cell
    hns: np.ndarray       # (N, H) W_hn h + b_hn per cell


def pack(lengths, B, T):
    """lengths (B,) ints in [1, T] -> where each valid (t, b) cell lives in the packed (N, ·) arrays.

    Step t's cells are rows off[t] : off[t] + n[t], n[t] = #{b: lengths[b] > t}, ordered
    longest sequence first (stable), so the state entering step t ≥ 1 is the first n[t]
    rows of step t − 1. Returns b, t (N,) = each cell's batch row and step, n, off (T,),
    and prev (N − B,) = the packed row of the state entering each cell of steps ≥ 1.
    """
    lengths = check_lengths(lengths, B, T, "gru")
    order = np.argsort(-lengths, kind="stable")
    t, j = np.nonzero(np.arange(T)[:, None] < lengths[order][None, :])    # j = rank by length
    n = np.bincount(t, minlength=T)
    off = np.cumsum(n) - n
    return order[j], t, n, off, off[t[B:] - 1] + j[B:]


# ---- one step: the gate maths of nn/gru.py, fused, writing into its outputs ----
# Both squashing functions go through kernels/exp.py's exp of −|a| ≤ 0: for float32 a
# polynomial with no libm call, so LLVM vectorises the gate loop (scalar expf was two
# thirds of the forward time loop); the sign picks the branch by a select, and
# exp(−large) ≈ 0 (exp.py stops at e^−87) saturates the gates to 0/1 (tanh to ±1), no inf or NaN.
# `one` carries the arrays' dtype: a float64 literal would promote float32 maths to float64.

@njit(cache=True, inline="always")
def _sigmoid(a, one):
    e = exp(-abs(a))                          # σ(|a|) = 1 / (1 + e), σ(−|a|) = e / (1 + e)
    s = one / (one + e)
    return s if a >= 0 else e * s


@njit(cache=True, inline="always")
def _tanh(a, one):
    e = exp(-(abs(a) + abs(a)))               # tanh|a| = (1 − e) / (1 + e), odd
    t = (one - e) / (one + e)
    return t if a >= 0 else -t


@njit(cache=True, error_model="numpy")
def _step_fwd_kernel(gi, rows, gh, h, h_new, act):
    """Row b's input side is gi[rows[b]]. Per row, three loops over 1-D slices with few arrays
    each: LLVM vectorises each one (one fused loop over r, z, n, h' on 2-D rows needs more
    alias checks than it will emit)."""
    B, H = h.shape
    one = h.dtype.type(1)
    for b in range(B):
        gib, ghb, ab = gi[rows[b]], gh[b], act[b]
        for j in range(2 * H):                        # r | z
            ab[j] = _sigmoid(gib[j] + ghb[j], one)
        r, n, gi_n, gh_n = ab[:H], ab[2 * H:], gib[2 * H:], ghb[2 * H:]
        for j in range(H):
            n[j] = _tanh(gi_n[j] + r[j] * gh_n[j], one)
        z, hb, hb_new = ab[H:2 * H], h[b], h_new[b]
        for j in range(H):
            hb_new[j] = (one - z[j]) * n[j] + z[j] * hb[j]


@njit(cache=True)
def _step_bwd_kernel(dh, dout, h, act, hn, dgi, dgh, dh_prev):
    B, H = h.shape
    one = h.dtype.type(1)
    for b in range(B):
        for j in range(H):
            r, z, n = act[b, j], act[b, H + j], act[b, 2 * H + j]
            g = dh[b, j] + dout[b, j]
            da_n = g * (one - z) * (one - n * n)
            da_r = da_n * hn[b, j] * r * (one - r)
            da_z = g * (h[b, j] - n) * z * (one - z)
            dgi[b, j] = da_r
            dgi[b, H + j] = da_z
            dgi[b, 2 * H + j] = da_n
            dgh[b, j] = da_r
            dgh[b, H + j] = da_z
            dgh[b, 2 * H + j] = da_n * r
            dh_prev[b, j] = g * z


# ---- the time loops: one Numba call per direction --------------------------
# A Python loop over steps paid more in interpreter, dispatch and temporary-array
# overhead than in arithmetic; inside Numba np.dot still calls BLAS, buffers are reused.
# Sequences are independent, so the ranks (rows in packed order) split into one block per
# Numba thread, each running its own time loop on its rows (`prange`): a second core
# takes half the cells, with one parallel region per call. Every value is computed by
# one thread; the blocks change only how rows are grouped into BLAS calls, so results
# are the same for a given thread count.

def _blocks(n, k):
    """-> (k + 1,) rank bounds splitting the n[0] sequences into k blocks of about equal cells
    (ranks are sorted longest first, so the first blocks hold fewer, longer sequences)."""
    cells = np.cumsum((n[None, :] > np.arange(n[0])[:, None]).sum(axis=1))      # cells of ranks ≤ j
    return np.concatenate(([0], np.searchsorted(cells, cells[-1] * np.arange(1, k) / k), [n[0]]))


@njit(cache=True)
def _state_in(hs, off, t, j0, m):
    """Ranks j0 : j0 + m of the state entering step t: h0 = 0, then step t − 1's rows."""
    if t == 0:
        return np.zeros((m, hs.shape[1]), hs.dtype)
    return hs[off[t - 1] + j0:off[t - 1] + j0 + m]


@njit(parallel=True, cache=True)
def _forward_loop(gi, rows, W_hh, b_hh, n, off, bounds, hs, acts, hns):
    H = hs.shape[1]
    for c in prange(len(bounds) - 1):
        j0, j1 = bounds[c], bounds[c + 1]
        gh = np.empty((j1 - j0, 3 * H), hs.dtype)
        for t in range(len(n)):
            m = min(n[t], j1) - j0            # this block's sequences still running at step t
            if m <= 0:
                break                         # n is non-increasing
            s = off[t] + j0
            h = _state_in(hs, off, t, j0, m)
            np.dot(h, W_hh.T, gh[:m])
            gh[:m] += b_hh
            hns[s:s + m] = gh[:m, 2 * H:]
            _step_fwd_kernel(gi, rows[s:s + m], gh[:m], h, hs[s:s + m], acts[s:s + m])


@njit(parallel=True, cache=True)
def _backward_loop(dout, W_hh, n, off, bounds, hs, acts, hns, dgi, dgh):
    H = hs.shape[1]
    for c in prange(len(bounds) - 1):
        j0, j1 = bounds[c], bounds[c + 1]
        dh = np.zeros((j1 - j0, H), dout.dtype)      # rows past n[t + 1] are still 0 at step t
        dh_hh = np.empty((j1 - j0, H), dout.dtype)
        for t in range(len(n) - 1, -1, -1):
            m = min(n[t], j1) - j0
            if m <= 0:
                continue
            s = off[t] + j0
            # dh_prev may alias dh: the kernel reads each dh[b, j] before writing it
            _step_bwd_kernel(dh[:m], dout[s:s + m], _state_in(hs, off, t, j0, m), acts[s:s + m], hns[s:s + m],
                             dgi[s:s + m], dgh[s:s + m], dh[:m])
            np.dot(dgh[s:s + m], W_hh, dh_hh[:m])
            dh[:m] += dh_hh[:m]               # the W_hh h path into the previous state


# ---- shared by the layer and the encoder: the GRU on packed cells ---------

def _run_forward(xp, rows, packing, params):
    """The cells' states hs (N, H) and the cache; cell i's input is xp[rows[i]] (rows None: xp[i])."""
    b, t, n, off, prev = packing
    W_ih, W_hh = params["weight_ih_l0"], params["weight_hh_l0"]
    N, H = len(b), W_hh.shape[1]
    gi = matmul_rows(xp, W_ih.T)               # all steps at once, one row per input
    gi += params["bias_ih_l0"]                 # in place: no second (·, 3H) temporary
    hs = np.empty((N, H), xp.dtype)
    acts = np.empty((N, 3 * H), xp.dtype)
    hns = np.empty((N, H), xp.dtype)
    _forward_loop(gi, np.arange(N) if rows is None else rows, W_hh, params["bias_hh_l0"], n, off,
                  _blocks(n, numba.get_num_threads()), hs, acts, hns)
    return hs, GRUKernelCache(xp, rows, b, t, n, off, prev, W_ih, W_hh, hs, acts, hns)


def _run_backward(doutp, c):
    """doutp (N, H) ∂/∂ each cell's state -> ∂/∂xp (U, D), grads."""
    N, H = c.hs.shape
    B = c.n[0]                                 # every sequence runs at step 0
    dgi = np.empty((N, 3 * H), doutp.dtype)
    dgh = np.empty((N, 3 * H), doutp.dtype)
    _backward_loop(doutp, c.W_hh, c.n, c.off, _blocks(c.n, numba.get_num_threads()), c.hs, c.acts, c.hns,
                   dgi, dgh)
    if c.rows is not None:                     # cells reading the same input: their dgi add up
        dgi = row_sums(c.rows, dgi, (len(c.xp), 3 * H), dgi.dtype)
    # weight gradients: one matmul over all inputs / cells each; step 0's state h0 = 0 adds nothing to W_hh's
    grads = {"weight_ih_l0": matmul_tn(dgi, c.xp), "weight_hh_l0": matmul_tn(dgh[B:], c.hs[c.prev]),
             "bias_ih_l0": dgi.sum(axis=0), "bias_hh_l0": dgh.sum(axis=0)}
    return matmul_rows(dgi, c.W_ih), grads


# ---- the layer (same arguments and results as tinybt/nn/gru.py) -------------

def gru_forward(x, lengths, params):
    B, T, _ = x.shape
    packing = pack(lengths, B, T)
    b, t = packing[:2]
    hs, cache = _run_forward(x[b, t], None, packing, params)     # (N, D): the valid cells only
    out = np.zeros((B, T, hs.shape[1]), x.dtype)                # padded steps stay 0
    out[b, t] = hs
    return out, cache


def gru_backward(dout, c):
    dxp, grads = _run_backward(dout[c.b, c.t], c)   # a padded output is the constant 0: its dout drops out
    dx = np.zeros(dout.shape[:2] + c.xp.shape[1:], dout.dtype)
    dx[c.b, c.t] = dxp
    return dx, grads


# ---- the encoder: item_emb -> GRU -> pooling (models/gru_encoder.py) ----------

class GRUEncoderKernelCache(NamedTuple):
    gru: GRUKernelCache   # xp = the distinct items' embeddings
    items: np.ndarray     # (U,) the batch's distinct item ids, ascending
    pool: np.ndarray      # mean: (B,) 1/length; last: (B,) packed row of each sequence's last cell
    pooling: str
    table: tuple          # the item table's shape (V+2, D)


def distinct(ids, n_rows):
    """ids (N,) in [0, n_rows) -> items (U,) ascending distinct ids, rows (N,) with items[rows] = ids."""
    seen = np.zeros(n_rows, bool)
    seen[ids] = True
    items = np.flatnonzero(seen)
    where = np.cumsum(seen) - 1                # items[where[i]] = i for every seen i
    return items, where[ids]


def encoder_forward(ids, lengths, E, params, pooling):
    """ids (B, T) valid item ids (checked by the caller), lengths (B,), E the item table (V+2, D),
    params the GRU's, pooling "mean" | "last" -> u (B, H), cache."""
    B, T = ids.shape
    lengths = check_lengths(lengths, B, T, "gru")
    packing = pack(lengths, B, T)
    b, t = packing[:2]
    items, rows = distinct(ids[b, t], len(E))
    hs, c_gru = _run_forward(E[items], rows, packing, params)
    if pooling == "mean":                      # Σ over the cells in step order, weights 1/length as nn/pooling.py
        w = (1 / lengths).astype(hs.dtype)
        u = row_sums(b, hs * w[b][:, None], (B, hs.shape[1]), hs.dtype)
        return u, GRUEncoderKernelCache(c_gru, items, w, pooling, E.shape)
    last = np.empty(B, np.int64)
    cells = np.flatnonzero(t == lengths[b] - 1)
    last[b[cells]] = cells
    return hs[last], GRUEncoderKernelCache(c_gru, items, last, pooling, E.shape)


def encoder_backward(du, c):
    """du (B, H) -> the table's gradient as (items, rows (U, D) summed per item), the GRU's grads."""
    g = c.gru
    if c.pooling == "mean":
        doutp = (du * c.pool[:, None])[g.b]
    else:
        doutp = np.zeros_like(g.hs)
        doutp[c.pool] = du
    dxp, grads = _run_backward(doutp, g)
    return (c.items, dxp), grads
