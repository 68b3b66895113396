"""The probe's softmax cross-entropy, fused (tinybt/losses/xent.py is the reference).

One pass per row: max, exp, sum, log and the gradient p − onehot, written over the
logits in place. The linear probe calls it hundreds of thousands of times on small
matrices, where the reference's dozen NumPy temporaries per call cost more than the maths.
"""

import math

from numba import njit


@njit(cache=True)
def mean_xent_inplace(logits, y):
    """logits (N, C) float64, y int (N,) -> mean cross-entropy; logits become ∂loss/∂logits."""
    N, C = logits.shape
    total = 0.0
    for i in range(N):
        m = -math.inf
        for c in range(C):
            m = max(m, logits[i, c])
        total += m - logits[i, y[i]]            # l_i = log Σ exp(z − m) + m − z_y
        s = 0.0
        for c in range(C):
            e = math.exp(logits[i, c] - m)
            logits[i, c] = e
            s += e
        total += math.log(s)
        for c in range(C):
            logits[i, c] /= s * N
        logits[i, y[i]] -= 1.0 / N
    return total / N
