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

MAX_ITER = 200   # cap: with a tiny l2 on separable data the optimum is at infinity


@dataclass
class LogReg:
    weight: np.ndarray   # (C, D)
    bias: np.ndarray     # (C,)
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


def _float64(X):
    if scipy.sparse.issparse(X):
        return scipy.sparse.csr_matrix(X, dtype=np.float64)
    return np.asarray(X, dtype=np.float64)


def fit_logreg(X, y, n_classes, l2, max_iter=MAX_ITER):
    """Minimise J over (W, b) with L-BFGS-B (analytic gradient), starting at zero."""
    X, y = _float64(X), np.asarray(y, dtype=np.int64)
    C, D = n_classes, X.shape[1]

    def fun(theta):
        loss, dW, db = logreg_loss(theta[:C * D].reshape(C, D), theta[C * D:], X, y, l2)
        return loss, np.concatenate([dW.ravel(), db])

    res = scipy.optimize.minimize(fun, np.zeros(C * D + C), method="L-BFGS-B", jac=True,
                                  options={"maxiter": max_iter})
    return LogReg(weight=res.x[:C * D].reshape(C, D).copy(), bias=res.x[C * D:].copy(),
                  l2=float(l2), n_iter=int(res.nit), loss=float(res.fun))


def predict(model, X):
    """Class index (N,) int64 with the largest logit (ties → the lowest index)."""
    return np.argmax(np.asarray(_float64(X) @ model.weight.T) + model.bias, axis=1)
