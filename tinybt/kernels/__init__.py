"""The fast path: Numba kernels for the layers and losses of tinybt/nn and tinybt/losses.

One file per family, each computing exactly its reference layer's function (same
arguments, same results up to rounding) and nothing else; tinybt/backend.py picks
the path and tests/test_kernels_<family>.py proves the two agree in float32 and float64.
"""
