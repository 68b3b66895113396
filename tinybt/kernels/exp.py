"""e^y inside kernels: a polynomial that vectorises for float32 y, libm for float64.

Without Intel's SVML (not a dependency) LLVM cannot vectorise a loop that calls
libm's expf, and exp is then most of a softmax or GELU loop. `exp_f32` is Cephes'
expf: y = n ln2 + r, a degree-7 polynomial for e^r, and 2ⁿ built from its exponent
bits. Every step is float32 (np.floor keeps n a float32), so LLVM packs 8 lanes per
AVX2 instruction (with math.floor, n was an int64 and the rest float64: 4 lanes, 3.3×
slower in a loop of exps); the value is within one float32 ulp of e^y for y ≤ 0
(at most 0.69 of 2⁻²³·e^y on the test's grid), the only arguments the kernels pass
(a GELU's −x²/2, a softmax's logit minus its max, the GRU gates' −|a|):
tests/test_kernels_exp.py.
`exp(y)` in a kernel compiles to exp_f32 for float32 y and to math.exp otherwise,
so one kernel source serves the float32 training path and the float64 tests.
"""

import math

import numpy as np
from numba import njit, types
from numba.extending import overload


@njit(cache=True, inline="always")
def exp_f32(y):
    """e^y for float32 y ≤ 0; y < −87 gives e^−87 ≈ 1.6e-38, where float32 e^y is subnormal or 0."""
    y = max(y, np.float32(-87.0))
    n = np.floor(y * np.float32(1.4426950408889634) + np.float32(0.5))    # y = n ln2 + r, |r| ≤ ln2 / 2
    r = y - n * np.float32(0.693359375) - n * np.float32(-2.12194440e-4)   # ln2 split in two: r nearly exact
    p = ((((np.float32(1.9875691500e-4) * r + np.float32(1.3981999507e-3)) * r + np.float32(8.3334519073e-3)) * r
          + np.float32(4.1665795894e-2)) * r + np.float32(1.6666665459e-1)) * r + np.float32(5.0000001201e-1)
    two_n = np.int32((np.int32(n) + np.int32(127)) << np.int32(23)).view(np.float32)   # 2ⁿ from its exponent bits
    return (p * r * r + r + np.float32(1.0)) * two_n


def exp(y):
    """e^y (called from Python: math.exp)."""
    return math.exp(y)


@overload(exp, inline="always")
def _exp_in_kernels(y):
    if y == types.float32:
        return lambda y: exp_f32(y)
    return lambda y: math.exp(y)
