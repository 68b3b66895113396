"""Shared by the layer tests: a gradient-check case passes the issue's 1e-6 bar; BT loss
forward + backward in one call on either path."""

from types import SimpleNamespace

from tinybt.backend import use_backend
from tinybt.check.gradcheck import check
from tinybt.losses.barlow import barlow_twins_backward, barlow_twins_forward

TOL = 1e-6


def assert_gradcheck(c, backend="reference"):
    rows = check(c, backend)
    assert rows, f"{c.name}: nothing was checked"
    for tensor, err in rows:
        assert err <= TOL, f"{c.name} {tensor}: max rel error {err:.2e}"


def bt_loss_on(backend):
    """-> f(z1, z2, lambd, eps) = the BTLoss fields plus dz1, dz2 (dloss = 1), on that path."""
    def loss_and_grads(z1, z2, lambd, eps=1e-5):
        with use_backend(backend):
            res, cache = barlow_twins_forward(z1, z2, lambd, eps)
            (dz1, dz2), _ = barlow_twins_backward(1.0, cache)
        return SimpleNamespace(**res._asdict(), dz1=dz1, dz2=dz2)
    return loss_and_grads
