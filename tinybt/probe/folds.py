"""Which users a probe may train on and which it scores (docs/protocol.md, "Pools and folds").

Pools. The seeded 10 % validation split is the TUNING pool; every other labelled user
(train and test splits) is the REPORT pool. `--split val` cross-validates over the
tuning pool only, `--split test` (the default) over the report pool only, so no choice
made while tuning has looked at a user that a reported number scores.

Folds. Inside a pool, k stratified folds: every user is scored exactly once, by a probe
trained on the other k-1 folds.
"""

import numpy as np

from tinybt.data.sequences import SPLITS
from tinybt.errors import TinyBTError

POOLS = ("test", "val")


def pool_mask(split, pool):
    """bool (U,): the users of `pool` ("val": split == 1, "test": every other user)."""
    if pool not in POOLS:
        raise TinyBTError(f"--split: expected test or val, got {pool!r}")
    split = np.asarray(split)
    val = split == SPLITS["val"]
    return val if pool == "val" else ~val


def stratified_folds(y, k, seed):
    """Fold index (N,) in 0..k-1 for labels y (N,).

    The rows, in one seeded random order, are grouped by class (stable) and dealt to folds
    round-robin, continuing from one class to the next. So within every class the fold
    counts differ by at most one, the fold sizes differ by at most one, and the same
    (y, k, seed) always gives the same folds."""
    y = np.asarray(y)
    if k < 2 or len(y) < k:
        raise TinyBTError(f"--folds: need 2 <= folds <= {len(y)} labelled users, got {k}")
    order = np.random.default_rng(seed).permutation(len(y))
    order = order[np.argsort(y[order], kind="stable")]
    fold = np.empty(len(y), np.int64)
    fold[order] = np.arange(len(y)) % k
    return fold
