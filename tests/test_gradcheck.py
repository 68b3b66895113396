"""The gradient-check machinery itself: it must measure correctly and catch wrong backwards."""

import numpy as np
import pytest

from tinybt.check.gradcheck import Case, check, numeric_grad, prepare, rel_error


def test_numeric_grad_of_known_function_and_restores_x():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((3, 4))
    x0 = x.copy()
    g = numeric_grad(lambda: float(np.sum(np.sin(x) * x)), x)
    np.testing.assert_allclose(g, np.cos(x0) * x0 + np.sin(x0), rtol=0, atol=1e-8)
    np.testing.assert_array_equal(x, x0)


def test_rel_error_is_worst_entry_over_tensor_scale():
    assert rel_error([1.0, 2.0], [1.0, 2.0]) == 0.0
    assert rel_error(np.zeros(3), np.zeros(3)) == 0.0
    assert rel_error([1.0, -4.0], [1.5, -4.0]) == pytest.approx(0.5 / 4.0)
    # an entry whose true gradient is ~0 does not blow the measure up
    assert rel_error([1.0, 1e-12], [1.0, 2e-12]) < 1e-11


def _square_case(factor):
    """out = x² with a backward that multiplies the true gradient by `factor`."""
    def run(inputs, params, upstream):
        x, w = inputs["x"], params["w"]
        out = {"out": w * x ** 2, "count": np.arange(3)}
        if upstream is None:
            return out, None, None
        u = upstream["out"]
        return out, {"x": factor * 2 * w * x * u}, {"w": x ** 2 * u}
    rng = np.random.default_rng(1)
    return Case("square", run, {"x": rng.standard_normal(3)}, {"w": rng.standard_normal(3)})


def test_correct_backward_passes():
    errs = dict(check(_square_case(1.0)))
    assert set(errs) == {"input/x", "param/w"}
    assert max(errs.values()) < 1e-8


def test_wrong_backward_fails():
    errs = dict(check(_square_case(1.01)))
    assert errs["input/x"] > 1e-3
    assert errs["param/w"] < 1e-8


def test_prepare_draws_upstream_only_for_float_outputs():
    c = prepare(_square_case(1.0))
    assert set(c.upstream) == {"out"} and c.upstream["out"].shape == (3,)


def test_check_refuses_float32():
    c = _square_case(1.0)
    c.inputs["x"] = c.inputs["x"].astype(np.float32)
    with pytest.raises(AssertionError, match="float64"):
        check(c)
