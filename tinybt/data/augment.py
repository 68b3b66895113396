"""Sequence augmentations for the two Barlow Twins views (CL4SRec's crop / mask / reorder,
and segment masking, which the paper's patent family names beside masking and permutation).

All work on a right-padded batch ids (B, T) with lengths (B,) and are vectorised over the
batch: every random choice is drawn up front from the NumPy Generator, so a seed fixes the
views. For a row of length L (our documented rounding; 1e-9 absorbs float error such as
0.3 * 10 = 3.0000000000000004):
- crop(eta):       keep a random contiguous window of ceil(eta·L) items, moved to the front;
- mask(gamma):     replace floor(gamma·L) distinct random positions by [MASK];
- reorder(beta):   shuffle a random contiguous span of floor(beta·L) items;
- segment(rho):    replace a random contiguous span of floor(rho·L) items by [MASK].

[MASK] is item id V+1 (`Sequences.mask_id`; 0 is padding, 1..V the items). It is an
ordinary row of the item embedding table, trained like any item whenever a view contains
it, and never a retrieval candidate (items are 1..V). mask and segment keep every length:
a masked item still occupies its step. Padding stays padding and the valid prefix never
contains 0; at rates below 1 a length-1 row survives every op unchanged (floor(rate·1) = 0,
and crop keeps at least one item).
"""

from dataclasses import dataclass

import numpy as np

OPS = ("crop", "mask", "reorder", "segment")
DEFAULT_OPS = OPS[:3]        # segment is opt-in: the default views (and the goldens) predate it
_EPS = 1e-9


@dataclass
class AugmentConfig:
    crop: float = 0.6
    mask: float = 0.3
    reorder: float = 0.6
    segment: float = 0.3
    ops: tuple = DEFAULT_OPS  # the enabled ops; each view draws one of them uniformly

    def __post_init__(self):
        if not self.ops or any(op not in OPS for op in self.ops):
            raise ValueError(f"augmentations must be a non-empty subset of {OPS}, got {self.ops}")
        if not 0 < self.crop <= 1:
            raise ValueError(f"crop rate must be in (0, 1], got {self.crop}")
        for op in OPS[1:]:
            if not 0 <= getattr(self, op) <= 1:
                raise ValueError(f"{op} rate must be in [0, 1], got {getattr(self, op)}")

    @classmethod
    def parse(cls, text):
        """"crop:0.6,mask:0.3,reorder:0.6" -> config; an op without ":rate" keeps its default
        ("mask:" with nothing after the colon is an error, not the default)."""
        rates, ops = {}, []
        for part in text.split(","):
            name, colon, rate = part.strip().partition(":")
            if name not in OPS or name in ops or (colon and not rate):
                raise ValueError(f"bad augmentation {part.strip()!r} in {text!r}: expected a "
                                 f"comma-separated list of distinct {'/'.join(OPS)}[:rate], "
                                 "e.g. 'crop:0.6,mask:0.3,reorder:0.6'")
            ops.append(name)
            if rate:
                try:
                    rates[name] = float(rate)
                except ValueError:
                    raise ValueError(f"bad rate {rate!r} for {name} in {text!r}: "
                                     "expected a number") from None
        return cls(ops=tuple(ops), **rates)

    def __str__(self):
        return ",".join(f"{op}:{getattr(self, op)}" for op in self.ops)


def crop(ids, lengths, rng, eta):
    """Keep a random window of ceil(eta·L) items per row, shifted to position 0."""
    new = np.maximum(np.ceil(eta * lengths - _EPS).astype(np.int64), np.minimum(lengths, 1))
    first = (rng.random(len(ids)) * (lengths - new + 1)).astype(np.int64)
    t = np.arange(ids.shape[1])
    valid = t < new[:, None]
    src = np.where(valid, first[:, None] + t, 0)
    return np.where(valid, np.take_along_axis(ids, src, axis=1), 0), new


def mask(ids, lengths, rng, gamma, mask_id):
    """Replace floor(gamma·L) distinct random valid positions per row by mask_id."""
    t = np.arange(ids.shape[1])
    key = np.where(t < lengths[:, None], rng.random(ids.shape), np.inf)
    rank = np.argsort(np.argsort(key, axis=1), axis=1)   # rank of each position's key
    n_mask = np.floor(gamma * lengths + _EPS).astype(np.int64)
    return np.where(rank < n_mask[:, None], mask_id, ids), lengths.copy()


def _span(ids, lengths, rng, rate):
    """A random contiguous span of floor(rate·L) valid positions per row
    -> first (B,), span (B,), inside (B, T) bool."""
    span = np.floor(rate * lengths + _EPS).astype(np.int64)
    first = (rng.random(len(ids)) * (lengths - span + 1)).astype(np.int64)
    t = np.arange(ids.shape[1])
    return first, span, (t >= first[:, None]) & (t < (first + span)[:, None])


def segment(ids, lengths, rng, rho, mask_id):
    """Replace a random contiguous span of floor(rho·L) items per row by mask_id."""
    _, _, inside = _span(ids, lengths, rng, rho)
    return np.where(inside, mask_id, ids), lengths.copy()


def reorder(ids, lengths, rng, beta):
    """Shuffle a random contiguous span of floor(beta·L) items per row."""
    first, span, inside = _span(ids, lengths, rng, beta)
    t = np.arange(ids.shape[1])
    # positions outside the span sort by their own index; inside, by first + U[0, span),
    # which lands them (in random order) exactly on the span's slots
    key = np.where(inside, first[:, None] + rng.random(ids.shape) * span[:, None], t)
    return np.take_along_axis(ids, np.argsort(key, axis=1, kind="stable"), axis=1), lengths.copy()


def augment_batch(ids, lengths, rng, config, mask_id):
    """One random view per row: each row draws one enabled op from config.ops.

    ids (B, T) int64 right-padded, lengths (B,) -> (ids2 (B, T2), lengths2 (B,)) with
    T2 = max(lengths2): crop can shorten the batch.
    """
    choice = rng.integers(len(config.ops), size=len(ids))
    out, out_len = ids.copy(), np.asarray(lengths, np.int64).copy()
    for k, op in enumerate(config.ops):
        r = np.flatnonzero(choice == k)
        if op == "crop":
            out[r], out_len[r] = crop(ids[r], out_len[r], rng, config.crop)
        elif op == "mask":
            out[r], out_len[r] = mask(ids[r], out_len[r], rng, config.mask, mask_id)
        elif op == "segment":
            out[r], out_len[r] = segment(ids[r], out_len[r], rng, config.segment, mask_id)
        else:
            out[r], out_len[r] = reorder(ids[r], out_len[r], rng, config.reorder)
    return out[:, :out_len.max(initial=0)], out_len
