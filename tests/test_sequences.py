"""User sequences: time order, filter, split, history/future cut, re-indexing, ragged storage."""

from dataclasses import replace

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from tinybt.data.dataset import Dataset
from tinybt.data.sequences import build_sequences, split_users
from tinybt.errors import TinyBTError


def dataset_from_rows(rows, n_users, n_items, genres=None, name="tiny", demographics=None):
    """Dataset from (user, item, rating, timestamp) rows; genres: per-item lists of indices."""
    u, i, r, t = (np.array(c) for c in zip(*rows))
    genres = genres if genres is not None else [[0]] * n_items
    n_genres = max([g for gs in genres for g in gs], default=0) + 1
    return Dataset(
        name=name, user=u.astype(np.int64), item=i.astype(np.int64),
        rating=r.astype(np.float32), timestamp=t.astype(np.int64),
        user_keys=np.arange(n_users) + 100, item_keys=np.arange(n_items) + 1000,
        genre_offsets=np.concatenate([[0], np.cumsum([len(g) for g in genres])]).astype(np.int64),
        genre_values=np.array([g for gs in genres for g in gs], np.int32),
        genre_names=np.array([f"g{k}" for k in range(n_genres)]),
        demographics={k: np.asarray(v, np.int8) for k, (v, _) in (demographics or {}).items()},
        demographic_names={k: names for k, (_, names) in (demographics or {}).items()})


def test_order_filter_cut_and_reindex():
    rows = [  # user 0: 6 interactions with a timestamp tie (file order must win), shuffled rows
        (0, 5, 1, 30), (0, 2, 2, 10), (0, 7, 3, 20), (0, 3, 4, 20), (0, 1, 5, 50), (0, 0, 4, 40),
        (1, 6, 3, 1), (1, 4, 3, 2),                               # user 1: dropped (< 5)
        (2, 0, 1, 5), (2, 1, 2, 4), (2, 2, 3, 3), (2, 3, 4, 2), (2, 5, 5, 1)]
    ds = dataset_from_rows(rows, n_users=3, n_items=8)
    seq = build_sequences(ds, max_len=3)
    assert list(seq.users) == [0, 2]
    # items 4 and 6 only appear for the dropped user -> no id; the rest 1..6 in item order
    assert list(seq.item_index) == [1, 2, 3, 4, 0, 5, 0, 6]
    assert seq.n_items == 6 and seq.mask_id == 7
    assert list(seq.item_of_id) == [-1, 0, 1, 2, 3, 5, 7]
    # user 0 in time order: items 2, 7, 3 (tie at t=20 keeps file order), 5, 0, 1
    # L = 6 -> history floor(4.8) = 4 items, last max_len = 3 of them: 7, 3, 5; future 0, 1
    idx = seq.item_index
    assert list(seq.history(0)) == list(idx[[7, 3, 5]])
    assert list(seq.future(0)) == list(idx[[0, 1]])
    assert list(seq.fut_ratings[seq.fut_offsets[0]:seq.fut_offsets[1]]) == [4, 5]
    # user 2: L = 5 -> history 4 (last 3 kept), future 1
    assert list(seq.history(1)) == list(idx[[3, 2, 1]])
    assert list(seq.future(1)) == list(idx[[0]])
    assert seq.hist_values.dtype == np.int32 and seq.fut_values.dtype == np.int32
    assert seq.hist_offsets.dtype == np.int64 and seq.fut_ratings.dtype == np.float32
    assert list(seq.hist_offsets) == [0, 3, 6] and list(seq.fut_offsets) == [0, 2, 3]


def test_empty_after_filtering_names_the_dataset():
    ds = dataset_from_rows([(0, 0, 1, 1), (0, 1, 1, 2), (1, 0, 1, 1)], 2, 2, name="ml-1m")
    with pytest.raises(TinyBTError, match=r"'ml-1m'.*no user has >= 5 interactions"):
        build_sequences(ds)


def test_bad_arguments():
    ds = dataset_from_rows([(0, 0, 1, 1)], 1, 1)
    for kw in ({"max_len": 0}, {"min_interactions": 1}, {"history_frac": 1.0}):
        with pytest.raises(ValueError):
            build_sequences(ds, **kw)


