"""What one training batch is made of, drawn fresh every epoch (never materialised).

Both objectives see one example per train user per epoch:
- Barlow Twins: the user's history (last max_len items), augmented twice
  (each view draws one enabled op: crop / mask / reorder by default, segment on
  request; see tinybt.data.augment).
- Dual encoder: a random cut point t in [1, L−1] of the user's history of
  length L; the prefix is the last max_len items before t, the target the item
  at t. Users with L < 2 have no such pair and sit the dual objective out.
Everything random comes from the one training Generator, so a checkpoint of its
state reproduces the rest of the run exactly.
"""

import numpy as np

from tinybt.data.augment import augment_batch
from tinybt.data.batching import pad_batch


def history_lengths(seqs, rows):
    return seqs.hist_offsets[rows + 1] - seqs.hist_offsets[rows]


def barlow_views(seqs, rows, rng, aug, max_len):
    """rows (B,) -> ((ids1 (B, T1), lengths1), (ids2 (B, T2), lengths2))."""
    ids, lengths = pad_batch(seqs.hist_values, seqs.hist_offsets, rows, max_len)
    return (augment_batch(ids, lengths, rng, aug, seqs.mask_id),
            augment_batch(ids, lengths, rng, aug, seqs.mask_id))


def next_item_pairs(seqs, rows, rng, max_len):
    """rows (B,) of users with L >= 2 -> prefix ids (B, T), lengths (B,), targets (B,)."""
    start = seqs.hist_offsets[rows]
    t = rng.integers(1, history_lengths(seqs, rows))          # per row, uniform in [1, L−1]
    # pad_batch pads row r = values[offsets[r]:offsets[r + 1]]. With offsets
    # [start_0, start_0 + t_0, start_1, start_1 + t_1, ...], row 2b is user b's prefix
    # (the slice between the two) and the odd rows are never asked for.
    bounds = np.empty(2 * len(rows), np.int64)
    bounds[0::2], bounds[1::2] = start, start + t
    ids, lengths = pad_batch(seqs.hist_values, bounds, 2 * np.arange(len(rows)), max_len)
    return ids, lengths, seqs.hist_values[start + t].astype(np.int64)


def next_item_log_q(seqs, rows):
    """(V+2,) log of the probability that next_item_pairs draws each item as a target.

    A batch row is a uniform user u of `rows`, its target the item at a uniform t in
    [1, L_u − 1], so q_i = mean over u of (count of i among u's items 1..L_u−1) / (L_u − 1):
    exact, not a running estimate. Items never drawn get log 0 = −inf (they never occur).
    """
    lengths = history_lengths(seqs, rows)
    starts = seqs.hist_offsets[rows]
    pos = np.concatenate([np.arange(s + 1, s + n) for s, n in zip(starts, lengths)])
    weight = np.repeat(1.0 / (lengths - 1), lengths - 1) / len(rows)
    q = np.bincount(seqs.hist_values[pos], weights=weight, minlength=seqs.n_items + 2)
    with np.errstate(divide="ignore"):
        return np.log(q)
