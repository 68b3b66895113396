"""Atomic file writes: a reader (or a crash) never sees half a file.

Write into a temporary file in the same folder, flush it to disk, then
os.replace it over the target (atomic on POSIX and Windows). On any error the
temporary file is removed and the old target, if any, is left as it was; a
failed write (full disk, I/O error) is an OSError naming the target. A target
that cannot be written (missing or read-only folder) is a TinyBTError naming
the target, not the temporary file.
"""

import contextlib
import os
import tempfile
from pathlib import Path

from tinybt.errors import TinyBTError

_UMASK = os.umask(0)
os.umask(_UMASK)


def _temp_file(path, prefix="", shown=None):
    """mkstemp next to `path`; an unwritable place -> TinyBTError "{prefix}cannot write {shown or path} (why)"."""
    try:
        return tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as e:
        why = "its folder does not exist" if isinstance(e, FileNotFoundError) else e.strerror
        raise TinyBTError(f"{prefix}cannot write {shown or path} ({why})") from None


def _try_write(path, flag, shown=None):
    fd, tmp = _temp_file(Path(path), f"{flag}: " if flag else "", shown)
    os.close(fd)
    os.unlink(tmp)


def check_writable(path, flag=None):
    """Raise TinyBTError now (before any long computation) unless file `path` can be written."""
    path = Path(path)
    if path.is_dir():
        raise TinyBTError(f"{flag + ': ' if flag else ''}{path} is a folder, expected a file name")
    _try_write(path, flag)


def check_folder(path, flag):
    """Raise TinyBTError now unless folder `path` exists or can be made, and can be written into."""
    up = Path(path)
    while not up.exists() and up != up.parent:
        up = up.parent
    if not up.is_dir():
        raise TinyBTError(f"{flag}: {up} is a file, not a folder")
    _try_write(up / "probe", flag, shown=f"into {up}")


@contextlib.contextmanager
def atomic_open(path, mode="wb", **kw):
    """`with atomic_open(path, "w") as f: ...` -> path holds all of f's data, or is untouched.

    A write that fails (a full disk, an I/O error: at write, flush, fsync or rename) raises
    OSError naming `path` itself, so the one-line error says which file was not written.
    """
    path = Path(path)
    fd, tmp = _temp_file(path, "")
    os.close(fd)                  # reopened by name: Windows cannot rename a file open twice
    try:
        with open(tmp, mode, **kw) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_UMASK)   # mkstemp makes the file private; give it the usual mode
        os.replace(tmp, path)
    except BaseException as e:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        if isinstance(e, OSError) and e.filename in (None, tmp):
            raise OSError(e.errno, e.strerror or str(e), str(path)) from None
        raise


def write_text(path, text):
    with atomic_open(path, "w", encoding="utf-8") as f:
        f.write(text)
