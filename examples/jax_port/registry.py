"""Golden case name -> port function.

A port function takes (inputs, params, config) — dicts of jax arrays named as in the
golden file (float64, int64, bool) and the case's JSON config — and returns
{output name: array}. It is a pure function of its arguments, so check.py differentiates
S = Σ output ⊙ upstream with jax.grad with respect to the float inputs and params.
"""

from port_check import registry     # examples/ is on sys.path whenever jax_port imports

PORT, port = registry()


def sub(params, prefix):
    """The entries of a state_dict-named dict under `prefix.`, with the prefix cut:
    sub({"gru.weight_ih_l0": w}, "gru") -> {"weight_ih_l0": w}."""
    p = prefix + "."
    return {k[len(p):]: v for k, v in params.items() if k.startswith(p)}
