"""Central finite differences in float64, against the hand-written backward passes.

A *case* is one layer, loss or model on small random float64 tensors:

    case.run(inputs, params, upstream) -> (outputs, input_grads, param_grads)

`outputs` is a dict of arrays; `upstream` (same keys as the differentiable
outputs) weights them, so every gradient is that of the scalar
    S = Σ_k Σ outputs[k] ⊙ upstream[k]
with respect to each float input and parameter. With upstream=None, run only
does the forward pass and the grads are None. The same cases feed
`tinybt gradcheck`, the test suite and the golden files.

Error measure, per tensor: max |analytic − numeric| / max(max|analytic|, max|numeric|),
i.e. the worst entry relative to the tensor's scale. An entry-wise ratio
would blow up on entries whose true gradient is ~0 (numeric noise / 0).
"""

from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from tinybt.backend import use_backend
from tinybt.errors import TinyBTError

EPS = 1e-6     # finite-difference step: float64 central differences, truncation ~ eps² and rounding ~ 1e-16/eps
TOL = 1e-6     # default pass mark for the max relative error


@dataclass
class Case:
    name: str
    run: Callable
    inputs: dict
    params: dict = field(default_factory=dict)
    config: dict = field(default_factory=dict)   # JSON-serialisable settings, for the golden manifest
    tol: float = TOL
    upstream: dict | None = None                 # filled in by `prepare` when None


def layer_run(forward, backward, x="x"):
    """`run` for a layer pair: `out, cache = forward(inputs, params)`, `dx, grads = backward(dout, cache)`;
    the input named `x` gets dx (x=None: an integer input such as ids, no input grad)."""
    def run(inputs, params, upstream):
        out, cache = forward(inputs, params)
        if upstream is None:
            return {"out": out}, None, None
        dx, grads = backward(upstream["out"], cache)
        return {"out": out}, ({} if x is None else {x: dx}), grads
    return run


_REGISTRY: dict[str, Callable] = {}


def case(name):
    """Register `make(rng) -> Case` under `name` (used by the modules in tinybt/check/cases/)."""
    def deco(make):
        _REGISTRY[name] = make
        return make
    return deco


def all_cases(seed=0):
    import tinybt.check.cases  # noqa: F401  (importing it registers every case)

    return [prepare(make(np.random.default_rng(seed)), seed) for make in _REGISTRY.values()]


def prepare(c: Case, seed=0):
    """Draw a random upstream gradient for every float output (if the case has none)."""
    if c.upstream is None:
        rng = np.random.default_rng(seed + 1)
        out, _, _ = c.run(c.inputs, c.params, None)
        c.upstream = {k: rng.standard_normal(np.shape(v)) for k, v in out.items()
                      if np.asarray(v).dtype.kind == "f"}
    return c


def _scalar(c, inputs, params):
    out, _, _ = c.run(inputs, params, None)
    return sum(float(np.sum(np.asarray(out[k]) * u)) for k, u in c.upstream.items())


def numeric_grad(f, x, eps=EPS):
    """∂f/∂x by central differences, perturbing x in place (restored afterwards)."""
    g = np.zeros_like(x, dtype=np.float64)
    flat, gflat = x.reshape(-1), g.reshape(-1)
    for i in range(flat.size):
        old = flat[i]
        flat[i] = old + eps
        fp = f()
        flat[i] = old - eps
        fm = f()
        flat[i] = old
        gflat[i] = (fp - fm) / (2 * eps)
    return g


def rel_error(a, n):
    a, n = np.asarray(a, np.float64), np.asarray(n, np.float64)
    scale = max(np.abs(a).max(initial=0.0), np.abs(n).max(initial=0.0))
    return 0.0 if scale == 0 else float(np.abs(a - n).max() / scale)


def check(c: Case, backend="reference"):
    """Returns [(tensor name, max rel error)] for every input and parameter the case returns a
    gradient for (integer inputs and buffers get none; a case may leave out a known-zero one).
    Runs the reference path unless backend="fast" (tinybt/backend.py)."""
    with use_backend(backend):
        return _check(prepare(c))


def _check(c):
    inputs = {k: np.array(v, copy=True) for k, v in c.inputs.items()}
    params = {k: np.array(v, copy=True) for k, v in c.params.items()}
    _, gin, gpar = c.run(inputs, params, c.upstream)
    rows = []
    for kind, tensors, grads in (("input", inputs, gin), ("param", params, gpar)):
        for name, g in grads.items():
            x = tensors[name]
            assert x.dtype == np.float64, f"{c.name}: gradcheck needs float64, {name} is {x.dtype}"
            assert g.shape == x.shape, f"{c.name}: grad {name} has shape {g.shape}, tensor {x.shape}"
            num = numeric_grad(lambda: _scalar(c, inputs, params), x)
            rows.append((f"{kind}/{name}", rel_error(g, num)))
    return rows


def run_all(only=None, seed=0, echo=print):
    """Print a table of every case; True when all pass."""
    cases = [c for c in all_cases(seed) if not only or only in c.name]
    if not cases:
        raise TinyBTError(f"--only: no case name contains {only!r}; run `tinybt gradcheck` to list them all")
    ok = True
    echo(f"{'case':<28} {'tensor':<40} {'max rel err':>12}  result")
    for c in cases:
        for tensor, err in check(c):
            good = err <= c.tol
            ok &= good
            echo(f"{c.name:<28} {tensor:<40} {err:12.2e}  {'pass' if good else 'FAIL'}")
    return ok
