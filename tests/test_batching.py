"""Right-padded batches and seeded per-epoch shuffling."""

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from tinybt.data.batching import epoch_batches, pad_batch


@given(st.lists(st.lists(st.integers(1, 50), min_size=1, max_size=9), min_size=1, max_size=8),
       st.data(), st.one_of(st.none(), st.integers(1, 10)))
@settings(max_examples=100, deadline=None)
def test_pad_batch_rows_are_the_ragged_slices(seqs, data, max_len):
    values = np.array([v for s in seqs for v in s], np.int32)
    offsets = np.concatenate([[0], np.cumsum([len(s) for s in seqs])]).astype(np.int64)
    rows = data.draw(st.lists(st.integers(0, len(seqs) - 1), min_size=1, max_size=6))
    ids, lengths = pad_batch(values, offsets, np.array(rows), max_len=max_len)
    assert ids.dtype == np.int64 and lengths.dtype == np.int64
    kept = [seqs[r][-max_len:] if max_len else seqs[r] for r in rows]
    assert ids.shape == (len(rows), max(len(k) for k in kept))   # longest in *this* batch
    for b, k in enumerate(kept):
        assert lengths[b] == len(k)
        assert list(ids[b, :len(k)]) == k
        assert not ids[b, len(k):].any()


def test_epoch_batches_cover_each_index_once_and_are_seeded():
    batches = epoch_batches(10, 4, np.random.default_rng(0))
    assert [len(b) for b in batches] == [4, 4, 2]
    assert sorted(np.concatenate(batches)) == list(range(10))
    again = epoch_batches(10, 4, np.random.default_rng(0))
    assert all(np.array_equal(a, b) for a, b in zip(batches, again))
    assert [len(b) for b in epoch_batches(10, 4, np.random.default_rng(0), drop_last=True)] == [4, 4]
    rng = np.random.default_rng(1)   # consecutive epochs from one generator reshuffle
    assert not np.array_equal(np.concatenate(epoch_batches(50, 7, rng)),
                              np.concatenate(epoch_batches(50, 7, rng)))
    with pytest.raises(ValueError):
        epoch_batches(10, 0, rng)
