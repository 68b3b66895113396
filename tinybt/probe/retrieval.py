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
_CHUNK = 512          # users per block: a (chunk, V) score matrix


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


def _ragged_sets(values, offsets, rows):
    return [values[offsets[r]:offsets[r + 1]] for r in rows]


def retrieval_metrics(score, seqs, rows, k=K):
    """score(rows) -> (n, V+2) as above; rows int (N,) of seqs. Returns (recall (N,), ndcg (N,))."""
    rows = np.asarray(rows)
    k = min(k, seqs.n_items)
    seen = _ragged_sets(seqs.seen_values, seqs.seen_offsets, rows)
    future = _ragged_sets(seqs.fut_values, seqs.fut_offsets, rows)
    discount = 1.0 / np.log2(np.arange(2, k + 2))
    recall, ndcg = np.full(len(rows), np.nan), np.full(len(rows), np.nan)
    for start in range(0, len(rows), _CHUNK):
        S = np.array(score(rows[start:start + _CHUNK]), dtype=np.float64)
        S[:, [0, seqs.n_items + 1]] = -np.inf                     # padding and [MASK] are not items
        for i in range(len(S)):
            u = start + i
            S[i, seen[u]] = -np.inf
            targets = np.setdiff1d(future[u], seen[u])
            if len(targets) == 0:
                continue
            # the k best, ties → lower id: lexsort's last key is the primary one
            cand = np.flatnonzero(S[i] >= np.partition(S[i], -k)[-k])     # every item tied with the k-th
            top = cand[np.lexsort((cand, -S[i, cand]))][:k]
            top = top[np.isfinite(S[i, top])]
            hit = np.isin(top, targets)
            m = min(k, len(targets))
            recall[u] = hit.sum() / m
            ndcg[u] = discount[:len(top)][hit].sum() / discount[:m].sum()
    return recall, ndcg
