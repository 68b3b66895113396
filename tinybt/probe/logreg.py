"""Multinomial logistic regression with L2, fitted by SciPy's L-BFGS-B.

    logits = X Wᵀ + b                    X (N, D) dense or CSR, W (C, D), b (C,)
    J(W, b) = mean_n xent(logits_n, y_n) + (l2 / 2) ||W||²      (b is not penalised)

The gradient is the cross-entropy's dlogits chained through the linear map:
    ∂J/∂W = dlogitsᵀ X + l2 W,   ∂J/∂b = Σ_n dlogits_n.
Everything runs in float64 from W = 0, b = 0, so a fit is deterministic.
An unpenalised bias means centring the columns of X changes b only, not W or
the predictions — which is why sparse inputs may be scaled without centring.
"""

from dataclasses import dataclass

import numpy as np
import scipy.optimize
import scipy.sparse

from tinybt.losses.xent import softmax_cross_entropy

MAX_ITER = 200   # cap: as l2 → 0 on separable data the optimum runs off to infinity


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


def as_float64(X):
    """Dense -> float64 ndarray, sparse -> float64 CSR."""
    if scipy.sparse.issparse(X):
        return scipy.sparse.csr_matrix(X, dtype=np.float64)
    return np.asarray(X, dtype=np.float64)


def fit_logreg(X, y, n_classes, l2, max_iter=MAX_ITER, init=None):
    """Minimise J over (W, b) with L-BFGS-B (analytic gradient), starting at zero, or at
    the fit `init` of the same (X, y) with another L2 (a warm start along the L2 path:
    far fewer steps, and still deterministic).

    Two exact reductions keep L-BFGS on the part of the problem with a finite optimum:
    - a class absent from y has probability 0 at the optimum, i.e. bias −∞, which the
      optimiser would chase for max_iter steps; it is left out and gets bias −inf, weight 0;
    - a column that is zero in every row gets no data gradient, so from W = 0 its weights
      stay 0 (for l2 > 0 that is also the unique optimum); it is left out.
    """
    X, y = as_float64(X), np.asarray(y, dtype=np.int64)
    classes, y_present = np.unique(y, return_inverse=True)
    if scipy.sparse.issparse(X):
        cols = np.unique(X.indices[X.data != 0])
    else:
        cols = np.flatnonzero(np.any(X != 0, axis=0))
    Xa, C, D = X[:, cols], len(classes), len(cols)

    def fun(theta):
        loss, dW, db = logreg_loss(theta[:C * D].reshape(C, D), theta[C * D:], Xa, y_present, l2)
        return loss, np.concatenate([dW.ravel(), db])

    theta0 = np.zeros(C * D + C) if init is None else \
        np.concatenate([init.weight[np.ix_(classes, cols)].ravel(), init.bias[classes]])
    res = scipy.optimize.minimize(fun, theta0, method="L-BFGS-B", jac=True,
                                  options={"maxiter": max_iter})
    weight = np.zeros((n_classes, X.shape[1]))
    weight[np.ix_(classes, cols)] = res.x[:C * D].reshape(C, D)
    bias = np.full(n_classes, -np.inf)
    bias[classes] = res.x[C * D:]
    return LogReg(weight=weight, bias=bias, l2=float(l2), n_iter=int(res.nit), loss=float(res.fun))


def predict(model, X):
    """Class index (N,) int64 with the largest logit (ties → the lowest index)."""
    return np.argmax(np.asarray(as_float64(X) @ model.weight.T) + model.bias, axis=1)
