"""Shared by the attention and transformer-block tests: random data, key-padding masks
and the "appended padding changes nothing" check."""

import numpy as np

from tinybt.check.cases.sequence import jitter
from tinybt.params import cast


def random_data(init, rng, B, T, D, dtype=np.float64):
    """x (B, T, D), the layer's params `init(rng, D)` with every entry jittered, dout (B, T, D); in dtype."""
    p = cast(jitter(rng, init(rng, D, np.float64)), dtype)
    return rng.standard_normal((B, T, D)).astype(dtype), p, rng.standard_normal((B, T, D)).astype(dtype)


def right_padding(rng, B, T):
    """(B, T) bool, True = padding, each row keeps a random prefix of length ≥ 1."""
    return np.arange(T)[None, :] >= rng.integers(1, T + 1, size=B)[:, None]


def check_appended_padding(forward, backward, x, p, dout, rng, extra, grad_rtol, atol):
    """Appending `extra` padded positions (garbage x, mask True, zero upstream) changes
    neither the outputs at the original positions nor any gradient."""
    B, T, D = x.shape
    kpm = right_padding(rng, B, T)
    x2 = np.concatenate([x, 5 * rng.standard_normal((B, extra, D))], axis=1)
    kpm2 = np.concatenate([kpm, np.ones((B, extra), bool)], axis=1)
    dout2 = np.concatenate([dout, np.zeros((B, extra, D))], axis=1)
    out, c = forward(x, p, 2, kpm)
    dx, g = backward(dout, c)
    out2, c2 = forward(x2, p, 2, kpm2)
    dx2, g2 = backward(dout2, c2)
    np.testing.assert_allclose(out2[:, :T], out, rtol=1e-12, atol=atol)
    np.testing.assert_allclose(dx2[:, :T], dx, rtol=1e-12, atol=atol)
    assert not dx2[:, T:].any()
    for k in p:
        np.testing.assert_allclose(g2[k], g[k], rtol=grad_rtol, atol=atol)
