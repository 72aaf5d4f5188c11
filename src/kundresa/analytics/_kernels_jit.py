"""The numba kernels behind :mod:`kundresa.analytics._kernels` (compiled on first use, cached).

Only the public functions of :mod:`kundresa.analytics._kernels` import this module, when the
kernels' ahead-of-time compiled machine code (:mod:`kundresa.native`) is not there: importing
numba and loading its cached code costs ~0.5-1 s of a process. The ``*_into`` kernels write
into arrays their caller gives; :mod:`kundresa.native.build` compiles them ahead of time.
"""

from __future__ import annotations

from typing import Any

import numba
import numpy as np
import numpy.typing as npt

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


@numba.njit(cache=True, nogil=True)
def _grouped_sequence(
    codes: npt.NDArray[np.integer[Any]],
    n_cust: int,
    us: npt.NDArray[np.int64],
    events: npt.NDArray[np.integer[Any]],
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    n = codes.shape[0]
    out_c = np.empty(n, np.int64)
    out_u = np.empty(n, np.int64)
    out_e = np.empty(n, np.int64)
    grouped_sequence_into(codes, n_cust, us, events, out_c, out_u, out_e)
    return out_c, out_u, out_e


@numba.njit(cache=True, nogil=True)
def grouped_sequence_into(
    codes: npt.NDArray[np.integer[Any]],
    n_cust: int,
    us: npt.NDArray[np.int64],
    events: npt.NDArray[np.integer[Any]],
    out_c: npt.NDArray[np.int64],
    out_u: npt.NDArray[np.int64],
    out_e: npt.NDArray[np.int64],
) -> None:
    """:func:`kundresa.analytics._kernels.grouped_sequence` into ``out_c``, ``out_u`` and
    ``out_e`` (``int64[n]`` each)."""
    n = codes.shape[0]
    start = np.zeros(n_cust + 1, np.int64)
    for i in range(n):
        start[codes[i] + 1] += 1
    for c in range(n_cust):
        start[c + 1] += start[c]
    fill = start[:-1].copy()
    for i in range(n):
        c = codes[i]
        at = fill[c]
        fill[c] += 1
        out_c[at] = c
        out_u[at] = us[i]
        out_e[at] = events[i]
    sort_customers(start, out_u, out_e)


@numba.njit(cache=True, nogil=True)
def sort_customers(
    start: npt.NDArray[np.int64], out_u: npt.NDArray[np.int64], out_e: npt.NDArray[np.int64]
) -> None:
    """Order each customer's rows ``start[c]:start[c + 1]`` of ``out_u`` and ``out_e`` by
    (time, event), in place (:func:`sort_customers_range` of every customer)."""
    sort_customers_range(start, out_u, out_e, 0, start.shape[0] - 1)


@numba.njit(cache=True, nogil=True)
def sort_customers_range(
    start: npt.NDArray[np.int64],
    out_u: npt.NDArray[np.int64],
    out_e: npt.NDArray[np.int64],
    c_lo: int,
    c_hi: int,
) -> None:
    """Order the rows ``start[c]:start[c + 1]`` of ``out_u`` and ``out_e`` of each customer
    ``c_lo <= c < c_hi`` by (time, event), in place: rows already in order are only checked;
    a few rows are sorted by insertion, more by a stable sort by time first."""
    for c in range(c_lo, c_hi):
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


@numba.njit(cache=True, nogil=True)
def ranked_count(
    codes: npt.NDArray[np.integer[Any]],
    us: npt.NDArray[np.int64],
    events: npt.NDArray[np.integer[Any]],
    rank: npt.NDArray[np.int64],
    n_ranked: int,
    every: bool,
    lo_us: int,
    hi_us: int,
    r_lo: int,
    r_hi: int,
    count: npt.NDArray[np.int64],
) -> None:
    """Add to ``count[c + 1]`` (``int64[customers + 1]``) the rows ``r_lo .. r_hi - 1`` of
    customer ``c`` that :func:`kundresa.analytics._kernels.grouped_ranked` keeps: a row whose
    event's rank is below ``n_ranked`` (or any row, with ``every``) and whose time is in
    ``[lo_us, hi_us]``."""
    for i in range(r_lo, r_hi):
        if (every or rank[events[i]] < n_ranked) and lo_us <= us[i] <= hi_us:
            count[codes[i] + 1] += 1


@numba.njit(cache=True, nogil=True)
def ranked_fill(
    codes: npt.NDArray[np.integer[Any]],
    us: npt.NDArray[np.int64],
    events: npt.NDArray[np.integer[Any]],
    rank: npt.NDArray[np.int64],
    n_ranked: int,
    every: bool,
    lo_us: int,
    hi_us: int,
    r_lo: int,
    r_hi: int,
    fill: npt.NDArray[np.int64],
    out_c: npt.NDArray[np.int64],
    out_u: npt.NDArray[np.int64],
    out_e: npt.NDArray[np.int64],
) -> None:
    """Put each row ``r_lo .. r_hi - 1`` :func:`ranked_count` counts at ``fill[c]`` (then
    advanced) of ``out_u`` (its time) and ``out_e`` (its event's rank), and of ``out_c``
    (its customer) unless ``out_c`` is empty: rows in file order within each customer."""
    codes_too = out_c.shape[0] > 0
    for i in range(r_lo, r_hi):
        e = rank[events[i]]
        if (every or e < n_ranked) and lo_us <= us[i] <= hi_us:
            c = codes[i]
            at = fill[c]
            fill[c] += 1
            if codes_too:
                out_c[at] = c
            out_u[at] = us[i]
            out_e[at] = e


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
    best_row = np.empty(n_cust, np.int64)
    best_level = np.empty(n_cust, np.int64)
    best_rows = np.empty((n_cust, group_of.shape[0]), np.int64)
    funnel_best_into(
        bounds,
        us,
        mask,
        xmask,
        inper,
        group_of,
        n_groups,
        n_x,
        ex_x,
        ex_a,
        ex_b,
        window_us,
        strict,
        best_row,
        best_level,
        best_rows,
    )
    return best_row, best_level, best_rows


@numba.njit(cache=True, nogil=True)
def funnel_best_into(
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
    best_row: npt.NDArray[np.int64],
    best_level: npt.NDArray[np.int64],
    best_rows: npt.NDArray[np.int64],
) -> None:
    """:func:`kundresa.analytics._kernels.funnel_best` into ``best_row``, ``best_level``
    (``int64[c]``) and ``best_rows`` (``int64[c, k]``), whatever they held."""
    n_cust = bounds.shape[0] - 1
    k = group_of.shape[0]
    best_row[:] = -1
    best_level[:] = 0
    best_rows[:, :] = -1
    longest = 0
    for c in range(n_cust):
        longest = max(longest, bounds[c + 1] - bounds[c])
    nxt, nx, rows, best = _scratch(longest, k, n_groups, n_x)
    for c in range(n_cust):
        lo = bounds[c]
        s, level = _customer_best(
            lo, bounds[c + 1] - lo, us, mask, xmask, inper, group_of, n_groups, n_x,
            ex_x, ex_a, ex_b, window_us, strict, nxt, nx, rows, best,
        )  # fmt: skip
        for j in range(level):
            best_rows[c, j] = lo + best[j]
        if s >= 0:
            best_row[c] = lo + s
            best_level[c] = level


@numba.njit(cache=True, nogil=True)
def _scratch(
    longest: int, k: int, n_groups: int, n_x: int
) -> tuple[
    npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.int64]
]:
    """:func:`_customer_best`'s work arrays for customers of at most ``longest`` rows."""
    none = np.iinfo(np.int64).min
    nxt = np.full((max(longest, 1), max(n_groups, 1)), -1, np.int64)
    nx = np.full((max(longest, 1), max(n_x, 1)), none, np.int64)
    return nxt, nx, np.empty(k, np.int64), np.empty(k, np.int64)


