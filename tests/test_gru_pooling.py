"""The GRU encoder's pooling option: mean of the states, gradient-checked, and what it computes."""

import numpy as np

from check_helpers import assert_gradcheck
from tinybt.check.gradcheck import Case
from tinybt.models.encoder import EncoderConfig, encoder_backward, encoder_forward, encoder_init
from tinybt.nn.gru import gru_forward
from tinybt.params import sub

V, D, B, T = 9, 5, 4, 6


def _batch(rng):
    lengths = rng.integers(1, T + 1, size=B)
    lengths[0], lengths[1] = T, 1                  # the widest row and a single step
    ids = np.where(np.arange(T) < lengths[:, None], rng.integers(1, V + 2, size=(B, T)), 0)
    return ids, lengths


def test_mean_pooled_gru_encoder_gradcheck():
    rng = np.random.default_rng(0)
    enc = EncoderConfig("gru", V, D, 1, 1, 50, pooling="mean")
    ids, lengths = _batch(rng)

    def run(inputs, params, upstream):
        u, cache = encoder_forward(inputs["ids"], inputs["lengths"], params, enc)
        if upstream is None:
            return {"out": u}, None, None
        return {"out": u}, {}, encoder_backward(upstream["out"], cache)[1]

    assert_gradcheck(Case("encoder_gru_mean", run, {"ids": ids, "lengths": lengths},
                          encoder_init(rng, enc, np.float64)))


def test_mean_pooling_averages_the_valid_states_and_last_pooling_is_unchanged():
    rng = np.random.default_rng(1)
    last, mean = (EncoderConfig("gru", V, D, 1, 1, 50, pooling=p) for p in ("last", "mean"))
    p = encoder_init(rng, last, np.float64)
    ids, lengths = _batch(rng)
    x = p["item_emb.weight"][ids]
    h, _ = gru_forward(x, lengths, sub(p, "gru"))
    u_last, _ = encoder_forward(ids, lengths, p, last)
    u_mean, _ = encoder_forward(ids, lengths, p, mean)
    for b in range(B):
        assert np.allclose(u_mean[b], h[b, :lengths[b]].mean(axis=0))
        assert np.allclose(u_last[b], h[b, lengths[b] - 1])
    one = lengths == 1
    assert np.allclose(u_mean[one], u_last[one])        # a single step: both poolings agree
