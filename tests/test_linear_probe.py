"""The linear probe on data whose answer is known, its label subsets, and the bag-of-items features."""

import json

import numpy as np
import pytest
import scipy.sparse
from hypothesis import given, settings
from hypothesis import strategies as st

from tinybt.errors import TinyBTError
from tinybt.probe.bag_of_items import bag_of_items
from tinybt.probe.linear_probe import label_subset, probe, subset_size


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


def test_separable_clusters_reach_about_100_percent():
    X, y, split = _clusters(0)
    r = probe(X, y, split, label_fractions=(0.1, 1.0), seeds=3)
    assert r["n_classes"] == 4
    for fr in r["fractions"]:
        assert fr["accuracy"]["mean"] >= 0.99
        assert fr["majority"]["mean"] < 0.4


def test_pure_noise_labels_score_about_the_majority_rate():
    rng = np.random.default_rng(1)
    U = 4000
    X = rng.standard_normal((U, 16))
    y = (rng.random(U) < 0.3).astype(np.int64)      # 70 / 30, independent of X
    r = probe(X, y, _split(rng, U, (0.5, 0.25, 0.25)), label_fractions=(0.1, 1.0), seeds=3)
    for fr in r["fractions"]:
        maj = fr["majority"]["mean"]
        assert abs(maj - 0.7) < 0.03
        assert maj - 0.04 <= fr["accuracy"]["mean"] <= maj + 0.02


def test_l2_choice_collapses_to_the_majority_on_tiny_noise_and_not_on_clean_data():
    """A penalty of 1e3 shrinks W to ~0 (predict the train majority); 1e-4 barely
    regularises. On 12 noisy rows in 50 dims the small penalty interpolates noise and
    the val set prefers the majority; on clean clusters the small penalty is ~perfect."""
    rng = np.random.default_rng(2)
    U = 1000
    X = rng.standard_normal((U, 50))
    y = (rng.random(U) < 0.15).astype(np.int64)
    split = np.full(U, 1, np.int8)
    split[:12], split[-300:] = 0, 2
    y[:12] = [0] * 10 + [1] * 2
    noisy = probe(X, y, split, l2_grid=(1e-4, 1e3), label_fractions=(1.0,))
    assert _fraction(noisy, 1.0)["runs"]["l2"] == [1e3]
    Xc, yc, sc = _clusters(3)
    clean = probe(Xc, yc, sc, l2_grid=(1e-4, 1e3), label_fractions=(1.0,))
    assert _fraction(clean, 1.0)["runs"]["l2"] == [1e-4]


def test_equal_val_accuracy_keeps_the_larger_penalty():
    X, y, split = _clusters(4, sep=20.0)
    r = probe(X, y, split, l2_grid=(1e-4, 1e-3, 1e-2), label_fractions=(1.0,))
    fr = _fraction(r, 1.0)
    assert fr["runs"]["val_accuracy"] == [1.0] and fr["runs"]["l2"] == [1e-2]


def test_deterministic_json_and_full_fraction_runs_once():
    X, y, split = _clusters(5, sep=1.0)
    a = probe(X, y, split, label_fractions=(0.05, 1.0), seeds=3, seed=7)
    b = probe(X, y, split, label_fractions=(0.05, 1.0), seeds=3, seed=7)
    assert a == b and json.loads(json.dumps(a)) == a
    few, full = _fraction(a, 0.05), _fraction(a, 1.0)
    assert few["n_runs"] == 3 and len(few["runs"]["accuracy"]) == 3
    assert full["n_runs"] == 1 and full["accuracy"]["std"] == 0.0
    assert full["n_train"] == a["n_train"] == int(np.sum(split == 0))
    c = probe(X, y, split, label_fractions=(0.05,), seeds=3, seed=8)
    assert c["fractions"][0]["runs"] != few["runs"]


def test_unknown_labels_are_the_same_as_absent_users():
    X, y, split = _clusters(6, sep=1.5)
    y = y.copy()
    y[::7] = -1
    X[::7] = 1e6                                      # would wreck the standardisation if used
    keep = y >= 0
    kw = dict(label_fractions=(0.1, 1.0), seeds=2)
    assert probe(X, y, split, **kw) == probe(X[keep], y[keep], split[keep], **kw)


def test_sparse_features_give_the_dense_accuracy():
    """Sparse input is scaled without centring; the unpenalised bias absorbs the shift,
    so the optimum's predictions are the same as with dense (centred) input."""
    rng = np.random.default_rng(7)
    U, D = 800, 30
    y = rng.integers(0, 3, size=U)
    X = rng.poisson(0.3 + 1.5 * np.eye(3)[y] @ (rng.random((3, D)) < 0.2), size=(U, D)).astype(float)
    split = _split(rng, U)
    kw = dict(label_fractions=(1.0,), l2_grid=(1e-2, 1e-1))
    dense, sparse = probe(X, y, split, **kw), probe(scipy.sparse.csr_matrix(X), y, split, **kw)
    fd, fs = _fraction(dense, 1.0), _fraction(sparse, 1.0)
    assert fd["runs"]["l2"] == fs["runs"]["l2"]
    assert fd["accuracy"]["mean"] == pytest.approx(fs["accuracy"]["mean"], abs=1.5 / dense["n_test"])
    assert fd["accuracy"]["mean"] > 0.8


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


def test_report_val_scores_the_same_fits_on_val_users():
    X, y, split = _clusters(3, U=400, sep=1.0)
    test, val = (probe(X, y, split, label_fractions=(0.1, 1.0), seeds=3, report=r) for r in ("test", "val"))
    yva, ytr = y[split == 1], y[split == 0]
    for ft, fv in zip(test["fractions"], val["fractions"]):
        assert ft["runs"]["l2"] == fv["runs"]["l2"]                   # the same fits...
        assert fv["runs"]["accuracy"] == ft["runs"]["val_accuracy"]   # ...scored on val users
    full = _fraction(val, 1.0)                                         # all train labels: one fit
    assert full["majority"]["mean"] == np.mean(yva == np.argmax(np.bincount(ytr)))


@pytest.mark.parametrize("kwargs, message", [
    (dict(label_fractions=(0.0,)), "label fraction"),
    (dict(l2_grid=()), "L2 grid"),
    (dict(seeds=0), "seeds"),
    (dict(report="train"), "report"),
])
def test_bad_settings_are_clear_errors(kwargs, message):
    X, y, split = _clusters(8, U=60)
    with pytest.raises(TinyBTError, match=message):
        probe(X, y, split, **kwargs)


def test_bad_inputs_are_clear_errors():
    X, y, split = _clusters(9, U=60)
    with pytest.raises(TinyBTError, match="must both be"):
        probe(X, y[:-1], split)
    with pytest.raises(TinyBTError, match="val"):
        probe(X, y, np.where(split == 1, 0, split))
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
    assert r["fractions"][0]["accuracy"]["mean"] > 0.9
