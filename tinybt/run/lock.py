"""One writer per run folder: an OS lock on RUN/.lock (fcntl.flock, Linux and macOS).

train, --resume and probe hold it while they write into the folder; a second
writer fails at once with a clear error instead of interleaving metrics.jsonl
lines. The OS drops the lock when the file is closed or the process dies (even
by SIGKILL), so a crash never leaves a stale lock behind; the empty .lock file
itself stays and means nothing on its own. Where fcntl is missing (Windows) no
lock is taken.
"""

import contextlib
import os
from pathlib import Path

from tinybt.atomic import check_writable
from tinybt.errors import TinyBTError

try:
    import fcntl
except ImportError:            # Windows
    fcntl = None

NAME = ".lock"


class RunLock:
    """A held lock; `with lock:` or .release() gives it back (idempotent)."""

    def __init__(self, fd):
        self.fd = fd

    def release(self):
        if self.fd is not None:
            os.close(self.fd)              # closing the descriptor drops the flock
            self.fd = None

    @contextlib.contextmanager
    def released_on_error(self):
        try:
            yield self
        except BaseException:
            self.release()
            raise

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.release()


def acquire(folder, flag):
    """Lock run folder `folder` for writing; `flag` names the argument that gave it, for errors."""
    folder = Path(folder)
    check_writable(folder / NAME, flag)    # a read-only folder fails here, before any work
    fd = os.open(folder / NAME, os.O_RDWR | os.O_CREAT, 0o666)
    if fcntl is not None:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise TinyBTError(f"{flag}: {folder} is in use by another tinybt process (training, "
                              "resuming or probing it); wait until it ends") from None
    return RunLock(fd)
