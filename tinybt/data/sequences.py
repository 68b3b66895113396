"""User sequences (docs/protocol.md): time order, filter, split, history/future cut, re-indexing.

Storage is ragged: one values array plus offsets per part, so row i's history is
hist_values[hist_offsets[i]:hist_offsets[i + 1]]. Nothing is padded to the longest user or
expanded into prefixes; batching pads one batch at a time.

Our documented choices:
- Per user, interactions sorted by timestamp, stable on ties (original row order).
- Users with fewer than `min_interactions` interactions are dropped.
- Split: a permutation seeded by `split_seed` gives round(0.1·U) val and round(0.1·U)
  test users (each at least 1 once U >= 3); the rest are train.
- A user with L interactions has a history of h = clip(floor(history_frac·L), 1, L-1)
  items and a future of L - h >= 1 items; the encoder sees the last `max_len` of the history.
- Item ids: every dataset item with an interaction after filtering gets an id 1..V in
  dataset item order; 0 is padding, V+1 is [MASK].
"""

from dataclasses import dataclass

import numpy as np

from ..errors import TinyBTError

SPLITS = {"train": 0, "val": 1, "test": 2}


@dataclass
class Sequences:
    dataset: str
    hist_values: np.ndarray   # (sum of history lengths,) int32 ids 1..V
    hist_offsets: np.ndarray  # (U+1,) int64
    fut_values: np.ndarray    # (sum of future lengths,) int32 ids 1..V
    fut_offsets: np.ndarray   # (U+1,) int64
    fut_ratings: np.ndarray   # (sum of future lengths,) float32, aligned with fut_values
    users: np.ndarray         # (U,) int64 dense dataset user index of each row
    split: np.ndarray         # (U,) int8: 0 train, 1 val, 2 test
    n_items: int              # V
    item_index: np.ndarray    # (dataset items,) int64: dataset item -> 1..V, 0 if unused
    item_of_id: np.ndarray    # (V+1,) int64: id -> dataset item (-1 for padding id 0)
    seen_values: np.ndarray   # (sum of full history lengths,) int32: the whole history, not only
    seen_offsets: np.ndarray  # (U+1,) int64    its last max_len items (retrieval excludes all of it)

    @property
    def mask_id(self):
        return self.n_items + 1

    @property
    def n_users(self):
        return len(self.users)

    def history(self, i):
        return self.hist_values[self.hist_offsets[i]:self.hist_offsets[i + 1]]

    def future(self, i):
        return self.fut_values[self.fut_offsets[i]:self.fut_offsets[i + 1]]

    def rows(self, split):
        """Row indices of one split, given as 0/1/2 or "train"/"val"/"test"."""
        code = SPLITS.get(split, split)
        if code not in (0, 1, 2):
            raise ValueError(f"split must be one of {list(SPLITS)} or 0/1/2, got {split!r}")
        return np.flatnonzero(self.split == code)


def _ragged(values, row, n_rows):
    """Values already grouped by row (ascending) -> (values, offsets)."""
    offsets = np.zeros(n_rows + 1, np.int64)
    np.cumsum(np.bincount(row, minlength=n_rows), out=offsets[1:])
    return values, offsets


def split_users(n, seed):
    """Seeded 80/10/10 split of n users -> int8 (n,) of 0/1/2."""
    n_hold = max(1, round(0.1 * n)) if n >= 3 else 0
    split = np.zeros(n, np.int8)
    perm = np.random.default_rng(seed).permutation(n)
    split[perm[n - 2 * n_hold:n - n_hold]] = 1
    split[perm[n - n_hold:]] = 2
    return split


def build_sequences(ds, max_len=50, min_interactions=5, split_seed=0, history_frac=0.8):
    """Cut every user's timeline of `ds` into a history and a future (see module doc)."""
    if max_len < 1 or min_interactions < 2 or not 0 < history_frac < 1:
        raise ValueError("build_sequences needs max_len >= 1, min_interactions >= 2 (a history "
                         "and a future) and 0 < history_frac < 1")
    order = np.lexsort((ds.timestamp, ds.user))       # lexsort is stable: ties keep file order
    user, item = ds.user[order], ds.item[order]
    count = np.bincount(user, minlength=ds.n_users)
    kept = np.flatnonzero(count >= min_interactions)
    if len(kept) == 0:
        raise TinyBTError(f"dataset {ds.name!r}: no user has >= {min_interactions} interactions "
                          f"({ds.n_users} users, {len(ds.user)} interactions)")
    row_of_user = np.full(ds.n_users, -1, np.int64)
    row_of_user[kept] = np.arange(len(kept))
    sel = row_of_user[user] >= 0
    order, user, item = order[sel], user[sel], item[sel]
    row = row_of_user[user]

    used = np.zeros(ds.n_items, bool)
    used[item] = True
    item_index = np.zeros(ds.n_items, np.int64)
    item_index[used] = np.arange(1, used.sum() + 1)
    item_of_id = np.concatenate([[-1], np.flatnonzero(used)])

    length = count[kept]
    h = np.clip(np.floor(history_frac * length).astype(np.int64), 1, length - 1)
    start = np.concatenate([[0], np.cumsum(length)[:-1]])
    pos = np.arange(len(row)) - start[row]               # position within the user's timeline
    in_hist = (pos < h[row]) & (pos >= h[row] - max_len)
    in_fut = pos >= h[row]
    ids = item_index[item].astype(np.int32)
    hist_values, hist_offsets = _ragged(ids[in_hist], row[in_hist], len(kept))
    fut_values, fut_offsets = _ragged(ids[in_fut], row[in_fut], len(kept))
    seen_values, seen_offsets = _ragged(ids[pos < h[row]], row[pos < h[row]], len(kept))
    return Sequences(
        dataset=ds.name, hist_values=hist_values, hist_offsets=hist_offsets,
        fut_values=fut_values, fut_offsets=fut_offsets,
        fut_ratings=ds.rating[order[in_fut]].astype(np.float32),
        users=kept.astype(np.int64), split=split_users(len(kept), split_seed),
        n_items=int(used.sum()), item_index=item_index, item_of_id=item_of_id,
        seen_values=seen_values, seen_offsets=seen_offsets)
