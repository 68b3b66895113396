"""The PyTorch port in examples/torch_port/ passes every committed golden case, and a port
with a classic mistake fails with a report naming the broken cases."""

import functools
import sys

import pytest

torch = pytest.importorskip("torch")

from port_helpers import (BT_PREFIXES, DEFAULT_GRU_CASES, GOLDEN, GRU_CASES, LOGQ_CASES, ROOT,  # noqa: E402
                          assert_exit_codes, assert_fails_exactly, assert_large_gru_miss,
                          assert_passes_every_case, run)

from tinybt.check.golden import load  # noqa: E402

sys.path.insert(0, str(ROOT / "examples"))

from torch_port import PORT, losses, models, sequence  # noqa: E402
from torch_port.check import check  # noqa: E402


def test_port_passes_every_golden_case():
    assert_passes_every_case(check, PORT)


def test_goldens_include_ten_step_trajectories():
    _, golden = load(GOLDEN)
    traj = [n for n, a in golden.items() if n.endswith("_adam10")]
    assert {"model_bt_gru_adam10", "model_bt_transformer_adam10", "model_dual_adam10"} <= set(traj)
    assert all(golden[n]["output/loss"].shape == (10,) for n in traj)


class HandGRU(torch.nn.Module):
    """A GRU written out step by step, nn.GRU's parameter names. reset_after=False is the
    TensorFlow/Keras (reset_after=False) convention: reset gate applied before the matmul,
        n = tanh(W_in x + b_in + W_hn (r ⊙ h) + b_hn)."""

    def __init__(self, d, h, batch_first=True, reset_after=True):
        super().__init__()
        self.reset_after = reset_after
        self.weight_ih_l0 = torch.nn.Parameter(torch.empty(3 * h, d))
        self.weight_hh_l0 = torch.nn.Parameter(torch.empty(3 * h, h))
        self.bias_ih_l0 = torch.nn.Parameter(torch.empty(3 * h))
        self.bias_hh_l0 = torch.nn.Parameter(torch.empty(3 * h))

    def forward(self, x, lengths):
        B, T, _ = x.shape
        W_hr, W_hz, W_hn = self.weight_hh_l0.chunk(3)
        b_hr, b_hz, b_hn = self.bias_hh_l0.chunk(3)
        gi = x @ self.weight_ih_l0.T + self.bias_ih_l0
        h, outs = x.new_zeros(B, W_hn.shape[0]), []
        for t in range(T):
            i_r, i_z, i_n = gi[:, t].chunk(3, -1)
            r = torch.sigmoid(i_r + h @ W_hr.T + b_hr)
            z = torch.sigmoid(i_z + h @ W_hz.T + b_hz)
            if self.reset_after:
                n = torch.tanh(i_n + r * (h @ W_hn.T + b_hn))
            else:
                n = torch.tanh(i_n + (r * h) @ W_hn.T + b_hn)
            valid = (t < lengths)[:, None]
            new = (1 - z) * n + z * h
            h = torch.where(valid, new, h)
            outs.append(torch.where(valid, new, torch.zeros_like(new)))
        return torch.stack(outs, 1)


def test_hand_gru_with_pytorch_gates_passes(monkeypatch):
    """The harness is fair: the same hand-written loop with the right formula passes."""
    monkeypatch.setattr(sequence, "GRU", HandGRU)
    ok, lines = run(check, only="gru")
    assert ok, "\n".join(lines)


def test_tensorflow_style_gru_fails(monkeypatch):
    monkeypatch.setattr(sequence, "GRU", functools.partial(HandGRU, reset_after=False))
    lines = assert_fails_exactly(check, GRU_CASES)
    assert_large_gru_miss(lines)
    assert lines[-1].startswith(tuple("0123456789")) and "FAILED: " in lines[-1] and "gru" in lines[-1]


def test_unbiased_variance_in_bt_standardisation_fails(monkeypatch):
    def unbiased(z, eps=1e-5):
        return (z - z.mean(0)) / torch.sqrt(z.var(0, unbiased=True) + eps)

    monkeypatch.setattr(losses, "standardize", unbiased)
    bt = {n for n in load(GOLDEN)[0]["cases"] if n.startswith(BT_PREFIXES)}
    assert bt
    assert_fails_exactly(check, bt)


def test_biased_variance_by_hand_passes(monkeypatch):
    monkeypatch.setattr(losses, "standardize", lambda z, eps=1e-5: (z - z.mean(0)) / torch.sqrt(z.var(0, unbiased=False) + eps))
    ok, lines = run(check, only="barlow")
    assert ok, "\n".join(lines)


def test_check_script_exit_codes(tmp_path):
    assert_exit_codes("torch_port", tmp_path, "layernorm", "layernorm")


def test_last_state_pooling_fails_the_default_gru_cases(monkeypatch):
    """A port that pools the GRU's last state, whatever the config says, fails exactly the
    cases of tinybt train's default GRU (the older cases pool the last state themselves)."""
    real = models.Encoder.__init__

    def last_always(self, *args, **kwargs):
        real(self, *args, **kwargs)
        self.pooling = "last"

    monkeypatch.setattr(models.Encoder, "__init__", last_always)
    assert_fails_exactly(check, DEFAULT_GRU_CASES)


def test_dropping_the_logq_correction_fails_the_default_dual_cases(monkeypatch):
    real = losses.dual_encoder_loss
    monkeypatch.setattr(losses, "dual_encoder_loss", lambda *a, log_q=None, **kw: real(*a, **kw))
    assert_fails_exactly(check, LOGQ_CASES)
