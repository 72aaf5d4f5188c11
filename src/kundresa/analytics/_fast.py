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
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

if TYPE_CHECKING:
    import ibis.expr.types as ir

__all__ = [
    "customer_bounds",
    "fast_path",
    "fast_path_allowed",
    "fast_path_parts",
    "parts_for",
    "portable",
]

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


def fast_path(t: ir.Table) -> bool:
    """Whether ``t`` runs on DuckDB and the fast path is allowed (:func:`fast_path_allowed`)."""
    if not fast_path_allowed():
        return False
    try:
        backend = t._find_backend(use_default=True)
    except Exception:  # an expression without one engine: let the portable path say why
        return False
    return getattr(backend, "name", None) == "duckdb"


def fast_path_parts(events: ir.Table) -> int:
    """Into how many parts (by customer) a fast path splits ``events``: one per
    ``KUNDRESA_FAST_PATH_ROWS`` events (default :data:`PART_ROWS`, :func:`parts_for`).
    Counting the events is cheap on DuckDB for tables and Parquet files (their row counts
    are stored).

    Raises
    ------
    ValueError
        ``KUNDRESA_FAST_PATH_ROWS`` is not a whole number of at least 1.
    """
    return parts_for(int(events.count().to_pyarrow().as_py()))


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


def customer_bounds(customers: pa.Array | pa.ChunkedArray) -> npt.NDArray[np.int64]:
    """Where each customer's rows start in rows grouped by customer, and the end:
    ``int64[c + 1]``, customer ``i``'s rows are ``bounds[i]:bounds[i + 1]``.

    Examples
    --------
    >>> customer_bounds(pa.array(["a", "a", "b"])).tolist()
    [0, 2, 3]
    >>> customer_bounds(pa.array([], pa.string())).tolist()
    [0]
    """
    if isinstance(customers, pa.ChunkedArray):
        customers = customers.combine_chunks()
    n = len(customers)
    if not n:
        return np.zeros(1, np.int64)
    changes = pc.not_equal(customers.slice(1), customers.slice(0, n - 1))
    starts = np.flatnonzero(changes.to_numpy(zero_copy_only=False)) + 1
    return np.concatenate([[0], starts, [n]]).astype(np.int64)
