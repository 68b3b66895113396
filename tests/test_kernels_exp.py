"""tinybt/kernels/exp.py == np.exp: exp_f32 within one float32 ulp, and `exp` picks it for float32 only."""

import math

import numpy as np
from numba import njit

from tinybt.kernels.exp import exp, exp_f32


@njit
def _exp_all(y, out):
    for i in range(y.size):
        out[i] = exp(y[i])


def test_exp_f32_is_within_one_ulp_for_nonpositive_arguments():
    y = np.concatenate([np.linspace(-87, 0, 1_000_001), [-1e-30, -0.0]]).astype(np.float32)
    out = np.empty_like(y)
    _exp_all(y, out)
    truth = np.exp(y.astype(np.float64))
    assert np.all(np.abs(out - truth) <= 2.0 ** -23 * truth)     # 2⁻²³: float32's relative spacing
    assert out[-1] == 1.0 and out[0] == np.float32(math.exp(-87.0))


def test_exp_dispatches_on_dtype():
    y = np.linspace(-10, 0, 1001)
    out64 = np.empty_like(y)
    _exp_all(y, out64)
    assert np.array_equal(out64, [math.exp(v) for v in y])          # float64: libm, bit for bit
    y32, out32 = y.astype(np.float32), np.empty(y.size, np.float32)
    _exp_all(y32, out32)
    assert np.array_equal(out32, np.float32([exp_f32(v) for v in y32]))   # float32: the polynomial ...
    assert np.any(out32 != np.exp(y32.astype(np.float64)).astype(np.float32))   # ... not libm's
    assert exp(-0.5) == math.exp(-0.5)                              # called from Python
