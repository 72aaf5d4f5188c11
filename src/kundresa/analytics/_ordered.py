"""The reader of the journey-ordered store: events in customer and time order, with bounds.

Analyses on the DuckDB fast path walk each customer's events in order. When their events are
a row-wise view of the warehouse's ``events`` table (the table itself, with filters and
computed columns: a period, a persona, a segment column, step flags — no join, window or
aggregate) and the warehouse keeps the journey-ordered layout
(:mod:`kundresa.store.layout`), :func:`ordered_rows` reads them in that order: the main part
by a plain scan in storage order (no sort, no grouping), the small tail sorted by DuckDB, the
two merged in one pass. For any other input (``--events`` files read into memory are
warehouses too; a join with the identity map, windows from touchpoint tagging) it returns
None and the caller takes its grouping path.

The order is the *store order*: customer code, then time, event name, event id, session id,
channel, value (nulls last), row key — a refinement of the analyses' event order
(``EVENT_ORDER``: time, event name, event id), so within one customer it is the order every
analysis numbers events in.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import ibis
import ibis.expr.operations as ops
import ibis.expr.types as ir
import numba
import numpy as np
import numpy.typing as npt
import pyarrow as pa

from kundresa.model.events import CHANNEL, CUSTOMER, EVENT, EVENT_ID, SESSION_ID, TIMESTAMP, VALUE

__all__ = ["OrderedRows", "ordered_rows"]

_EPOCH = ibis.timestamp("1970-01-01 00:00:00")

# The stored columns the store order is made of, under names an analysis will not use.
_RAW = {
    "__c": "_c",
    "__ingest": "_ingest",
    "__ts": TIMESTAMP,
    "__event": EVENT,
    "__event_id": EVENT_ID,
    "__session": SESSION_ID,
    "__channel": CHANNEL,
    "__value": VALUE,
    "__key": "_key",
}


@dataclass(frozen=True)
class OrderedRows:
    """Rows of one analysis in the store order (:func:`ordered_rows`).

    Attributes
    ----------
    data
        ``pyarrow.Table`` of the columns asked for plus ``_us`` (``int64``, microseconds
        since 1970 UTC of each event), rows ordered by customer, then the store order.
    bounds
        ``int64[n_customers + 1]``: customer ``i``'s rows are ``data[bounds[i]:bounds[i + 1]]``
        (customers in code order, each with at least one row).
    customers
        ``pyarrow`` string array of ``n_customers``: the customer id of each customer.
    """

    data: pa.Table
    bounds: npt.NDArray[np.int64]
    customers: pa.Array

    @property
    def row_customer(self) -> npt.NDArray[np.int64]:
        """``int64[n]``: the customer (``0 .. n_customers - 1``) of each row."""
        return np.repeat(np.arange(len(self.bounds) - 1, dtype=np.int64), np.diff(self.bounds))


def _row_wise(value: ops.Value, parent: ops.Relation) -> bool:
    """Whether a value of a projection or filter reads only its own row of ``parent``."""
    for v in value.find(ops.Value, filter=ops.Value):
        if isinstance(v, ops.WindowFunction | ops.Reduction | ops.Analytic):
            return False
        if any(isinstance(a, ops.Relation) and a != parent for a in v.__args__):
            return False  # a subquery, or a column of another table
    return True


def _rebind(value: ops.Value, old: ops.Relation, new: ops.Relation) -> ops.Value:
    """``value`` reading its columns from ``new`` instead of ``old`` (the traversal stays in
    the value's own expression: relations below are not walked)."""

    def fn(node: ops.Node, kwargs: Any) -> ops.Node:
        if isinstance(node, ops.Field) and node.rel == old:
            return ops.Field(new, node.name)
        return node.__recreate__(kwargs) if kwargs else node

    return value.replace(fn, filter=ops.Value)


def _store_view(t: ir.Table) -> tuple[ir.Table, Any] | None:
    """``t`` with the stored ordering columns (:data:`_RAW`) passed through, and the DuckDB
    backend; None when ``t`` is not a row-wise view of an ordered warehouse table."""
    chain: list[ops.Project | ops.Filter] = []
    node: Any = t.op()
    while isinstance(node, ops.Project | ops.Filter):
        chain.append(node)
        node = node.parent
    if not chain or not isinstance(node, ops.DatabaseTable) or node.name != "events":
        return None
    backend = node.source
    if getattr(backend, "name", None) != "duckdb":
        return None
    if any(raw not in node.schema for raw in _RAW.values()):
        return None
    base = {c: ops.Field(node, c) for c in node.schema}
    new_parent: ops.Relation = ops.Project(
        node, {**base, **{k: ops.Field(node, raw) for k, raw in _RAW.items()}}
    )
    for op in reversed(chain):
        old = op.parent
        if isinstance(op, ops.Filter):
            if not all(_row_wise(p, old) for p in op.predicates):
                return None
            new_parent = ops.Filter(
                new_parent, tuple(_rebind(p, old, new_parent) for p in op.predicates)
            )
            continue
        values = dict(op.values)
        for name in (CUSTOMER, TIMESTAMP):
            # The customer and the time must be the stored ones, or the order is not theirs.
            if name not in values or values[name] != ops.Field(old, name):
                return None
        if not all(_row_wise(v, old) for v in values.values()):
            return None
        new_values = {k: _rebind(v, old, new_parent) for k, v in values.items()}
        new_values.update({k: ops.Field(new_parent, k) for k in _RAW})
        new_parent = ops.Project(new_parent, new_values)
    return new_parent.to_expr(), backend


@numba.njit(cache=True, nogil=True)
def _merge(
    c1: npt.NDArray[np.int64],
    u1: npt.NDArray[np.int64],
    c2: npt.NDArray[np.int64],
    u2: npt.NDArray[np.int64],
) -> tuple[npt.NDArray[np.int64], bool]:
    n1 = c1.shape[0]
    n2 = c2.shape[0]
    perm = np.empty(n1 + n2, np.int64)
    i = 0
    j = 0
    tie = False
    for k in range(n1 + n2):
        if j >= n2 or (i < n1 and (c1[i] < c2[j] or (c1[i] == c2[j] and u1[i] <= u2[j]))):
            if j < n2 and c1[i] == c2[j] and u1[i] == u2[j]:
                tie = True
            perm[k] = i
            i += 1
        else:
            perm[k] = n1 + j
            j += 1
    return perm, tie


@numba.njit(cache=True, nogil=True)
def _sorted(c: npt.NDArray[np.int64], u: npt.NDArray[np.int64]) -> bool:
    for i in range(1, c.shape[0]):
        if c[i] < c[i - 1] or (c[i] == c[i - 1] and u[i] < u[i - 1]):
            return False
    return True


_SETTING = threading.Lock()


def _fetch(backend: Any, expr: ir.Table) -> pa.Table:
    """Run ``expr`` keeping the storage order of a plain scan (DuckDB's insertion order).

    The setting belongs to the connection: readers in several threads take turns, so that
    one does not switch it off under another's scan (the caller checks the order anyway)."""
    con = backend.con
    with _SETTING:
        keep = con.execute("SELECT current_setting('preserve_insertion_order')").fetchone()[0]
        con.execute("SET preserve_insertion_order = true")
        try:
            return expr.to_pyarrow().combine_chunks()
        finally:
            con.execute(f"SET preserve_insertion_order = {'true' if keep else 'false'}")


def ordered_rows(t: ir.Table, columns: Sequence[str]) -> OrderedRows | None:
    """The rows of ``t`` ordered by customer and time, read from the journey-ordered store.

    Parameters
    ----------
    t
        A row-wise view of the warehouse's ``events`` table on DuckDB (filters and computed
        columns only; ``customer_id`` and ``timestamp`` as stored).
    columns
        The columns of ``t`` to fetch (compute them on ``t`` first, e.g. step flags).

    Returns
    -------
    OrderedRows or None
        None when ``t`` is not such a view, the warehouse has no ordered layout (an older
        warehouse before its next write), or a row of the tail falls at the same instant as
        a row of the main part for one customer (the caller then orders rows itself).

    Notes
    -----
    The main part is read in storage order (one scan, ``preserve_insertion_order``) and
    checked to be in order; the tail (rows of ingests after the last reorganisation) is
    sorted by DuckDB; both are merged by customer code and time.
    """
    view = _store_view(t)
    if view is None:
        return None
    expr, backend = view
    from kundresa.store.layout import ordered_ingest

    done = ordered_ingest(backend.con)
    if done is None:
        return None
    us = expr.__ts.delta(_EPOCH, unit="microsecond").cast("int64")
    wanted = {c: expr[c] for c in columns}
    main = _fetch(
        backend, expr.filter(expr.__ingest <= done).select(**wanted, _us=us, __c=expr.__c)
    )
    tail = (
        expr.filter(expr.__ingest > done)
        .order_by([expr[c] for c in _RAW if c != "__ingest"])
        .select(**wanted, _us=us, __c=expr.__c)
        .to_pyarrow()
        .combine_chunks()
    )
    c1 = main["__c"].to_numpy().astype(np.int64, copy=False)
    u1 = main["_us"].to_numpy().astype(np.int64, copy=False)
    if not _sorted(c1, u1):  # not stored in order after all: let the caller sort
        return None
    if len(tail):
        c2 = tail["__c"].to_numpy().astype(np.int64, copy=False)
        u2 = tail["_us"].to_numpy().astype(np.int64, copy=False)
        perm, tie = _merge(c1, u1, c2, u2)
        if tie:
            return None
        data = pa.concat_tables([main, tail]).combine_chunks().take(pa.array(perm))
        codes = np.concatenate([c1, c2])[perm]
    else:
        data, codes = main, c1
    n = len(codes)
    starts = np.flatnonzero(codes[1:] != codes[:-1]) + 1 if n else np.zeros(0, np.int64)
    bounds = np.concatenate([[0], starts, [n]]).astype(np.int64) if n else np.zeros(1, np.int64)
    names = backend.con.execute("SELECT code, customer_id FROM customer_codes").arrow()
    if not isinstance(names, pa.Table):
        names = names.read_all()
    known = names["code"].to_numpy().astype(np.int64)
    at = np.full(int(known.max()) + 1 if len(known) else 1, -1, np.int64)
    at[known] = np.arange(len(known), dtype=np.int64)
    customers = names["customer_id"].combine_chunks().take(pa.array(at[codes[bounds[:-1]]]))
    return OrderedRows(data.drop_columns(["__c"]), bounds, customers)
