"""Barlow Twins loss and its gradient: a NumPy reference and a fused Numba kernel.

Shapes: z1, z2 (N, P) — the two views' projector outputs, N batch, P projector dim.

    ẑ = (z − mean_n z) / sqrt(var_n z + eps)      per feature, biased variance
                                                  (BatchNorm1d(affine=False), training mode)
    C = ẑ1ᵀ ẑ2 / N                                (P, P) cross-correlation
    L = Σ_i (1 − C_ii)² + λ Σ_{i≠j} C_ij²  =  on_diag + λ · off_diag

and the derivative, one step at a time (docs/barlow_twins_loss.md derives it):

    G = ∂L/∂C:  G_ij = 2λ C_ij (i ≠ j),  G_ii = −2 (1 − C_ii)
    ∂L/∂ẑ1 = ẑ2 Gᵀ / N,   ∂L/∂ẑ2 = ẑ1 G / N
    ∂L/∂z  = (dẑ − mean_n dẑ − ẑ · mean_n(dẑ ⊙ ẑ)) / sqrt(var + eps)

`barlow_twins_loss_reference` is that, line by line. `barlow_twins_loss` is the
fast one: two fused Numba passes (standardise both views + diag(C); the
standardisation backward of both views) around BLAS products. When N < P it
never forms the P×P matrix C, because with G = 2λC + diag(d), d_i = G_ii − 2λC_ii,

    ẑ2 Gᵀ = 2λ ẑ2 ẑ2ᵀ ẑ1 / N + ẑ2 diag(d)     and   Σ_ij C_ij² = ⟨ẑ1ẑ1ᵀ, ẑ2ẑ2ᵀ⟩ / N²,

which costs O(N²P) through the N×N Gram matrices instead of O(NP²).
"""

import contextlib
from typing import NamedTuple

import numba
import numpy as np
from numba import njit, prange

from tinybt.errors import TinyBTError

PARALLEL_MIN = 1 << 18      # N·P below which waking a second thread costs more than it saves


class LossInputError(TinyBTError, ValueError):
    """Bad loss input (shape, N < 2, NaN/Inf). A ValueError for callers, a TinyBTError for the CLI."""


class BTResult(NamedTuple):
    """loss = on_diag + λ·off_diag (scalars of the input dtype); *_per_p = that part / P;
    dz1, dz2 (N, P) = ∂loss/∂z1, ∂loss/∂z2."""
    loss: np.floating
    on_diag: np.floating
    off_diag: np.floating
    on_diag_per_p: np.floating
    off_diag_per_p: np.floating
    dz1: np.ndarray
    dz2: np.ndarray


def _validate(z1, z2, eps):
    z1, z2 = np.asarray(z1), np.asarray(z2)
    if z1.ndim != 2 or z1.shape != z2.shape:
        raise LossInputError(f"Barlow Twins loss: z1 and z2 must both be (N, P), got {z1.shape} and {z2.shape}")
    if z1.dtype != z2.dtype or z1.dtype not in (np.float32, np.float64):
        raise LossInputError(f"Barlow Twins loss: z1 and z2 must share dtype float32 or float64, got {z1.dtype} and {z2.dtype}")
    if z1.shape[0] < 2:
        raise LossInputError(f"Barlow Twins loss: needs a batch of N >= 2 rows to standardise, got N = {z1.shape[0]}")
    if not eps > 0:
        raise LossInputError(f"Barlow Twins loss: eps must be > 0, got {eps}")
    return np.ascontiguousarray(z1), np.ascontiguousarray(z2)


def _check_finite(std1, std2):
    # NaN/Inf anywhere in a column makes its variance NaN (or Inf on overflow).
    for name, std in (("z1", std1), ("z2", std2)):
        if not np.all(np.isfinite(std)):
            j = int(np.flatnonzero(~np.isfinite(std))[0])
            raise LossInputError(f"Barlow Twins loss: {name} has NaN or Inf values (first in feature column {j})")


