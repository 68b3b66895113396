"""The GRU's fast path (tinybt/nn/gru.py is the reference: same gates, same results).

Packed like pack_padded_sequence (`pack`): rows sorted longest first make the
sequences still running at step t a prefix of n_t rows, so only the valid (t, b)
cells are computed and stored, step after step; padded cells cost nothing.

Work split: the input projection x W_ihᵀ of every cell is one matmul up front;
each step then does one BLAS matmul h W_hhᵀ and a fused Numba kernel for the
elementwise gate work, the whole time loop inside one Numba call per direction.
Each step works on a contiguous slice of the packed arrays.
"""

from typing import NamedTuple

import numpy as np
import numba
from numba import njit, prange

from tinybt.kernels.exp import exp
from tinybt.kernels.linear import matmul_rows, matmul_tn
from tinybt.lengths import check_lengths


class GRUKernelCache(NamedTuple):
    xp: np.ndarray        # (N, D) the valid cells' inputs, packed
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
def _step_fwd_kernel(gi, gh, h, h_new, act):
    """Per row, three loops over 1-D slices with few arrays each: LLVM vectorises each one
    (one fused loop over r, z, n, h' on 2-D rows needs more alias checks than it will emit)."""
    B, H = h.shape
    one = h.dtype.type(1)
    for b in range(B):
        gib, ghb, ab = gi[b], gh[b], act[b]
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
def _forward_loop(gi, W_hh, b_hh, n, off, bounds, hs, acts, hns):
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
            _step_fwd_kernel(gi[s:s + m], gh[:m], h, hs[s:s + m], acts[s:s + m])


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


# ---- the layer (same arguments and results as tinybt/nn/gru.py) -------------

def gru_forward(x, lengths, params):
    B, T, D = x.shape
    W_ih, W_hh = params["weight_ih_l0"], params["weight_hh_l0"]
    H = W_hh.shape[1]
    b, t, n, off, prev = pack(lengths, B, T)
    N = len(b)
    xp = x[b, t]                               # (N, D): the valid cells only
    gi = matmul_rows(xp, W_ih.T)               # all steps at once
    gi += params["bias_ih_l0"]                 # in place: no second (N, 3H) temporary
    hs = np.empty((N, H), x.dtype)
    acts = np.empty((N, 3 * H), x.dtype)
    hns = np.empty((N, H), x.dtype)
    _forward_loop(gi, W_hh, params["bias_hh_l0"], n, off, _blocks(n, numba.get_num_threads()), hs, acts, hns)
    out = np.zeros((B, T, H), x.dtype)         # padded steps stay 0
    out[b, t] = hs
    return out, GRUKernelCache(xp, b, t, n, off, prev, W_ih, W_hh, hs, acts, hns)


def gru_backward(dout, c):
    N, H = c.hs.shape
    B = len(dout)                              # = n[0]: every sequence runs at step 0
    doutp = dout[c.b, c.t]                     # a padded output is the constant 0: its dout drops out
    dgi = np.empty((N, 3 * H), dout.dtype)
    dgh = np.empty((N, 3 * H), dout.dtype)
    _backward_loop(doutp, c.W_hh, c.n, c.off, _blocks(c.n, numba.get_num_threads()), c.hs, c.acts, c.hns,
                   dgi, dgh)
    # weight gradients: one matmul over all cells each; step 0's state h0 = 0 adds nothing to W_hh's
    grads = {"weight_ih_l0": matmul_tn(dgi, c.xp), "weight_hh_l0": matmul_tn(dgh[B:], c.hs[c.prev]),
             "bias_ih_l0": dgi.sum(axis=0), "bias_hh_l0": dgh.sum(axis=0)}
    dx = np.zeros(dout.shape[:2] + c.xp.shape[1:], dout.dtype)
    dx[c.b, c.t] = matmul_rows(dgi, c.W_ih)
    return dx, grads
