"""tinybt/kernels/linear.py (row blocks on Numba threads) == tinybt/nn/linear.py."""

import numba
import numpy as np
import pytest

from tinybt.kernels import linear as fast
from tinybt.nn import linear as ref


def run(mod, x, p, dout):
    out, cache = mod.linear_forward(x, p)
    return (out, *mod.linear_backward(dout, cache))


@pytest.mark.parametrize("dtype,tol", [(np.float32, 2e-5), (np.float64, 1e-12)])
@pytest.mark.parametrize("N", [5, fast.MIN_ROWS + 3])       # one block / one block per thread
@pytest.mark.parametrize("bias", [True, False])
def test_fast_equals_reference(dtype, tol, N, bias):
    rng = np.random.default_rng(N)
    p = ref.linear_init(rng, 7, 9, bias, dtype)
    x, dout = rng.standard_normal((N, 7)).astype(dtype), rng.standard_normal((N, 9)).astype(dtype)
    (o1, dx1, g1), (o2, dx2, g2) = run(fast, x, p, dout), run(ref, x, p, dout)
    for a, b in ((o1, o2), (dx1, dx2), *((g1[k], g2[k]) for k in g2)):
        assert a.dtype == b.dtype and a.shape == b.shape
        np.testing.assert_allclose(a, b, rtol=tol, atol=tol)
    assert g1.keys() == g2.keys()


def test_same_bits_on_every_call_for_a_thread_count():
    """The row blocks are fixed by the thread count and the dW partials summed in block
    order, so repeated calls (resume's bit-identity) give the same bits."""
    rng = np.random.default_rng(0)
    p = ref.linear_init(rng, 16, 32, True, np.float32)
    x = rng.standard_normal((fast.MIN_ROWS * 2 + 1, 16)).astype(np.float32)
    dout = rng.standard_normal((len(x), 32)).astype(np.float32)
    for threads in sorted({1, numba.config.NUMBA_NUM_THREADS}):
        numba.set_num_threads(threads)
        try:
            first = run(fast, x, p, dout)
            for _ in range(3):
                again = run(fast, x, p, dout)
                for a, b in ((first[0], again[0]), (first[1], again[1]), (first[2]["weight"], again[2]["weight"])):
                    assert np.array_equal(a, b)
        finally:
            numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)