@numba.njit(cache=True, nogil=True)
def _customer_best(
    lo: int,
    n: int,
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
    nxt: npt.NDArray[np.int64],
    nx: npt.NDArray[np.int64],
    rows: npt.NDArray[np.int64],
    best: npt.NDArray[np.int64],
) -> tuple[int, int]:
    """One customer's best attempt over its rows ``lo .. lo + n - 1`` of the sequence
    (:func:`funnel_best_into`'s semantics): ``(s, level)``, ``s`` the attempt's first row
    (offset from ``lo``; -1 for none, or when an exclusion caught one of the customer's
    attempts) and ``level`` the steps it reached, its rows' offsets in ``best[:level]``
    (filled, like ``level``, even when caught). ``nxt``, ``nx`` and ``rows``: work arrays
    (:func:`_scratch`)."""
    k = group_of.shape[0]
    none = np.iinfo(np.int64).min
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
        next_exclusions(lo, n, us, xmask, n_x, nx, np.empty(n_x, np.int64))
    level_best = 0
    row_best = -1
    caught = False
    g0 = group_of[0]
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
                best[j] = rows[j]
    if caught:
        row_best = -1
    return row_best, level_best


@numba.njit(cache=True, nogil=True)
def next_exclusions(
    lo: int,
    n: int,
    us: npt.NDArray[np.int64],
    xmask: npt.NDArray[np.int64],
    n_x: int,
    nx: npt.NDArray[np.int64],
    after: npt.NDArray[np.int64],
) -> None:
    """For each row ``r`` of ``lo .. lo + n - 1`` (in time order) and each of the ``n_x``
    exclusion events ``i``, ``nx[r - lo, i]``: the time of the next such event strictly later
    in time than the row (``int64``'s minimum for none). ``after``: ``int64[n_x]`` work
    array."""
    none = np.iinfo(np.int64).min
    for i in range(n_x):
        after[i] = none
    r = n - 1
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


