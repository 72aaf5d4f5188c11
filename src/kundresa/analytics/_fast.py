"""When analyses take the DuckDB fast path, and a switch to keep them on the portable path.

On DuckDB some analyses (the ordered and strict event funnels) fetch the events they need,
sorted, and walk each customer's sequence once in a compiled kernel
(:mod:`kundresa.analytics._kernels`) instead of compiling window functions and self-joins;
every other engine (Spark, and the SQL engines the portable path compiles to) runs the
portable Ibis expressions. Both paths give the same results (the tests pin them to one
brute-force reference). ``KUNDRESA_FAST_PATH=0`` in the environment, or :func:`portable` in
code, keeps every analysis on the portable path.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

import ibis.expr.types as ir

__all__ = ["fast_path", "portable"]

_PORTABLE: ContextVar[bool] = ContextVar("kundresa_portable", default=False)


@contextmanager
def portable() -> Iterator[None]:
    """Run analyses inside the ``with`` block on the portable Ibis path, whatever the engine.

    Examples
    --------
    >>> import ibis
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


def fast_path(t: ir.Table) -> bool:
    """Whether ``t`` runs on DuckDB and the fast path is allowed (not :func:`portable`, not
    ``KUNDRESA_FAST_PATH=0``)."""
    if _PORTABLE.get() or os.environ.get("KUNDRESA_FAST_PATH", "1").strip() in ("0", "false"):
        return False
    try:
        backend = t._find_backend(use_default=True)
    except Exception:  # an expression without one engine: let the portable path say why
        return False
    return getattr(backend, "name", None) == "duckdb"
