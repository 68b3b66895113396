"""The linear probe on data whose answer is known, its label subsets, and the bag-of-items features."""

import json

import numpy as np
import pytest
import scipy.sparse
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from tinybt.errors import TinyBTError
from tinybt.probe.bag_of_items import bag_of_items
from tinybt.probe.folds import pool_mask, stratified_folds
from tinybt.probe.linear_probe import (INNER_FOLDS, L2_GRID, TooFewLabels, choose_l2, label_subset, probe, probe_plan,
                                       probe_units, subset_size)
from tinybt.probe.logreg import fit_logreg, predict


def _split(rng, U, p=(0.6, 0.2, 0.2)):
    return rng.choice(3, size=U, p=p).astype(np.int8)


def _clusters(seed, U=600, D=8, K=4, sep=6.0):
    """K Gaussian clusters on orthogonal axes, `sep` standard deviations apart."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, K, size=U)
    X = sep * np.eye(D)[y] + rng.standard_normal((U, D))
    return X.astype(np.float32), y, _split(rng, U)


def _fraction(result, f):
    return next(fr for fr in result["fractions"] if fr["fraction"] == f)


def _acc(result, f, key="pred"):
    return float(np.mean(_fraction(result, f)[key] == result["y"]))


def test_separable_clusters_reach_about_100_percent():
    X, y, split = _clusters(0)
    r = probe(X, y, split, label_fractions=(0.1, 1.0), seeds=2)
    assert r["n_classes"] == 4
    for f in (0.1, 1.0):
        assert _acc(r, f) >= 0.99
        assert _acc(r, f, "majority") < 0.4


def test_pure_noise_labels_score_about_the_majority_rate():
    rng = np.random.default_rng(1)
    U = 2000
    X = rng.standard_normal((U, 16))
    y = (rng.random(U) < 0.3).astype(np.int64)      # 70 / 30, independent of X
    r = probe(X, y, _split(rng, U, (0.5, 0.25, 0.25)), label_fractions=(0.1, 1.0), seeds=2, l2_grid=(1e-2, 1.0))
    for f in (0.1, 1.0):
        maj = _acc(r, f, "majority")
        assert abs(maj - 0.7) < 0.03
        assert maj - 0.04 <= _acc(r, f) <= maj + 0.02


def test_memorising_features_do_not_leak_a_user_into_its_own_training_fold():
    """One-hot identity features with random labels: a probe that had seen user u's label
    (u in its own training fold) would recall it with a tiny L2; cross-validated, no
    user's column is ever trained on, so accuracy stays at the majority rate."""
    rng = np.random.default_rng(11)
    U = 300
    y = rng.integers(0, 2, size=U)
    r = probe(scipy.sparse.identity(U, format="csr"), y, np.zeros(U, np.int8), l2_grid=(1e-4,),
              label_fractions=(1.0,))
    assert _acc(r, 1.0) == pytest.approx(_acc(r, 1.0, "majority"), abs=0.05)


def test_choose_l2_collapses_to_the_largest_penalty_on_tiny_noise_and_not_on_clean_data():
    """A penalty of 1e3 shrinks W to ~0 (predict the majority); 1e-4 barely regularises.
    On 24 noisy rows in 50 dims the small penalty interpolates noise and the inner CV
    prefers the majority; on clean clusters the small penalty is ~perfect."""
    rng = np.random.default_rng(2)
    X = rng.standard_normal((24, 50))
    y = np.array([0] * 20 + [1] * 4)
    assert choose_l2(X, y, 2, (1e-4, 1e3), seed=0)[0] == 1e3
    Xc, yc, _ = _clusters(3, U=60, sep=3.0)
    assert choose_l2(Xc, yc, 4, (1e-4, 1e3), seed=0)[0] == 1e-4


