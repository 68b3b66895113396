"""Right-padded batches from ragged sequences, and seeded per-epoch shuffling."""

import numpy as np


def pad_batch(values, offsets, rows, max_len=None):
    """Gather ragged rows into a right-padded batch.

    values (N,) ids, offsets (R+1,), rows (B,) -> ids (B, Tmax) int64 padded with 0 and
    lengths (B,) int64. Tmax is the longest row *in this batch*. With `max_len`, rows keep
    their last max_len items (the most recent ones).
    """
    rows = np.asarray(rows, np.int64)
    start, stop = offsets[rows], offsets[rows + 1]
    lengths = stop - start
    if max_len is not None:
        lengths = np.minimum(lengths, max_len)
    t = np.arange(lengths.max(initial=0))
    valid = t < lengths[:, None]
    ids = np.zeros(valid.shape, np.int64)
    ids[valid] = values[((stop - lengths)[:, None] + t)[valid]]
    return ids, lengths.astype(np.int64)


def epoch_batches(n, batch_size, rng, drop_last=False):
    """Split a fresh permutation of range(n), drawn from `rng`, into batches of batch_size."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    perm = rng.permutation(n)
    stop = n - n % batch_size if drop_last else n
    return [perm[i:i + batch_size] for i in range(0, stop, batch_size)]
