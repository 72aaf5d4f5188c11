"""The switch between the DuckDB fast path and the portable path, and the fast path's parts
(:mod:`kundresa.analytics._fast` re-exports them): no numpy, Arrow or Ibis imported, so the
command line can ask before it loads them (:mod:`kundresa.analyses._lean`)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

__all__ = ["PART_ROWS", "fast_path_allowed", "parts_for", "portable"]

PART_ROWS = 15_000_000
"""Events per part of the fast path (``KUNDRESA_FAST_PATH_ROWS``): the rows a part holds in
memory stay under about 4 GiB."""

_PORTABLE: ContextVar[bool] = ContextVar("kundresa_portable", default=False)


@contextmanager
def portable() -> Iterator[None]:
    """Run analyses inside the ``with`` block on the portable Ibis path, whatever the engine.

    Examples
    --------
    >>> import ibis
    >>> from kundresa.analytics._fast import fast_path
    >>> t = ibis.memtable({"a": [1]})
    >>> with portable():
    ...     fast_path(t)
    False
    """
    token = _PORTABLE.set(True)
    try:
        yield
    finally:
        _PORTABLE.reset(token)


def fast_path_allowed() -> bool:
    """Whether the fast path is allowed here: not inside :func:`portable`, not
    ``KUNDRESA_FAST_PATH=0`` (or ``false``) in the environment."""
    if _PORTABLE.get():
        return False
    return os.environ.get("KUNDRESA_FAST_PATH", "1").strip() not in ("0", "false")


def parts_for(rows: int) -> int:
    """Into how many parts (by customer) a fast path splits ``rows`` events: one per
    ``KUNDRESA_FAST_PATH_ROWS`` events (default :data:`PART_ROWS`).

    Raises
    ------
    ValueError
        ``KUNDRESA_FAST_PATH_ROWS`` is not a whole number of at least 1.

    Examples
    --------
    >>> parts_for(0), parts_for(PART_ROWS), parts_for(PART_ROWS + 1)
    (1, 1, 2)
    """
    text = os.environ.get("KUNDRESA_FAST_PATH_ROWS", "").strip()
    try:
        per_part = int(text) if text else PART_ROWS
    except ValueError:
        raise ValueError(
            f"KUNDRESA_FAST_PATH_ROWS must be a whole number of events, got {text!r}"
        ) from None
    if per_part < 1:
        raise ValueError(f"KUNDRESA_FAST_PATH_ROWS must be at least 1, got {per_part}")
    return max(1, -(-rows // per_part))
