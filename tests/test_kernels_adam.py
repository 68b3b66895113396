"""tinybt/kernels/adam.py (one fused pass) == tinybt/optim/adam.py's NumPy update, bit for bit."""

import numpy as np
import pytest

from tinybt.backend import use_backend
from tinybt.nn.embedding import RowGrad
from tinybt.optim import Adam


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("wd,decoupled", [(0.0, False), (0.0, True), (0.1, False), (0.01, True)])
def test_fused_update_is_the_reference_bit_for_bit(dtype, wd, decoupled):
    """Five steps of dense and lazy (RowGrad) updates, zeros and signed zeros among the gradients."""
    rng = np.random.default_rng(0)
    start = {"w": rng.standard_normal((7, 5)).astype(dtype), "b": rng.standard_normal(5).astype(dtype),
             "table": rng.standard_normal((9, 3)).astype(dtype)}
    out = {}
    for name in ("fast", "reference"):
        params = {k: v.copy() for k, v in start.items()}
        opt = Adam(lr=3e-2, betas=(0.9, 0.99), eps=1e-8, weight_decay=wd, decoupled=decoupled)
        g_rng = np.random.default_rng(1)
        with use_backend(name):
            for step in range(5):
                g = {k: g_rng.standard_normal(v.shape).astype(dtype) for k, v in start.items()}
                g["b"][:2] = [0.0, -0.0]
                rows = np.sort(g_rng.choice(9, size=4, replace=False))
                g["table"] = RowGrad(rows, g_rng.standard_normal((4, 3)).astype(dtype), (9, 3))
                opt.step(params, g, lr=3e-2 / (step + 1))
        out[name] = (params, opt.state_dict())
    (p1, s1), (p2, s2) = out["fast"], out["reference"]
    for a, b in ((p1, p2), (s1, s2)):
        assert sorted(a) == sorted(b)
        for k in b:
            assert a[k].dtype == b[k].dtype and a[k].tobytes() == b[k].tobytes(), k
