"""The two bag-of-items arms: the whole history, and the last max_len items the encoder sees."""

import numpy as np

from tinybt.data.sequences import build_sequences
from tinybt.probe.evaluate import BAG, BAG_WINDOW, bag_arms

from test_sequences import dataset_from_rows

# user 0 in time order: items 1 2 1 3 1 4 5 -> L = 7, history = the first floor(5.6) = 5: 1 2 1 3 1
# user 1: items 2 2 0 3 0 -> L = 5, history = the first 4: 2 2 0 3
ROWS = [(0, item, 3, t) for t, item in enumerate([1, 2, 1, 3, 1, 4, 5])] + \
       [(1, item, 3, t) for t, item in enumerate([2, 2, 0, 3, 0])]


def _bags(max_len):
    seqs = build_sequences(dataset_from_rows(ROWS, n_users=2, n_items=6), max_len=max_len)
    arms = bag_arms(seqs)
    to_item = seqs.item_of_id[1:]                # columns 1..V -> dataset items
    dense = {name: arms[name][0]["features"].toarray() for name in (BAG, BAG_WINDOW)}
    assert all(arms[name][0]["items"] is None for name in arms)       # no item vectors: no retrieval
    assert all((d[:, [0, -1]] == 0).all() for d in dense.values())   # padding and [MASK] columns stay empty
    return {name: [dict(zip(to_item, row[1:-1])) for row in d] for name, d in dense.items()}


def test_the_window_equals_the_whole_history_when_max_len_covers_it():
    bags = _bags(max_len=5)                      # the longest history is 5
    assert bags[BAG] == bags[BAG_WINDOW]
    assert bags[BAG][0] == {0: 0, 1: np.log1p(3), 2: np.log1p(1), 3: np.log1p(1), 4: 0, 5: 0}


def test_the_window_counts_only_the_last_max_len_items():
    bags = _bags(max_len=2)
    assert bags[BAG][0] == {0: 0, 1: np.log1p(3), 2: np.log1p(1), 3: np.log1p(1), 4: 0, 5: 0}
    assert bags[BAG_WINDOW][0] == {0: 0, 1: np.log1p(1), 2: 0, 3: np.log1p(1), 4: 0, 5: 0}   # 3 1
    assert bags[BAG][1] == {0: np.log1p(1), 1: 0, 2: np.log1p(2), 3: np.log1p(1), 4: 0, 5: 0}
    assert bags[BAG_WINDOW][1] == {0: np.log1p(1), 1: 0, 2: 0, 3: np.log1p(1), 4: 0, 5: 0}    # 0 3
