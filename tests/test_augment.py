"""Augmentations: analytic properties of crop / mask / reorder / segment on random padded batches."""

import math
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from tinybt.data.augment import AugmentConfig, augment_batch, crop, mask, reorder, segment

MASK = 99
# rates on a 1/20 grid, so the exact rounding ceil/floor(rate * L) is known with Fractions
RATES = st.integers(0, 20).map(lambda k: Fraction(k, 20))


@st.composite
def batches(draw):
    """A right-padded batch of ids in 1..20 (duplicates allowed) with lengths >= 1."""
    lengths = draw(st.lists(st.integers(1, 12), min_size=1, max_size=6))
    t = max(lengths) + draw(st.integers(0, 2))          # extra all-padding columns allowed
    ids = np.zeros((len(lengths), t), np.int64)
    for b, n in enumerate(lengths):
        ids[b, :n] = draw(st.lists(st.integers(1, 20), min_size=n, max_size=n))
    return ids, np.array(lengths, np.int64), draw(st.integers(0, 2**32 - 1))


def assert_padded(ids, lengths):
    valid = np.arange(ids.shape[1]) < lengths[:, None]
    assert (ids[valid] != 0).all() and (ids[~valid] == 0).all()


@given(batches(), RATES.filter(bool))
@settings(max_examples=150, deadline=None)
def test_crop_is_a_contiguous_window(batch, eta):
    ids, lengths, seed = batch
    out, new = crop(ids, lengths, np.random.default_rng(seed), float(eta))
    assert_padded(out, new)
    for b, n in enumerate(lengths):
        assert new[b] == max(1, math.ceil(eta * n))
        row, win = list(ids[b, :n]), list(out[b, :new[b]])
        assert any(row[s:s + len(win)] == win for s in range(n - len(win) + 1))


@given(batches(), RATES)
@settings(max_examples=150, deadline=None)
def test_mask_changes_exactly_floor_gamma_l_positions_to_mask(batch, gamma):
    ids, lengths, seed = batch
    out, new = mask(ids, lengths, np.random.default_rng(seed), float(gamma), MASK)
    assert np.array_equal(new, lengths) and out.shape == ids.shape
    changed = out != ids
    assert (out[changed] == MASK).all()
    assert list(changed.sum(1)) == [math.floor(gamma * n) for n in lengths]
    assert_padded(out, new)


@given(batches(), RATES)
@settings(max_examples=150, deadline=None)
def test_segment_masks_exactly_one_contiguous_span_of_floor_rho_l_items(batch, rho):
    ids, lengths, seed = batch
    out, new = segment(ids, lengths, np.random.default_rng(seed), float(rho), MASK)
    again, _ = segment(ids, lengths, np.random.default_rng(seed), float(rho), MASK)
    assert np.array_equal(out, again)                   # the seed fixes the span
    assert np.array_equal(new, lengths) and out.shape == ids.shape
    assert_padded(out, new)                             # padding untouched, lengths unchanged
    for b, n in enumerate(lengths):
        masked = np.flatnonzero(out[b] == MASK)
        assert len(masked) == math.floor(rho * n)
        if len(masked):
            assert masked[-1] - masked[0] + 1 == len(masked) and masked[-1] < n   # one span, inside the row
        keep = out[b] != MASK
        assert np.array_equal(out[b, keep], ids[b, keep])      # everything else unchanged
        if n == 1 and rho < 1:
            assert np.array_equal(out[b], ids[b])


@given(batches(), RATES)
@settings(max_examples=150, deadline=None)
def test_reorder_permutes_one_contiguous_span(batch, beta):
    ids, lengths, seed = batch
    # distinct values so "which slot went where" is observable
    ids = np.where(ids > 0, np.arange(1, ids.size + 1).reshape(ids.shape), 0)
    out, new = reorder(ids, lengths, np.random.default_rng(seed), float(beta))
    assert np.array_equal(new, lengths)
    assert_padded(out, new)
    for b, n in enumerate(lengths):
        span = math.floor(beta * n)
        moved = np.flatnonzero(out[b] != ids[b])
        if len(moved):                                  # everything moved lies in one span
            assert moved[-1] - moved[0] + 1 <= span
            lo, hi = moved[0], moved[-1] + 1
            assert sorted(out[b, lo:hi]) == sorted(ids[b, lo:hi])
        assert sorted(out[b, :n]) == sorted(ids[b, :n])


