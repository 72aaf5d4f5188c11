"""The compiled kernel of the any-order event funnel on the DuckDB fast path (numba).

Like :mod:`kundresa.analytics._kernels` it walks events already sorted by customer and by the
funnel's sequence order, one customer at a time, and is imported only when a fast path runs;
compiled code is cached (``cache=True``).

The semantics are those of :mod:`kundresa.analytics.funnel` for ``order="any"``: an attempt
starts at every event that fills some step (time ``t0``, in the counted period); its level is
the maximum matching of the customer's events in ``[t0, t0 + W]`` to the steps (each event
fills one step; by König's theorem, the minimum over sets ``U`` of step definitions of the
steps outside ``U`` plus the events filling some definition in ``U``); step ``j`` is reached
at the first event (in sequence) by which the events from ``t0`` on fill ``j`` steps. A
customer's best attempt is the earliest one reaching the highest level; an exclusion that
catches any of their attempts leaves them out. Tests pin this kernel to the portable Ibis path
and to a brute-force reference.
"""

from __future__ import annotations

import numba
import numpy as np
import numpy.typing as npt

from kundresa.analytics._kernels import exclusion_arrays
from kundresa.analytics._kernels_jit import next_exclusions
from kundresa.errors import UsageError

__all__ = ["funnel_any_best"]


@numba.njit(cache=True, nogil=True, inline="always")
def _matched(
    cnt: npt.NDArray[np.int64],
    mult: npt.NDArray[np.int64],
    outside: npt.NDArray[np.int64],
    k: int,
    disjoint: bool,
) -> int:
    """How many steps the counted events fill: ``cnt[g]`` per definition when ``disjoint``,
    else ``cnt[U]`` per non-empty set ``U`` of definitions (as a bit mask)."""
    if disjoint:
        total = 0
        for g in range(mult.shape[0]):
            total += min(cnt[g], mult[g])
        return total
    best = k
    for u in range(1, cnt.shape[0]):
        best = min(best, outside[u] + cnt[u])
    return best


@numba.njit(cache=True, nogil=True, inline="always")
def _count(cnt: npt.NDArray[np.int64], m: int, by: int, n_groups: int, disjoint: bool) -> None:
    """Add ``by`` to the counts of the definitions (or sets of them) that mask ``m`` fills."""
    if m == 0:
        return
    if disjoint:
        for g in range(n_groups):
            if (m >> g) & 1:
                cnt[g] += by
    else:
        for u in range(1, cnt.shape[0]):
            if m & u:
                cnt[u] += by


