"""Fixtures every test file may use.

TINYBT_EMULATE_NONPOSIX=1 runs the tests as on a platform without the POSIX-only names
(Windows): `resource` cannot be imported, and os.geteuid and signal.SIGKILL do not exist
(Popen.kill then terminates, as it does on Windows). It acts here, before any test module
imports, so a test that still needs those names fails or skips exactly as it would there
(tests/test_portability.py runs part of the suite this way).
"""

import os

if os.environ.get("TINYBT_EMULATE_NONPOSIX") == "1":
    import signal
    import subprocess
    import sys

    sys.modules["resource"] = None             # `import resource` -> ImportError
    for module, name in ((os, "geteuid"), (signal, "SIGKILL")):
        if hasattr(module, name):
            delattr(module, name)
    subprocess.Popen.kill = subprocess.Popen.terminate     # Windows: kill is terminate

import pytest  # noqa: E402
from hypothesis import settings  # noqa: E402

from train_helpers import tiny_dataset  # noqa: E402

# Property tests draw the same examples on every run and machine: a CI failure
# reproduces locally, and no run passes or fails by luck. No deadline: how long an example
# takes depends on the machine's load, not on the code.
settings.register_profile("tinybt", derandomize=True, database=None, deadline=None)
settings.load_profile("tinybt")


@pytest.fixture(autouse=True)
def home(tmp_path_factory, monkeypatch):
    """No test reads or writes the user's real cache ($TINYBT_HOME). The probe memo is off:
    a test that probes twice must fit twice (tests/test_probe_memo.py turns it on)."""
    monkeypatch.setenv("TINYBT_HOME", str(tmp_path_factory.getbasetemp() / "home"))
    monkeypatch.setenv("TINYBT_PROBE_CACHE", "0")


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory):
    """A tiny synthetic dataset on disk in the ML-1M format (train_helpers.tiny_dataset)."""
    return tiny_dataset(tmp_path_factory.mktemp("data"))
