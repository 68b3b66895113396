"""One progress line with an ETA on stderr, for any stage that takes more than a few seconds.

On a terminal the line redraws in place ("\\r"): label, bar, percent, elapsed, ETA and a
short status. Elsewhere (a log file, a pipe, a test) redrawing would pile up, so it
prints a plain line at most every PLAIN_EVERY seconds and once at the end.
The ETA assumes the remaining units cost what the finished ones did on average: give
units proportional to the work (e.g. rows fitted), not one unit per uneven task.
"""

import sys
import time

WIDTH = 24            # bar characters
PLAIN_EVERY = 10.0    # seconds between plain lines
REDRAW_EVERY = 0.2    # seconds between terminal redraws


def _clock(seconds):
    seconds = int(round(seconds))
    return f"{seconds // 60}:{seconds % 60:02d}"


class Progress:
    """Progress(total, label).update(n, status) ... .close(); also a context manager."""

    def __init__(self, total, label, file=None, show=True, clock=time.monotonic):
        self.total, self.label, self.show, self.clock = max(float(total), 1e-12), label, show, clock
        self.file = file or sys.stderr
        self.tty = bool(getattr(self.file, "isatty", lambda: False)())
        self.done, self.status, self.start = 0.0, "", clock()
        self._last = None         # time of the last line written

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close(finished=exc[0] is None)

    def line(self):
        """The text of the progress line as it stands now."""
        frac = min(self.done / self.total, 1.0)
        elapsed = self.clock() - self.start
        eta = _clock(elapsed * (1 - frac) / frac) if frac > 0 else "?"
        bar = "#" * int(WIDTH * frac) + "-" * (WIDTH - int(WIDTH * frac))
        text = f"{self.label} [{bar}] {100 * frac:3.0f}% {_clock(elapsed)} elapsed, ETA {eta}"
        return f"{text}  {self.status}" if self.status else text

    def update(self, n=1, status=None):
        """n more units done; status (optional) replaces the short text after the ETA."""
        self.done += n
        if status is not None:
            self.status = status
        now = self.clock()
        if self.show and (self._last is None or now - self._last >= (REDRAW_EVERY if self.tty else PLAIN_EVERY)):
            self._write()
            self._last = now

    def _write(self):
        if self.tty:
            self.file.write("\r" + self.line() + "\x1b[K")
        else:
            self.file.write(self.line() + "\n")
        self.file.flush()

    def close(self, finished=True):
        """Write the final state (a finished bar ends its line); an interrupted bar just ends the line."""
        if not self.show:
            return
        if finished:
            self.done = self.total
            self._write()
        if self.tty:
            self.file.write("\n")
            self.file.flush()
        self.show = False
