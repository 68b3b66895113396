"""Check the JAX port against a tinybt golden folder.

    python examples/jax_port/check.py GOLDEN_DIR [--only TEXT]

For every case: load input/* and param/* as float64/int64/bool jax arrays, run the
port, compare each output/<name>; then take jax.grad of S = Σ output ⊙ upstream with
respect to every float input and param that has a grad/<name>, and compare. Prints the
same table as examples/torch_port/check.py; exits 1 when any tensor fails, 2 when the
folder cannot be read.
"""

import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))   # so `jax_port` imports as a package

from jax_port import PORT  # noqa: E402
from port_check import check_port, main, split  # noqa: E402


def run_case(fn, arrays, config):
    """-> {golden key: numpy array} computed by the port (outputs and grads). One jit per
    case: the outputs come out of the gradient pass as its aux."""
    inputs = {k: jnp.asarray(v) for k, v in split(arrays, "input").items()}
    params = {k: jnp.asarray(v) for k, v in split(arrays, "param").items()}
    upstream = split(arrays, "upstream")
    if not upstream:
        out = jax.jit(lambda i, p: fn(i, p, config))(inputs, params)
        return {f"output/{k}": np.asarray(v) for k, v in out.items()}

    # differentiate exactly the tensors the golden has a grad for (class weights, buffers: data)
    def wrt(d):
        return {k: v for k, v in d.items() if f"grad/{k}" in arrays}

    def S(d_in, d_par):
        out = fn(inputs | d_in, params | d_par, config)
        return sum((out[k] * u).sum() for k, u in upstream.items()), out

    grads, out = jax.jit(jax.grad(S, argnums=(0, 1), has_aux=True))(wrt(inputs), wrt(params))
    return {f"output/{k}": np.asarray(v) for k, v in out.items()} | {
        f"grad/{k}": np.asarray(g) for d in grads for k, g in d.items()}


def check(golden_dir, port=PORT, only=None, echo=print):
    """True when the port matches every case of the folder within the manifest's tolerances."""
    return check_port(golden_dir, port, run_case, only, echo)


if __name__ == "__main__":
    main(check, __doc__)