def test_default_grid_lets_few_labels_on_noise_fall_back_to_the_majority():
    """Features with no signal, ~36 labelled users: the default grid reaches a nearly bias-only
    fit, so the probe predicts the labelled majority for ≥ 95 % of users (a grid ending at
    L2 = 1 does so for 92 % and scores 3 points under the majority row)."""
    rng = np.random.default_rng(3)
    X, y = rng.standard_normal((400, 64)), (rng.random(400) < 0.3).astype(int)
    split = np.where(np.arange(400) < 40, 1, 0)
    f = probe(X, y, split, label_fractions=(0.1,), seeds=5, seed=0)["fractions"][0]
    assert np.mean(f["pred"] == f["majority"]) >= 0.95


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 10_000), n=st.integers(10, 400), K=st.integers(2, 20))
def test_the_strongest_penalty_of_the_default_grid_predicts_the_majority(seed, n, K):
    """The grid ends where "nothing here" is reachable: at max(L2_GRID) the fit predicts the
    labelled rows' majority class for every user, even on features that separate the classes
    perfectly (standardised, as the probe gives them), whenever that majority is unique."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, K, size=n)
    counts = np.bincount(y, minlength=K)
    assume(np.sum(counts == counts.max()) == 1)
    X = 3.0 * rng.standard_normal((K, 64))[y] + rng.standard_normal((n, 64))
    X = (X - X.mean(0)) / X.std(0)
    model = fit_logreg(X, y, K, max(L2_GRID))
    assert np.all(predict(model, X) == np.argmax(counts))


def test_equal_inner_accuracy_keeps_the_larger_penalty_and_few_rows_take_the_largest():
    X, y, _ = _clusters(4, U=60, sep=20.0)
    assert choose_l2(X, y, 4, (1e-4, 1e-3, 1e-2), seed=0)[0] == 1e-2
    assert choose_l2(X[:5], y[:5], 4, (1e-4, 1.0), seed=0)[0] == 1.0      # too few rows to cross-validate


def test_deterministic_every_pool_user_scored_once_and_full_fraction_runs_once():
    X, y, split = _clusters(5, U=300, sep=1.0)
    a = probe(X, y, split, label_fractions=(0.05, 1.0), seeds=3, seed=7)
    b = probe(X, y, split, label_fractions=(0.05, 1.0), seeds=3, seed=7)
    for fa, fb in zip(a["fractions"], b["fractions"]):
        assert np.array_equal(fa["pred"], fb["pred"]) and fa["l2"] == fb["l2"]
    assert np.array_equal(a["users"], np.flatnonzero(split != 1))          # the report pool, in order
    few, full = _fraction(a, 0.05), _fraction(a, 1.0)
    assert few["pred"].shape == (3, len(a["users"])) and full["pred"].shape == (1, len(a["users"]))
    assert few["pred"].min() >= 0 and full["majority"].min() >= 0            # every user got a prediction
    assert sorted(set(full["n_labelled"])) == sorted(set(int(np.sum(a["fold"] != j)) for j in range(5)))
    c = probe(X, y, split, label_fractions=(0.05,), seeds=3, seed=8)
    assert not np.array_equal(c["fractions"][0]["pred"], few["pred"])


@settings(max_examples=6, deadline=None)
@given(st.integers(0, 10 ** 6), st.lists(st.sampled_from((0.02, 0.1, 0.5, 1.0)), min_size=1, max_size=3, unique=True),
       st.integers(1, 3), st.integers(2, 5))
def test_the_plan_is_the_ticks_the_probe_makes(seed, fractions, seeds, folds):
    """probe_plan, which the progress bar and the task order are built from, is exactly the
    labelled rows of each fold probe() fits, in order: a fold ticks once per fit (its inner-CV
    path and its final fit), equal parts adding up to the fold's rows."""
    X, y, split = _clusters(seed % 1000, U=120, sep=2.0)
    ticks = []
    probe(X, y, split, folds=folds, label_fractions=tuple(fractions), seeds=seeds, seed=seed, tick=ticks.append)
    plan = probe_plan(y, split, folds=folds, label_fractions=tuple(fractions), seeds=seeds, seed=seed)
    for n in plan:
        fits = 1 + (INNER_FOLDS * len(L2_GRID) if n >= 2 * INNER_FOLDS else 0)
        fold_ticks, ticks = ticks[:fits], ticks[fits:]
        assert len(fold_ticks) == fits and sum(fold_ticks) == pytest.approx(n, rel=1e-12)
        assert len(set(fold_ticks)) == 1
    assert ticks == [] and probe_units(y, split, folds=folds, label_fractions=tuple(fractions),
                                       seeds=seeds, seed=seed) == sum(plan)
    assert probe_plan(y[:6], split[:6], folds=5) == []           # too few users: probe raises, nothing to tick


