"""One exception type for every user-facing failure, and how the CLI reports failures.

The CLI turns any exception escaping a command into one line on stderr (`one_line`):
a TinyBTError is its message (exit 2), an OSError its path and reason (exit 2),
anything else is a bug in tinybt (exit 1). `--debug` or TINYBT_DEBUG=1 keeps the
traceback for a bug report.
"""


class TinyBTError(Exception):
    """A failure the user can act on: bad file, bad flag, empty data, NaN, ..."""


def one_line(e):
    """(one-line message, exit code) for an exception that reached the top of the CLI."""
    if isinstance(e, TinyBTError):
        return str(e), 2
    if isinstance(e, OSError) and e.strerror:
        paths = [str(p) for p in (e.filename, e.filename2) if p is not None]
        return ": ".join([" -> ".join(paths), e.strerror] if paths else [e.strerror]), 2
    text = " ".join(str(e).split()) or "(no message)"
    return f"internal error: {type(e).__name__}: {text}; rerun with --debug for the traceback", 1
