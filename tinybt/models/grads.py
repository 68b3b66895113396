"""Summing gradients of a parameter used in two places (shared weights)."""


def add_grads(a, b):
    """{name: g} + {name: g'} -> sum per name (a name in only one dict passes through)."""
    out = dict(a)
    for k, g in b.items():
        out[k] = out[k] + g if k in out else g
    return out
