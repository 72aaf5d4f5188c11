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

:func:`fetched_codes` gives the event funnel's integer columns from any other DuckDB table
(a Parquet file read in place, an in-memory table) by one scan, coding and ordering the rows
in memory.

The order is the *store order*: customer code, then time, event name, event id, session id,
channel, value (nulls last), row key — within one customer, the analyses' event order
(``EVENT_ORDER``: time, event name, event id, session id, channel, value) followed by row
key, so it is the order every analysis numbers events in.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import ibis
import ibis.expr.operations as ops
import ibis.expr.types as ir
import numpy as np
import numpy.typing as npt
import pyarrow as pa

from kundresa.analytics._codes import OrderedCodes, decoded_codes, ranked_names
from kundresa.analytics._codes import micros as _micros
from kundresa.model.events import CHANNEL, CUSTOMER, EVENT, EVENT_ID, SESSION_ID, TIMESTAMP, VALUE

if TYPE_CHECKING:
    from kundresa.store._decoded import DecodedFile

__all__ = [
    "OrderedCodes",
    "OrderedRows",
    "customer_ids",
    "fetched_codes",
    "ordered_codes",
    "ordered_rows",
]

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
_EVENT_CODE = "_e"  # the stored event name's code (``event_codes``)


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


def _store_view(t: ir.Table) -> tuple[ir.Table, Any, bool] | None:
    """``t`` with the stored ordering columns (:data:`_RAW`, and the event code as ``__e``)
    passed through, the DuckDB backend, and whether ``t``'s ``event`` is the stored one (so
    that ``__e`` is its code); None when ``t`` is not a row-wise view of an ordered warehouse
    table."""
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
    if any(raw not in node.schema for raw in [*_RAW.values(), _EVENT_CODE]):
        return None
    raw_fields = {**_RAW, "__e": _EVENT_CODE}
    base = {c: ops.Field(node, c) for c in node.schema}
    new_parent: ops.Relation = ops.Project(
        node, {**base, **{k: ops.Field(node, raw) for k, raw in raw_fields.items()}}
    )
    event_stored = True
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
        event_stored = event_stored and values.get(EVENT) == ops.Field(old, EVENT)
        new_values = {k: _rebind(v, old, new_parent) for k, v in values.items()}
        new_values.update({k: ops.Field(new_parent, k) for k in raw_fields})
        new_parent = ops.Project(new_parent, new_values)
    return new_parent.to_expr(), backend, event_stored


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


def _merged(
    backend: Any, expr: ir.Table, done: int, keep: ir.BooleanValue, wanted: dict[str, Any]
) -> pa.Table | None:
    """The columns ``wanted`` (with ``_us``: the time, as microseconds or a zone-less
    timestamp) and the customer code ``__c`` of the rows of ``expr`` (a :func:`_store_view`)
    that ``keep`` keeps, ordered by customer code and time: the main part (ingests up to
    ``done``) read in storage order and checked, the tail sorted by DuckDB, both merged.
    None when the main part is not in order after all or a tail row falls at the same instant
    as a main-part row of one customer (only the full tie rule can order them)."""
    order = [expr[c] for c in _RAW if c != "__ingest"]
    rows = {**wanted, "__c": expr.__c}
    main = _fetch(backend, expr.filter(keep & (expr.__ingest <= done)).select(**rows))
    tail = (
        expr.filter(keep & (expr.__ingest > done))
        .order_by(order)
        .select(**rows)
        .to_pyarrow()
        .combine_chunks()
    )
    from kundresa.analytics._kernels_jit import is_sorted, merge_ordered

    c1, u1 = main["__c"].to_numpy(), _micros(main["_us"])
    if not is_sorted(c1, u1):
        return None
    if not len(tail):
        return main
    perm, tie = merge_ordered(c1, u1, tail["__c"].to_numpy(), _micros(tail["_us"]))
    if tie:
        return None
    return pa.concat_tables([main, tail]).combine_chunks().take(pa.array(perm))


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
    expr, backend, _ = view
    from kundresa.store.layout import ordered_ingest

    done = ordered_ingest(backend.con)
    if done is None:
        return None
    us = expr.__ts.delta(_EPOCH, unit="microsecond").cast("int64")
    data = _merged(
        backend, expr, done, ibis.literal(True), {**{c: expr[c] for c in columns}, "_us": us}
    )
    if data is None:
        return None
    codes = data["__c"].to_numpy().astype(np.int64, copy=False)
    n = len(codes)
    starts = np.flatnonzero(codes[1:] != codes[:-1]) + 1 if n else np.zeros(0, np.int64)
    bounds = np.concatenate([[0], starts, [n]]).astype(np.int64) if n else np.zeros(1, np.int64)
    customers = customer_ids(backend.con, codes[bounds[:-1]])
    return OrderedRows(data.drop_columns(["__c"]), bounds, customers)