@numba.njit(cache=True, nogil=True)
def _funnel_any_best(
    bounds: npt.NDArray[np.int64],
    us: npt.NDArray[np.int64],
    mask: npt.NDArray[np.int64],
    xmask: npt.NDArray[np.int64],
    inper: npt.NDArray[np.bool_],
    mult: npt.NDArray[np.int64],
    k: int,
    n_x: int,
    ex_x: npt.NDArray[np.int64],
    ex_a: npt.NDArray[np.int64],
    ex_b: npt.NDArray[np.int64],
    window_us: int,
    disjoint: bool,
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    n_cust = bounds.shape[0] - 1
    n_groups = mult.shape[0]
    none = np.iinfo(np.int64).min
    best_row = np.full(n_cust, -1, np.int64)
    best_level = np.zeros(n_cust, np.int64)
    best_rows = np.full((n_cust, k), -1, np.int64)
    # Steps outside each set of definitions (the König bound's first term).
    width = n_groups if disjoint else (1 << n_groups)
    outside = np.zeros(width, np.int64)
    if not disjoint:
        for u in range(1, width):
            inside = 0
            for g in range(n_groups):
                if (u >> g) & 1:
                    inside += mult[g]
            outside[u] = k - inside
    cnt = np.zeros(width, np.int64)
    run = np.zeros(width, np.int64)
    longest = 1
    for c in range(n_cust):
        longest = max(longest, bounds[c + 1] - bounds[c])
    level_of = np.zeros(longest, np.int64)
    first_at = np.zeros(longest, np.int64)  # the first row at each row's instant
    nx = np.full((longest, max(n_x, 1)), none, np.int64)
    after = np.full(max(n_x, 1), none, np.int64)
    rows = np.empty(k, np.int64)
    min_a = k + 1
    for e in range(ex_a.shape[0]):
        min_a = min(min_a, ex_a[e])
    for c in range(n_cust):
        lo = bounds[c]
        n = bounds[c + 1] - lo
        if n == 0:
            continue
        for r in range(n):
            first_at[r] = r if r == 0 or us[lo + r] != us[lo + r - 1] else first_at[r - 1]
        # The time of the next exclusion event strictly later in time than each row.
        if n_x > 0:
            next_exclusions(lo, n, us, xmask, n_x, nx, after)
        # Levels: a sliding window [t0, t0 + W] over the rows in sequence.
        cnt[:] = 0
        head = 0  # rows [head, tail) are counted
        tail = 0
        level_best = 0
        row_best = -1
        for s in range(n):
            if mask[lo + s] == 0 or not inper[lo + s]:
                continue
            u0 = us[lo + s]
            start = first_at[s]
            while tail < n and us[lo + tail] <= u0 + window_us:
                _count(cnt, mask[lo + tail], 1, n_groups, disjoint)
                tail += 1
            while head < start:
                _count(cnt, mask[lo + head], -1, n_groups, disjoint)
                head += 1
            level = _matched(cnt, mult, outside, k, disjoint)
            level_of[s] = level
            if level > level_best:
                level_best = level
                row_best = s
        if row_best < 0:
            continue
        # Step times of the attempts that need them: the best one, and with exclusions every
        # attempt that reaches an exclusion's first step.
        caught = False
        for s in range(n):
            if mask[lo + s] == 0 or not inper[lo + s]:
                continue
            if s != row_best and level_of[s] < min_a:
                continue
            u0 = us[lo + s]
            limit = u0 + window_us
            run[:] = 0
            reached = 0
            r = first_at[s]
            while r < n and us[lo + r] <= limit and reached < level_of[s]:
                _count(run, mask[lo + r], 1, n_groups, disjoint)
                if _matched(run, mult, outside, k, disjoint) > reached:
                    rows[reached] = r
                    reached += 1
                r += 1
            level = level_of[s]
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
            if caught:
                break
            if s == row_best:
                for j in range(level):
                    best_rows[c, j] = lo + rows[j]
        if caught:
            for j in range(k):
                best_rows[c, j] = -1
            continue
        best_row[c] = lo + row_best
        best_level[c] = level_best
    return best_row, best_level, best_rows


def funnel_any_best(
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
    disjoint: bool,
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Each customer's best attempt of an any-order funnel.

    Parameters
    ----------
    bounds
        ``int64[c + 1]``: customer ``i``'s rows are ``bounds[i]:bounds[i + 1]``.
    us, mask, xmask, inper
        Per row, in each customer's sequence order (time first): microseconds since 1970, the
        bit mask of the step definitions the event fills, the bit mask of the exclusion events
        it is, and whether an attempt may start at it (its time is in the counted period).
    group_of
        The step definition (bit) of each of the ``k`` steps.
    n_groups
        The number of step definitions; unless ``disjoint``, at most 20 (the kernel counts
        every set of them).
    exclusions
        ``(exclusion event bit, step a, step b)`` per exclusion (steps 1-based).
    window_us
        The conversion window in microseconds.
    disjoint
        No event fills two different step definitions (then the maximum matching is the sum
        over definitions of ``min(events, times listed)``).

    Returns
    -------
    tuple of numpy.ndarray
        ``best_row`` (``int64[c]``, the start row of the customer's best attempt, -1 when the
        customer has no attempt or an exclusion leaves them out), ``level`` (``int64[c]``) and
        ``step_rows`` (``int64[c, k]``, the row by which the attempt had filled each number of
        steps, -1 where not reached).

    Raises
    ------
    ValueError
        More than 20 step definitions that are not disjoint.
    """
    if not disjoint and n_groups > 20:
        raise UsageError(f"order='any' with {n_groups} overlapping step definitions (at most 20)")
    mult = np.zeros(n_groups, np.int64)
    for g in group_of:
        mult[g] += 1
    return _funnel_any_best(
        bounds,
        us,
        mask,
        xmask,
        inper,
        mult,
        len(group_of),
        n_x,
        *exclusion_arrays(exclusions),
        window_us,
        disjoint,
    )
