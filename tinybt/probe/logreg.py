"""Multinomial logistic regression with L2, fitted by SciPy's L-BFGS-B.

    logits = X Wᵀ + b                    X (N, D) dense or CSR, W (C, D), b (C,)
    J(W, b) = mean_n xent(logits_n, y_n) + (l2 / 2) ||W||²      (b is not penalised)

The gradient is the cross-entropy's dlogits chained through the linear map:
    ∂J/∂W = dlogitsᵀ X + l2 W,   ∂J/∂b = Σ_n dlogits_n.
Everything runs in float64 from the bias-only optimum (W = 0, b = log of the class
frequencies: what the largest L2 tends to), so a fit is deterministic.
An unpenalised bias means centring the columns of X changes b only, not W or
the predictions — which is why sparse inputs may be scaled without centring.
"""

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import scipy.optimize
import scipy.sparse

from tinybt.kernels.xent import mean_xent_inplace
from tinybt.losses.xent import softmax_cross_entropy

MAX_ITER = 200   # cap: as l2 → 0 on separable data the optimum runs off to infinity
# stop when every |∂J/∂θ| ≤ GTOL (θ is Hessian-scaled, so that is about the distance to the
# optimum); L-BFGS-B's default relative-decrease stop (2.2e-9) can fire well before that
GTOL, FTOL = 1e-5, 64 * np.finfo(float).eps
GRAM_MAX = 1024  # principal axes from a Gram matrix up to this size (an eigh of ≤ 1024², ~0.1 s)


@dataclass
class LogReg:
    weight: np.ndarray   # (C, D)
    bias: np.ndarray     # (C,), −inf for a class absent from the training labels
    l2: float
    n_iter: int
    loss: float


def logreg_loss(W, b, X, y, l2):
    """Objective J and its gradients (dW (C, D), db (C,)); y int (N,) in 0..C-1."""
    logits = np.asarray(X @ W.T) + b
    loss, dlogits = softmax_cross_entropy(logits, y)
    dW = np.asarray(X.T @ dlogits).T + l2 * W
    db = dlogits.sum(axis=0)
    return float(loss) + 0.5 * l2 * float(np.sum(W * W)), dW, db


def fused_loss(W, b, X, y, l2):
    """logreg_loss with the fused cross-entropy kernel: what the fit calls, thousands of times."""
    dlogits = np.asarray(X @ W.T) + b
    loss = mean_xent_inplace(dlogits, y)
    dW = np.asarray(X.T @ dlogits).T + l2 * W
    return loss + 0.5 * l2 * float(np.sum(W * W)), dW, dlogits.sum(axis=0)


def as_float64(X):
    """Dense -> float64 ndarray, sparse -> float64 CSR."""
    if scipy.sparse.issparse(X):
        return scipy.sparse.csr_matrix(X, dtype=np.float64)
    return np.asarray(X, dtype=np.float64)


def column_means(X, squares=False):
    """(D,) the mean of each column of CSR X (N, D), or of its squares: scipy's X.mean(axis=0)
    (each value × 1/N, added up per column in row order), without its copies of X (at ML-20M
    size, a third of a GB in each probe worker)."""
    v = X.data * X.data if squares else X.data.copy()
    v *= 1.0 / X.shape[0]
    return np.bincount(X.indices, weights=v, minlength=X.shape[1])


def nonzero_columns(X):
    """(X[:, cols], cols) for cols the columns of CSR X holding a nonzero. Without explicit
    zeros that is X renumbered: its values and row pointers shared, not copied."""
    nonzero = X.data != 0
    used = np.zeros(X.shape[1], bool)
    used[X.indices[nonzero]] = True
    cols = np.flatnonzero(used)
    if not nonzero.all():
        return X[:, cols], cols
    renumber = np.zeros(X.shape[1], X.indices.dtype)
    renumber[cols] = np.arange(len(cols))
    return scipy.sparse.csr_matrix((X.data, renumber[X.indices], X.indptr), shape=(X.shape[0], len(cols))), cols


class Problem(NamedTuple):
    """One (X, y) made ready for fits at any L2: see `prepare`."""
    Z: object              # (N, K) dense, or the CSR columns of X themselves
    basis: np.ndarray      # (D_used, K) orthonormal, W_used = W_z basisᵀ; None: Z is X's columns
    y: np.ndarray          # (N,) in 0..C-1, the present classes renumbered
    classes: np.ndarray    # (C,) the present classes' original indices
    cols: np.ndarray       # (D_used,) the columns of X that are not all zero
    freq: np.ndarray       # (C,) class frequencies
    mean_sq: np.ndarray    # (K,) mean of Z's squared columns
    n_classes: int
    n_features: int