def _result(on, off, lambd, p, dz1, dz2):
    t = dz1.dtype.type
    return BTResult(t(on + lambd * off), t(on), t(off), t(on / p), t(off / p), dz1, dz2)


# --------------------------------------------------------------------------- reference

def _standardize_forward(z, eps):
    std = np.sqrt(z.var(axis=0) + eps)          # biased variance
    return (z - z.mean(axis=0)) / std, std


def _standardize_backward(dzh, zh, std):
    return (dzh - dzh.mean(axis=0) - zh * (dzh * zh).mean(axis=0)) / std


def barlow_twins_loss_reference(z1, z2, lambd, eps=1e-5):
    """Plain NumPy, reads like the maths. Same API and result as `barlow_twins_loss`."""
    z1, z2 = _validate(z1, z2, eps)
    n, p = z1.shape
    with np.errstate(invalid="ignore", over="ignore"):   # NaN/Inf input: reported just below
        zh1, std1 = _standardize_forward(z1, eps)
        zh2, std2 = _standardize_forward(z2, eps)
    _check_finite(std1, std2)
    c = zh1.T @ zh2 / n

    c_diag = np.diag(c)
    c_off = c.copy()
    np.fill_diagonal(c_off, 0)
    on = float(np.sum((1 - c_diag) ** 2, dtype=np.float64))
    off = float(np.sum(c_off ** 2, dtype=np.float64))

    g = 2 * lambd * c_off                       # ∂L/∂C
    np.fill_diagonal(g, -2 * (1 - c_diag))
    dz1 = _standardize_backward(zh2 @ g.T / n, zh1, std1)
    dz2 = _standardize_backward(zh1 @ g / n, zh2, std2)
    return _result(on, off, lambd, p, dz1, dz2)


# --------------------------------------------------------------------------- fused kernel

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
    _barlow_twins_loss) on entry and ∂L/∂z on exit. dẑ = a·m + ẑ_other·d/N, then the BN backward."""
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


def barlow_twins_loss(z1, z2, lambd, eps=1e-5):
    """Loss, its parts and ∂L/∂z1, ∂L/∂z2 (see module docstring). Returns a BTResult.

    Raises LossInputError (a ValueError) for N < 2, mismatched shapes, or NaN/Inf input.
    """
    z1, z2 = _validate(z1, z2, eps)
    with _threads_for(z1.size):
        return _barlow_twins_loss(z1, z2, lambd, eps)


def _barlow_twins_loss(z1, z2, lambd, eps):
    n, p = z1.shape
    width = _chunk_width(p)
    zh1, zh2, std1, std2, c_diag = _standardize_pair(z1, z2, eps, width)
    _check_finite(std1, std2)

    # m1 = N·ẑ2Cᵀ and m2 = N·ẑ1C, by whichever product order is cheaper.
    if n < p:
        k1, k2 = zh1 @ zh1.T, zh2 @ zh2.T             # (N, N) Gram matrices
        off = _frobenius(k1, k2) / n**2 - float(np.sum(c_diag**2))
        m1, m2 = k2 @ zh1, k1 @ zh2
    else:
        c_n = zh1.T @ zh2                              # N·C, (P, P)
        off = _off_diagonal_sq(c_n) / n**2
        m1, m2 = zh2 @ c_n.T, zh1 @ c_n
    on = float(np.sum((1 - c_diag) ** 2))

    # G = 2λC + diag(d) with d = G_ii − 2λC_ii, so ∂L/∂ẑ1 = (2λ/N²)·m1 + ẑ2·d/N (same for view 2).
    d = -2 * (1 - c_diag) - 2 * lambd * c_diag
    _standardize_backward_pair(m1, m2, zh1, zh2, std1, std2, d / n, 2 * lambd / n**2, width)
    return _result(on, off, lambd, p, m1, m2)
