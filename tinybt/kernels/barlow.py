"""The Barlow Twins loss's fast path (tinybt/losses/barlow.py is the reference;
docs/barlow_twins_loss.md §5 explains the reorganisation).

Two fused Numba passes (standardise both views + diag(C); the standardisation
backward of both views) around BLAS products. When N < P it never forms the P×P
matrix C, because with G = 2λC + diag(d), d_i = G_ii − 2λC_ii,

    ẑ2 Gᵀ = 2λ ẑ2 ẑ2ᵀ ẑ1 / N + ẑ2 diag(d)     and   Σ_ij C_ij² = ⟨ẑ1ẑ1ᵀ, ẑ2ẑ2ᵀ⟩ / N²,

which costs O(N²P) through the N×N Gram matrices instead of O(NP²).
"""

import contextlib
from typing import NamedTuple

import numba
import numpy as np
from numba import njit, prange

PARALLEL_MIN = 1 << 18      # N·P below which waking a second thread costs more than it saves


class BarlowKernelCache(NamedTuple):
    zh1: np.ndarray          # (N, P) standardised views
    zh2: np.ndarray
    std1: np.ndarray         # (P,) float64
    std2: np.ndarray
    c_diag: np.ndarray       # (P,) diag(C)
    k1: np.ndarray | None    # N < P: the (N, N) Gram matrices ẑ1ẑ1ᵀ, ẑ2ẑ2ᵀ
    k2: np.ndarray | None
    c_n: np.ndarray | None   # N ≥ P: N·C (P, P)
    lambd: float