def test_split_sizes_seeded_and_rows():
    split = split_users(1000, seed=3)
    assert list(np.bincount(split)) == [800, 100, 100]
    assert np.array_equal(split, split_users(1000, seed=3))
    assert not np.array_equal(split, split_users(1000, seed=4))
    assert list(np.bincount(split_users(3, 0), minlength=3)) == [1, 1, 1]
    assert list(np.bincount(split_users(2, 0), minlength=3)) == [2, 0, 0]
    rows = [(u, i, 3, i) for u in range(20) for i in range(5)]
    seq = build_sequences(dataset_from_rows(rows, 20, 5), split_seed=1)
    assert np.array_equal(seq.rows("val"), seq.rows(1))
    assert np.array_equal(np.sort(np.concatenate([seq.rows(s) for s in range(3)])), np.arange(20))
    with pytest.raises(ValueError):
        seq.rows("dev")


@st.composite
def interactions(draw):
    n_users, n_items = draw(st.integers(1, 6)), draw(st.integers(1, 8))
    n = draw(st.integers(1, 60))
    user = draw(st.lists(st.integers(0, n_users - 1), min_size=n, max_size=n))
    item = draw(st.lists(st.integers(0, n_items - 1), min_size=n, max_size=n))
    time = draw(st.lists(st.integers(0, 5), min_size=n, max_size=n))   # many ties
    return [(u, i, 1 + k % 5, t) for k, (u, i, t) in enumerate(zip(user, item, time))], \
        n_users, n_items


@given(interactions(), st.integers(1, 6), st.integers(2, 6))
@settings(max_examples=150, deadline=None)
def test_history_plus_future_is_the_time_ordered_timeline(data, max_len, min_inter):
    rows, n_users, n_items = data
    ds = dataset_from_rows(rows, n_users, n_items)
    counts = np.bincount(ds.user, minlength=n_users)
    if counts.max() < min_inter:
        with pytest.raises(TinyBTError):
            build_sequences(ds, max_len=max_len, min_interactions=min_inter)
        return
    seq = build_sequences(ds, max_len=max_len, min_interactions=min_inter)
    assert list(seq.users) == list(np.flatnonzero(counts >= min_inter))
    for r, u in enumerate(seq.users):
        mine = sorted((t, k) for k, (uu, _, _, t) in enumerate(rows) if uu == u)  # stable
        timeline = [seq.item_index[rows[k][1]] for _, k in mine]
        L = len(timeline)
        h = min(max(int(0.8 * L), 1), L - 1)
        assert list(seq.history(r)) == timeline[:h][-max_len:]
        assert list(seq.future(r)) == timeline[h:]
        assert len(seq.future(r)) >= 1
    assert seq.hist_values.min() >= 1 and seq.hist_values.max() <= seq.n_items
    assert np.array_equal(seq.item_index[seq.item_of_id[1:]], np.arange(1, seq.n_items + 1))


def test_compact_read_only_columns_and_the_lexsort_fallback_agree():
    rng = np.random.default_rng(3)
    rows = [(int(u), int(i), 3, int(t)) for u, i, t in
            zip(rng.integers(0, 6, 200), rng.integers(0, 30, 200), rng.integers(0, 6, 200))]
    ds = dataset_from_rows(rows, 6, 30)
    compact = replace(ds, user=ds.user.astype(np.int32), item=ds.item.astype(np.int32))
    for a in (compact.user, compact.item, compact.timestamp, compact.rating):
        a.flags.writeable = False                               # as the memory-mapped parse cache
    wide = replace(ds, timestamp=ds.timestamp * 2**60)          # users x time span overflows int64
    want = build_sequences(ds, max_len=4)
    for other in (compact, wide):
        got = build_sequences(other, max_len=4)
        for k in ("hist_values", "hist_offsets", "fut_values", "fut_offsets", "fut_ratings",
                  "seen_values", "seen_offsets", "users", "item_index"):
            np.testing.assert_array_equal(getattr(got, k), getattr(want, k))
