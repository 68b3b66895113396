"""The synthetic generator: structure, determinism, and that every task is learnable."""

import numpy as np
import pytest

from tinybt.data.batching import pad_batch
from tinybt.data.labels import TASKS, make_labels
from tinybt.data.sequences import build_sequences
from tinybt.data.synthetic import generate


def test_structure():
    ds = generate(n_users=300, n_items=200, n_genres=8, mean_length=40, seed=1)
    assert ds.name == "synthetic" and ds.n_users == 300 and ds.n_items == 200
    assert ds.user.dtype == ds.item.dtype == ds.timestamp.dtype == np.int64
    assert ds.rating.dtype == np.float32 and set(np.unique(ds.rating)) <= {1, 2, 3, 4, 5}
    same_user = np.diff(ds.user) == 0
    assert (np.diff(ds.user) >= 0).all() and (np.diff(ds.timestamp)[same_user] > 0).all()
    assert len(np.unique(ds.user * ds.n_items + ds.item)) == len(ds.user)   # no repeats
    counts = np.bincount(ds.user, minlength=ds.n_users)
    assert counts.min() >= 5 and 0.75 * 40 < counts.mean() < 40 * 1.1
    k = np.diff(ds.genre_offsets)
    assert ((k >= 1) & (k <= 3)).all() and len(ds.genre_names) == 8
    for i in range(ds.n_items):
        g = ds.item_genres(i)
        assert len(set(g)) == len(g) and g.min() >= 0 and g.max() < 8
    # Zipf: the 10 % most popular items take far more than the ~10 % of a flat catalogue
    pop = np.sort(np.bincount(ds.item, minlength=ds.n_items))[::-1]
    assert pop[:20].sum() > 0.2 * pop.sum()
    for task, n in [("gender", 2), ("age", 7), ("occupation", 21)]:
        v = ds.demographics[task]
        assert len(ds.demographic_names[task]) == n and v.min() >= 0 and v.max() < n
        assert len(np.unique(v)) > 1


def test_seeded():
    a, b, c = generate(50, 40, seed=3), generate(50, 40, seed=3), generate(50, 40, seed=4)
    for key, value in a.arrays().items():
        assert np.array_equal(value, b.arrays()[key]), key
    assert not np.array_equal(a.item, c.item[:len(a.item)]) or len(a.item) != len(c.item)


def _genre_shares(ds, seq, max_len=None):
    """(U, G) mean genre share of each row's history (its last max_len items if given)."""
    k = np.diff(ds.genre_offsets)
    share = np.zeros((ds.n_items + 1, len(ds.genre_names)))   # row -1 (padding) stays 0
    np.add.at(share, (np.repeat(np.arange(ds.n_items), k), ds.genre_values), np.repeat(1 / k, k))
    ids, lengths = pad_batch(seq.hist_values, seq.hist_offsets, np.arange(seq.n_users), max_len)
    return share[seq.item_of_id[ids]].sum(1) / lengths[:, None]


def _ridge_accuracy(x, y, split):
    """One-vs-rest least squares on train rows -> accuracy on val + test rows."""
    x = np.hstack([(x - x.mean(0)) / (x.std(0) + 1e-9), np.ones((len(x), 1))])
    tr, te = (split == 0) & (y >= 0), (split > 0) & (y >= 0)
    w = np.linalg.solve(x[tr].T @ x[tr] + 1.0 * np.eye(x.shape[1]), x[tr].T @ np.eye(y.max() + 1)[y[tr]])
    return (np.argmax(x[te] @ w, 1) == y[te]).mean(), np.bincount(y[tr]).max() / tr.sum()


@pytest.fixture(scope="module")
def synthetic():
    ds = generate(n_users=3000, seed=0)
    return ds, build_sequences(ds)


def test_every_task_is_learnable_from_the_history(synthetic):
    ds, seq = synthetic
    pop = np.bincount(ds.item, minlength=ds.n_items + 1)
    ids, lengths = pad_batch(seq.hist_values, seq.hist_offsets, np.arange(seq.n_users))
    log_pop = (np.log(pop[seq.item_of_id[ids]] + 1) * (ids > 0)).sum(1) / lengths
    x = np.hstack([_genre_shares(ds, seq), _genre_shares(ds, seq, 10), log_pop[:, None]])
    for task in TASKS:
        y, names = make_labels(ds, seq, task)
        acc, majority = _ridge_accuracy(x, y, seq.split)
        margin = 0.05 if task == "gender" else 0.08     # gender's majority is ~72 %
        assert acc > majority + margin, (task, acc, majority)


def test_recent_history_beats_the_whole_bag_for_favorite_genre(synthetic):
    """Preferences drift: the last items predict the future taste better than all of them."""
    ds, seq = synthetic
    y, _ = make_labels(ds, seq, "favorite_genre")
    recent = (np.argmax(_genre_shares(ds, seq, 10), 1) == y).mean()
    whole = (np.argmax(_genre_shares(ds, seq), 1) == y).mean()
    assert recent > whole + 0.03, (recent, whole)


def test_bad_sizes():
    with pytest.raises(ValueError):
        generate(n_users=0)