def customer_ids(con: Any, codes: npt.NDArray[np.int64]) -> pa.Array:
    """The customer id of each customer code in ``codes`` (``int64[m]``, codes of the
    ``customer_codes`` dictionary on the DuckDB connection ``con``): a string array of ``m``."""
    names = con.execute("SELECT code, customer_id FROM customer_codes").arrow()
    if not isinstance(names, pa.Table):
        names = names.read_all()
    known = names["code"].to_numpy().astype(np.int64)
    at = np.full(int(known.max()) + 1 if len(known) else 1, -1, np.int64)
    at[known] = np.arange(len(known), dtype=np.int64)
    return names["customer_id"].combine_chunks().take(pa.array(at[codes]))


def ordered_codes(
    t: ir.Table,
    names: Sequence[str],
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    part: tuple[int, int] | None = None,
) -> OrderedCodes | None:
    """The events of ``t`` as integer columns in the store order: no strings, no computed
    columns, the step logic (and which events to skip) left to the caller's kernel.

    A leaner sibling of :func:`ordered_rows` for analyses whose only per-event inputs are the
    event name and the time (the event funnel without a breakdown): it reads the stored
    customer code, time and event code of every row (filtering them by event in DuckDB
    costs more than reading them all: the scan keeps its storage order either way), maps
    the event codes to ``names`` and fetches no customer ids.

    Parameters
    ----------
    t
        A row-wise view of the warehouse's ``events`` table on DuckDB whose ``customer_id``,
        ``timestamp`` and ``event`` are the stored ones.
    names
        The event names the caller tells apart (every other event is ``len(names)``).
    since, until
        Keep only events at or after ``since`` and at or before ``until`` (naive UTC, both
        inclusive; None: unbounded).
    part
        ``(p, parts)``: only the customers whose code is ``p`` modulo ``parts``.

    Returns
    -------
    OrderedCodes or None
        None when :func:`ordered_rows` would return None, or when ``t``'s ``event`` column is
        not the stored one.
    """
    view = _store_view(t)
    if view is None or not view[2]:
        return None
    expr, backend, _ = view
    from kundresa.store.layout import ordered_ingest

    con = backend.con
    done = ordered_ingest(con)
    if done is None:
        return None
    place = {name: i for i, name in enumerate(dict.fromkeys(names))}
    top = con.execute("SELECT max(code) FROM event_codes").fetchone()[0]
    lookup = np.full(int(top if top is not None else -1) + 1, len(place), np.int64)
    for code, event in con.execute(
        "SELECT code, event FROM event_codes WHERE list_contains(?, event)", [list(place)]
    ).fetchall():
        lookup[int(code)] = place[event]
    keep: ir.BooleanValue = ibis.literal(True)
    if since is not None:
        keep = keep & (expr.__ts >= since)
    if until is not None:
        keep = keep & (expr.__ts <= until)
    if part is not None:
        keep = keep & (expr.__c % part[1] == part[0])
    # The timestamp as stored (microseconds, no time zone): numpy reads it as int64 for free.
    data = _merged(backend, expr, done, keep, {"_us": expr.__ts, "__e": expr.__e})
    if data is None:
        return None
    c1, u1 = data["__c"].to_numpy(), _micros(data["_us"])
    e1 = data["__e"].to_numpy()
    return OrderedCodes(c1, u1, e1, lookup, con)