@given(batches())
@settings(max_examples=100, deadline=None)
def test_augment_batch_is_seeded_and_keeps_padding_out(batch):
    ids, lengths, seed = batch
    cfg = AugmentConfig()
    a, la = augment_batch(ids, lengths, np.random.default_rng(seed), cfg, MASK)
    b, lb = augment_batch(ids, lengths, np.random.default_rng(seed), cfg, MASK)
    assert np.array_equal(a, b) and np.array_equal(la, lb)
    assert a.shape == (len(ids), la.max())
    assert_padded(a, la)
    assert ((la >= 1) & (la <= lengths)).all()


def test_each_row_draws_one_op_and_length_one_survives():
    ids = np.arange(1, 21)[None].repeat(300, 0)
    lengths = np.full(300, 20)
    out, new = augment_batch(ids, lengths, np.random.default_rng(0), AugmentConfig(), MASK)
    cropped = new == 12                      # ceil(0.6 * 20)
    masked = (out == MASK).any(1)
    reordered = ~cropped & ~masked
    assert (cropped ^ masked ^ reordered).all() and not (cropped & masked).any()
    assert ((out == MASK).sum(1)[masked] == 6).all()   # floor(0.3 * 20)
    assert (out[reordered] != ids[reordered]).any(1).all()   # a 12-item span got shuffled
    for frac in (cropped, masked, reordered):   # uniform over the 3 ops
        assert 60 < frac.sum() < 140
    one, l1 = augment_batch(np.array([[7, 0]]), np.array([1]), np.random.default_rng(0),
                            AugmentConfig(), MASK)
    assert one.tolist() == [[7]] and l1.tolist() == [1]
    only_mask = AugmentConfig.parse("mask:0.5")
    out, _ = augment_batch(ids[:5], lengths[:5], np.random.default_rng(1), only_mask, MASK)
    assert ((out == MASK).sum(1) == 10).all()


def test_segment_is_opt_in_and_drawn_like_the_other_ops():
    assert "segment" not in AugmentConfig().ops          # the default views stay crop / mask / reorder
    ids = np.arange(1, 21)[None].repeat(400, 0)
    lengths = np.full(400, 20)
    cfg = AugmentConfig.parse("crop:0.6,mask:0.3,reorder:0.6,segment:0.25")
    out, new = augment_batch(ids, lengths, np.random.default_rng(0), cfg, MASK)
    n_mask = (out == MASK).sum(1)
    first = np.argmax(out == MASK, axis=1)
    # a segment row: 5 = floor(0.25 * 20) masks in one run; a mask row: 6 scattered ones
    segmented = (n_mask == 5) & np.array([(r[f:f + 5] == MASK).all() for r, f in zip(out, first)])
    assert 60 < segmented.sum() < 140 and (new[segmented] == 20).all()
    assert ((n_mask == 0) | (n_mask == 5) | (n_mask == 6)).all()


def test_config_parsing():
    cfg = AugmentConfig.parse("crop:0.5, reorder")
    assert cfg.ops == ("crop", "reorder") and cfg.crop == 0.5 and cfg.reorder == 0.6
    assert AugmentConfig.parse(str(AugmentConfig())) == AugmentConfig()
    assert str(AugmentConfig()) == "crop:0.6,mask:0.3,reorder:0.6"
    seg = AugmentConfig.parse("segment:0.4,mask")
    assert seg.ops == ("segment", "mask") and seg.segment == 0.4 and str(seg) == "segment:0.4,mask:0.3"
    for bad, msg in [("crop:x", "bad rate 'x'"), ("shuffle:0.2", "bad augmentation 'shuffle"),
                     ("crop,crop", "bad augmentation 'crop'"), ("", "bad augmentation"),
                     ("crop:1.5", "crop rate"), ("mask:-0.1", "mask rate"),
                     ("segment:1.2", "segment rate"), ("segments:0.2", "bad augmentation 'segments")]:
        with pytest.raises(ValueError, match=msg):
            AugmentConfig.parse(bad)
