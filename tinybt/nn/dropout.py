"""Inverted dropout: zero each entry with probability p, scale survivors by 1/(1−p),
so E[out] = x and evaluation is the identity (no rescaling needed there)."""


def dropout_forward(x, p, rng, training=True):
    """x (...), p in [0, 1), rng numpy Generator -> out (...)."""
    if not 0 <= p < 1:
        raise ValueError(f"dropout probability must be in [0, 1), got {p}")
    if not training or p == 0:
        return x, None
    mask = (rng.random(x.shape) >= p).astype(x.dtype) / x.dtype.type(1 - p)
    return x * mask, mask


def dropout_backward(dout, mask):
    """dout (...) -> dx (...), {}: the same scaled mask."""
    return (dout if mask is None else dout * mask), {}
