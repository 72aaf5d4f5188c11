"""Compiled per-customer kernels of the DuckDB fast path.

Each kernel walks events already sorted by customer and by the funnel's sequence order, one
customer at a time, in one pass: no window sort, no self-join. The kernels are numba functions
(:mod:`kundresa.analytics._kernels_jit`, compiled on first use and cached beside the package or
in the user's cache folder). Where their ahead-of-time compiled machine code is there
(:mod:`kundresa.native`, built by ``kundresa demo``), the funnel's kernels run that code
instead, and the process never imports numba (~0.5-1 s of start-up); any other input types
run the numba functions.

The semantics are those of :mod:`kundresa.analytics.funnel` (ordered and strict orders,
exclusions, the best attempt); tests pin both paths to the same brute-force reference.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import numpy.typing as npt

from kundresa.native import kernels

__all__ = [
    "coded_sequence",
    "customer_order",
    "directly_follows_pairs",
    "exclusion_arrays",
    "funnel_best",
    "grouped_best",
    "grouped_ranked",
    "grouped_sequence",
    "in_threads",
]

_NONE = np.iinfo(np.int64).min


def customer_order(
    codes: npt.NDArray[np.int64],
    n_cust: int,
    key: npt.NDArray[np.int64],
    payload: npt.NDArray[np.int64],
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], bool]:
    """Rows grouped by customer (a counting sort on ``codes``), each customer's rows ordered
    by ``key``: one O(n) pass plus a sort of each customer's own rows, no global sort.

    Parameters
    ----------
    codes
        ``int64[n]``, the customer of each row as ``0 .. n_cust - 1``.
    key
        ``int64[n]``, the order within a customer (ties keep no particular order).
    payload
        ``int64[n]``: rows with equal ``key`` and equal ``payload`` are interchangeable for
        the caller; where two rows tie on ``key`` but differ here, ``ambiguous`` is true and
        the caller must order them by its full tie rule instead.

    Returns
    -------
    tuple
        ``perm`` (``int64[n]``, row numbers in the new order), ``bounds`` (``int64[n_cust +
        1]``, customer c's rows are ``perm[bounds[c]:bounds[c + 1]]``) and ``ambiguous``.
    """
    from kundresa.analytics._kernels_jit import _customer_order

    return _customer_order(codes, n_cust, key, payload)


def grouped_sequence(
    codes: npt.NDArray[np.integer[Any]],
    n_cust: int,
    us: npt.NDArray[np.int64],
    events: npt.NDArray[np.integer[Any]],
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Rows grouped by customer code and ordered by (time, event) within each customer: a
    counting sort on ``codes``, then each customer's rows checked and, if out of order,
    sorted (insertion for a few rows; a stable sort by time, then insertion by event, for
    more). No global sort; one pass over rows that come in time order.

    Parameters
    ----------
    codes
        Integers ``[n]``: the customer of each row, ``0 .. n_cust - 1``.
    us, events
        ``[n]``: microseconds since 1970 (``int64``) and an integer event rank of each row.

    Returns
    -------
    tuple of numpy.ndarray
        ``codes``, ``us`` and ``events`` (``int64[n]``) of the rows in that order, as
        :func:`coded_sequence` reads them.

    Examples
    --------
    >>> out = grouped_sequence(np.array([1, 0, 1, 1]), 2, np.array([9, 5, 7, 7]),
    ...                        np.array([0, 0, 2, 1]))
    >>> [a.tolist() for a in out]
    [[0, 1, 1, 1], [5, 7, 7, 9], [0, 1, 2, 0]]
    """
    native = kernels()
    if native is not None:
        got = native.grouped_sequence(codes, n_cust, us, events)
        if got is not None:
            return got
    from kundresa.analytics._kernels_jit import _grouped_sequence

    return _grouped_sequence(codes, n_cust, us, events)


def grouped_ranked(
    codes: npt.NDArray[np.integer[Any]],
    n_cust: int,
    us: npt.NDArray[np.int64],
    events: npt.NDArray[np.integer[Any]],
    rank: npt.NDArray[np.int64],
    n_ranked: int,
    *,
    every: bool = False,
    lo_us: int | None = None,
    hi_us: int | None = None,
    threads: int = 1,
    with_codes: bool = True,
) -> tuple[
    npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.int64]
]:
    """:func:`grouped_sequence` of the rows a funnel reads, chosen in the same pass: each
    row's event code ranked by ``rank`` (``int64``, per event code: the funnel's rank of the
    event, ``0 .. n_ranked - 1``, or ``n_ranked`` for an event it does not name); a row is
    kept when its rank is below ``n_ranked`` (or with ``every``, any row) and its time in
    ``[lo_us, hi_us]`` (microseconds; None: unbounded). No array of kept rows is made.

    The rows are counted and placed in ``threads`` consecutive ranges at once (each range's
    counts per customer, then each range's rows after the ranges before it: the order of one
    pass), then the customers sorted in ranges of about equal rows.

    Returns
    -------
    tuple of numpy.ndarray
        ``start`` (``int64[n_cust + 1]``: customer ``c``'s kept rows are ``start[c]:start[c +
        1]``), then the ``codes`` (empty unless ``with_codes``), ``us`` and the events' ranks
        (``int64[m]``) of the kept rows in :func:`grouped_sequence`'s order.

    Examples
    --------
    Events 0 and 1 are the funnel's (ranks 1 and 0), event 2 is not (rank 2):

    >>> out = grouped_ranked(np.array([1, 0, 1, 1]), 2, np.array([9, 5, 7, 7]),
    ...                      np.array([0, 2, 1, 0]), np.array([1, 0, 2]), 2)
    >>> [a.tolist() for a in out]
    [[0, 0, 3], [1, 1, 1], [7, 7, 9], [0, 1, 1]]
    """
    lookup = np.ascontiguousarray(rank, dtype=np.int64)
    flags = (
        int(n_ranked),
        bool(every),
        np.iinfo(np.int64).min if lo_us is None else int(lo_us),
        np.iinfo(np.int64).max if hi_us is None else int(hi_us),
    )
    n = len(codes)
    parts = max(1, min(int(threads), n // _RANGE_ROWS))
    cuts = [n * q // parts for q in range(parts + 1)]
    native = kernels()
    counts = [np.zeros(n_cust + 1, np.int64) for _ in range(parts)]

    def count(q: int) -> None:
        rows = (cuts[q], cuts[q + 1])
        if native is None or not native.ranked_count(
            codes, us, events, lookup, *flags, rows, counts[q]
        ):
            from kundresa.analytics._kernels_jit import ranked_count

            ranked_count(codes, us, events, lookup, *flags, *rows, counts[q])

    in_threads(count, parts)
    start = np.cumsum(np.add.reduce(counts) if parts > 1 else counts[0])
    m = int(start[-1])
    out_c = np.empty(m if with_codes else 0, np.int64)
    out_u = np.empty(m, np.int64)
    out_e = np.empty(m, np.int64)
    fills = [start[:-1].copy()]
    for q in range(1, parts):
        fills.append(fills[-1] + counts[q - 1][1:])

    def fill(q: int) -> None:
        rows = (cuts[q], cuts[q + 1])
        out = (out_c, out_u, out_e)
        if native is None or not native.ranked_fill(
            codes, us, events, lookup, *flags, rows, fills[q], out
        ):
            from kundresa.analytics._kernels_jit import ranked_fill

            ranked_fill(codes, us, events, lookup, *flags, *rows, fills[q], *out)

    in_threads(fill, parts)
    at = [min(n_cust, int(np.searchsorted(start, m * q // parts))) for q in range(1, parts)]
    ranges = [0, *at, n_cust]

    def order(q: int) -> None:
        customers = (ranges[q], max(ranges[q], ranges[q + 1]))
        if native is None or not native.sort_customers_range(start, out_u, out_e, customers):
            from kundresa.analytics._kernels_jit import sort_customers_range

            sort_customers_range(start, out_u, out_e, *customers)

    in_threads(order, parts)
    return start, out_c, out_u, out_e


_RANGE_ROWS = 500_000
"""Rows below which :func:`grouped_ranked` plans no more ranges (threads)."""


def in_threads(work: Callable[[int], object], parts: int) -> None:
    """``work(0)``, ..., ``work(parts - 1)`` at once, one thread each (``work(0)`` in this
    one; the kernels release the interpreter lock); the first error raised is raised."""
    if parts <= 1:
        work(0)
        return
    with ThreadPoolExecutor(parts - 1) as pool:
        running = [pool.submit(work, q) for q in range(1, parts)]
        work(0)
        for done in running:
            done.result()


def exclusion_arrays(
    exclusions: list[tuple[int, int, int]],
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """The funnel kernels' exclusion inputs: ``(exclusion event bit, step a, step b)`` per
    exclusion (steps 1-based) as three contiguous ``int64`` arrays (bits, ``a``, ``b``).

    Examples
    --------
    >>> [a.tolist() for a in exclusion_arrays([(0, 1, 3), (1, 2, 3)])]
    [[0, 1], [1, 2], [3, 3]]
    >>> [a.tolist() for a in exclusion_arrays([])]
    [[], [], []]
    """
    ex = np.asarray(exclusions, dtype=np.int64).reshape(-1, 3)
    return (
        np.ascontiguousarray(ex[:, 0]),
        np.ascontiguousarray(ex[:, 1]),
        np.ascontiguousarray(ex[:, 2]),
    )


def funnel_best(
    bounds: npt.NDArray[np.int64],
    us: npt.NDArray[np.int64],
    mask: npt.NDArray[np.int64],
    xmask: npt.NDArray[np.int64],
    inper: npt.NDArray[np.bool_],
    group_of: tuple[int, ...],
    n_groups: int,
    n_x: int,
    exclusions: list[tuple[int, int, int]],
    window_us: int,
    strict: bool,
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Each customer's best attempt of an ordered or strict funnel.

    Parameters
    ----------
    bounds
        ``int64[c + 1]``: customer ``i``'s rows are ``bounds[i]:bounds[i + 1]``.
    us, mask, xmask, inper
        Per row, in each customer's sequence order: microseconds since 1970, the bit mask of
        the step definitions the event fills, the bit mask of the exclusion events it is, and
        whether an attempt may start at it (its time is in the counted period).
    group_of
        The step definition (bit) of each of the ``k`` steps.
    exclusions
        ``(exclusion event bit, step a, step b)`` per exclusion (steps 1-based).
    window_us
        The conversion window in microseconds.
    strict
        Strict order (each step the very next row) instead of ordered.

    Returns
    -------
    tuple of numpy.ndarray
        ``best_row`` (``int64[c]``, the start row of the customer's best attempt, -1 when the
        customer has no attempt or an exclusion leaves them out), ``level`` (``int64[c]``) and
        ``step_rows`` (``int64[c, k]``, the row of each step event of that attempt, -1 where
        not reached).
    """
    args = (
        bounds,
        us,
        mask,
        xmask,
        inper,
        np.asarray(group_of, dtype=np.int64),
        n_groups,
        n_x,
        *exclusion_arrays(exclusions),
        window_us,
        strict,
    )
    native = kernels()
    if native is not None:
        got = native.funnel_best(*args)
        if got is not None:
            return got
    from kundresa.analytics._kernels_jit import _funnel_best

    return _funnel_best(*args)


def grouped_best(
    start: npt.NDArray[np.int64],
    us: npt.NDArray[np.int64],
    events: npt.NDArray[np.integer[Any]],
    lookup: npt.NDArray[np.int64],
    first_of: npt.NDArray[np.int64],
    mask_of: npt.NDArray[np.int64],
    xmask_of: npt.NDArray[np.int64],
    period: tuple[int, int],
    every: bool,
    customers: tuple[int, int],
    group_of: tuple[int, ...],
    n_groups: int,
    n_x: int,
    exclusions: list[tuple[int, int, int]],
    window_us: int,
    strict: bool,
    out: tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.int64]],
) -> None:
    """:func:`coded_sequence` then :func:`funnel_best` in one pass over rows grouped by
    customer (:func:`grouped_ranked`'s), each customer's sequence made in a work array of
    its own length: no array of every row's sequence (five of them at ~33 bytes a row).

    Parameters
    ----------
    start
        ``int64[c + 1]``: customer ``i``'s rows are ``start[i]:start[i + 1]`` of ``us`` and
        ``events`` (``int64[m]``, ordered by (time, event) within each customer).
    lookup, first_of, mask_of, xmask_of, every
        As :func:`coded_sequence`'s.
    period
        ``(start, end)``: as :func:`coded_sequence`'s ``start`` and ``end``.
    customers
        ``(lo, hi)``: the customers to compute (``lo .. hi - 1``), so that threads can share
        the work and the outputs.
    group_of, n_groups, n_x, exclusions, window_us, strict
        As :func:`funnel_best`'s.
    out
        ``best_row``, ``level`` (``int64[c]``) and ``step_rows`` (``int64[c, k]``), written
        for the customers computed only: as :func:`funnel_best` gives them, rows numbered
        in ``us`` (``best_row - start[i]`` is the attempt's place in the customer's
        sequence).

    Raises
    ------
    ValueError
        Arrays of the wrong sizes.
    """
    k = len(group_of)
    n_cust = len(start) - 1
    if not len(us) == len(events) or any(len(o) != n_cust for o in out) or out[2].shape[1:] != (k,):
        raise ValueError("grouped_best: arrays of the wrong sizes")
    if not 0 <= customers[0] <= customers[1] <= n_cust:
        raise ValueError("grouped_best: customers out of range")
    args: tuple[Any, ...] = (
        start,
        us,
        events,
        lookup,
        first_of,
        mask_of,
        xmask_of,
        int(period[0]),
        int(period[1]),
        bool(every),
        int(customers[0]),
        int(customers[1]),
        np.asarray(group_of, dtype=np.int64),
        n_groups,
        n_x,
        *exclusion_arrays(exclusions),
        window_us,
        strict,
        *out,
    )
    native = kernels()
    if native is not None and native.grouped_best(*args):
        return
    from kundresa.analytics._kernels_jit import grouped_best_into

    grouped_best_into(*args)


def coded_sequence(
    codes: npt.NDArray[np.integer[Any]],
    us: npt.NDArray[np.int64],
    events: npt.NDArray[np.integer[Any]],
    lookup: npt.NDArray[np.int64],
    first_of: npt.NDArray[np.int64],
    mask_of: npt.NDArray[np.int64],
    xmask_of: npt.NDArray[np.int64],
    start: int,
    end: int,
    every: bool = False,
) -> tuple[
    npt.NDArray[np.int64],
    npt.NDArray[np.int64],
    npt.NDArray[np.int64],
    npt.NDArray[np.int64],
    npt.NDArray[np.int64],
    npt.NDArray[np.bool_],
]:
    """The funnel kernels' inputs from events read as codes in the store order, in one pass.

    Parameters
    ----------
    codes, us
        ``[n]``: the customer code (integers) and microseconds since 1970 (``int64``) of each
        row, ordered by customer code, then time
        (:func:`kundresa.analytics._ordered.ordered_codes`).
    events, lookup
        The event code of each row (integers ``[n]``) and each code's index into the three
        tables below (``int64``), whose last entry stands for any event the funnel does not
        name.
    first_of, mask_of, xmask_of
        Per event index: the first step it fills (``k + 1`` for none), the bit mask of the
        step definitions it fills and the bit mask of the exclusion events it is.
    start, end
        An attempt may start at a row whose time is in ``[start, end)`` (microseconds).
    every
        Keep the rows of other events too (a strict funnel: any event breaks a run); else
        they are left out.

    Returns
    -------
    tuple of numpy.ndarray
        ``bounds`` (``int64[c + 1]``, each customer's places), ``src`` (``int64[m]``, the row
        at each place of the sequence order: rows at one instant re-ordered, stably, by first
        step) and, per place, ``us``, ``mask``, ``xmask`` (``int64``) and ``inper``
        (``bool``): the inputs of :func:`funnel_best`.

    Examples
    --------
    Customer 0 has two rows at t=5 (the second fills step 1), customer 1 one row of another
    event (index 2), left out:

    >>> out = coded_sequence(np.array([0, 0, 0, 1]), np.array([5, 5, 7, 1]),
    ...                      np.array([1, 0, 0, 2]), np.array([0, 1, 2]), np.array([1, 2, 3]),
    ...                      np.array([1, 2, 0]), np.array([0, 0, 0]), 0, 6)
    >>> [a.tolist() for a in out]
    [[0, 3], [1, 0, 2], [5, 5, 7], [1, 2, 1], [0, 0, 0], [True, True, False]]
    """
    args = (codes, us, events, lookup, first_of, mask_of, xmask_of, start, end, every)
    native = kernels()
    if native is not None:
        got = native.coded_sequence(*args)
        if got is not None:
            return got
    from kundresa.analytics._kernels_jit import _coded_sequence

    return _coded_sequence(*args)


def directly_follows_pairs(
    bounds: npt.NDArray[np.int64],
    us: npt.NDArray[np.int64],
    node: npt.NDArray[np.int64],
    n_nodes: int,
    gap_us: int,
) -> tuple[
    npt.NDArray[np.int64],
    npt.NDArray[np.int64],
    npt.NDArray[np.float64],
    npt.NDArray[np.int64],
    npt.NDArray[np.int64],
    npt.NDArray[np.int64],
    npt.NDArray[np.int64],
]:
    """The directly-follows graph of sequences already in order, in one pass.

    Parameters
    ----------
    bounds
        ``int64[c + 1]``: customer ``i``'s rows are ``bounds[i]:bounds[i + 1]``, in order.
    us, node
        Per row: microseconds since 1970 and the node as ``0 .. n_nodes - 1``.
    gap_us
        A new sequence starts after this many microseconds without a node (``0``: one
        sequence per customer).

    Returns
    -------
    tuple of numpy.ndarray
        Per edge ``source * (n_nodes + 1) + target`` (target ``n_nodes`` is the end):
        ``count``, ``customers`` (distinct), the ``median`` microseconds between the two
        nodes (NaN for the end), and the sum of those microseconds in two exact parts,
        ``high`` and ``low`` (:data:`kundresa.analytics._means.PART_BITS`; zero for the end);
        then per node, ``start_count`` and ``start_customers`` (sequences, and distinct
        customers, that start at it).
    """
    from kundresa.analytics._kernels_jit import _dfg

    return _dfg(bounds, us, node, n_nodes, gap_us)
