"""One-layer GRU over a right-padded batch, with torch.nn.GRU's gate semantics.

    r  = σ(W_ir x + b_ir + W_hr h + b_hr)
    z  = σ(W_iz x + b_iz + W_hz h + b_hz)
    n  = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn))
    h' = (1 − z) ⊙ n + z ⊙ h,        h0 = 0

Steps t ≥ lengths[b] are padding: h is carried through unchanged and the output
there is 0 — exactly what pack_padded_sequence → nn.GRU → pad_packed_sequence
returns. The encoder's user vector is out[b, lengths[b] − 1] or, with pooling
"mean", the mean over the valid steps (both in pooling.py).
Weights are stacked r|z|n: W_ih (3H, D) holds W_ir, W_iz, W_in, and so on.
"""

import math
from typing import NamedTuple

import numpy as np

from tinybt import backend
from tinybt.kernels import gru as kernel
from tinybt.nn.activations import sigmoid
from tinybt.lengths import check_lengths
from tinybt.params import uniform


class GRUCache(NamedTuple):
    x: np.ndarray         # (B, T, D)
    valid: np.ndarray     # (B, T) bool, t < lengths[b]
    h_in: np.ndarray      # (B, T, H) the state entering each step
    r: np.ndarray         # (B, T, H) the gates at each step
    z: np.ndarray
    n: np.ndarray
    hn: np.ndarray        # (B, T, H) W_hn h + b_hn, which r multiplies
    W_ih: np.ndarray
    W_hh: np.ndarray


def gru_init(rng, d, h, dtype=np.float32):
    """torch.nn.GRU(d, h) default: every weight and bias U(±1/√H)."""
    bound = 1.0 / math.sqrt(h)
    return {"weight_ih_l0": uniform(rng, (3 * h, d), bound, dtype),
            "weight_hh_l0": uniform(rng, (3 * h, h), bound, dtype),
            "bias_ih_l0": uniform(rng, (3 * h,), bound, dtype),
            "bias_hh_l0": uniform(rng, (3 * h,), bound, dtype)}


def gru_forward(x, lengths, params):
    """x (B, T, D) right-padded, lengths (B,) ints in [1, T] -> out (B, T, H).

    out[b, t] = h_t for t < lengths[b], 0 after. params: "weight_ih_l0" (3H, D),
    "weight_hh_l0" (3H, H), "bias_ih_l0" (3H,), "bias_hh_l0" (3H,).
    """
    B, T, _ = x.shape
    lengths = check_lengths(lengths, B, T, "gru")
    if backend.fast():
        return kernel.gru_forward(x, lengths, params)
    W_ih, W_hh = params["weight_ih_l0"], params["weight_hh_l0"]
    H = W_hh.shape[1]
    valid = np.arange(T)[None, :] < lengths[:, None]
    gi = x @ W_ih.T + params["bias_ih_l0"]      # (B, T, 3H): the input side of every step at once
    h = np.zeros((B, H), x.dtype)
    out, h_in, r, z, n, hn = (np.zeros((B, T, H), x.dtype) for _ in range(6))
    for t in range(T):
        gh = h @ W_hh.T + params["bias_hh_l0"]  # (B, 3H): the state side
        h_in[:, t] = h
        r[:, t] = sigmoid(gi[:, t, :H] + gh[:, :H])
        z[:, t] = sigmoid(gi[:, t, H:2 * H] + gh[:, H:2 * H])
        hn[:, t] = gh[:, 2 * H:]
        n[:, t] = np.tanh(gi[:, t, 2 * H:] + r[:, t] * hn[:, t])
        h_new = (1 - z[:, t]) * n[:, t] + z[:, t] * h
        h = np.where(valid[:, t, None], h_new, h)          # a padded step keeps h ...
        out[:, t] = np.where(valid[:, t, None], h_new, 0)  # ... and outputs 0
    return out, GRUCache(x, valid, h_in, r, z, n, hn, W_ih, W_hh)


def gru_backward(dout, cache):
    """dout (B, T, H) -> dx (B, T, D), grads with the params' keys. Full backprop through time."""
    if backend.fast():
        return kernel.gru_backward(dout, cache)
    x, valid, h_in, r, z, n, hn, W_ih, W_hh = cache
    B, T, H = h_in.shape
    dgi = np.zeros((B, T, 3 * H), dout.dtype)   # ∂S/∂(W_ih x + b_ih), per step
    dgh = np.zeros((B, T, 3 * H), dout.dtype)   # ∂S/∂(W_hh h + b_hh), per step
    dh = np.zeros((B, H), dout.dtype)           # ∂S/∂h' from the later steps
    for t in reversed(range(T)):
        m = valid[:, t, None]
        g = dh + np.where(m, dout[:, t], 0)     # a padded output is the constant 0: its dout drops out
        gc = np.where(m, g, 0)                  # the part that goes through this step's cell
        rt, zt, nt = r[:, t], z[:, t], n[:, t]
        da_n = gc * (1 - zt) * (1 - nt * nt)    # ∂h'/∂n = 1 − z; tanh' = 1 − n²
        da_r = da_n * hn[:, t] * rt * (1 - rt)  # n's pre-activation holds r ⊙ hn; σ' = σ(1 − σ)
        da_z = gc * (h_in[:, t] - nt) * zt * (1 - zt)   # ∂h'/∂z = h − n
        dgi[:, t] = np.concatenate([da_r, da_z, da_n], axis=1)
        dgh[:, t] = np.concatenate([da_r, da_z, da_n * rt], axis=1)   # r scales W_hn h + b_hn
        # into the previous state: h' = z ⊙ h directly, and through W_hh h in every gate;
        # a padded step passes g through unchanged (h' = h)
        dh = np.where(m, gc * zt, g) + dgh[:, t] @ W_hh
    flat = lambda a: a.reshape(B * T, -1)     # noqa: E731  every (b, t) adds to the shared weights
    grads = {"weight_ih_l0": flat(dgi).T @ flat(x), "weight_hh_l0": flat(dgh).T @ flat(h_in),
             "bias_ih_l0": flat(dgi).sum(axis=0), "bias_hh_l0": flat(dgh).sum(axis=0)}
    return dgi @ W_ih, grads                    # padded steps: dgi = 0, so dx = 0
