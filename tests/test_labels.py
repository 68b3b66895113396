"""Downstream labels on tiny hand-made datasets whose answers are known."""

import numpy as np
import pytest

from tinybt.data.labels import TASKS, default_tasks, make_labels
from tinybt.data.sequences import build_sequences
from tinybt.errors import TinyBTError
from test_sequences import dataset_from_rows


def timeline(user, items, ratings=None):
    """5 interactions of `user`: 4 history items 0..3 ... plus `items` as the future."""
    ratings = ratings or [3] * len(items)
    hist = [(user, 0, 3, t) for t in range(4 * len(items))]   # L = 5k -> future = last k
    return hist + [(user, i, r, 100 + t) for t, (i, r) in enumerate(zip(items, ratings))]


def build(rows, n_users, n_items, genres=None, train=None, **kw):
    ds = dataset_from_rows(rows, n_users, n_items, genres, **kw)
    seq = build_sequences(ds)
    if train is not None:                     # pin the split so statistics are known
        seq.split = np.where(np.isin(np.arange(seq.n_users), train), 0, 2).astype(np.int8)
    return ds, seq


def test_favorite_genre_shares_ties_and_unknown():
    genres = [[0], [1, 2], [1], [2], [], [0, 1, 2]]
    rows = (timeline(0, [1, 3])        # g1: 1/2, g2: 1/2 + 1 -> genre 2
            + timeline(1, [1, 2])      # g1: 1/2 + 1 = 1.5, g2: 1/2 -> genre 1
            + timeline(2, [0, 3])      # tie g0 = g2 = 1 -> lowest, genre 0
            + timeline(3, [4])         # future item has no genre -> -1
            + timeline(4, [5, 5, 5])   # 3 x 1/3 to each of 3 genres: exact tie -> 0
            + timeline(5, [5, 1, 3]))  # 1/3 + (1/3 + 1/2) + (1/3 + 1/2 + 1): g2 wins
    ds, seq = build(rows, 6, 6, genres)
    y, names = make_labels(ds, seq, "favorite_genre")
    assert y.dtype == np.int64
    assert y.tolist() == [2, 1, 0, -1, 0, 2] and names == ["g0", "g1", "g2"]


def test_yelp_keeps_the_20_most_frequent_categories():
    # 22 categories; 20 and 21 are carried by two businesses each, all others by 3 or 4
    genres = [[g] for g in range(20)] * 3 + [[20, 5], [21], [20, 21]]
    rows = (timeline(0, [60, 60])      # categories 20 (dropped) and 5: only 5 counts -> 5
            + timeline(1, [61])        # only category 21 (dropped) -> unknown
            + timeline(2, [62, 3]))    # 20 and 21 dropped -> 3
    for name, expected in [("yelp", [5, -1, 3]), ("other", [5, 21, 3])]:
        ds, seq = build(rows, 3, len(genres), genres, name=name)
        y, names = make_labels(ds, seq, "favorite_genre")
        assert y.tolist() == expected
    ds, seq = build(rows, 3, len(genres), genres, name="yelp")
    assert make_labels(ds, seq, "favorite_genre")[1] == [f"g{k}" for k in range(20)]


def test_rating_level_uses_the_train_median():
    rows = (timeline(0, [0, 0], [1, 2])    # mean 1.5
            + timeline(1, [0, 0], [4, 4])  # mean 4
            + timeline(2, [0, 0], [3, 4])  # mean 3.5
            + timeline(3, [0, 0], [5, 5])  # test user, mean 5
            + timeline(4, [0, 0], [2, 2]))  # test user, mean 2
    ds, seq = build(rows, 5, 1, train=[0, 1, 2])   # train median = 3.5
    y, names = make_labels(ds, seq, "rating_level")
    assert y.tolist() == [0, 1, 1, 1, 0] and len(names) == 2


def test_mainstream_counts_train_interactions_only():
    # history items are item 0; future items 1 / 2 / 3 with train counts known by construction
    rows = (timeline(0, [1, 1])        # train: two interactions with item 1
            + timeline(1, [2, 1])      # train
            + timeline(2, [3, 3])      # train
            + timeline(3, [2, 2, 2]))  # test user: its own item-2 interactions do not count
    ds, seq = build(rows, 4, 4, train=[0, 1, 2])
    # train counts: item1 = 3, item2 = 1, item3 = 2 -> means 3, 2, 2; median 2; test mean 1
    y, _ = make_labels(ds, seq, "mainstream")
    assert y.tolist() == [1, 1, 1, 0]


def test_demographics_and_errors():
    demo = {"gender": ([1, -1, 0], ["F", "M"])}
    rows = timeline(0, [0]) + [(1, 0, 3, 1)] + timeline(2, [0])   # user 1 filtered out
    ds, seq = build(rows, 3, 1, demographics=demo)
    y, names = make_labels(ds, seq, "gender")
    assert y.tolist() == [1, 0] and y.dtype == np.int64 and names == ["F", "M"]
    with pytest.raises(TinyBTError, match="'tiny' has no 'age' demographics"):
        make_labels(ds, seq, "age")
    with pytest.raises(TinyBTError, match="unknown task 'genre'"):
        make_labels(ds, seq, "genre")


def test_default_tasks():
    assert default_tasks("ml-1m") == default_tasks("ml-100k") == ["gender", "age", "favorite_genre"]
    for name in ("ml-20m", "yelp", "synthetic"):
        assert default_tasks(name) == ["favorite_genre", "rating_level", "mainstream"]
    assert set(default_tasks("ml-1m")) <= set(TASKS)
