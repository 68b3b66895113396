"""What the port tests share (test_torch_port.py, test_jax_port.py): run a port's check on the
committed goldens and read its report."""

import subprocess
import sys
from pathlib import Path

from tinybt.check.golden import load

ROOT = Path(__file__).resolve().parents[1]
GOLDEN = ROOT / "tests" / "golden"
DEFAULT_GRU_CASES = {"default_bt_gru", "default_dual_gru", "default_bt_gru_train10", "default_dual_gru_train10"}
GRU_CASES = {"gru", "model_bt_gru", "model_dual", "model_bt_gru_adam10", "model_dual_adam10"} | DEFAULT_GRU_CASES
# the cases whose loss subtracts log q: the dual loss with the correction, the default dual models
LOGQ_CASES = {"dual_encoder_logq", "default_dual_gru", "default_dual_transformer", "default_dual_gru_train10",
              "default_dual_transformer_train10"}
BT_PREFIXES = ("barlow_twins", "model_bt", "default_bt")


def run(check, **kw):
    """-> (ok, report lines) of check(GOLDEN, ...)."""
    lines = []
    ok = check(GOLDEN, echo=lines.append, **kw)
    return ok, lines


def failed_cases(lines):
    return {ln.split()[0] for ln in lines[1:-1] if ln.endswith("FAIL")}


def assert_passes_every_case(check, port):
    manifest, golden = load(GOLDEN)
    assert set(manifest["cases"]) - set(port) == set(), "cases without a port"
    assert set(port) - set(manifest["cases"]) == set(), "port functions for cases the goldens do not have"
    ok, lines = run(check)
    assert ok, "\n".join(ln for ln in lines if ln.endswith("FAIL"))
    # every output and every gradient of every case was compared
    n = sum(k.startswith(("output/", "grad/")) for arrays in golden.values() for k in arrays)
    assert lines[-1] == f"{n}/{n} tensors pass"


def assert_fails_exactly(check, cases):
    """The check fails, on exactly `cases` (those of them the goldens hold)."""
    ok, lines = run(check)
    assert not ok
    assert failed_cases(lines) == set(cases) & set(load(GOLDEN)[0]["cases"])
    return lines


def assert_large_gru_miss(lines):
    """The broken GRU misses by a readable amount, not a rounding artefact."""
    fail = next(ln for ln in lines if ln.startswith("gru ") and "output/out" in ln)
    err, share = float(fail.split()[2]), float(fail.split()[4].rstrip("%"))
    assert err > 1e-3 and share > 100


def assert_exit_codes(port_dir, tmp_path, only, expect):
    """check.py: exit 0 on a passing subset (its table names `expect`), 2 on a folder without a manifest."""
    script = str(ROOT / "examples" / port_dir / "check.py")
    r = subprocess.run([sys.executable, script, str(GOLDEN), "--only", only], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "max abs" in r.stdout and "tol used" in r.stdout and expect in r.stdout
    r = subprocess.run([sys.executable, script, str(tmp_path)], capture_output=True, text=True)
    assert r.returncode == 2 and r.stderr.strip().startswith("error:") and "manifest.json" in r.stderr
