"""Logistic regression of the linear probe: gradient, sparse = dense, optimality facts."""

import numpy as np
import pytest
import scipy.sparse
from hypothesis import given, settings
from hypothesis import strategies as st

from tinybt.check.cases.probe import logreg_case
from tinybt.check.gradcheck import check
from tinybt.probe.logreg import column_means, fit_logreg, logreg_loss, nonzero_columns, predict


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 10_000), N=st.integers(1, 8), D=st.integers(1, 5), C=st.integers(2, 4),
       l2=st.sampled_from([0.0, 0.01, 1.0]))
def test_gradient_matches_finite_differences(seed, N, D, C, l2):
    for tensor, err in check(logreg_case(np.random.default_rng(seed), N, D, C, l2)):
        assert err < 1e-6, tensor


def _data(seed, N=40, D=6, C=3, density=0.4):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((N, D)) * (rng.random((N, D)) < density)
    return X, rng.integers(0, C, size=N), rng


def test_sparse_and_dense_give_the_same_loss_gradient_and_fit():
    X, y, rng = _data(0)
    W, b = rng.standard_normal((3, 6)), rng.standard_normal(3)
    dense, sparse = logreg_loss(W, b, X, y, 0.1), logreg_loss(W, b, scipy.sparse.csr_matrix(X), y, 0.1)
    assert dense[0] == pytest.approx(sparse[0], rel=1e-12)
    np.testing.assert_allclose(dense[1], sparse[1], rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(dense[2], sparse[2], rtol=1e-12, atol=1e-14)
    md, ms = fit_logreg(X, y, 3, 0.05), fit_logreg(scipy.sparse.csr_matrix(X), y, 3, 0.05)
    np.testing.assert_allclose(md.weight, ms.weight, atol=1e-8)
    np.testing.assert_allclose(md.bias, ms.bias, atol=1e-8)
    np.testing.assert_array_equal(predict(md, X), predict(ms, scipy.sparse.csr_matrix(X)))


def test_fit_is_stationary_and_matches_the_closed_form_conditions():
    """At the optimum: ∂J/∂b = 0 ⇒ the mean predicted probabilities equal the class
    frequencies; ∂J/∂W = 0 ⇒ W = Xᵀ(onehot − p) / (N · l2)."""
    X, y, _ = _data(1, N=60)
    l2 = 0.2
    m = fit_logreg(X, y, 3, l2)
    logits = X @ m.weight.T + m.bias
    p = np.exp(logits - logits.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    onehot = np.eye(3)[y]
    np.testing.assert_allclose(p.mean(0), onehot.mean(0), atol=1e-5)
    np.testing.assert_allclose(m.weight, (onehot - p).T @ X / (len(y) * l2), atol=1e-5)


def test_absent_classes_sit_at_their_minus_infinity_limit_and_the_fit_is_stationary():
    """A class no training row has: J decreases forever as its bias → −∞. The fit returns
    that limit (bias −inf, weight 0), and there the full gradient of J vanishes."""
    X, y, _ = _data(6, N=50, C=2)                    # classes 0, 1 of n_classes = 4
    m = fit_logreg(X, y, 4, 0.1)
    assert np.all(m.bias[2:] == -np.inf) and np.all(m.weight[2:] == 0)
    loss, dW, db = logreg_loss(m.weight, m.bias, X, y, 0.1)
    assert np.isfinite(loss) and loss == pytest.approx(m.loss, rel=1e-12)
    assert np.abs(dW).max() < 1e-5 and np.abs(db).max() < 1e-5


def test_an_all_zero_column_gets_zero_weight_and_changes_nothing_else():
    X, y, _ = _data(7)
    X0 = np.insert(X, 2, 0.0, axis=1)
    a, b = fit_logreg(X, y, 3, 0.05), fit_logreg(scipy.sparse.csr_matrix(X0), y, 3, 0.05)
    assert np.all(b.weight[:, 2] == 0)
    np.testing.assert_allclose(np.delete(b.weight, 2, axis=1), a.weight, atol=1e-8)


def test_huge_penalty_predicts_the_training_majority():
    X, y, _ = _data(2)
    y[:25] = 1                                      # class 1 is the clear majority
    m = fit_logreg(X, y, 3, 1e6)
    assert np.abs(m.weight).max() < 1e-4
    assert np.all(predict(m, X) == 1)


def test_separable_clusters_are_fitted_exactly_and_deterministically():
    rng = np.random.default_rng(3)
    centers = 5 * np.eye(4)[:, :3].T                 # 3 classes on orthogonal axes
    y = rng.integers(0, 3, size=90)
    X = centers[y] + 0.3 * rng.standard_normal((90, 4))
    a, b = fit_logreg(X, y, 3, 1e-3), fit_logreg(X, y, 3, 1e-3)
    assert np.all(predict(a, X) == y)
    np.testing.assert_array_equal(a.weight, b.weight)
    np.testing.assert_array_equal(a.bias, b.bias)


def test_iteration_cap_and_float32_input():
    X, y, _ = _data(4)
    m = fit_logreg(X.astype(np.float32), y, 3, 0.0, max_iter=3)
    assert m.n_iter <= 3 and m.weight.dtype == np.float64 and m.weight.shape == (3, 6)


def test_unseen_class_is_never_predicted_and_ties_go_to_the_lowest_index():
    X, y, _ = _data(5)
    y = np.where(y == 2, 0, y)                       # class 2 absent from the training labels
    assert not np.any(predict(fit_logreg(X, y, 3, 0.1), X) == 2)
    m = fit_logreg(X, y, 3, 0.1)
    m.weight[:], m.bias[:] = 0, 0
    assert np.all(predict(m, X) == 0)


@pytest.mark.parametrize("N,D,sparse", [(20, 50, False), (20, 50, True), (60, 6, False), (60, 6, True)])
def test_principal_axes_change_nothing_but_the_parametrisation(N, D, sparse, monkeypatch):
    """prepare() fits on X's principal axes when min(N, D) ≤ GRAM_MAX (via XᵀX for N ≥ D, via
    XXᵀ for N < D, the optimal W lying in X's row space): the same optimum as fitting X's
    columns directly (GRAM_MAX = 0). Both are solved far past the probe's stop rule
    (|∂J/∂θ| ≤ 1e-12, or until J stops changing in float64), so what is compared is the
    optimum, not where L-BFGS stopped: equal to 1e-6 (at the probe's own stop: ~5e-5)."""
    from tinybt.probe import logreg

    monkeypatch.setattr(logreg, "GTOL", 1e-12)
    X, y, _ = _data(8, N=N, D=D, density=0.5)
    X = scipy.sparse.csr_matrix(X) if sparse else X
    axes = fit_logreg(X, y, 3, 0.1, max_iter=5000)
    assert logreg.prepare(X, y, 3).basis is not None
    monkeypatch.setattr(logreg, "GRAM_MAX", 0)
    assert logreg.prepare(X, y, 3).basis is None
    direct = fit_logreg(X, y, 3, 0.1, max_iter=5000)
    np.testing.assert_allclose(axes.weight, direct.weight, atol=1e-6)
    np.testing.assert_allclose(axes.bias, direct.bias, atol=1e-6)
    assert axes.loss == pytest.approx(direct.loss, rel=1e-12)


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 40), st.integers(1, 30), st.floats(0.05, 0.6), st.integers(0, 2**16), st.booleans())
def test_the_lean_sparse_helpers_give_scipys_results_bit_for_bit(n, d, density, seed, zeros):
    """column_means and nonzero_columns replace scipy calls that copy X several times; the fits
    must not change, so the same numbers in the same order: equal, not close. The input is
    scaled the way linear_probe standardises it (X @ diags leaves each row's columns unsorted)."""
    rng = np.random.default_rng(seed)
    X = scipy.sparse.random(n, d, density=density, format="csr", random_state=seed)
    X.data = np.log1p(rng.integers(1, 6, X.nnz)).astype(float)
    X = X @ scipy.sparse.diags(1 / rng.uniform(0.1, 3, d))
    if zeros and X.nnz:
        X.data[rng.integers(0, X.nnz)] = 0.0                  # an explicit zero: a column may hold no nonzero
    for squares in (False, True):
        ref = X.multiply(X) if squares else X
        assert np.array_equal(column_means(X, squares), np.asarray(ref.mean(axis=0)).ravel())
    Z, cols = nonzero_columns(X)
    assert np.array_equal(cols, np.unique(X.indices[X.data != 0]))
    ref = X[:, cols]
    for part in ("data", "indices", "indptr"):
        assert np.array_equal(getattr(Z, part), getattr(ref, part))
    if not zeros and X.nnz:
        assert np.shares_memory(Z.data, X.data), "the values must be shared, not copied"
