"""The README's set-up commands are the ones CI runs."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def readme_commands():
    return re.findall(r"```bash\n(.+?)\n```", (ROOT / "README.md").read_text())


def test_readme_has_two_setup_commands():
    cmds = readme_commands()
    assert len(cmds) >= 2 and cmds[0].startswith("pip install -e .")


def test_ci_runs_the_readme_test_command():
    test_cmd = readme_commands()[1]
    assert test_cmd in (ROOT / ".ci" / "run").read_text().splitlines()
