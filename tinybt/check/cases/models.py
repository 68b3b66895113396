"""Whole-model gradient-check cases: Barlow Twins (GRU, transformer) and the dual encoder.

Tiny configs (V = 12 items, D = 8, T <= 5, B = 4), written before mean pooling, the logQ
correction and the √B lr rule became tinybt train's defaults: the GRU here pools its last
state, λ = 0.1, τ = 0.5, no correction. The cases of the defaults are in defaults.py.
The two augmented views are stored explicitly as integer inputs (ids1, lengths1, ids2,
lengths2; [MASK] = V+1 included), not as seeds, so a port can feed exactly the same
batch. The projector's BatchNorm runs in training mode (batch statistics). Output: the
scalar loss.

One parameter is left out of the BT transformer case's gradients:
final_norm.bias. It shifts every user vector by the same constant, which the
BT loss cannot see (the projector's first Linear maps it to a per-column
constant that BatchNorm subtracts, and the loss standardises each feature
again), so its true gradient is exactly 0 and a relative error against
finite-difference noise would be meaningless. tests/test_models.py checks that
zero gradient and that shift invariance directly.
"""

from dataclasses import asdict

import numpy as np

from tinybt.check.gradcheck import Case, case
from tinybt.models.barlow_model import barlow_backward, barlow_forward, barlow_init
from tinybt.models.dual_model import dual_backward, dual_forward, dual_init
from tinybt.models.encoder import EncoderConfig

F64 = np.float64
V, D, B, T = 12, 8, 4, 5
WIDTHS = [6, 6, 6]    # P = 6 != D, so a transposed weight cannot pass
LAMBD, TAU = 0.1, 0.5


def manifest_encoder(enc, pooling=True):
    """The encoder settings a port needs. The cases of this file were written when the GRU
    always pooled its last state: they leave `pooling` out (the manifest says what that
    means), so their files stay as they were. The default cases (defaults.py) state it."""
    return {k: v for k, v in asdict(enc).items() if pooling or k != "pooling"}


def padded_ids(rng, lengths, T, high):
    """Random ids in 1..high for t < length, 0 after: (B, T)."""
    ids = rng.integers(1, high + 1, size=(len(lengths), T))
    return np.where(np.arange(T) < lengths[:, None], ids, 0)


def random_view(rng, T):
    lengths = rng.integers(1, T + 1, size=B)
    lengths[0] = T                                  # the batch's width is a real length
    return padded_ids(rng, lengths, T, V + 1), lengths  # V + 1 = [MASK] may appear


def barlow_case(rng, kind):
    enc = EncoderConfig(kind, V, D, n_layers=2, n_heads=2, max_len=T, pooling="last")
    params, buffers = barlow_init(rng, enc, WIDTHS, F64)
    ids1, len1 = random_view(rng, T)
    ids2, len2 = random_view(rng, T - 1)                  # views may differ in width (crop)

    def run(inputs, params, upstream):
        views = ((inputs["ids1"], inputs["lengths1"]), (inputs["ids2"], inputs["lengths2"]))
        res, cache = barlow_forward(params, buffers, views, LAMBD, enc)
        out = {"loss": np.asarray(res.loss)}
        if upstream is None:
            return out, None, None
        _, grads = barlow_backward(float(upstream["loss"]), cache)
        grads.pop("final_norm.bias", None)          # exactly 0 by shift invariance (module doc)
        return out, {}, grads

    return Case(f"model_bt_{kind}", run,
                {"ids1": ids1, "lengths1": len1, "ids2": ids2, "lengths2": len2}, params,
                {"encoder": manifest_encoder(enc, pooling=False), "projector": "-".join(map(str, WIDTHS)),
                 "lambd": LAMBD, "batchnorm": "training"})


@case("model_bt_gru")
def model_bt_gru(rng):
    return barlow_case(rng, "gru")


@case("model_bt_transformer")
def model_bt_transformer(rng):
    return barlow_case(rng, "transformer")


@case("model_dual")
def model_dual(rng):
    enc = EncoderConfig("gru", V, D, n_layers=2, n_heads=2, max_len=50, pooling="last")
    params, _ = dual_init(rng, enc, F64)
    lengths = rng.integers(1, T + 1, size=B)
    lengths[0] = T
    ids = padded_ids(rng, lengths, T, V)
    targets = rng.integers(1, V + 1, size=B)
    targets[3] = targets[1]                         # a repeated next item in one batch

    def run(inputs, params, upstream):
        loss, cache = dual_forward(params, inputs["ids"], inputs["lengths"], inputs["targets"], TAU, enc)
        out = {"loss": np.asarray(loss)}
        if upstream is None:
            return out, None, None
        return out, {}, dual_backward(float(upstream["loss"]), cache)[1]

    return Case("model_dual", run, {"ids": ids, "lengths": lengths, "targets": targets}, params,
                {"encoder": manifest_encoder(enc, pooling=False), "tau": TAU})
