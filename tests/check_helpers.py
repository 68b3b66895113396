"""Shared by the layer tests: a gradient-check case passes the issue's 1e-6 bar."""

from tinybt.gradcheck import check

TOL = 1e-6


def assert_gradcheck(c):
    rows = check(c)
    assert rows, f"{c.name}: nothing was checked"
    for tensor, err in rows:
        assert err <= TOL, f"{c.name} {tensor}: max rel error {err:.2e}"
