"""Valid lengths of a right-padded batch: the one check every sequence layer makes."""

import numpy as np


def check_lengths(lengths, B, T, layer):
    """lengths (B,) ints in [1, T], else a ValueError naming the layer. Returns them as an array."""
    lengths = np.asarray(lengths)
    if lengths.shape != (B,) or lengths.dtype.kind not in "iu":
        raise ValueError(f"{layer}: lengths must be an integer array of shape ({B},), "
                         f"got {lengths.dtype} array of shape {lengths.shape}")
    if B and (lengths.min() < 1 or lengths.max() > T):
        raise ValueError(f"{layer}: every length must lie in [1, {T}] (T = {T}, the padded width), "
                         f"got min {lengths.min()} and max {lengths.max()}")
    return lengths