@numba.njit(cache=True, nogil=True)
def grouped_best_into(
    start: npt.NDArray[np.int64],
    g_us: npt.NDArray[np.int64],
    g_events: npt.NDArray[np.int64],
    lookup: npt.NDArray[np.int64],
    first_of: npt.NDArray[np.int64],
    mask_of: npt.NDArray[np.int64],
    xmask_of: npt.NDArray[np.int64],
    p_start: int,
    p_end: int,
    every: bool,
    c_lo: int,
    c_hi: int,
    group_of: npt.NDArray[np.int64],
    n_groups: int,
    n_x: int,
    ex_x: npt.NDArray[np.int64],
    ex_a: npt.NDArray[np.int64],
    ex_b: npt.NDArray[np.int64],
    window_us: int,
    strict: bool,
    best_row: npt.NDArray[np.int64],
    best_level: npt.NDArray[np.int64],
    best_rows: npt.NDArray[np.int64],
) -> None:
    """:func:`kundresa.analytics._kernels.grouped_best` of the customers ``c_lo .. c_hi -
    1``: their entries of ``best_row``, ``best_level`` (``int64[c]``) and ``best_rows``
    (``int64[c, k]``) written, the others left as they are."""
    k = group_of.shape[0]
    other = first_of.shape[0] - 1
    longest = 0
    for c in range(c_lo, c_hi):
        longest = max(longest, start[c + 1] - start[c])
    nxt, nx, rows, best = _scratch(longest, k, n_groups, n_x)
    width = max(longest, 1)
    src = np.empty(width, np.int64)
    us = np.empty(width, np.int64)
    mask = np.empty(width, np.int64)
    xmask = np.empty(width, np.int64)
    inper = np.empty(width, np.bool_)
    for c in range(c_lo, c_hi):
        best_row[c] = -1
        best_level[c] = 0
        for j in range(k):
            best_rows[c, j] = -1
        # The customer's sequence as coded_sequence_into makes it: the funnel's rows (or
        # every row), rows at one instant by their first step (a stable insertion sort).
        n = 0
        for q in range(start[c], start[c + 1]):
            if every or lookup[g_events[q]] != other:
                src[n] = q
                n += 1
        if n == 0:
            continue
        _ties_by_first_step(src, 0, n, g_us, g_events, lookup, first_of)
        _sequence_columns(
            src, n, g_us, g_events, lookup, mask_of, xmask_of, p_start, p_end,
            us, mask, xmask, inper,
        )  # fmt: skip
        s, level = _customer_best(
            0, n, us, mask, xmask, inper, group_of, n_groups, n_x,
            ex_x, ex_a, ex_b, window_us, strict, nxt, nx, rows, best,
        )  # fmt: skip
        for j in range(level):
            best_rows[c, j] = src[best[j]]
        if s >= 0:
            best_row[c] = start[c] + s
            best_level[c] = level


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
    m, n_cust = coded_sequence_size(codes, events, lookup, first_of.shape[0] - 1, every)
    bounds = np.empty(n_cust + 1, np.int64)
    src = np.empty(m, np.int64)
    us_seq = np.empty(m, np.int64)
    mask = np.empty(m, np.int64)
    xmask = np.empty(m, np.int64)
    inper = np.empty(m, np.bool_)
    coded_sequence_into(
        codes,
        us,
        events,
        lookup,
        first_of,
        mask_of,
        xmask_of,
        start,
        end,
        every,
        bounds,
        src,
        us_seq,
        mask,
        xmask,
        inper,
    )
    return bounds, src, us_seq, mask, xmask, inper


@numba.njit(cache=True, nogil=True)
def coded_sequence_size(
    codes: npt.NDArray[np.integer[Any]],
    events: npt.NDArray[np.integer[Any]],
    lookup: npt.NDArray[np.int64],
    other: int,
    every: bool,
) -> tuple[int, int]:
    """The rows (``m``) and customers :func:`coded_sequence_into` keeps: rows of the
    funnel's events (``lookup`` not ``other``), or all with ``every``."""
    m = 0
    n_cust = 0
    last = 0
    for i in range(codes.shape[0]):
        if every or lookup[events[i]] != other:
            if m == 0 or codes[i] != last:
                n_cust += 1
            last = codes[i]
            m += 1
    return m, n_cust


