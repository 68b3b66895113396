"""Exact GELU's fast path (tinybt/nn/activations.py is the reference).

One pass computes GELU(x) and its slope Φ(x) + x φ(x), which is all the backward
needs (dx = dout · slope: no second erf, no exp, no kernel). erf(x/√2) and φ(x)
share one exp(−x²/2). In float32, erf is Abramowitz & Stegun 7.1.26 (|error| ≤
1.5e-7) and exp is kernels/exp.py's polynomial, so the loop has no libm call and
LLVM vectorises it; tests/test_kernels_activations.py holds GELU and its backward to
1e-6 of the float32 reference, and GELU to 1e-6 of x·Φ(x) in float64. float64 keeps
libm's erf and exp, which the float64 tests hold to 1e-13.
"""

import math

import numpy as np
from numba import njit

from tinybt.kernels.exp import exp_f32

_INV_SQRT2 = 1.0 / math.sqrt(2.0)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)


@njit(cache=True, error_model="numpy")
def _gelu_f32_kernel(x, out, slope):
    for i in range(x.size):
        v = x[i]
        a = abs(v) * np.float32(_INV_SQRT2)
        e = exp_f32(-a * a)                            # e^(−x²/2)
        t = np.float32(1.0) / (np.float32(1.0) + np.float32(0.3275911) * a)
        poly = t * (np.float32(0.254829592) + t * (np.float32(-0.284496736) + t * (np.float32(1.421413741)
               + t * (np.float32(-1.453152027) + t * np.float32(1.061405429)))))
        tail = np.float32(0.5) * poly * e               # ½ erfc(|x|/√2) = Φ(−|x|)
        cdf = np.float32(1.0) - tail if v >= 0 else tail
        out[i] = v * cdf
        slope[i] = cdf + v * e * np.float32(_INV_SQRT_2PI)   # Φ(x) + x φ(x)


@njit(cache=True, error_model="numpy")
def _gelu_f64_kernel(x, out, slope):
    for i in range(x.size):
        v = x[i]
        cdf = 0.5 * (1.0 + math.erf(v * _INV_SQRT2))
        out[i] = v * cdf
        slope[i] = cdf + v * math.exp(-0.5 * v * v) * _INV_SQRT_2PI


def gelu_forward(x):
    """-> out, slope: the cache is dGELU/dx. (Writing out over x would be legal but slow:
    LLVM then cannot prove the arrays apart and runs the loop unvectorised.)"""
    x = np.ascontiguousarray(x)
    out, slope = np.empty_like(x), np.empty_like(x)
    kernel = _gelu_f32_kernel if x.dtype == np.float32 else _gelu_f64_kernel
    kernel(x.reshape(-1), out.reshape(-1), slope.reshape(-1))
    return out, slope


def gelu_backward(dout, slope):
    return dout * slope, {}
