"""Which code the layers run: "reference" or "fast".

    reference  tinybt/nn, tinybt/losses: plain NumPy, written to be read (the maths, line by line)
    fast       tinybt/kernels: Numba kernels and packed layouts computing the same functions

Every layer with a kernel asks `fast()` at the top of its forward and its backward and
hands over to tinybt/kernels when it says so; tests/test_kernels_*.py prove the two agree.
Training uses "fast" (`tinybt train --backend reference` to read along in a debugger);
gradient checks and golden files use "reference". Switch between steps, never between a
forward pass and its backward: the two paths keep different caches.

    set_backend("reference")            # from now on
    with use_backend("reference"): ...  # for one block
"""

import contextlib

BACKENDS = ("fast", "reference")
_current = "fast"


def set_backend(name):
    global _current
    if name not in BACKENDS:
        raise ValueError(f"backend must be one of {', '.join(BACKENDS)}, got {name!r}")
    _current = name


def get_backend():
    return _current


def fast():
    return _current == "fast"


@contextlib.contextmanager
def use_backend(name):
    before = _current
    set_backend(name)
    try:
        yield
    finally:
        set_backend(before)