@numba.njit(cache=True, nogil=True)
def coded_sequence_into(
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
    bounds: npt.NDArray[np.int64],
    src: npt.NDArray[np.int64],
    us_seq: npt.NDArray[np.int64],
    mask: npt.NDArray[np.int64],
    xmask: npt.NDArray[np.int64],
    inper: npt.NDArray[np.bool_],
) -> None:
    """:func:`kundresa.analytics._kernels.coded_sequence` into ``bounds`` (``int64[c + 1]``)
    and ``src``, ``us_seq``, ``mask``, ``xmask``, ``inper`` (``[m]``), sized by
    :func:`coded_sequence_size`."""
    n = codes.shape[0]
    other = first_of.shape[0] - 1
    m = 0
    for i in range(n):
        if every or lookup[events[i]] != other:
            src[m] = i
            m += 1
    n_cust = bounds.shape[0] - 1
    c = 0
    for r in range(m):
        if r == 0 or codes[src[r]] != codes[src[r - 1]]:
            bounds[c] = r
            c += 1
    bounds[n_cust] = m
    # Rows at one instant of one customer: a stable insertion sort by first step (such runs
    # are short; the store order already puts them by event name, event id...).
    for c in range(n_cust):
        _ties_by_first_step(src, bounds[c], bounds[c + 1], us, events, lookup, first_of)
    _sequence_columns(
        src, m, us, events, lookup, mask_of, xmask_of, start, end, us_seq, mask, xmask, inper
    )


@numba.njit(cache=True, nogil=True)
def _ties_by_first_step(
    src: npt.NDArray[np.int64],
    lo: int,
    hi: int,
    us: npt.NDArray[np.int64],
    events: npt.NDArray[np.integer[Any]],
    lookup: npt.NDArray[np.int64],
    first_of: npt.NDArray[np.int64],
) -> None:
    """Order one customer's rows ``src[lo:hi]`` (row numbers, in time order) within each
    run at one instant by the first step their event can fill: a stable insertion sort."""
    i = lo
    while i < hi:
        j = i + 1
        while j < hi and us[src[j]] == us[src[i]]:
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


@numba.njit(cache=True, nogil=True)
def _sequence_columns(
    src: npt.NDArray[np.int64],
    n: int,
    us: npt.NDArray[np.int64],
    events: npt.NDArray[np.integer[Any]],
    lookup: npt.NDArray[np.int64],
    mask_of: npt.NDArray[np.int64],
    xmask_of: npt.NDArray[np.int64],
    start: int,
    end: int,
    us_seq: npt.NDArray[np.int64],
    mask: npt.NDArray[np.int64],
    xmask: npt.NDArray[np.int64],
    inper: npt.NDArray[np.bool_],
) -> None:
    """The funnel kernel's columns of the rows ``src[:n]``: each row's time, step and
    exclusion masks, and whether its time is in ``[start, end)``."""
    for r in range(n):
        x = src[r]
        e = lookup[events[x]]
        us_seq[r] = us[x]
        mask[r] = mask_of[e]
        xmask[r] = xmask_of[e]
        inper[r] = start <= us[x] and us[x] < end


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
    npt.NDArray[np.int64],
    npt.NDArray[np.int64],
    npt.NDArray[np.int64],
    npt.NDArray[np.int64],
]:
    n_cust = bounds.shape[0] - 1
    width = n_nodes + 1  # target n_nodes is (end)
    # Each edge's gaps summed exactly, in two parts that cannot overflow (the exact mean of
    # kundresa.analytics._means: a float sum would depend on the customers' order).
    shift = np.int64(20)
    low_mask = np.int64((1 << 20) - 1)
    n_edges = n_nodes * width
    count = np.zeros(n_edges, np.int64)
    customers = np.zeros(n_edges, np.int64)
    last = np.full(n_edges, -1, np.int64)
    high = np.zeros(n_edges, np.int64)
    low = np.zeros(n_edges, np.int64)
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
                high[e] += gap_of[r] >> shift
                low[e] += gap_of[r] & low_mask
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
    for e in range(n_edges):
        m = offsets[e + 1] - offsets[e]
        if m > 0:
            part = np.sort(gaps[offsets[e] : offsets[e + 1]])
            median[e] = (part[(m - 1) // 2] + part[m // 2]) / 2.0
    return count, customers, median, high, low, start_count, start_customers


@numba.njit(cache=True, nogil=True)
def merge_ordered(
    c1: npt.NDArray[np.integer[Any]],
    u1: npt.NDArray[np.int64],
    c2: npt.NDArray[np.integer[Any]],
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
def is_sorted(c: npt.NDArray[np.integer[Any]], u: npt.NDArray[np.int64]) -> bool:
    for i in range(1, c.shape[0]):
        if c[i] < c[i - 1] or (c[i] == c[i - 1] and u[i] < u[i - 1]):
            return False
    return True
