"""Waiting on child processes without betting on the machine's speed.

A test waits for an event (a file appears, a line is printed, the child exits), never for a
fixed time. The bound is only there so a hung child cannot hang the suite: it is generous
(a loaded 2-core machine runs these children 10x slower than an idle one) and its failure
says which event never came.
"""

import subprocess
import time

import pytest

GENEROUS = 900      # seconds


def wait_until(done, proc, what, timeout=GENEROUS):
    """Poll done() until it is true; fail naming `what` if `proc` ends first or `timeout` s pass."""
    deadline = time.monotonic() + timeout
    while not done():
        if proc.poll() is not None:
            pytest.fail(f"{what}: the child exited (code {proc.returncode}) before it happened")
        if time.monotonic() > deadline:
            pytest.fail(f"{what}: not after {timeout} s (a hung child, or an extremely loaded machine)")
        time.sleep(0.02)


def finish(proc, what, timeout=GENEROUS):
    """proc.communicate() -> (stdout, stderr), failing (and killing it) after `timeout` s, naming `what`."""
    try:
        return proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        pytest.fail(f"{what}: the child did not exit within {timeout} s (hung?)")
