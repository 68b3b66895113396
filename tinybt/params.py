"""Flat parameter dicts with PyTorch state_dict names ("gru.weight_ih_l0", ...).

Models keep one flat dict; a layer sees the sub-dict under its prefix and its
grads are put back under the same prefix. Initialisers follow PyTorch's
defaults so that a port initialised by PyTorch is in the same regime.
"""

import numpy as np


def sub(params, prefix):
    """{"enc.w": a, "enc.b": b, "x": c}, "enc" -> {"w": a, "b": b}."""
    p = prefix + "."
    return {k[len(p):]: v for k, v in params.items() if k.startswith(p)}


def prefixed(grads, prefix):
    """Inverse of `sub`: {"w": g} , "enc" -> {"enc.w": g}."""
    return {f"{prefix}.{k}": v for k, v in grads.items()}


def uniform(rng, shape, bound, dtype):
    """U(-bound, bound): PyTorch's default for Linear, GRU and attention projections."""
    return rng.uniform(-bound, bound, size=shape).astype(dtype)


def cast(arrays, dtype):
    """The float entries of a dict in `dtype`; integer ones (ids, lengths, num_batches_tracked) unchanged."""
    return {k: np.asarray(v, dtype) if np.asarray(v).dtype.kind == "f" else v for k, v in arrays.items()}


def add_grads(a, b):
    """{name: g} + {name: g'} -> sum per name: the gradient of a parameter used in two places
    (the two views' projector, the dual encoder's shared item table)."""
    out = dict(a)
    for k, g in b.items():
        out[k] = out[k] + g if k in out else g
    return out
