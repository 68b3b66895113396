"""The JAX port in examples/jax_port/ passes every committed golden case, and a port with a
classic mistake fails exactly the cases it should (the twin of tests/test_torch_port.py)."""

import sys

import pytest

jax = pytest.importorskip("jax")
jnp = pytest.importorskip("jax.numpy")

from port_helpers import (BT_PREFIXES, DEFAULT_GRU_CASES, GOLDEN, GRU_CASES, LOGQ_CASES, ROOT,  # noqa: E402
                          assert_exit_codes, assert_fails_exactly, assert_large_gru_miss,
                          assert_passes_every_case, run)

from tinybt.check.golden import load  # noqa: E402

sys.path.insert(0, str(ROOT / "examples"))

from jax_port import PORT, losses, models, sequence  # noqa: E402
from jax_port.check import check  # noqa: E402


@pytest.fixture(scope="module", autouse=True)
def compilation_cache(tmp_path_factory):
    """XLA compiles each case once per run (~20 s of CPU in all); a persistent cache keyed by the
    compiled program makes the later runs of this module cheap. A broken port is another
    program, so it is compiled afresh, never served the correct one."""
    jax.config.update("jax_compilation_cache_dir", str(tmp_path_factory.mktemp("jax-cache")))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0)


def test_port_passes_every_golden_case():
    assert_passes_every_case(check, PORT)


def test_unknown_case_fails(monkeypatch):
    """The check walks the manifest: a case without a port function is a failing row."""
    monkeypatch.delitem(PORT, "layernorm")
    ok, lines = run(check, only="layernorm")
    assert not ok and "(no port for this case)" in lines[1] and lines[-1].endswith("FAILED: layernorm")


def test_wrong_gru_gate_order_fails(monkeypatch):
    """Reading the stacked weights as z|r|n (Keras stacks z|r|h) swaps the reset and update gates."""
    monkeypatch.setattr(sequence, "GATES", "zrn")
    assert_large_gru_miss(assert_fails_exactly(check, GRU_CASES))


def test_unbiased_variance_in_bt_standardisation_fails(monkeypatch):
    monkeypatch.setattr(losses, "standardize", lambda z, eps=1e-5: (z - z.mean(0)) / jnp.sqrt(z.var(0, ddof=1) + eps))
    bt = {n for n in load(GOLDEN)[0]["cases"] if n.startswith(BT_PREFIXES)}
    assert bt
    assert_fails_exactly(check, bt)


def test_check_script_exit_codes(tmp_path):
    assert_exit_codes("jax_port", tmp_path, "gru", "model_bt_gru_adam10")


def test_last_state_pooling_fails_the_default_gru_cases(monkeypatch):
    """A port that pools the GRU's last state, whatever the config says, fails exactly the
    cases of tinybt train's default GRU (the older cases pool the last state themselves)."""
    real = models.encoder
    monkeypatch.setattr(models, "encoder", lambda p, ids, lengths, enc: real(p, ids, lengths, enc | {"pooling": "last"}))
    assert_fails_exactly(check, DEFAULT_GRU_CASES)


def test_dropping_the_logq_correction_fails_the_default_dual_cases(monkeypatch):
    real = losses.dual_encoder_loss
    monkeypatch.setattr(losses, "dual_encoder_loss", lambda u, e, item_ids, tau, log_q=None: real(u, e, item_ids, tau))
    assert_fails_exactly(check, LOGQ_CASES)