def test_unknown_labels_are_the_same_as_absent_users():
    X, y, split = _clusters(6, U=300, sep=1.5)
    y = y.copy()
    y[::7] = -1
    X[::7] = 1e6                                      # would wreck the standardisation if used
    keep = y >= 0
    kw = dict(label_fractions=(0.1, 1.0), seeds=2)
    a, b = probe(X, y, split, **kw), probe(X[keep], y[keep], split[keep], **kw)
    for fa, fb in zip(a["fractions"], b["fractions"]):
        assert np.array_equal(fa["pred"], fb["pred"]) and fa["l2"] == fb["l2"]


def test_sparse_features_give_the_dense_accuracy():
    """Sparse input is scaled without centring; the unpenalised bias absorbs the shift,
    so the optimum's predictions are the same as with dense (centred) input."""
    rng = np.random.default_rng(7)
    U, D = 400, 30
    y = rng.integers(0, 3, size=U)
    X = rng.poisson(0.3 + 1.5 * np.eye(3)[y] @ (rng.random((3, D)) < 0.2), size=(U, D)).astype(float)
    split = _split(rng, U)
    kw = dict(label_fractions=(1.0,), l2_grid=(1e-2, 1e-1))
    dense, sparse = probe(X, y, split, **kw), probe(scipy.sparse.csr_matrix(X), y, split, **kw)
    assert _fraction(dense, 1.0)["l2"] == _fraction(sparse, 1.0)["l2"]
    assert _acc(dense, 1.0) == pytest.approx(_acc(sparse, 1.0), abs=1.5 / dense["n_users"])
    assert _acc(dense, 1.0) > 0.8


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10_000), n=st.integers(2, 60), K=st.integers(1, 6),
       fractions=st.lists(st.floats(0.001, 1.0), min_size=2, max_size=3))
def test_label_subsets_have_the_right_size_cover_classes_and_nest(seed, n, K, fractions):
    y = np.random.default_rng(seed).integers(0, K, size=n)
    subsets = [label_subset(y, f, np.random.default_rng(seed)) for f in sorted(fractions)]
    for f, s in zip(sorted(fractions), subsets):
        size = subset_size(f, n)
        assert len(s) == len(np.unique(s)) == size and 2 <= size <= n
        assert abs(size - f * n) <= 0.5 or size == 2
        assert np.all(np.diff(s) > 0)
        assert len(np.unique(y[s])) == min(size, len(np.unique(y)))
    for small, large in zip(subsets, subsets[1:]):
        assert set(small) <= set(large)


def test_val_pool_is_the_validation_users_and_disjoint_from_the_report_pool():
    X, y, split = _clusters(3, U=300, sep=1.0)
    val, test = (probe(X, y, split, pool=p, label_fractions=(1.0,)) for p in ("val", "test"))
    assert np.array_equal(val["users"], np.flatnonzero(split == 1))
    assert not set(val["users"]) & set(test["users"])
    assert len(val["users"]) + len(test["users"]) == len(y)
    assert not (pool_mask(split, "val") & pool_mask(split, "test")).any()
    assert (pool_mask(split, "val") | pool_mask(split, "test")).all()


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10_000), n=st.integers(5, 80), K=st.integers(1, 6), k=st.integers(2, 5))
def test_folds_are_stratified_balanced_and_deterministic(seed, n, K, k):
    y = np.random.default_rng(seed).integers(0, K, size=n)
    fold = stratified_folds(y, k, seed)
    assert np.array_equal(fold, stratified_folds(y, k, seed))
    assert set(fold.tolist()) == set(range(k))
    sizes = np.bincount(fold, minlength=k)
    assert sizes.max() - sizes.min() <= 1
    for c in np.unique(y):
        per_fold = np.bincount(fold[y == c], minlength=k)
        assert per_fold.max() - per_fold.min() <= 1


