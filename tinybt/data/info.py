"""`tinybt data info`: what a dataset holds once loaded, cut into sequences and labelled."""

import numpy as np

from tinybt.data.labels import TASKS, make_labels
from tinybt.data.sequences import build_sequences
from tinybt.errors import TinyBTError

PERCENTILES = (5, 25, 50, 75, 95, 100)


def _date(t):
    return str(np.datetime64(int(t), "s").astype("datetime64[D]"))


def _percentiles(lengths):
    return "  ".join(f"p{p}={v:g}" for p, v in zip(PERCENTILES, np.percentile(lengths, PERCENTILES)))


def describe(ds, max_len=50, min_interactions=5):
    """Lines of counts, sequence-length percentiles and label balance of every applicable task."""
    lines = [f"dataset {ds.name}",
             f"  interactions {len(ds.user):,}   users {ds.n_users:,}   items {ds.n_items:,}   "
             f"genres {len(ds.genre_names):,}",
             f"  ratings {ds.rating.min():g}..{ds.rating.max():g}   time "
             f"{_date(ds.timestamp.min())} .. {_date(ds.timestamp.max())}" if len(ds.user) else
             "  no interactions"]
    if ds.demographics:
        lines.append("  demographics " + ", ".join(
            f"{k} ({len(ds.demographic_names[k])} classes)" for k in ds.demographics))
    try:
        seq = build_sequences(ds, max_len=max_len, min_interactions=min_interactions)
    except TinyBTError as e:  # e.g. a small sample where nobody has 5 interactions
        return lines + [f"no sequences: {e}"]
    splits = np.bincount(seq.split, minlength=3)
    lines += [f"after the min-{min_interactions} filter: {seq.n_users:,} users (train {splits[0]:,} / val "
              f"{splits[1]:,} / test {splits[2]:,}), {seq.n_items:,} items",
              "  timeline length  " + _percentiles(np.bincount(ds.user, minlength=ds.n_users)[seq.users]),
              f"  history (last {max_len}) " + _percentiles(np.diff(seq.hist_offsets)),
              "  future           " + _percentiles(np.diff(seq.fut_offsets)),
              "label balance (train users; classes by share):"]
    train = seq.rows("train")
    for task in TASKS:
        try:
            y, names = make_labels(ds, seq, task)
        except TinyBTError:
            continue  # task not available for this dataset (no demographics)
        y = y[train]
        y = y[y >= 0]
        if not len(y):
            lines.append(f"  {task:<15} no labelled train users")
            continue
        share = np.bincount(y, minlength=len(names)) / len(y)
        top = np.argsort(-share, kind="stable")[:4]
        lines.append(f"  {task:<15} {len(names)} classes, majority {share[top[0]]:.1%}: " + ", ".join(
            f"{names[c]} {share[c]:.1%}" for c in top if share[c] > 0)
            + (", ..." if np.count_nonzero(share) > len(top) else ""))
    return lines
