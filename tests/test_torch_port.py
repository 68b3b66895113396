"""The PyTorch port in examples/torch_port/ passes every committed golden case, and a port
with a classic mistake fails with a report naming the broken cases."""

import functools
import subprocess
import sys
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

ROOT = Path(__file__).resolve().parents[1]
GOLDEN = ROOT / "tests" / "golden"
sys.path.insert(0, str(ROOT / "examples"))

from torch_port import PORT, losses, sequence  # noqa: E402
from torch_port.check import check  # noqa: E402

from tinybt.golden import load  # noqa: E402


def run(**kw):
    lines = []
    ok = check(GOLDEN, echo=lines.append, **kw)
    return ok, lines


def failed_cases(lines):
    return {ln.split()[0] for ln in lines[1:-1] if ln.endswith("FAIL")}


def test_port_passes_every_golden_case():
    manifest, golden = load(GOLDEN)
    assert set(manifest["cases"]) <= set(PORT), "cases without a port"
    ok, lines = run()
    assert ok, "\n".join(ln for ln in lines if ln.endswith("FAIL"))
    # every output and every gradient of every case was compared
    n = sum(k.startswith(("output/", "grad/")) for arrays in golden.values() for k in arrays)
    assert lines[-1] == f"{n}/{n} tensors pass"


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


GRU_CASES = {"gru", "model_bt_gru", "model_dual", "model_bt_gru_adam10", "model_dual_adam10"}


def test_hand_gru_with_pytorch_gates_passes(monkeypatch):
    """The harness is fair: the same hand-written loop with the right formula passes."""
    monkeypatch.setattr(sequence, "GRU", HandGRU)
    ok, lines = run(only="gru")
    assert ok, "\n".join(lines)


def test_tensorflow_style_gru_fails(monkeypatch):
    monkeypatch.setattr(sequence, "GRU", functools.partial(HandGRU, reset_after=False))
    ok, lines = run()
    assert not ok
    golden_names = set(load(GOLDEN)[0]["cases"])
    assert failed_cases(lines) == GRU_CASES & golden_names
    fail = next(ln for ln in lines if ln.startswith("gru ") and "output/out" in ln)
    err, share = float(fail.split()[2]), float(fail.split()[4].rstrip("%"))
    assert err > 1e-3 and share > 100          # a readable, large miss, not a rounding artefact
    assert lines[-1].startswith(tuple("0123456789")) and "FAILED: " in lines[-1] and "gru" in lines[-1]


def test_unbiased_variance_in_bt_standardisation_fails(monkeypatch):
    def unbiased(z, eps=1e-5):
        return (z - z.mean(0)) / torch.sqrt(z.var(0, unbiased=True) + eps)

    monkeypatch.setattr(losses, "standardize", unbiased)
    ok, lines = run()
    assert not ok
    bt = {n for n in load(GOLDEN)[0]["cases"] if n.startswith(("barlow_twins", "model_bt"))}
    assert bt and failed_cases(lines) == bt


def test_biased_variance_by_hand_passes(monkeypatch):
    monkeypatch.setattr(losses, "standardize", lambda z, eps=1e-5: (z - z.mean(0)) / torch.sqrt(z.var(0, unbiased=False) + eps))
    ok, lines = run(only="barlow")
    assert ok, "\n".join(lines)


def test_check_script_exit_codes(tmp_path):
    script = str(ROOT / "examples" / "torch_port" / "check.py")
    r = subprocess.run([sys.executable, script, str(GOLDEN), "--only", "layernorm"], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "max abs" in r.stdout and "tol used" in r.stdout and "layernorm" in r.stdout
    r = subprocess.run([sys.executable, script, str(tmp_path)], capture_output=True, text=True)
    assert r.returncode == 2 and r.stderr.strip().startswith("error:") and "manifest.json" in r.stderr
