"""Compiled per-customer kernels of the DuckDB fast path (numba, compiled on first use).

Each kernel walks events already sorted by customer and by the funnel's sequence order, one
customer at a time, in one pass: no window sort, no self-join. The module is imported only
when a fast path runs, so ``kundresa --version`` and other commands never load numba; compiled
code is cached (``cache=True``: beside this file, or in the user's cache directory when that
is read-only), so only the first run on a machine pays the compilation.

The semantics are those of :mod:`kundresa.analytics.funnel` (ordered and strict orders,
exclusions, the best attempt); tests pin both paths to the same brute-force reference.
"""

from __future__ import annotations

from typing import Any

import numba
import numpy as np
import numpy.typing as npt

__all__ = [
    "coded_sequence",
    "customer_order",
    "directly_follows_pairs",
    "exclusion_arrays",
    "funnel_best",
    "grouped_sequence",
    "sort_within",
]

_NONE = np.iinfo(np.int64).min
_INSERTION = 32  # customers with at most this many rows are sorted by insertion


@numba.njit(cache=True, nogil=True)
def _customer_order(
    codes: npt.NDArray[np.int64],
    n_cust: int,
    key: npt.NDArray[np.int64],
    payload: npt.NDArray[np.int64],
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], bool]:
    n = codes.shape[0]
    bounds = np.zeros(n_cust + 1, np.int64)
    for i in range(n):
        bounds[codes[i] + 1] += 1
    for c in range(n_cust):
        bounds[c + 1] += bounds[c]
    fill = bounds[:-1].copy()
    perm = np.empty(n, np.int64)
    for i in range(n):
        c = codes[i]
        perm[fill[c]] = i
        fill[c] += 1
    return perm, bounds, sort_within(bounds, perm, key, payload)


@numba.njit(cache=True, nogil=True)
def sort_within(
    bounds: npt.NDArray[np.int64],
    perm: npt.NDArray[np.int64],
    key: npt.NDArray[np.int64],
    payload: npt.NDArray[np.int64],
) -> bool:
    """Order each customer's rows of ``perm`` (``perm[bounds[c]:bounds[c + 1]]``) by
    ``key``, in place; True when two rows of one customer tie on ``key`` but differ in
    ``payload`` (only the caller's full tie rule can order them)."""
    ambiguous = False
    for c in range(bounds.shape[0] - 1):
        lo = bounds[c]
        hi = bounds[c + 1]
        if 1 < hi - lo <= _INSERTION:
            # A customer's few rows (often already in order): a stable insertion sort in
            # place, no allocation.
            for q in range(lo + 1, hi):
                x = perm[q]
                kx = key[x]
                b = q - 1
                while b >= lo and key[perm[b]] > kx:
                    perm[b + 1] = perm[b]
                    b -= 1
                perm[b + 1] = x
        elif hi - lo > _INSERTION:
            rows = perm[lo:hi].copy()
            order = np.argsort(key[rows], kind="mergesort")
            for q in range(hi - lo):
                perm[lo + q] = rows[order[q]]
        if hi - lo > 1:
            for q in range(lo + 1, hi):
                a = perm[q - 1]
                b = perm[q]
                if key[a] == key[b] and payload[a] != payload[b]:
                    ambiguous = True
    return ambiguous


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
    return _customer_order(codes, n_cust, key, payload)


