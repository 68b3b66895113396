"""Next-item retrieval metrics on a hand-computed case and a property."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tinybt.data.sequences import Sequences
from tinybt.probe import retrieval
from tinybt.probe.retrieval import BLOCK_BYTES, block_rows, cosine_scorer, popularity_scorer, retrieval_metrics


def _seqs(seen, future, V):
    """A Sequences holding only what retrieval reads: whole histories and futures (ids 1..V)."""
    def ragged(lists):
        return (np.concatenate([np.asarray(x, np.int32) for x in lists]) if lists else np.zeros(0, np.int32),
                np.concatenate([[0], np.cumsum([len(x) for x in lists])]).astype(np.int64))
    sv, so = ragged(seen)
    fv, fo = ragged(future)
    U = len(seen)
    return Sequences(dataset="toy", hist_values=sv, hist_offsets=so, fut_values=fv, fut_offsets=fo,
                     fut_ratings=np.ones(len(fv), np.float32), users=np.arange(U), split=np.zeros(U, np.int8),
                     n_items=V, item_index=np.arange(V + 1), item_of_id=np.arange(-1, V),
                     seen_values=sv, seen_offsets=so)


def test_hand_computed_case():
    # 6 items; the scorer ranks item ids by a fixed score: 6 > 5 > 4 > 3 > 2 > 1.
    seqs = _seqs(seen=[[6], [1, 2]], future=[[5, 3, 6], [2]], V=6)
    score = lambda rows: np.tile(np.arange(8, dtype=float), (len(rows), 1))   # noqa: E731
    recall, ndcg = retrieval_metrics(score, seqs, np.array([0, 1]), k=2)
    # user 0: 6 is seen (removed from ranking and targets), top 2 = [5, 4], targets {3, 5}: one hit at rank 1
    assert recall[0] == 0.5
    assert np.isclose(ndcg[0], 1.0 / (1.0 + 1.0 / np.log2(3)))
    # user 1: its only future item was seen: no target, NaN
    assert np.isnan(recall[1]) and np.isnan(ndcg[1])


def test_ties_go_to_the_lower_item_id_and_popularity_counts_histories():
    seqs = _seqs(seen=[[1, 1, 2], [3, 2]], future=[[4], [1]], V=4)
    pop = popularity_scorer(seqs)(np.array([0]))[0]
    assert pop[1:5].tolist() == [2, 2, 1, 0]
    recall, _ = retrieval_metrics(popularity_scorer(seqs), seqs, np.array([0, 1]), k=1)
    # user 0: 1, 2 seen; 3 (count 1) beats 4 (count 0): miss. user 1: 2, 3 seen; item 1: hit
    assert recall.tolist() == [0.0, 1.0]
    flat = lambda rows: np.zeros((len(rows), 6))         # noqa: E731  all tied: ids 1, 2, ... first
    assert retrieval_metrics(flat, _seqs([[4]], [[1]], 4), np.array([0]), k=1)[0].tolist() == [1.0]


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 10_000), V=st.integers(3, 40), k=st.integers(1, 12))
def test_a_perfect_scorer_gets_recall_and_ndcg_one(seed, V, k):
    rng = np.random.default_rng(seed)
    seen, future = [], []
    for _ in range(5):
        items = rng.permutation(np.arange(1, V + 1))
        h = rng.integers(1, V)
        seen.append(items[:h])
        future.append(items[h:h + rng.integers(1, V - h + 1)])
    seqs = _seqs(seen, future, V)

    def perfect(rows):                                  # targets first, every other item below them
        S = rng.random((len(rows), V + 2))
        for i, r in enumerate(rows):
            S[i, future[r]] += 10
        return S

    recall, ndcg = retrieval_metrics(perfect, seqs, np.arange(5), k=k)
    assert np.allclose(recall, 1.0) and np.allclose(ndcg, 1.0)


def test_cosine_scorer_ignores_vector_length():
    U = np.array([[1.0, 0.0], [0.0, 3.0]])
    E = np.array([[0.0, 0.0], [2.0, 0.0], [0.0, 5.0], [1.0, 1.0]])
    S = cosine_scorer(U, E)(np.array([0, 1]))
    assert np.allclose(S[:, 1:], [[1.0, 0.0, 2 ** -0.5], [0.0, 1.0, 2 ** -0.5]])


def _reference_metrics(score, seqs, rows, k):
    """The plain per-user loop: rank every item, drop the seen ones, k best with ties → lower id."""
    S = np.array(score(rows), dtype=np.float64)
    discount = 1.0 / np.log2(np.arange(2, k + 2))
    recall, ndcg = np.full(len(rows), np.nan), np.full(len(rows), np.nan)
    for i, r in enumerate(rows):
        seen = seqs.seen_values[seqs.seen_offsets[r]:seqs.seen_offsets[r + 1]]
        targets = np.setdiff1d(seqs.fut_values[seqs.fut_offsets[r]:seqs.fut_offsets[r + 1]], seen)
        items = [j for j in range(1, seqs.n_items + 1) if j not in set(seen.tolist())]
        top = sorted(items, key=lambda j: (-S[i, j], j))[:k]
        if len(targets):
            hit = np.isin(top, targets)
            m = min(k, len(targets))
            recall[i], ndcg[i] = hit.sum() / m, discount[:len(top)][hit].sum() / discount[:m].sum()
    return recall, ndcg


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 10_000), V=st.integers(2, 30), k=st.integers(1, 12), block_bytes=st.integers(1, 2000))
def test_blocks_match_the_per_user_reference_with_ties_and_short_rankings(seed, V, k, block_bytes):
    """Scores drawn from 3 values (many ties), users who have seen almost every item, any block size."""
    rng = np.random.default_rng(seed)
    seen = [rng.choice(np.arange(1, V + 1), size=rng.integers(1, V + 1)) for _ in range(7)]
    future = [rng.choice(np.arange(1, V + 1), size=rng.integers(1, V + 1)) for _ in range(7)]
    seqs = _seqs(seen, future, V)
    S = rng.integers(0, 3, size=(7, V + 2)).astype(float)
    score = lambda rows: S[rows]          # noqa: E731
    rows = rng.permutation(7)
    with pytest.MonkeyPatch.context() as mp:         # blocks of 1 .. all 7 users
        mp.setattr(retrieval, "BLOCK_BYTES", block_bytes)
        got = retrieval_metrics(score, seqs, rows, k=min(k, V))
    want = _reference_metrics(score, seqs, rows, min(k, V))
    for g, w in zip(got, want):
        assert np.array_equal(np.isnan(g), np.isnan(w)) and np.allclose(g[~np.isnan(w)], w[~np.isnan(w)])


def test_a_block_holds_at_most_block_bytes_of_scores_and_ticks_count_the_users():
    V = 150_000
    assert block_rows(V) * 8 * (V + 2) <= BLOCK_BYTES and block_rows(10 ** 9) == 1
    seqs = _seqs([[1]] * 5, [[2]] * 5, 3)
    ticks = []
    retrieval_metrics(lambda rows: np.zeros((len(rows), 5)), seqs, np.arange(5), tick=ticks.append)
    assert sum(ticks) == 5