def test_too_few_users_for_the_folds_is_a_clear_error():
    with pytest.raises(TinyBTError, match="--folds: need 2 <= folds <= 3"):
        stratified_folds(np.array([0, 1, 0]), 4, seed=0)


def test_too_few_labelled_users_is_its_own_error():
    X, y, split = _clusters(8, U=60)
    with pytest.raises(TooFewLabels, match="only 6 labelled users in the val pool"):
        probe(X, y, np.where(np.arange(60) < 6, 1, 0), pool="val")


@pytest.mark.parametrize("kwargs, message", [
    (dict(label_fractions=(0.0,)), "label fraction"),
    (dict(l2_grid=()), "L2 grid"),
    (dict(seeds=0), "seeds"),
    (dict(pool="train"), "--split"),
    (dict(folds=1), "--folds"),
])
def test_bad_settings_are_clear_errors(kwargs, message):
    X, y, split = _clusters(8, U=60)
    with pytest.raises(TinyBTError, match=message):
        probe(X, y, split, **kwargs)


def test_bad_inputs_are_clear_errors():
    X, y, split = _clusters(9, U=60)
    with pytest.raises(TinyBTError, match="must both be"):
        probe(X, y[:-1], split)
    with pytest.raises(TinyBTError, match="NaN"):
        probe(np.where(X > 3, np.nan, X), y, split)
    with pytest.raises(TinyBTError, match="split"):
        probe(X, y, split + 1)


# ---- bag of items -------------------------------------------------------------------------

@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 10_000), U=st.integers(1, 8), V=st.integers(1, 6))
def test_bag_of_items_is_log1p_of_the_counts(seed, U, V):
    rng = np.random.default_rng(seed)
    lengths = rng.integers(0, 7, size=U)
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    values = rng.integers(1, V + 1, size=offsets[-1]).astype(np.int32)
    expected = np.zeros((U, V + 2))
    for u in range(U):
        for item in values[offsets[u]:offsets[u + 1]]:
            expected[u, item] += 1
    X = bag_of_items(values, offsets, V)
    assert scipy.sparse.isspmatrix_csr(X) and X.shape == (U, V + 2)
    np.testing.assert_allclose(X.toarray(), np.log1p(expected), rtol=1e-15)
    assert X.nnz == np.count_nonzero(expected)          # one entry per (user, item)


def test_bag_of_items_rejects_bad_ids_and_offsets():
    with pytest.raises(TinyBTError, match="1..3"):
        bag_of_items(np.array([1, 4], np.int32), np.array([0, 2]), 3)
    with pytest.raises(TinyBTError, match="1..3"):
        bag_of_items(np.array([0, 2], np.int32), np.array([0, 2]), 3)
    with pytest.raises(TinyBTError, match="offsets"):
        bag_of_items(np.array([1, 2], np.int32), np.array([0, 1]), 3)


def test_bag_of_items_probe_finds_item_preferences():
    """Users of class k mostly pick items from block k: the reference row must see it."""
    rng = np.random.default_rng(10)
    U, V, K = 500, 40, 4
    y = rng.integers(0, K, size=U)
    lengths = rng.integers(5, 15, size=U)
    offsets = np.concatenate([[0], np.cumsum(lengths)])
    block = np.repeat(y, lengths) * (V // K)
    own = rng.random(offsets[-1]) < 0.6
    values = np.where(own, 1 + block + rng.integers(0, V // K, size=offsets[-1]),
                      rng.integers(1, V + 1, size=offsets[-1])).astype(np.int32)
    r = probe(bag_of_items(values, offsets, V), y, _split(rng, U), label_fractions=(1.0,))
    assert _acc(r, 1.0) > 0.9
