"""Next-item retrieval: Recall@K and NDCG@K of each user's future items (docs/protocol.md).

For user u every item i = 1..V gets a score; the items of u's whole history (not only
the last max_len the encoder sees) are removed from the ranking and from the targets,
and the K best of the rest (ties → the lower item id) are compared with the target set
T_u = future items − history items:
    Recall@K = |top K ∩ T_u| / min(K, |T_u|)            (1 for a perfect ranking)
    NDCG@K   = Σ_{r ≤ K, item r ∈ T_u} 1/log2(r + 1)  /  Σ_{r ≤ min(K, |T_u|)} 1/log2(r + 1)
Users with an empty T_u get NaN (the caller drops them).

Scores: an encoder's user vector u and its item embedding table E give
cos(u, E_i), the dual encoder's training score (it learns cosine / τ). Barlow Twins
never scores items; it gets the same cosine, so the two objectives differ only in how
they trained. Most popular: the number of times an item occurs in all users' histories
(never a future window), the same for every user.
"""

import numpy as np

K = 10
BLOCK_BYTES = 1 << 25   # one block's (rows, V+2) float64 score matrix: 32 MiB whatever the user count


def cosine_scorer(user_vectors, item_emb):
    """-> score(rows) (n, V+2): cos(u, E_i) for item ids 0..V+1 (0 and V+1 are masked later)."""
    U = np.asarray(user_vectors, np.float64)
    E = np.asarray(item_emb, np.float64)
    U = U / np.maximum(np.linalg.norm(U, axis=1, keepdims=True), 1e-12)
    E = E / np.maximum(np.linalg.norm(E, axis=1, keepdims=True), 1e-12)
    return lambda rows: U[rows] @ E.T


def popularity_scorer(seqs):
    """-> score(rows): history counts of every item id, the same row for every user."""
    counts = np.bincount(seqs.seen_values, minlength=seqs.n_items + 2).astype(np.float64)
    return lambda rows: np.broadcast_to(counts, (len(rows), len(counts)))


def block_rows(n_items):
    """Users per block, so that a block's score matrix stays within BLOCK_BYTES."""
    return max(1, BLOCK_BYTES // (8 * (n_items + 2)))


def _ragged_cells(values, offsets, rows):
    """(block row, item id) of every entry of the ragged sets of `rows`, flat."""
    starts, lengths = offsets[rows], offsets[rows + 1] - offsets[rows]
    within = np.arange(lengths.sum()) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    return np.repeat(np.arange(len(rows)), lengths), values[np.repeat(starts, lengths) + within]


def _block_metrics(S, seen, future, k, discount):
    """S (b, V+2) scores of one block (modified in place); seen / future: _ragged_cells."""
    b = len(S)
    S[:, [0, S.shape[1] - 1]] = -np.inf                        # padding and [MASK] are not items
    S[seen] = -np.inf
    target = np.zeros(S.shape, bool)
    target[future] = True
    target[seen] = False
    n_target = target.sum(axis=1)
    # every item tied with the k-th best, then the k best of those (ties → lower id);
    # -inf items (seen, or fewer than k left) are never ranked
    kth = np.partition(S, -k, axis=1)[:, -k]
    r, c = np.nonzero((S >= kth[:, None]) & np.isfinite(S))
    order = np.lexsort((c, -S[r, c], r))
    r, c = r[order], c[order]
    rank = np.arange(len(r)) - np.searchsorted(r, r)
    keep = rank < k
    r, c, rank = r[keep], c[keep], rank[keep]
    hit = target[r, c]
    m = np.minimum(k, n_target)
    ideal = np.concatenate([[0.0], np.cumsum(discount)])[m]
    with np.errstate(invalid="ignore", divide="ignore"):      # no target: NaN, dropped by the caller
        recall = np.bincount(r[hit], minlength=b) / np.where(m > 0, m, np.nan)
        ndcg = np.bincount(r[hit], weights=discount[rank[hit]], minlength=b) / np.where(m > 0, ideal, np.nan)
    return recall, ndcg


def retrieval_metrics(score, seqs, rows, k=K, tick=None):
    """score(rows) -> (n, V+2) as above; rows int (N,) of seqs. Returns (recall (N,), ndcg (N,)).
    Runs in blocks of block_rows(V) users (bounded memory); tick(n) after each block."""
    rows = np.asarray(rows, np.int64)
    k = min(k, seqs.n_items)
    discount = 1.0 / np.log2(np.arange(2, k + 2))
    recall, ndcg = np.full(len(rows), np.nan), np.full(len(rows), np.nan)
    step = block_rows(seqs.n_items)
    for start in range(0, len(rows), step):
        block = rows[start:start + step]
        S = np.array(score(block), dtype=np.float64)
        seen = _ragged_cells(seqs.seen_values, seqs.seen_offsets, block)
        future = _ragged_cells(seqs.fut_values, seqs.fut_offsets, block)
        recall[start:start + step], ndcg[start:start + step] = _block_metrics(S, seen, future, k, discount)
        if tick:
            tick(len(block))
    return recall, ndcg
