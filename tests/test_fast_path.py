"""Every registered gradient-check case also passes on the fast path (tinybt/kernels):
its backward is the derivative of its own forward, not only close to the reference's."""

import pytest

from tinybt.check.gradcheck import all_cases

from check_helpers import assert_gradcheck

def _has_grads(c):
    _, gin, gpar = c.run(c.inputs, c.params, c.upstream)
    return bool(gin or gpar)


CASES = {c.name: c for c in all_cases() if _has_grads(c)}   # not the optimiser steps and trajectories


@pytest.mark.parametrize("name", sorted(CASES))
def test_gradcheck_passes_on_fast_path(name):
    assert_gradcheck(CASES[name], backend="fast")
