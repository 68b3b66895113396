"""Bag-of-items user features: the reference row "bag-of-items logistic regression".

Row u counts how often each item occurs in user u's history, log1p-scaled so a few
heavy repeats do not dominate. Columns are the item ids themselves (0 = padding and
V+1 = [MASK] exist but stay empty), so the matrix is (U, V+2) like the embedding table.
"""

import numpy as np
import scipy.sparse

from tinybt.errors import TinyBTError


def bag_of_items(values, offsets, n_items):
    """values int (nnz,) item ids 1..V; offsets int (U+1,): user u's history is
    values[offsets[u]:offsets[u+1]]. Returns CSR float64 (U, V+2) of log1p(count)."""
    values, offsets = np.asarray(values, dtype=np.int64), np.asarray(offsets, dtype=np.int64)
    if offsets.ndim != 1 or len(offsets) < 1 or offsets[0] != 0 or offsets[-1] != len(values) \
            or np.any(np.diff(offsets) < 0):
        raise TinyBTError(f"bag_of_items: offsets must rise from 0 to len(values) = {len(values)}")
    if len(values) and (values.min() < 1 or values.max() > n_items):
        raise TinyBTError(f"bag_of_items: item ids must be in 1..{n_items}, "
                          f"got {values.min()}..{values.max()}")
    X = scipy.sparse.csr_matrix((np.ones(len(values)), values, offsets),
                                shape=(len(offsets) - 1, n_items + 2))
    X.sum_duplicates()   # repeated items in one row → one entry holding the count
    X.data = np.log1p(X.data)
    return X
