"""The package and its tests hold on platforms other than Linux (issue 20 §1).

CI runs on Linux only, so the other platforms are emulated: part of the suite runs in a
pytest subprocess with TINYBT_EMULATE_NONPOSIX=1 (tests/conftest.py removes `resource`,
os.geteuid and signal.SIGKILL, as on Windows) and must pass, skipping only the tests that
cannot run there. And every text file the package reads or writes names its encoding
(Windows would otherwise use the locale's code page).
"""

import ast
import os
import subprocess
import sys
from pathlib import Path
from xml.etree import ElementTree

import pytest

from wait_helpers import finish

ROOT = Path(__file__).resolve().parents[1]

SUBSET = ["tests/test_cli_errors.py::test_read_only_run_folder_is_one_line",
          "tests/test_cli_errors.py::test_debug_shows_the_traceback_in_a_real_process",
          "tests/test_cli_errors.py::test_a_bug_is_one_line_unless_debug",
          "tests/test_run_folder.py::test_the_lock_dies_with_its_process",
          "tests/test_resume.py::test_resume_after_a_hard_kill",
          "tests/test_atomic.py"]
# what cannot run without POSIX, and why
EXPECTED_SKIPS = {"tests/test_cli_errors.py::test_read_only_run_folder_is_one_line[args0]": "no os.geteuid",
                  "tests/test_cli_errors.py::test_read_only_run_folder_is_one_line[args1]": "no os.geteuid"}


@pytest.mark.slow
def test_the_suite_runs_without_the_posix_only_names(tmp_path):
    env = os.environ | {"TINYBT_EMULATE_NONPOSIX": "1"}
    xml = tmp_path / "report.xml"
    p = subprocess.Popen([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", f"--junitxml={xml}",
                          "--basetemp", str(tmp_path / "t"), *SUBSET], cwd=ROOT, env=env,
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    out, _ = finish(p, "the emulated non-POSIX pytest run")
    assert p.returncode == 0, out[-4000:]
    outcome = {}
    for case in ElementTree.parse(xml).iter("testcase"):
        test = f"{case.get('classname').replace('.', '/')}.py::{case.get('name')}"
        skip = case.find("skipped")
        outcome[test] = "passed" if len(case) == 0 else skip.get("message") if skip is not None else "failed"
    skipped = {t: why for t, why in outcome.items() if why != "passed"}
    assert set(skipped) == set(EXPECTED_SKIPS), out[-4000:]
    assert all(EXPECTED_SKIPS[t] in why for t, why in skipped.items()), skipped     # for the right reason
    assert len(outcome) - len(skipped) >= 8, outcome


def test_the_emulation_removes_the_names():
    code = ("import os, signal, sys; sys.path.insert(0, 'tests'); import conftest\n"
            "try:\n    import resource\nexcept ImportError:\n    resource = None\n"
            "print(resource is None, hasattr(os, 'geteuid'), hasattr(signal, 'SIGKILL'))")
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                       env=os.environ | {"TINYBT_EMULATE_NONPOSIX": "1"})
    assert r.stdout.split() == ["True", "False", "False"], r.stderr


def test_bench_parse_imports_without_resource():
    code = ("import sys, runpy; sys.modules['resource'] = None; "
            "runpy.run_path('benchmarks/bench_parse.py', run_name='imported')")
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr


def _text_io_without_encoding(tree):
    """Calls of open(...) in text mode, Path.read_text() and Path.write_text(...) without encoding=."""
    for n in ast.walk(tree):
        if not isinstance(n, ast.Call) or any(k.arg is None or k.arg == "encoding" for k in n.keywords):
            continue                    # **kw passes the caller's encoding along
        if isinstance(n.func, ast.Attribute) and n.func.attr in ("read_text", "write_text"):
            yield n
        elif isinstance(n.func, ast.Name) and n.func.id == "open":
            mode = n.args[1] if len(n.args) > 1 else next((k.value for k in n.keywords if k.arg == "mode"), None)
            modes = [c.value for c in ast.walk(mode) if isinstance(c, ast.Constant)] if mode is not None else ["r"]
            if not modes or any("b" not in m for m in modes):
                yield n


@pytest.mark.parametrize("folder", ["tinybt", "examples", "benchmarks"])
def test_text_io_names_its_encoding(folder):
    bad = [f"{f.relative_to(ROOT)}:{n.lineno}: {ast.unparse(n)[:80]}"
           for f in sorted((ROOT / folder).rglob("*.py"))
           for n in _text_io_without_encoding(ast.parse(f.read_text(encoding="utf-8")))]
    assert not bad, "\n".join(bad)


def test_the_encoding_scan_can_fail():
    calls = ast.parse("p.read_text()\nopen(f)\nopen(f, 'rb')\nopen(f, 'w', encoding='utf-8')\nopen(fd, mode, **kw)")
    assert [ast.unparse(n) for n in _text_io_without_encoding(calls)] == ["p.read_text()", "open(f)"]