def _chunk_width(p):
    """Columns per parallel task: one chunk per Numba thread, so each task reads long contiguous
    row segments (narrow blocks would hop between rows P·4 bytes apart); a multiple of 16 so that
    two threads never write the same cache line."""
    t = numba.get_num_threads()
    return ((p + t - 1) // t + 15) // 16 * 16


@njit(cache=True)
def _standardize_block(z, zh, std, eps, j0, j1):
    """Columns j0:j1 of one view: std = sqrt(var + eps) (float64), ẑ written into zh."""
    n = z.shape[0]
    mean, var = np.zeros(j1 - j0), np.zeros(j1 - j0)      # float64 accumulators
    for i in range(n):
        row = z[i, j0:j1]
        for k in range(j1 - j0):
            mean[k] += row[k]
    mean /= n
    for i in range(n):                                     # two-pass variance: no cancellation
        row = z[i, j0:j1]
        for k in range(j1 - j0):
            d = row[k] - mean[k]
            var[k] += d * d
    s = np.sqrt(var / n + eps)
    inv = 1.0 / s
    for i in range(n):
        row, out = z[i, j0:j1], zh[i, j0:j1]
        for k in range(j1 - j0):
            out[k] = (row[k] - mean[k]) * inv[k]
    std[j0:j1] = s


@njit(cache=True)
def _diagonal_block(zh1, zh2, c_diag, j0, j1):
    """C_jj = (1/N) Σ_n ẑ1_nj ẑ2_nj for columns j0:j1."""
    n = zh1.shape[0]
    acc = np.zeros(j1 - j0)
    for i in range(n):
        a, b = zh1[i, j0:j1], zh2[i, j0:j1]
        for k in range(j1 - j0):
            acc[k] += a[k] * b[k]
    c_diag[j0:j1] = acc / n


@njit(parallel=True, cache=True)
def _standardize_pair(z1, z2, eps, width):
    """ẑ1, ẑ2 (N, P) of z's dtype; std1, std2 and diag(C) (P,) in float64."""
    n, p = z1.shape
    zh1, zh2 = np.empty_like(z1), np.empty_like(z2)
    std1, std2, c_diag = np.empty(p), np.empty(p), np.empty(p)
    for b in prange((p + width - 1) // width):
        j0, j1 = b * width, min(p, (b + 1) * width)
        _standardize_block(z1, zh1, std1, eps, j0, j1)
        _standardize_block(z2, zh2, std2, eps, j0, j1)
        _diagonal_block(zh1, zh2, c_diag, j0, j1)
    return zh1, zh2, std1, std2, c_diag


@njit(cache=True)
def _standardize_backward_block(m, zh, zh_other, std, d_over_n, a, j0, j1):
    """Columns j0:j1 of one view, in place: m holds the BLAS product (m1 or m2 of
    barlow_twins_backward) on entry and ∂L/∂z on exit. dẑ = a·m + ẑ_other·d/N, then the BN backward."""
    n = m.shape[0]
    s1, s2 = np.zeros(j1 - j0), np.zeros(j1 - j0)
    d = d_over_n[j0:j1]
    for i in range(n):
        g, h, ho = m[i, j0:j1], zh[i, j0:j1], zh_other[i, j0:j1]
        for k in range(j1 - j0):
            gk = a * g[k] + ho[k] * d[k]
            g[k] = gk
            s1[k] += gk
            s2[k] += gk * h[k]
    s1 /= n
    s2 /= n
    inv = 1.0 / std[j0:j1]
    for i in range(n):
        g, h = m[i, j0:j1], zh[i, j0:j1]
        for k in range(j1 - j0):
            g[k] = (g[k] - s1[k] - h[k] * s2[k]) * inv[k]


@njit(parallel=True, cache=True)
def _standardize_backward_pair(m1, m2, zh1, zh2, std1, std2, d_over_n, a, width):
    p = m1.shape[1]
    for b in prange((p + width - 1) // width):
        j0, j1 = b * width, min(p, (b + 1) * width)
        _standardize_backward_block(m1, zh1, zh2, std1, d_over_n, a, j0, j1)
        _standardize_backward_block(m2, zh2, zh1, std2, d_over_n, a, j0, j1)


@njit(parallel=True, cache=True)
def _frobenius(a, b):
    """Σ a ⊙ b, accumulated in float64."""
    s = 0.0
    for i in prange(a.shape[0]):
        r = 0.0
        for j in range(a.shape[1]):
            r += a[i, j] * b[i, j]
        s += r
    return s


@njit(parallel=True, cache=True)
def _off_diagonal_sq(c):
    """Σ_{i≠j} c_ij², accumulated in float64."""
    s = 0.0
    for i in prange(c.shape[0]):
        r = 0.0
        for j in range(c.shape[1]):
            if j != i:
                r += c[i, j] * c[i, j]
        s += r
    return s


@contextlib.contextmanager
def _threads_for(size):
    """All Numba threads for big inputs, one for small ones (a parallel region costs µs idle,
    ms on a busy machine, against a few µs of work)."""
    before = numba.get_num_threads()
    numba.set_num_threads(before if size >= PARALLEL_MIN else 1)
    try:
        yield
    finally:
        numba.set_num_threads(before)


def barlow_twins_forward(z1, z2, lambd, eps):
    """z1, z2 (N, P), validated -> (on_diag, off_diag) as floats, cache."""
    n, p = z1.shape
    with _threads_for(z1.size):
        zh1, zh2, std1, std2, c_diag = _standardize_pair(z1, z2, eps, _chunk_width(p))
        k1 = k2 = c_n = None
        if n < p:
            k1, k2 = zh1 @ zh1.T, zh2 @ zh2.T             # (N, N) Gram matrices
            off = _frobenius(k1, k2) / n**2 - float(np.sum(c_diag**2))
        else:
            c_n = zh1.T @ zh2                              # N·C, (P, P)
            off = _off_diagonal_sq(c_n) / n**2
    on = float(np.sum((1 - c_diag) ** 2))
    return on, off, BarlowKernelCache(zh1, zh2, std1, std2, c_diag, k1, k2, c_n, lambd)


def barlow_twins_backward(dloss, c):
    """dloss (scalar) -> (dz1, dz2) (N, P) each, {}."""
    n, p = c.zh1.shape
    with _threads_for(c.zh1.size):
        # m1 = N·ẑ2Cᵀ and m2 = N·ẑ1C, by whichever product order is cheaper
        if c.k1 is not None:
            m1, m2 = c.k2 @ c.zh1, c.k1 @ c.zh2
        else:
            m1, m2 = c.zh2 @ c.c_n.T, c.zh1 @ c.c_n
        # G = 2λC + diag(d) with d = G_ii − 2λC_ii, so ∂L/∂ẑ1 = (2λ/N²)·m1 + ẑ2·d/N (same for view 2)
        d = -2 * (1 - c.c_diag) - 2 * c.lambd * c.c_diag
        _standardize_backward_pair(m1, m2, c.zh1, c.zh2, c.std1, c.std2, dloss * d / n,
                                   dloss * 2 * c.lambd / n**2, _chunk_width(p))
    return (m1, m2), {}
