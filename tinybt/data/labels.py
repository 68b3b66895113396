"""Downstream labels (docs/protocol.md, "Tasks"), one per sequence row, from the future window.

Thresholds and popularity come from train users only. Our documented choices:
- favorite_genre: each future item with k genres adds 1/k to each of them; the label is the
  genre with the largest total (ties within 1e-9 -> lowest genre index); -1 when none of
  the user's future items has a genre. Yelp keeps only the 20 categories carried by the
  most businesses (ties -> lower category index); an item's k counts only its kept
  categories, so items with none of them add nothing.
- rating_level: 1 if the mean future rating >= the median of that mean over train users.
- mainstream: an item's popularity is its number of interactions by train users (their
  whole timeline, history and future, before max_len truncation); 1 if the mean popularity
  of the user's future items >= the median of that mean over train users.
- gender / age / occupation: the dataset's demographics (-1 = unknown stays -1).
A rating task on a dataset whose ratings are all equal (ML-1M pairs carries the
placeholder 3) is refused: its labels would be one class, a 100 %-majority table.
"""

import numpy as np

from ..errors import TinyBTError

TASKS = ("favorite_genre", "rating_level", "mainstream", "gender", "age", "occupation")
DEMOGRAPHIC_TASKS = ("gender", "age", "occupation")
YELP_TOP_CATEGORIES = 20

_DEFAULTS = {"ml-1m": ("gender", "age", "favorite_genre"),
             "ml-100k": ("gender", "age", "favorite_genre")}
_BEHAVIOUR = ("favorite_genre", "rating_level", "mainstream")  # ml-20m, yelp, synthetic
RATING_TASKS = ("rating_level",)


def default_tasks(dataset_name):
    """The default tasks of a dataset: demographics where MovieLens has them."""
    return list(_DEFAULTS.get(dataset_name, _BEHAVIOUR))


def check_ratings(ds, task):
    """TinyBTError naming `task` when it needs varying ratings and `ds` has one value only."""
    if task in RATING_TASKS and len(ds.rating) and np.ptp(ds.rating) == 0:
        raise TinyBTError(f"task {task!r} needs varying ratings, but every rating of dataset {ds.name!r} "
                          f"is {ds.rating[0]:g} (a placeholder: no real ratings); drop {task!r} from --tasks")


def _future_rows(seq):
    return np.repeat(np.arange(seq.n_users), np.diff(seq.fut_offsets))


def _row_mean(values, seq):
    """Mean of a per-future-interaction array within each row (every row has >= 1)."""
    return np.bincount(_future_rows(seq), weights=values, minlength=seq.n_users) \
        / np.diff(seq.fut_offsets)


def _above_train_median(score, seq):
    threshold = np.median(score[seq.split == 0])
    return (score >= threshold).astype(np.int64), ["below median", "at or above median"]


def _genre_table(ds):
    """(genre_offsets, genre_values, names), restricted to Yelp's top categories."""
    off, val, names = ds.genre_offsets, ds.genre_values, list(ds.genre_names)
    if not ds.name.startswith("yelp") or len(names) <= YELP_TOP_CATEGORIES:
        return off, val, names
    freq = np.bincount(val, minlength=len(names))
    top = np.sort(np.argsort(-freq, kind="stable")[:YELP_TOP_CATEGORIES])
    new_index = np.full(len(names), -1)
    new_index[top] = np.arange(len(top))
    keep = new_index[val] >= 0
    item = np.repeat(np.arange(len(off) - 1), np.diff(off))[keep]
    off2 = np.zeros_like(off)
    np.cumsum(np.bincount(item, minlength=len(off) - 1), out=off2[1:])
    return off2, new_index[val[keep]].astype(np.int32), [names[g] for g in top]


def favorite_genre(ds, seq):
    off, val, names = _genre_table(ds)
    item = seq.item_of_id[seq.fut_values]
    k = (off[item + 1] - off[item])
    # expand each future interaction into one entry per genre it carries
    entry_row = np.repeat(_future_rows(seq), k)
    entry = np.repeat(off[item] - np.cumsum(k) + k, k) + np.arange(k.sum())
    share = np.zeros((seq.n_users, len(names)))
    np.add.at(share, (entry_row, val[entry]), np.repeat(1.0 / np.maximum(k, 1), k))
    best = share.max(axis=1)
    y = np.argmax(share >= best[:, None] - 1e-9, axis=1).astype(np.int64)
    y[best == 0] = -1
    return y, names


def rating_level(ds, seq):
    check_ratings(ds, "rating_level")
    return _above_train_median(_row_mean(seq.fut_ratings.astype(np.float64), seq), seq)


def mainstream(ds, seq):
    train_users = np.zeros(ds.n_users, bool)
    train_users[seq.users[seq.split == 0]] = True
    popularity = np.bincount(ds.item[train_users[ds.user]], minlength=ds.n_items)
    return _above_train_median(_row_mean(popularity[seq.item_of_id[seq.fut_values]], seq), seq)


def demographic(ds, seq, task):
    if task not in ds.demographics:
        have = ", ".join(sorted(ds.demographics)) or "none"
        raise TinyBTError(f"dataset {ds.name!r} has no {task!r} demographics "
                          f"(it has: {have}); choose tasks among {', '.join(_BEHAVIOUR)}")
    return ds.demographics[task][seq.users].astype(np.int64), list(ds.demographic_names[task])


def make_labels(ds, seq, task):
    """Labels of `task` for every row of `seq` -> (y int64 (U,), class names); -1 = unknown."""
    if task in DEMOGRAPHIC_TASKS:
        return demographic(ds, seq, task)
    makers = {"favorite_genre": favorite_genre, "rating_level": rating_level,
              "mainstream": mainstream}
    if task not in makers:
        raise TinyBTError(f"unknown task {task!r}; expected one of {', '.join(TASKS)}")
    return makers[task](ds, seq)
