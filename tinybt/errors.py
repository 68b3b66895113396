"""One exception type for every user-facing failure.

The CLI catches it and prints its message on one line (exit code 2); anything
else escaping is a bug in tinybt and keeps its traceback.
"""


class TinyBTError(Exception):
    """A failure the user can act on: bad file, bad flag, empty data, NaN, ..."""
