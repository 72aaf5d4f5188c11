"""Events as integer columns in each customer's order, the event funnel's input, without Ibis.

:class:`OrderedCodes` is what the journey-ordered store's reader
(:func:`kundresa.analytics._ordered.ordered_codes`) and the scan of any other DuckDB table
(:func:`kundresa.analytics._ordered.fetched_codes`) give the funnel's kernels;
:func:`decoded_codes` gives the same from a Parquet file's columns decoded by Arrow when it
was read in place (:class:`kundresa.store._decoded.DecodedFile`), with no scan. This module
imports no Ibis, so that ``kundresa funnel --events FILE`` can count a decoded file without
loading it (:mod:`kundresa.analytics._funnel_core`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa

if TYPE_CHECKING:
    from kundresa.store._decoded import DecodedFile

__all__ = ["OrderedCodes", "decoded_codes", "micros", "ranked_names"]


@dataclass(frozen=True)
class OrderedCodes:
    """Events of one analysis as integer columns in the store order
    (:func:`kundresa.analytics._ordered.ordered_codes`).

    Attributes
    ----------
    codes
        Integers ``[n]`` (as stored: ``int32``): the customer code of each row
        (``customer_codes``), non-decreasing.
    us
        ``int64[n]``: microseconds since 1970 UTC of each event; non-decreasing within a
        customer, rows at one instant in the store order (event name, event id, ...).
    events
        Integers ``[n]`` (as stored): the event code of each row (``event_codes``).
    lookup
        ``int64[max event code + 1]``: each event code's place in the ``names`` asked for,
        ``len(names)`` for any other event.
    con
        The DuckDB connection the rows were read from (for
        :func:`kundresa.analytics._ordered.customer_ids`), or None.
    customers
        The customer id of each code (a string array), when the codes are not the store's
        (:func:`kundresa.analytics._ordered.fetched_codes`, :func:`decoded_codes`); None:
        look them up in ``con``'s ``customer_codes``.
    start
        ``int64[len(customers) + 1]``: customer ``c``'s rows are ``start[c]:start[c + 1]``,
        when known (:func:`decoded_codes`); ``codes`` may then be empty (not asked for).
    """

    codes: npt.NDArray[np.integer[Any]]
    us: npt.NDArray[np.int64]
    events: npt.NDArray[np.integer[Any]]
    lookup: npt.NDArray[np.int64]
    con: Any
    customers: pa.Array | None = None
    start: npt.NDArray[np.int64] | None = None

    def ids(self, codes: npt.NDArray[np.int64]) -> pa.Array:
        """The customer id of each customer code in ``codes``: a string array."""
        if self.customers is not None:
            return self.customers.take(pa.array(codes))
        # The store's codes: looked up in its dictionary (the store's reader is loaded).
        from kundresa.analytics import _ordered

        return _ordered.customer_ids(self.con, codes)


def micros(column: pa.Array | pa.ChunkedArray) -> npt.NDArray[np.int64]:
    """``int64``: microseconds since 1970 of a zone-less timestamp column (or of an integer
    column of them)."""
    if pa.types.is_integer(column.type):
        return column.to_numpy().astype(np.int64, copy=False)
    return np.asarray(column.cast(pa.timestamp("us")).to_numpy()).view(np.int64)


def ranked_names(names: list[str] | tuple[str, ...]) -> tuple[list[str], npt.NDArray[np.int64]]:
    """The distinct ``names`` in DuckDB's order of texts (by bytes), and ``lookup``: each
    ranked name's place in ``names`` (first occurrence), then ``len(distinct names)`` for
    every other event.

    Examples
    --------
    >>> ranked_names(["view", "buy", "view"])
    (['buy', 'view'], array([1, 0, 2]))
    """
    place = list(dict.fromkeys(names))
    ranked = sorted(place, key=lambda n: n.encode())
    lookup = np.array([*(place.index(n) for n in ranked), len(place)], np.int64)
    return ranked, lookup


def decoded_codes(
    decoded: DecodedFile,
    ranked: list[str],
    lookup: npt.NDArray[np.int64],
    *,
    every: bool,
    since: datetime | None,
    until: datetime | None,
    with_codes: bool = True,
    threads: int = 1,
) -> OrderedCodes:
    """:func:`kundresa.analytics._ordered.fetched_codes` from a file's columns decoded by
    Arrow: the same rows, coded by the file's unified dictionaries instead of a scan and a
    hash table (customer codes in dictionary order; an id no row uses gets a code and no
    rows).

    Parameters
    ----------
    decoded
        The file's decoded columns.
    ranked, lookup
        The event names told apart, in byte order, and their places (:func:`ranked_names`).
    every
        Keep every event, not only those in ``ranked`` (a strict funnel).
    since, until
        Keep only events at or after ``since`` and at or before ``until`` (naive UTC, both
        inclusive; None: unbounded).
    with_codes
        Give each row's customer code (else ``codes`` is empty: ``start`` tells them).
    threads
        Threads for the grouping (:func:`kundresa.analytics._kernels.grouped_ranked`).
    """
    from kundresa.analytics._kernels import grouped_ranked

    at = {name: i for i, name in enumerate(ranked)}
    rank = np.array([at.get(n, len(ranked)) for n in decoded.names.to_pylist()], np.int64)
    bounds = [
        None if b is None else (b - datetime(1970, 1, 1)) // timedelta(microseconds=1)
        for b in (since, until)
    ]
    # The rows chosen (the funnel's events, the period) while they are grouped: one pass, no
    # array of kept rows.
    start, codes, us, events = grouped_ranked(
        decoded.codes,
        len(decoded.customers),
        decoded.us,
        decoded.events,
        rank,
        len(ranked),
        every=every,
        lo_us=bounds[0],
        hi_us=bounds[1],
        threads=threads,
        with_codes=with_codes,
    )
    if not len(us):
        none = np.zeros(0, np.int64)
        return OrderedCodes(none, none, none, lookup, None, pa.array([], pa.string()))
    return OrderedCodes(codes, us, events, lookup, None, decoded.customers, start)
