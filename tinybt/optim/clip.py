"""Global-norm gradient clipping, as torch.nn.utils.clip_grad_norm_.

    total = ‖(‖g_1‖, ‖g_2‖, ...)‖₂   over every gradient array
    if total > max_norm: every g ← g · max_norm / (total + 1e-6)

The 1e-6 is torch's; it keeps the division finite at total = 0 and leaves the
clipped norm a hair under max_norm. A NaN/Inf total is returned as is (the
caller's NaN guard decides), and the gradients are then left untouched.
A row-sparse gradient (RowGrad) counts and scales its stored rows: the rows it leaves
out are zeros of the dense gradient, so the norm is the same up to summation order.
"""

import math

import numpy as np

from tinybt.nn.embedding import grad_array


def clip_grad_norm(grads, max_norm):
    """Scale the arrays of `grads` (dict) in place; return the total norm before clipping (float)."""
    arrays = [grad_array(g) for g in grads.values()]
    total = math.sqrt(sum(float(np.sum(np.square(a, dtype=np.float64))) for a in arrays))
    coef = max_norm / (total + 1e-6)
    if math.isfinite(total) and coef < 1:
        for a in arrays:
            a *= coef
    return total