def prepare(X, y, n_classes):
    """Three exact reductions keep L-BFGS on a small, well-scaled problem with a finite optimum:
    - a class absent from y has probability 0 at the optimum, i.e. bias −∞, which the
      optimiser would chase for max_iter steps; it is left out and gets bias −inf, weight 0;
    - a column that is zero in every row gets no data gradient, so its weights stay 0
      (for l2 > 0 that is also the unique optimum); it is left out;
    - ∂J/∂W = dlogitsᵀ X + l2 W = 0 puts the optimal W in the row space of X, and an
      orthonormal change of basis keeps ||W||: so when min(N, D) ≤ GRAM_MAX the fit runs on
      Z = X · basis, X's principal axes (K ≤ min(N, D) columns, uncorrelated), not on X.
      With few labels and many items (bag of items) that is a far smaller problem.
    """
    X, y = as_float64(X), np.asarray(y, dtype=np.int64)
    classes, y_present = np.unique(y, return_inverse=True)
    sparse = scipy.sparse.issparse(X)
    if sparse:
        Xa, cols = nonzero_columns(X)
    else:
        cols = np.flatnonzero(np.any(X != 0, axis=0))
        Xa = X[:, cols]
    N, D = X.shape[0], len(cols)
    basis = None
    if 0 < min(N, D) <= GRAM_MAX:
        dense = (lambda A: A.toarray()) if sparse else np.asarray
        lam, vec = np.linalg.eigh(dense(Xa.T @ Xa) if D <= N else dense(Xa @ Xa.T))
        keep = lam > lam[-1] * max(N, D) * np.finfo(float).eps     # numerical rank, as matrix_rank
        lam, vec = lam[keep], vec[:, keep]
        # D ≤ N: basis = the eigenvectors of XᵀX; else X = U S Vᵀ from XXᵀ = U S² Uᵀ, V = Xᵀ U / S
        basis = vec if D <= N else np.asarray(Xa.T @ (vec / np.sqrt(lam)))
        Z, mean_sq = np.asarray(Xa @ basis), lam / N          # Zᵀ Z = diag(lam)
    else:
        Z = Xa
        mean_sq = column_means(Xa, squares=True) if sparse else np.mean(Xa ** 2, axis=0)
    freq = np.bincount(y_present, minlength=len(classes)) / len(y)
    return Problem(Z, basis, y_present, classes, cols, freq, mean_sq, int(n_classes), X.shape[1])


def fit_logreg(X, y, n_classes, l2, max_iter=MAX_ITER, init=None):
    """Minimise J over (W, b) for X (N, D) dense or sparse, y int (N,); see `fit`."""
    return fit(prepare(X, y, n_classes), l2, max_iter, init)


def fit(problem, l2, max_iter=MAX_ITER, init=None):
    """Minimise J with L-BFGS-B (analytic gradient) on a prepared problem, starting at the
    bias-only optimum (W = 0, b = log q, q the class frequencies), or at the fit `init` of
    the same rows with another L2, or of a subset of them (far fewer steps; deterministic).

    L-BFGS-B runs on θ = h^½ ⊙ (W_z, b), h the diagonal of J's Hessian at the bias-only
    optimum. The optimum is the same; without it a large L2 (weights stiff, rare classes'
    biases soft) is so ill-conditioned that L-BFGS stalls at max_iter.
    """
    Z, basis, y, classes, cols, freq, mean_sq = problem[:7]
    C, K = len(classes), Z.shape[1]
    W0, b0 = np.zeros((C, K)), np.log(freq)
    if init is not None:
        W0 = init.weight[np.ix_(classes, cols)]
        W0 = W0 if basis is None else W0 @ basis
        b0 = np.where(np.isfinite(init.bias[classes]), init.bias[classes], b0)   # a class init never saw
    # ∂²J/∂W_ck² = q_c(1 − q_c)·mean(z_k²) + l2 and ∂²J/∂b_c² = q_c(1 − q_c) at W = 0, b = log q;
    # one class alone is optimal from the start (its gradient is 0): any positive scale will do
    var = freq * (1 - freq) if C > 1 else np.ones(1)
    sw, sb = np.sqrt(var[:, None] * mean_sq + l2), np.sqrt(var)

    def fun(theta):
        loss, dW, db = fused_loss(theta[:C * K].reshape(C, K) / sw, theta[C * K:] / sb, Z, y, l2)
        return loss, np.concatenate([(dW / sw).ravel(), db / sb])

    res = scipy.optimize.minimize(fun, np.concatenate([(W0 * sw).ravel(), b0 * sb]), method="L-BFGS-B",
                                  jac=True, options={"maxiter": max_iter, "gtol": GTOL, "ftol": FTOL})
    Wz = res.x[:C * K].reshape(C, K) / sw
    weight = np.zeros((problem.n_classes, problem.n_features))
    weight[np.ix_(classes, cols)] = Wz if basis is None else Wz @ basis.T
    bias = np.full(problem.n_classes, -np.inf)
    bias[classes] = res.x[C * K:] / sb
    return LogReg(weight=weight, bias=bias, l2=float(l2), n_iter=int(res.nit), loss=float(res.fun))


def predict(model, X):
    """Class index (N,) int64 with the largest logit (ties → the lowest index)."""
    return np.argmax(np.asarray(as_float64(X) @ model.weight.T) + model.bias, axis=1)
