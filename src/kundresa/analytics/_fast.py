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

from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from kundresa.analytics._switch import (
    fast_path_allowed,
    parts_for,
    portable,
)

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
    ``KUNDRESA_FAST_PATH_ROWS`` events (default
    :data:`~kundresa.analytics._switch.PART_ROWS`, :func:`parts_for`).
    Counting the events is cheap on DuckDB for tables and Parquet files (their row counts
    are stored).

    Raises
    ------
    ValueError
        ``KUNDRESA_FAST_PATH_ROWS`` is not a whole number of at least 1.
    """
    return parts_for(int(events.count().to_pyarrow().as_py()))


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