def fetched_codes(
    t: ir.Table,
    names: Sequence[str],
    *,
    every: bool,
    since: datetime | None = None,
    until: datetime | None = None,
    part: tuple[int, int] | None = None,
) -> OrderedCodes:
    """The events of any DuckDB table ``t`` as :class:`OrderedCodes`, coded and ordered here:
    the counterpart of :func:`ordered_codes` for tables that are not the journey-ordered
    store (a Parquet file read in place, an in-memory table, a join with the identity map).

    One scan fetches the customer id, time and event name of the events named in ``names``
    (of every event with ``every``: a strict funnel); the customer ids get integer codes
    (a hash table, in order of first appearance), the names their place among ``names``
    in byte order (every other event last), and a counting sort by customer code plus a
    sort of each customer's own rows by (time, name) puts the rows in the store order's
    refinement the funnel needs: no global sort, no grouping in DuckDB. Rows equal in
    customer, time and name are interchangeable for an event-name funnel without a
    breakdown, so no finer tie rule is needed. When ``t`` is a file read in place whose
    columns Arrow decoded (:func:`kundresa.store._decoded.decoded_file`), unfiltered, and
    ``part`` is None, those columns are read instead: no scan, customer codes from the
    file's dictionaries.

    Parameters
    ----------
    t
        A table on DuckDB with ``customer_id``, ``timestamp`` and ``event``.
    names
        The event names the caller tells apart.
    every
        Fetch every event, not only those in ``names``.
    since, until, part
        As :func:`ordered_codes` (``part``: customers by a hash of their id).

    Returns
    -------
    OrderedCodes
        ``codes`` (``int64``) are ``0 .. n_customers - 1`` with ``customers`` their ids;
        ``events`` are the places of the names in byte order and ``lookup`` maps them to
        places in ``names``.

    Examples
    --------
    >>> from datetime import datetime, timedelta
    >>> t = ibis.memtable({"customer_id": ["b", "a", "b", "a"],
    ...                    "timestamp": [datetime(2025, 1, 2), datetime(2025, 1, 1),
    ...                                  datetime(2025, 1, 1), datetime(2025, 1, 1)],
    ...                    "event": ["buy", "view", "view", "buy"]})
    >>> rows = fetched_codes(t, ["view", "buy"], every=False)
    >>> rows.codes.tolist(), rows.customers.to_pylist(), rows.lookup[rows.events].tolist()
    ([0, 0, 1, 1], ['b', 'a'], [0, 1, 1, 0])
    """

    import pyarrow.compute as pc

    from kundresa.analytics._kernels import grouped_sequence

    ranked, lookup = ranked_names(list(names))  # DuckDB's order of texts: by bytes
    decoded = _decoded_file(t) if part is None else None
    if decoded is not None:
        from kundresa.analytics._funnel_core import _kernel_threads

        return decoded_codes(
            decoded,
            ranked,
            lookup,
            every=every,
            since=since,
            until=until,
            threads=_kernel_threads(),
        )
    keep: ir.BooleanValue = ibis.literal(True)
    if not every:
        keep = t[EVENT].isin(ranked) if ranked else ibis.literal(False)
    if since is not None:
        keep = keep & (t[TIMESTAMP] >= since)
    if until is not None:
        keep = keep & (t[TIMESTAMP] <= until)
    if part is not None:
        h = t[CUSTOMER].hash()
        keep = keep & ((((h % part[1]) + part[1]) % part[1]) == part[0])
    # The name's place computed in the scan: an integer crosses over, not the text.
    rank = ibis.cases(
        *((t[EVENT] == name, i) for i, name in enumerate(ranked)), else_=len(ranked)
    ).cast("int32")
    data = t.filter(keep).select(CUSTOMER, TIMESTAMP, _e=rank).to_pyarrow()
    if not data.num_rows:
        none = np.zeros(0, np.int64)
        return OrderedCodes(none, none, none, lookup, None, pa.array([], pa.string()))
    who = pc.dictionary_encode(data[CUSTOMER].combine_chunks(), null_encoding="encode")
    codes, customers = who.indices.to_numpy(zero_copy_only=False), who.dictionary
    events = data["_e"].combine_chunks().to_numpy(zero_copy_only=False)
    us = _micros(data[TIMESTAMP].combine_chunks())
    ordered = grouped_sequence(codes, len(customers), us, events)
    return OrderedCodes(*ordered, lookup, None, customers)


def _decoded_file(t: ir.Table) -> DecodedFile | None:
    """The :class:`~kundresa.store._decoded.DecodedFile` of ``t`` when ``t`` is the columns
    of a warehouse's ``events`` as they are (no filter, no computed column) and that
    ``events`` is a file read in place and decoded by Arrow; else None."""
    from kundresa.store._decoded import decoded_file

    node: Any = t.op()
    if isinstance(node, ops.Project):
        parent = node.parent
        if any(v != ops.Field(parent, k) for k, v in node.values.items()):
            return None
        node = parent
    if not isinstance(node, ops.DatabaseTable) or node.name != "events":
        return None
    backend = node.source
    if getattr(backend, "name", None) != "duckdb":
        return None
    return decoded_file(backend.con)
