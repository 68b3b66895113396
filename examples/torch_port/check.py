"""Check the PyTorch port against a tinybt golden folder.

    python examples/torch_port/check.py GOLDEN_DIR [--only TEXT]

For every case: load input/* and param/* into float64 torch tensors, run the
port, compare each output/<name>; then backpropagate S = Σ output ⊙ upstream
with autograd and compare each grad/<name>. Prints per tensor the max abs
error, max rel error (relative to the tensor's scale) and the share of the
tolerance used (max |port − golden| / (atol + rtol |golden|)); exits 1 when
any tensor fails, 2 when the folder cannot be read.
"""

import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))   # so `torch_port` imports as a package

from port_check import check_port, main, split  # noqa: E402
from torch_port import PORT  # noqa: E402


def run_case(fn, arrays, config):
    """-> {golden key: numpy array} computed by the port (outputs and grads)."""
    # a tensor is differentiated exactly when the golden has its grad (class weights, buffers: data)
    inputs = {k: torch.tensor(v, requires_grad=f"grad/{k}" in arrays) for k, v in split(arrays, "input").items()}
    params = {k: torch.tensor(v, requires_grad=f"grad/{k}" in arrays) for k, v in split(arrays, "param").items()}
    outputs, module = fn(inputs, params, config)
    got = {f"output/{k}": v.detach().numpy() for k, v in outputs.items()}
    upstream = split(arrays, "upstream")
    if upstream:
        s = sum((outputs[k] * torch.from_numpy(u)).sum() for k, u in upstream.items())
        s.backward()
        named = dict(module.named_parameters()) if module is not None else {}
        for k, t in {**inputs, **params}.items():
            g = named[k].grad if k in named else t.grad
            if g is not None:
                got[f"grad/{k}"] = g.numpy()
            elif t.requires_grad:          # autograd: untouched tensor, zero gradient
                got[f"grad/{k}"] = np.zeros(tuple(t.shape))
    return got


def check(golden_dir, port=PORT, only=None, echo=print):
    """True when the port matches every case of the folder within the manifest's tolerances."""
    torch.set_default_dtype(torch.float64)
    torch.set_num_threads(1)         # tiny tensors: threads only add contention
    return check_port(golden_dir, port, run_case, only, echo)


if __name__ == "__main__":
    main(check, __doc__)
