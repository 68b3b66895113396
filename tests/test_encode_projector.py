"""The projector-output user vectors: encoder, then the projector with BatchNorm in evaluation mode."""

import numpy as np

from tinybt.models.barlow_model import barlow_init
from tinybt.models.encode import encode_users
from tinybt.models.encode_projector import project_users, projector_eval
from tinybt.train.trainer import encoder_config, load_sequences

from train_helpers import tiny_config


def _model(data_dir):
    cfg = tiny_config(data_dir, projector="16-12-8").validate()
    _, seqs = load_sequences(cfg)
    enc = encoder_config(cfg, seqs)
    rng = np.random.default_rng(3)
    params, buffers = barlow_init(rng, enc, cfg.projector_dims())
    for name in ("projector.1", "projector.4"):      # trained-looking BatchNorm state, not the init's 0 / 1
        d = params[f"{name}.weight"].shape[0]
        params[f"{name}.weight"] = rng.uniform(0.5, 2, d).astype(np.float32)
        params[f"{name}.bias"] = rng.normal(0, 1, d).astype(np.float32)
        buffers[f"{name}.running_mean"] = rng.normal(0, 1, d).astype(np.float32)
        buffers[f"{name}.running_var"] = rng.uniform(0.2, 3, d).astype(np.float32)
    return params, buffers, enc, seqs


def _by_hand(u, params, buffers):
    """Linear → BatchNorm1d.eval() → ReLU, twice, then the last Linear, in float64."""
    x = u.astype(np.float64)
    for lin, bn in (("projector.0", "projector.1"), ("projector.3", "projector.4")):
        x = x @ params[f"{lin}.weight"].T.astype(np.float64)
        x = (x - buffers[f"{bn}.running_mean"]) / np.sqrt(buffers[f"{bn}.running_var"].astype(np.float64) + 1e-5)
        x = np.maximum(x * params[f"{bn}.weight"] + params[f"{bn}.bias"], 0)
    return x @ params["projector.6.weight"].T.astype(np.float64)


def test_projector_outputs_are_the_eval_mode_projector_of_the_encoded_users(data_dir):
    params, buffers, enc, seqs = _model(data_dir)
    before = {k: v.copy() for k, v in buffers.items()}
    z = project_users(params, buffers, enc, seqs)
    assert z.shape == (seqs.n_users, 8) and z.dtype == np.float32
    np.testing.assert_allclose(z, _by_hand(encode_users(params, enc, seqs), params, buffers), rtol=1e-4, atol=1e-5)
    assert all(np.array_equal(before[k], buffers[k]) for k in buffers)     # evaluation leaves the buffers alone


def test_a_users_projector_output_does_not_depend_on_its_batch(data_dir):
    params, buffers, enc, seqs = _model(data_dir)
    u = encode_users(params, enc, seqs)
    whole = projector_eval(u, params, buffers)
    alone = np.concatenate([projector_eval(u[i:i + 1], params, buffers) for i in range(5)])
    # equal up to float32 rounding (BLAS sums a 1-row product in another order); batch statistics
    # would move every entry by O(1), and a batch of one would have none
    np.testing.assert_allclose(alone, whole[:5], rtol=1e-5, atol=1e-6)
