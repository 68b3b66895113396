"""Atomic file writes: a reader (or a crash) never sees half a file.

Write into a temporary file in the same folder, flush it to disk, then
os.replace it over the target (atomic on POSIX and Windows). On any error the
temporary file is removed and the old target, if any, is left as it was.
"""

import contextlib
import os
import tempfile
from pathlib import Path

_UMASK = os.umask(0)
os.umask(_UMASK)


@contextlib.contextmanager
def atomic_open(path, mode="wb", **kw):
    """`with atomic_open(path, "w") as f: ...` -> path holds all of f's data, or is untouched."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with open(fd, mode, **kw) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_UMASK)   # mkstemp makes the file private; give it the usual mode
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def write_text(path, text):
    with atomic_open(path, "w", encoding="utf-8") as f:
        f.write(text)
