"""The JAX port in examples/jax_port/ passes every committed golden case, and a port with a
classic mistake fails exactly the cases it should (the twin of tests/test_torch_port.py)."""

import subprocess
import sys
from pathlib import Path

import pytest

jax = pytest.importorskip("jax")
jnp = pytest.importorskip("jax.numpy")

ROOT = Path(__file__).resolve().parents[1]
GOLDEN = ROOT / "tests" / "golden"
sys.path.insert(0, str(ROOT / "examples"))

from jax_port import PORT, losses, sequence  # noqa: E402
from jax_port.check import check  # noqa: E402

from tinybt.golden import load  # noqa: E402

GRU_CASES = {"gru", "model_bt_gru", "model_dual", "model_bt_gru_adam10", "model_dual_adam10"}


@pytest.fixture(scope="module", autouse=True)
def compilation_cache(tmp_path_factory):
    """XLA compiles each case once per run (~20 s of CPU in all); a persistent cache keyed by the
    compiled program makes the later runs of this module cheap. A broken port is another
    program, so it is compiled afresh, never served the correct one."""
    jax.config.update("jax_compilation_cache_dir", str(tmp_path_factory.mktemp("jax-cache")))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0)


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
    n = sum(k.startswith(("output/", "grad/")) for arrays in golden.values() for k in arrays)
    assert lines[-1] == f"{n}/{n} tensors pass"


def test_unknown_case_fails(monkeypatch):
    """The check walks the manifest: a case without a port function is a failing row."""
    monkeypatch.delitem(PORT, "layernorm")
    ok, lines = run(only="layernorm")
    assert not ok and "(no port for this case)" in lines[1] and lines[-1].endswith("FAILED: layernorm")


def test_wrong_gru_gate_order_fails(monkeypatch):
    """Reading the stacked weights as z|r|n (Keras stacks z|r|h) swaps the reset and update gates."""
    monkeypatch.setattr(sequence, "GATES", "zrn")
    ok, lines = run()
    assert not ok
    assert failed_cases(lines) == GRU_CASES & set(load(GOLDEN)[0]["cases"])
    fail = next(ln for ln in lines if ln.startswith("gru ") and "output/out" in ln)
    err, share = float(fail.split()[2]), float(fail.split()[4].rstrip("%"))
    assert err > 1e-3 and share > 100          # a readable, large miss, not a rounding artefact


def test_unbiased_variance_in_bt_standardisation_fails(monkeypatch):
    monkeypatch.setattr(losses, "standardize", lambda z, eps=1e-5: (z - z.mean(0)) / jnp.sqrt(z.var(0, ddof=1) + eps))
    ok, lines = run()
    assert not ok
    bt = {n for n in load(GOLDEN)[0]["cases"] if n.startswith(("barlow_twins", "model_bt"))}
    assert bt and failed_cases(lines) == bt


def test_check_script_exit_codes(tmp_path):
    script = str(ROOT / "examples" / "jax_port" / "check.py")
    r = subprocess.run([sys.executable, script, str(GOLDEN), "--only", "gru"], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "max abs" in r.stdout and "tol used" in r.stdout and "model_bt_gru_adam10" in r.stdout
    r = subprocess.run([sys.executable, script, str(tmp_path)], capture_output=True, text=True)
    assert r.returncode == 2 and r.stderr.strip().startswith("error:") and "manifest.json" in r.stderr
