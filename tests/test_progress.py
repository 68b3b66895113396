"""The progress line's options: a delay that keeps short stages silent, a transient bar,
the fit to the terminal's width, and durations past an hour. (The plain and redrawn
forms themselves: tests/test_probe_pool.py.)"""

import io

import pytest

from tinybt.progress import DELAY, Progress, duration


class Clock:
    def __init__(self):
        self.t = 0.0

    def __call__(self):
        return self.t


class Tty(io.StringIO):
    def isatty(self):
        return True


def run(out, seconds, steps=4, **kw):
    """A stage of `steps` equal updates spread over `seconds`; -> what it wrote."""
    clock = Clock()
    with Progress(steps, "parse", file=out, clock=clock, **kw) as bar:
        for _ in range(steps):
            clock.t += seconds / steps
            bar.update(1)
    return out.getvalue()


@pytest.mark.parametrize("out", [io.StringIO, Tty])
def test_a_stage_shorter_than_the_delay_writes_nothing(out):
    assert run(out(), 0.9 * DELAY, delay=DELAY) == ""


def test_a_long_stage_shows_once_the_delay_has_passed():
    text = run(io.StringIO(), 40.0, delay=DELAY)        # updates at 10, 20, 30, 40 s
    lines = text.splitlines()
    assert lines[0].startswith("parse [######") and "25%" in lines[0] and "ETA 0:30" in lines[0]
    assert "100%" in lines[-1] and len(lines) == 5      # one per 10 s, and the final line


def test_a_stage_that_passes_the_delay_between_updates_still_gets_its_final_line():
    out, clock = io.StringIO(), Clock()
    with Progress(1, "embed", file=out, clock=clock, delay=DELAY) as bar:
        bar.update(1)                   # at once: too early for a line
        clock.t = 3 * DELAY
    assert out.getvalue().startswith("embed [####") and out.getvalue().count("\n") == 1


def test_a_transient_bar_is_erased_on_a_terminal_and_leaves_no_final_line_elsewhere():
    text = run(Tty(), 4.0, transient=True)
    assert text.endswith("\r\x1b[K") and "\n" not in text and text.count("parse [") == 4
    plain = run(io.StringIO(), 40.0, transient=True)
    assert len(plain.splitlines()) == 4                 # one per update 10 s apart, no final line


def test_a_line_fits_its_columns_by_narrowing_the_bar_then_dropping_whole_status_fields():
    clock = Clock()
    bar = Progress(2, "epoch 1/3", file=io.StringIO(), clock=clock)
    clock.t = 1.0
    bar.update(1, "loss 73.62  on/P 0.27  off/P 3.46")
    full = bar.line()
    assert full.endswith("ETA 0:01  loss 73.62  on/P 0.27  off/P 3.46") and bar.line(len(full)) == full
    assert bar.line(len(full) - 1) == full.removesuffix("  off/P 3.46")       # not "off/P 3.4"
    bare = full[:full.index("  loss")]
    narrow = bar.line(len(bare) - 10)
    assert narrow.endswith("ETA 0:01") and len(narrow) == len(bare) - 10 and narrow.count("#") == 7
    assert len(bar.line(20)) == 20                                             # narrower than any bar


def test_a_terminal_line_fits_the_terminal_width(monkeypatch):
    monkeypatch.setenv("COLUMNS", "60")                 # StringIO has no terminal: the fallback reads COLUMNS
    out, clock = Tty(), Clock()
    with Progress(2, "probes", file=out, clock=clock) as bar:
        clock.t = 1.0
        bar.update(1, "x" * 200)
    redraws = [r.rstrip("\n").removesuffix("\x1b[K") for r in out.getvalue().split("\r")[1:]]
    assert len(redraws) == 2 and all(len(r) <= 59 and "ETA 0:0" in r and "x" not in r for r in redraws)


@pytest.mark.parametrize("seconds, text", [(0, "0:00"), (37.4, "0:37"), (599.6, "10:00"), (3725, "1:02:05"),
                                           (999 * 3600, "999:00:00")])
def test_duration(seconds, text):
    assert duration(seconds) == text