@numba.njit(cache=True, nogil=True)
def _grouped_sequence(
    codes: npt.NDArray[np.integer[Any]],
    n_cust: int,
    us: npt.NDArray[np.int64],
    events: npt.NDArray[np.integer[Any]],
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    n = codes.shape[0]
    start = np.zeros(n_cust + 1, np.int64)
    for i in range(n):
        start[codes[i] + 1] += 1
    for c in range(n_cust):
        start[c + 1] += start[c]
    out_c = np.empty(n, np.int64)
    out_u = np.empty(n, np.int64)
    out_e = np.empty(n, np.int64)
    fill = start[:-1].copy()
    for i in range(n):
        c = codes[i]
        at = fill[c]
        fill[c] += 1
        out_c[at] = c
        out_u[at] = us[i]
        out_e[at] = events[i]
    for c in range(n_cust):
        lo = start[c]
        hi = start[c + 1]
        in_order = True
        for q in range(lo + 1, hi):
            if out_u[q] < out_u[q - 1] or (out_u[q] == out_u[q - 1] and out_e[q] < out_e[q - 1]):
                in_order = False
                break
        if in_order:
            continue
        if hi - lo > _INSERTION:
            # A long customer out of time order: a stable sort by time first.
            order = np.argsort(out_u[lo:hi], kind="mergesort")
            u = out_u[lo:hi].copy()
            e = out_e[lo:hi].copy()
            for q in range(hi - lo):
                out_u[lo + q] = u[order[q]]
                out_e[lo + q] = e[order[q]]
        # Stable insertion by (time, event): few rows, or only runs at one instant left.
        for q in range(lo + 1, hi):
            u0 = out_u[q]
            e0 = out_e[q]
            b = q - 1
            while b >= lo and (out_u[b] > u0 or (out_u[b] == u0 and out_e[b] > e0)):
                out_u[b + 1] = out_u[b]
                out_e[b + 1] = out_e[b]
                b -= 1
            out_u[b + 1] = u0
            out_e[b + 1] = e0
    return out_c, out_u, out_e


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
    return _grouped_sequence(codes, n_cust, us, events)


@numba.njit(cache=True, nogil=True)
def _funnel_best(
    bounds: npt.NDArray[np.int64],
    us: npt.NDArray[np.int64],
    mask: npt.NDArray[np.int64],
    xmask: npt.NDArray[np.int64],
    inper: npt.NDArray[np.bool_],
    group_of: npt.NDArray[np.int64],
    n_groups: int,
    n_x: int,
    ex_x: npt.NDArray[np.int64],
    ex_a: npt.NDArray[np.int64],
    ex_b: npt.NDArray[np.int64],
    window_us: int,
    strict: bool,
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    n_cust = bounds.shape[0] - 1
    k = group_of.shape[0]
    none = np.iinfo(np.int64).min
    best_row = np.full(n_cust, -1, np.int64)
    best_level = np.zeros(n_cust, np.int64)
    best_rows = np.full((n_cust, k), -1, np.int64)
    longest = 0
    for c in range(n_cust):
        longest = max(longest, bounds[c + 1] - bounds[c])
    nxt = np.full((max(longest, 1), max(n_groups, 1)), -1, np.int64)
    nx = np.full((max(longest, 1), max(n_x, 1)), none, np.int64)
    rows = np.empty(k, np.int64)
    g0 = group_of[0]
    for c in range(n_cust):
        lo = bounds[c]
        hi = bounds[c + 1]
        n = hi - lo
        # The next row (in sequence) filling each step definition, strictly after each row.
        if not strict:
            for g in range(n_groups):
                nxt[n - 1, g] = -1
            for r in range(n - 1, 0, -1):
                m = mask[lo + r]
                for g in range(n_groups):
                    nxt[r - 1, g] = r if (m >> g) & 1 else nxt[r, g]
        # The time of the next exclusion event strictly later in time than each row.
        if n_x > 0:
            r = n - 1
            after = np.full(n_x, none, np.int64)
            while r >= 0:
                t = us[lo + r]
                top = r
                while r >= 0 and us[lo + r] == t:
                    r -= 1
                for q in range(r + 1, top + 1):
                    for i in range(n_x):
                        nx[q, i] = after[i]
                for q in range(r + 1, top + 1):
                    xm = xmask[lo + q]
                    for i in range(n_x):
                        if (xm >> i) & 1:
                            after[i] = t
        level_best = 0
        row_best = -1
        caught = False
        for s in range(n):
            if not (mask[lo + s] >> g0) & 1 or not inper[lo + s]:
                continue
            u0 = us[lo + s]
            limit = u0 + window_us
            rows[0] = s
            level = 1
            pos = s
            for j in range(1, k):
                g = group_of[j]
                if strict:
                    p = s + j
                    if p >= n or not (mask[lo + p] >> g) & 1:
                        break
                else:
                    p = nxt[pos, g]
                    if p < 0:
                        break
                if us[lo + p] > limit:
                    break
                rows[j] = p
                level += 1
                pos = p
            for e in range(ex_x.shape[0]):
                a = ex_a[e]
                if level < a:
                    continue
                nxv = nx[rows[a - 1], ex_x[e]]
                if nxv == none:
                    continue
                b = ex_b[e]
                if level >= b:
                    if nxv < us[lo + rows[b - 1]]:
                        caught = True
                elif nxv <= limit:
                    caught = True
            if level > level_best:
                level_best = level
                row_best = s
                for j in range(level):
                    best_rows[c, j] = lo + rows[j]
                for j in range(level, k):
                    best_rows[c, j] = -1
        if caught:
            row_best = -1
        if row_best >= 0:
            best_row[c] = lo + row_best
            best_level[c] = level_best
    return best_row, best_level, best_rows


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
    return _funnel_best(
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


@numba.njit(cache=True, nogil=True)
def _coded_sequence(
    codes: npt.NDArray[np.integer[Any]],
    us: npt.NDArray[np.int64],
    events: npt.NDArray[np.integer[Any]],
    lookup: npt.NDArray[np.int64],
    first_of: npt.NDArray[np.int64],
    mask_of: npt.NDArray[np.int64],
    xmask_of: npt.NDArray[np.int64],
    start: int,
    end: int,
    every: bool,
) -> tuple[
    npt.NDArray[np.int64],
    npt.NDArray[np.int64],
    npt.NDArray[np.int64],
    npt.NDArray[np.int64],
    npt.NDArray[np.int64],
    npt.NDArray[np.bool_],
]:
    n = codes.shape[0]
    other = first_of.shape[0] - 1
    src = np.empty(n, np.int64)
    m = 0
    n_cust = 0
    for i in range(n):
        if every or lookup[events[i]] != other:
            if m == 0 or codes[i] != codes[src[m - 1]]:
                n_cust += 1
            src[m] = i
            m += 1
    src = src[:m]
    bounds = np.empty(n_cust + 1, np.int64)
    c = 0
    for r in range(m):
        if r == 0 or codes[src[r]] != codes[src[r - 1]]:
            bounds[c] = r
            c += 1
    bounds[n_cust] = m
    # Rows at one instant of one customer: a stable insertion sort by first step (such runs
    # are short; the store order already puts them by event name, event id...).
    i = 0
    while i < m:
        x0 = src[i]
        j = i + 1
        while j < m and codes[src[j]] == codes[x0] and us[src[j]] == us[x0]:
            j += 1
        for a in range(i + 1, j):
            x = src[a]
            fx = first_of[lookup[events[x]]]
            b = a - 1
            while b >= i and first_of[lookup[events[src[b]]]] > fx:
                src[b + 1] = src[b]
                b -= 1
            src[b + 1] = x
        i = j
    us_seq = np.empty(m, np.int64)
    mask = np.empty(m, np.int64)
    xmask = np.empty(m, np.int64)
    inper = np.empty(m, np.bool_)
    for r in range(m):
        x = src[r]
        e = lookup[events[x]]
        us_seq[r] = us[x]
        mask[r] = mask_of[e]
        xmask[r] = xmask_of[e]
        inper[r] = start <= us[x] and us[x] < end
    return bounds, src, us_seq, mask, xmask, inper


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
    return _coded_sequence(
        codes, us, events, lookup, first_of, mask_of, xmask_of, start, end, every
    )


@numba.njit(cache=True, nogil=True)
def _dfg(
    bounds: npt.NDArray[np.int64],
    us: npt.NDArray[np.int64],
    node: npt.NDArray[np.int64],
    n_nodes: int,
    gap_us: int,
) -> tuple[
    npt.NDArray[np.int64],
    npt.NDArray[np.int64],
    npt.NDArray[np.float64],
    npt.NDArray[np.float64],
    npt.NDArray[np.int64],
    npt.NDArray[np.int64],
]:
    n_cust = bounds.shape[0] - 1
    width = n_nodes + 1  # target n_nodes is (end)
    n_edges = n_nodes * width
    count = np.zeros(n_edges, np.int64)
    customers = np.zeros(n_edges, np.int64)
    last = np.full(n_edges, -1, np.int64)
    total = np.zeros(n_edges, np.float64)
    start_count = np.zeros(n_nodes, np.int64)
    start_customers = np.zeros(n_nodes, np.int64)
    start_last = np.full(n_nodes, -1, np.int64)
    n = us.shape[0]
    edge_of = np.empty(n, np.int64)
    gap_of = np.empty(n, np.int64)
    for c in range(n_cust):
        lo = bounds[c]
        hi = bounds[c + 1]
        for r in range(lo, hi):
            first = r == lo or (gap_us > 0 and us[r] - us[r - 1] >= gap_us)
            if first:
                a = node[r]
                start_count[a] += 1
                if start_last[a] != c:
                    start_last[a] = c
                    start_customers[a] += 1
            follows = r + 1 < hi and not (gap_us > 0 and us[r + 1] - us[r] >= gap_us)
            if follows:
                e = node[r] * width + node[r + 1]
                gap_of[r] = us[r + 1] - us[r]
                total[e] += gap_of[r]
            else:
                e = node[r] * width + n_nodes
                gap_of[r] = -1
            edge_of[r] = e
            count[e] += 1
            if last[e] != c:
                last[e] = c
                customers[e] += 1
    # Exact medians: the gaps of each edge together (a counting sort), each edge sorted.
    offsets = np.zeros(n_edges + 1, np.int64)
    for r in range(n):
        if gap_of[r] >= 0:
            offsets[edge_of[r] + 1] += 1
    for e in range(n_edges):
        offsets[e + 1] += offsets[e]
    fill = offsets[:-1].copy()
    gaps = np.empty(offsets[n_edges], np.int64)
    for r in range(n):
        if gap_of[r] >= 0:
            gaps[fill[edge_of[r]]] = gap_of[r]
            fill[edge_of[r]] += 1
    median = np.full(n_edges, np.nan, np.float64)
    mean = np.full(n_edges, np.nan, np.float64)
    for e in range(n_edges):
        m = offsets[e + 1] - offsets[e]
        if m > 0:
            part = np.sort(gaps[offsets[e] : offsets[e + 1]])
            median[e] = (part[(m - 1) // 2] + part[m // 2]) / 2.0
            mean[e] = total[e] / m
    return count, customers, median, mean, start_count, start_customers


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
    npt.NDArray[np.float64],
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
        ``count``, ``customers`` (distinct), ``median`` and ``mean`` microseconds between the
        two nodes (NaN for the end); then per node, ``start_count`` and ``start_customers``
        (sequences, and distinct customers, that start at it).
    """
    return _dfg(bounds, us, node, n_nodes, gap_us)
