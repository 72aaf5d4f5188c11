"""What kind of file system entry a path names, asked before a file is opened for reading.

Opening a named pipe (FIFO) waits until something writes to it, and a character device such
as ``/dev/zero`` never ends: a command given one would hang. Every reader of a file a person
names (events, journey, paths file) asks :func:`not_a_regular_file` first and refuses such a
path with one line.
"""

from __future__ import annotations

import os
import stat

__all__ = ["not_a_regular_file"]


def not_a_regular_file(path: str | os.PathLike[str]) -> str | None:
    """What ``path`` is when it exists and is not a regular file (``"a named pipe"``,
    ``"a folder"``…), else None (a regular file, a link to one, or nothing at all: opening
    it says so).

    Examples
    --------
    >>> not_a_regular_file("/")
    'a folder'
    >>> not_a_regular_file("/no/such/file") is None
    True
    """
    try:
        mode = os.stat(path).st_mode
    except (OSError, ValueError):
        return None
    if stat.S_ISREG(mode):
        return None
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a named pipe"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    return "not a regular file"
