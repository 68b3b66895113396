"""The first questions of a new user are answered by --help, LICENSE and README (issue 20 §3)."""

from pathlib import Path

from click.testing import CliRunner

from tinybt.cli import cli

ROOT = Path(__file__).resolve().parents[1]


def test_train_help_answers_the_first_questions():
    text = " ".join(CliRunner().invoke(cli, ["train", "--help"]).stdout.split())
    for fact in ("op[:rate]", "Example: --augment crop:0.5,mask:0.2",            # the --augment format
                 "initial weights, batch order, augmented views",                  # --seed
                 "Which users are train / validation / test (independent of --seed)",   # --split-seed
                 "yelp (cannot be downloaded: needs --data-dir)", "$TINYBT_HOME, default ~/.cache/tinybt"):
        assert fact in text, fact


def test_license_and_citation():
    assert (ROOT / "LICENSE").read_text(encoding="utf-8").startswith("MIT License\n\nCopyright (c) 2026 the tinybt authors")
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "```bibtex" in readme and "arXiv:2505.00953" in readme and "Liu and Ning" in readme


def test_the_offline_error_names_the_download_cache_and_tinybt_home(monkeypatch, tmp_path):
    import re

    import pytest

    from tinybt.data.load import load_dataset
    from tinybt.errors import TinyBTError

    monkeypatch.setenv("TINYBT_HOME", str(tmp_path))
    monkeypatch.setenv("TINYBT_DOWNLOAD_URL", "http://127.0.0.1:9")  # discard port: refused
    with pytest.raises(TinyBTError, match=re.escape(f"downloads are cached in {tmp_path} (set TINYBT_HOME")):
        load_dataset("ml-100k")
