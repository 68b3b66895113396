"""Barlow Twins loss: forward (the loss) and backward (its gradient), plain NumPy.

Shapes: z1, z2 (N, P) — the two views' projector outputs, N batch, P projector dim.
The equations are numbered as in docs/barlow_twins_loss.md, which derives them:

    (1) ẑ = (z − mean_n z) / sqrt(var_n z + eps)   per feature, biased variance
                                                   (BatchNorm1d(affine=False), training mode)
    (2) C = ẑ1ᵀ ẑ2 / N                             (P, P) cross-correlation
    (3) L = Σ_i (1 − C_ii)² + λ Σ_{i≠j} C_ij²  =  on_diag + λ · off_diag

and backward, one step at a time:

    (4) G = ∂L/∂C:  G_ij = 2λ C_ij (i ≠ j),  G_ii = −2 (1 − C_ii)
    (5) ∂L/∂ẑ1 = ẑ2 Gᵀ / N,   ∂L/∂ẑ2 = ẑ1 G / N
    (6) ∂L/∂z  = (dẑ − mean_n dẑ − ẑ · mean_n(dẑ ⊙ ẑ)) / sqrt(var + eps)

The fast path (tinybt/kernels/barlow.py) computes the same numbers without forming C.
"""

from typing import NamedTuple

import numpy as np

from tinybt import backend
from tinybt.errors import TinyBTError
from tinybt.kernels import barlow as kernel


EPS = 1e-5      # the standardisation's eps, as BatchNorm1d(affine=False)


class LossInputError(TinyBTError, ValueError):
    """Bad loss input (shape, N < 2, NaN/Inf). A ValueError for callers, a TinyBTError for the CLI."""


class BTLoss(NamedTuple):
    """loss = on_diag + λ·off_diag (scalars of the input dtype); *_per_p = that part / P."""
    loss: np.floating
    on_diag: np.floating
    off_diag: np.floating
    on_diag_per_p: np.floating
    off_diag_per_p: np.floating


class BTCache(NamedTuple):
    zh1: np.ndarray      # (N, P) standardised views
    zh2: np.ndarray
    std1: np.ndarray     # (P,) sqrt(var + eps)
    std2: np.ndarray
    c: np.ndarray        # (P, P) cross-correlation
    lambd: float


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


def _loss(on, off, lambd, z):
    t, p = z.dtype.type, z.shape[1]
    return BTLoss(t(on + lambd * off), t(on), t(off), t(on / p), t(off / p))


def standardize_forward(z, eps):
    std = np.sqrt(z.var(axis=0) + eps)          # (1), biased variance
    return (z - z.mean(axis=0)) / std, std


def standardize_backward(dzh, zh, std):
    return (dzh - dzh.mean(axis=0) - zh * (dzh * zh).mean(axis=0)) / std     # (6)


def barlow_twins_forward(z1, z2, lambd, eps=EPS):
    """z1, z2 (N, P) -> BTLoss, cache. Raises LossInputError (a ValueError) for N < 2,
    mismatched shapes or dtypes, or NaN/Inf input."""
    z1, z2 = _validate(z1, z2, eps)
    if backend.fast():
        on, off, cache = kernel.barlow_twins_forward(z1, z2, lambd, eps)
        _check_finite(cache.std1, cache.std2)
        return _loss(on, off, lambd, z1), cache
    with np.errstate(invalid="ignore", over="ignore"):   # NaN/Inf input: reported just below
        zh1, std1 = standardize_forward(z1, eps)
        zh2, std2 = standardize_forward(z2, eps)
    _check_finite(std1, std2)
    c = zh1.T @ zh2 / len(z1)                                    # (2)
    off_diag = c - np.diag(np.diag(c))
    on = float(np.sum((1 - np.diag(c)) ** 2, dtype=np.float64))  # (3)
    off = float(np.sum(off_diag ** 2, dtype=np.float64))
    return _loss(on, off, lambd, z1), BTCache(zh1, zh2, std1, std2, c, lambd)


def barlow_twins_backward(dloss, cache):
    """dloss (scalar) -> (dz1, dz2) (N, P) each, {} (no parameters)."""
    if backend.fast():
        return kernel.barlow_twins_backward(dloss, cache)
    zh1, zh2, std1, std2, c, lambd = cache
    n = len(zh1)
    g = 2 * lambd * c                                            # (4) off the diagonal
    np.fill_diagonal(g, -2 * (1 - np.diag(c)))                   # (4) on it
    g *= dloss
    dz1 = standardize_backward(zh2 @ g.T / n, zh1, std1)        # (5), then (6)
    dz2 = standardize_backward(zh1 @ g / n, zh2, std2)
    return (dz1, dz2), {}
