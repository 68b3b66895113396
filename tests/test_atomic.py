"""tinybt.atomic: all of the new content or none of it, with the usual file mode."""

import os
import stat

import pytest

from tinybt.atomic import _UMASK, atomic_open, write_text


def test_file_gets_the_umask_mode_not_mkstemps_private_one(tmp_path):
    write_text(tmp_path / "a.md", "x\n")
    assert stat.S_IMODE(os.stat(tmp_path / "a.md").st_mode) == 0o666 & ~_UMASK


def test_error_mid_write_keeps_the_old_file_and_no_temporary(tmp_path):
    path = tmp_path / "c.npz"
    path.write_bytes(b"old")
    with pytest.raises(RuntimeError):
        with atomic_open(path) as f:
            f.write(b"half of the new")
            raise RuntimeError("crash")
    assert path.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["c.npz"]


def test_an_unwritable_target_is_named_not_its_temporary(tmp_path):
    from tinybt.errors import TinyBTError

    with pytest.raises(TinyBTError, match=f"^cannot write {tmp_path / 'no' / 'x.npy'} \\(its folder does not exist\\)$"):
        with atomic_open(tmp_path / "no" / "x.npy"):
            pass
    (tmp_path / "f").write_text("a file")
    with pytest.raises(TinyBTError, match=f"^cannot write {tmp_path / 'f' / 'x.npy'} \\(Not a directory\\)$"):
        write_text(tmp_path / "f" / "x.npy", "")


def test_a_failed_write_names_the_target_not_its_temporary(tmp_path):
    import errno

    path = tmp_path / "m.jsonl"
    path.write_bytes(b"old")
    with pytest.raises(OSError) as e:
        with atomic_open(path, "w", encoding="utf-8"):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    assert (e.value.errno, e.value.filename) == (errno.ENOSPC, str(path))
    assert path.read_bytes() == b"old" and [p.name for p in tmp_path.iterdir()] == ["m.jsonl"]
