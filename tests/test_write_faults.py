"""A write that fails in the middle (full disk, I/O error) loses nothing.

Every file tinybt writes goes through tinybt.atomic.atomic_open, which opens its temporary
file with the module's `open`. The tests swap that `open` for one whose file object raises
OSError(ENOSPC or EIO) once half of the file's previous size has been written, run the real
command in-process, and check: the previous file is byte-identical, no temporary file is
left, the error is one line naming the file, and --resume ends where an uninterrupted run
ends.
"""

import errno
import hashlib
import os
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from tinybt import atomic
from tinybt.cli import cli

from train_helpers import assert_same_checkpoint, metrics, tiny_flags

ERRORS = {"ENOSPC": errno.ENOSPC, "EIO": errno.EIO}


class FailingFile:
    """A file object whose writes fail with `err` once `budget` bytes (or characters) are in."""

    def __init__(self, f, budget, err):
        self.f, self.left, self.err = f, budget, err

    def write(self, data):
        if len(data) > self.left:
            self.f.write(data[:self.left])          # a partial write, as a filling disk gives
            self.left = 0
            raise OSError(self.err, os.strerror(self.err))
        self.left -= len(data)
        return self.f.write(data)

    def __getattr__(self, name):
        return getattr(self.f, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return self.f.__exit__(*exc)


@pytest.fixture
def fail_writing(monkeypatch):
    """fail_writing(target, err, nth=1): the nth write of file `target` fails with `err` half way
    through (after half the size the file had); returns a record: the errno and, once written, what the file held before."""
    def arm(target, err, nth=1):
        real, seen = open, []
        record = {"errno": err}

        def faulty(file, mode="r", *args, **kw):
            f = real(file, mode, *args, **kw)
            # atomic._temp_file names target's temporary .<name>.<random>.tmp
            if Path(file).name.startswith(f".{target.name}.") and Path(file).name.endswith(".tmp"):
                seen.append(file)
                if len(seen) == nth:
                    record["old"] = target.read_bytes()
                    return FailingFile(f, len(record["old"]) // 2, err)
            return f

        monkeypatch.setattr(atomic, "open", faulty, raising=False)
        return record
    return arm


def cli_run(*args):
    r = CliRunner().invoke(cli, [str(a) for a in args])
    return r.exit_code, r.stdout, r.stderr


def digest(folder):
    """{relative path: sha256} of every file under `folder`."""
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(Path(folder).rglob("*")) if p.is_file()}


def assert_failed_cleanly(code, err, record, target):
    """One error line naming `target`, which still holds its old bytes; no temporary file left."""
    assert "old" in record, "the failing write was never attempted"
    # (train's progress lines come before it on stderr)
    assert code == 2 and err.splitlines()[-1] == f"error: {target}: {os.strerror(record['errno'])}", err
    assert err.count("error: ") == 1 and "Traceback" not in err
    assert target.read_bytes() == record["old"]
    assert not list(target.parent.rglob("*.tmp")) and not list(target.parent.rglob(".*.tmp*")), \
        sorted(target.parent.rglob("*"))


@pytest.fixture(scope="module")
def full(tmp_path_factory, data_dir):
    """The uninterrupted 3-epoch run the resumed ones must end equal to."""
    out = tmp_path_factory.mktemp("full") / "run"
    assert cli_run("train", *tiny_flags(data_dir), "--out", out, "--no-probe")[0] == 0
    return out


@pytest.mark.parametrize("err", ERRORS)
@pytest.mark.parametrize("name", ["checkpoint.npz", "metrics.jsonl"])
def test_failed_epoch_write_keeps_the_last_good_one_and_resume_continues(data_dir, tmp_path, full, fail_writing,
                                                                          name, err):
    run = tmp_path / "run"
    record = fail_writing(run / name, ERRORS[err], nth=2)        # the write of epoch 2
    code, _, stderr = cli_run("train", *tiny_flags(data_dir), "--out", run, "--no-probe")
    assert_failed_cleanly(code, stderr, record, run / name)
    assert len(metrics(run)) == 1
    code, _, stderr = cli_run("train", "--resume", run, "--no-probe")
    assert code == 0, stderr
    assert metrics(run) == metrics(full)
    assert_same_checkpoint(run, full)


def twice(fail_writing, target, err, *args):
    """Run `tinybt ARGS` to write target, then again with its write failing -> (code, stderr, record)."""
    code, _, stderr = cli_run(*args)
    assert code == 0, stderr
    before = digest(target.parent)
    record = fail_writing(target, ERRORS[err])
    code, _, stderr = cli_run(*args)
    assert_failed_cleanly(code, stderr, record, target)
    assert digest(target.parent) == before                  # nothing else changed either


@pytest.mark.parametrize("err", ERRORS)
def test_failed_embedding_write_keeps_the_old_file(tmp_path, full, fail_writing, err):
    twice(fail_writing, tmp_path / "users.npy", err, "embed", full, "--out", tmp_path / "users.npy")


@pytest.mark.parametrize("err", ERRORS)
def test_failed_results_write_keeps_the_old_results(tmp_path, full, fail_writing, err):
    run = tmp_path / "run"
    shutil.copytree(full, run)
    twice(fail_writing, run / "results.json", err, "probe", run, "--tasks", "favorite_genre", "--seeds", "1",
          "--label-fractions", "1", "--folds", "2", "--jobs", "1")


@pytest.mark.parametrize("err", ERRORS)
@pytest.mark.parametrize("name", ["gru.npz", "manifest.json"])
def test_failed_golden_export_keeps_the_old_folder(tmp_path, fail_writing, name, err):
    dest = tmp_path / "g"
    twice(fail_writing, dest / name, err, "golden", "export", dest, "--force")
    assert [p.name for p in tmp_path.iterdir()] == ["g"]          # no temporary folder left either
