"""Golden case name -> port function.

A port function takes (inputs, params, config) — dicts of float64/int64 torch
tensors named as in the golden file, and the case's JSON config — and returns
(outputs, module): outputs a dict of tensors named as the golden's output/<name>,
module the nn.Module holding the parameters (loaded with load_state_dict) or
None when the parameters are used directly. check.py takes the gradients from
module.named_parameters() and, for the rest, from the tensors passed in.
"""

from port_check import registry     # examples/ is on sys.path whenever torch_port imports

PORT, port = registry()


def loaded(module, params):
    """module in float64 with the golden parameters (strict: every name must match)."""
    module = module.double()
    module.load_state_dict(params)
    return module
