"""One progress line with an ETA on stderr, for any stage that takes more than a few seconds.

On a terminal the line redraws in place ("\\r"): label, bar, percent, elapsed, ETA and a
short status, fitted to the terminal's width (a wrapped line cannot be redrawn). Elsewhere
(a log file, a pipe, a test) redrawing would pile up, so it prints a plain line at most
every PLAIN_EVERY seconds and once at the end.
The ETA assumes the remaining units cost what the finished ones did on average: give
units proportional to the work (e.g. estimated seconds), not one unit per uneven task.

Two options:
- delay: nothing is written before `delay` seconds have passed, and a stage that ends
  sooner writes nothing at all. For stages that are long only on big inputs (parsing a
  file, encoding users): on small data they take less than DELAY, and a bar that flashes
  by, or a log line per run saying "100% 0:00 elapsed", only buries the lines that matter.
- transient: the caller prints its own summary line instead of the finished bar (an
  epoch's steps, followed by the epoch line), so close() erases the bar on a terminal
  and writes no final line elsewhere.
"""

import os
import shutil
import sys
import time

WIDTH = 24            # bar characters
MIN_WIDTH = 8         # ... on a terminal too narrow for the whole line
PLAIN_EVERY = 10.0    # seconds between plain lines
REDRAW_EVERY = 0.2    # seconds between terminal redraws
DELAY = 2.0           # seconds a stage may take without a bar (`delay`)


def is_terminal(file):
    return bool(getattr(file, "isatty", lambda: False)())


def columns(file):
    """The width of the terminal `file` writes to; when it cannot say (no file number, or a
    pseudo-terminal of size 0), $COLUMNS, stdout's width or 80."""
    try:
        cols = os.get_terminal_size(file.fileno()).columns
    except (AttributeError, OSError, ValueError):
        cols = 0
    return cols or shutil.get_terminal_size().columns


def duration(seconds):
    """m:ss, or h:mm:ss from one hour on."""
    s = int(round(seconds))
    h, m = divmod(s // 60, 60)
    return f"{h}:{m:02d}:{s % 60:02d}" if h else f"{m}:{s % 60:02d}"


class Progress:
    """Progress(total, label).update(n, status) ... .close(); also a context manager."""

    def __init__(self, total, label, file=None, show=True, clock=time.monotonic, delay=0.0, transient=False):
        self.total, self.label, self.show, self.clock = max(float(total), 1e-12), label, show, clock
        self.file = file or sys.stderr
        self.tty = is_terminal(self.file)
        self.delay, self.transient = delay, transient
        self.done, self.status, self.start = 0.0, "", clock()
        self._last = None         # time of the last line written

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close(finished=exc[0] is None)

    def line(self, cols=None):
        """The text of the progress line as it stands now. cols: fit it in that many columns by
        narrowing the bar, then dropping the status's last fields (fields are two spaces apart:
        a number cut in half would mislead), and as a last resort cutting the end."""
        frac = min(self.done / self.total, 1.0)
        elapsed = self.clock() - self.start
        eta = duration(elapsed * (1 - frac) / frac) if frac > 0 else "?"
        tail = f"] {100 * frac:3.0f}% {duration(elapsed)} elapsed, ETA {eta}"
        status = f"  {self.status}" if self.status else ""
        width = WIDTH if cols is None else max(MIN_WIDTH, min(WIDTH, cols - len(self.label) - 2 - len(tail)))
        text = f"{self.label} [" + "#" * int(width * frac) + "-" * (width - int(width * frac)) + tail
        while cols is not None and status and len(text) + len(status) > cols:
            status = status[:status.rfind("  ")]
        return (text + status)[:cols]

    def update(self, n=1, status=None):
        """n more units done; status (optional) replaces the short text after the ETA."""
        self.done += n
        if status is not None:
            self.status = status
        now = self.clock()
        if (self.show and now - self.start >= self.delay
                and (self._last is None or now - self._last >= (REDRAW_EVERY if self.tty else PLAIN_EVERY))):
            self._write(now)

    def _write(self, now):
        if self.tty:
            # one column short of the width: the last one wraps on some terminals
            self._put("\r" + self.line(columns(self.file) - 1) + "\x1b[K")
        else:
            self._put(self.line() + "\n")
        self._last = now

    def _put(self, text):
        self.file.write(text)
        self.file.flush()

    def close(self, finished=True):
        """Write the final state (a finished bar ends its line); an interrupted bar just ends the line.
        A transient bar is erased instead, and a stage shorter than `delay` writes nothing."""
        if not self.show:
            return
        self.show = False
        now = self.clock()
        if self._last is None and now - self.start < self.delay:
            return
        if self.transient:
            if self.tty and self._last is not None:
                self._put("\r\x1b[K")
            return
        if finished:
            self.done = self.total
            self._write(now)
        if self.tty and self._last is not None:
            self._put("\n")
