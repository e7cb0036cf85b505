"""What provscan was reading when something failed, for the internal-error message (exit code 3).

An unexpected exception is a bug in provscan, never a finding, and its report must say which file of the
submission, corpus or output was being read, so that a user can send that file and a developer can reproduce it.
The stages mark what they read with `reading(path)`; an exception leaving such a block carries a note naming it
(Python's exception notes, which tracebacks print too), and `where_it_failed` gives the innermost one.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

_PREFIX = "provscan was reading "


@contextmanager
def reading(what: str) -> Iterator[None]:
    """Mark `what` (a path, or a path with what is done to it) as being read in this block."""
    try:
        yield
    except Exception as error:
        error.add_note(_PREFIX + what)
        raise


def where_it_failed(error: BaseException) -> str | None:
    """The innermost `reading` mark an exception passed through, if any."""
    for note in getattr(error, "__notes__", ()):
        if note.startswith(_PREFIX):
            return note[len(_PREFIX):]
    return None
