"""The fast path: Numba kernels for the layers and losses of tinybt/nn and tinybt/losses,
and for the file parsers of tinybt/data.

One file per family, each computing exactly its reference's function (same arguments,
same results up to rounding) and nothing else; tinybt/backend.py picks the path and
tests/test_kernels_<family>.py proves the two agree (float32 and float64 for the maths,
the same arrays and error lines for the parsers). exp.py is the exp the GELU and
attention kernels share, a vectorisable polynomial for float32 (its reference: np.exp).
"""
