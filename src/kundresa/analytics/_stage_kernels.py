"""Compiled per-customer kernels of the stage analysis' DuckDB fast path (numba).

:func:`sort_runs` puts each customer's staged events in time order; :func:`stage_walk` then
walks every customer's staged events once, in the event order, and gives what the stage
funnel, the transition matrix and time in stage read: each customer's highest stage and first
entry of every stage inside the counted period, and every stage visit (a run of consecutive
staged events in one stage) with the time it was entered and left. The semantics are those of
:mod:`kundresa.analytics.stages` and :mod:`kundresa.analytics.journeys`; the parity tests pin
both paths together.

:func:`sort_runs` sorts with :func:`kundresa.analytics._kernels_jit.sort_within`, the per-customer
sort of :func:`~kundresa.analytics._kernels.customer_order`. Like
:mod:`kundresa.analytics._kernels`, the module is imported only when a fast path runs and its
compiled code is cached.
"""

from __future__ import annotations

import numba
import numpy as np
import numpy.typing as npt

__all__ = ["NONE", "assign_stages", "distinct_per_key", "sort_runs", "stage_walk"]

NONE = np.iinfo(np.int64).min
"""The missing time (no entry of a stage, a visit not left) in the kernels' outputs."""


def sort_runs(values: npt.NDArray[np.int64], bounds: npt.NDArray[np.int64], shift: int) -> bool:
    """Sort each customer's packed rows by time in place (rows at one instant keep their
    order), and say whether the order is ambiguous.

    Parameters
    ----------
    values
        ``int64[n]``, each row packed as ``us << shift | stage`` (microseconds since 1970 in
        the high bits, the 1-based stage index in the low ``shift`` bits), grouped by
        customer.
    bounds
        ``int64[c + 1]``: customer ``i``'s rows are ``values[bounds[i]:bounds[i + 1]]``.
    shift
        Bits of the stage index.

    Returns
    -------
    bool
        True when two rows of one customer at one instant have different stages: only the
        full tie rule (event name, event id, session id, channel, value) can order them, so
        the caller must.
    """
    from kundresa.analytics._kernels_jit import sort_within

    perm = np.arange(values.shape[0], dtype=np.int64)
    ambiguous = sort_within(bounds, perm, values >> shift, values & ((1 << shift) - 1))
    values[:] = values[perm]
    return bool(ambiguous)


@numba.njit(cache=True, nogil=True)
def _stage_walk(
    bounds: npt.NDArray[np.int64],
    us: npt.NDArray[np.int64],
    stage: npt.NDArray[np.int64],
    n_stages: int,
    lo: int,
    hi: int,
) -> tuple[
    npt.NDArray[np.int64],
    npt.NDArray[np.int64],
    npt.NDArray[np.int64],
    npt.NDArray[np.int64],
    npt.NDArray[np.int64],
    npt.NDArray[np.int64],
    npt.NDArray[np.int64],
    npt.NDArray[np.int64],
]:
    n_cust = bounds.shape[0] - 1
    none = np.iinfo(np.int64).min
    highest = np.zeros(n_cust, np.int64)
    first = np.full((n_cust, n_stages), none, np.int64)
    n_visits = 0
    for c in range(n_cust):
        prev = -1
        for r in range(bounds[c], bounds[c + 1]):
            s = stage[r]
            if s != prev:
                n_visits += 1
                prev = s
            t = us[r]
            if lo <= t < hi:
                if s > highest[c]:
                    highest[c] = s
                if first[c, s - 1] == none:
                    first[c, s - 1] = t
    v_cust = np.empty(n_visits, np.int64)
    v_stage = np.empty(n_visits, np.int64)
    v_prev = np.zeros(n_visits, np.int64)
    v_enter = np.empty(n_visits, np.int64)
    v_prev_enter = np.full(n_visits, none, np.int64)
    v_left = np.full(n_visits, none, np.int64)
    v = 0
    for c in range(n_cust):
        prev = -1
        for r in range(bounds[c], bounds[c + 1]):
            s = stage[r]
            if s == prev:
                continue
            v_cust[v] = c
            v_stage[v] = s
            v_enter[v] = us[r]
            if prev != -1:
                v_prev[v] = prev
                v_prev_enter[v] = v_enter[v - 1]
                v_left[v - 1] = us[r]
            prev = s
            v += 1
    return highest, first, v_cust, v_stage, v_prev, v_enter, v_prev_enter, v_left


def stage_walk(
    bounds: npt.NDArray[np.int64],
    us: npt.NDArray[np.int64],
    stage: npt.NDArray[np.int64],
    n_stages: int,
    lo: int,
    hi: int,
) -> dict[str, npt.NDArray[np.int64]]:
    """One pass over each customer's staged events: stage funnel facts and stage visits.

    Parameters
    ----------
    bounds
        ``int64[c + 1]``: customer ``i``'s rows are ``bounds[i]:bounds[i + 1]``.
    us, stage
        ``int64[n]`` per staged event, in each customer's event order (time; ties by event
        name, event id, session id, channel, value): microseconds since 1970 and the 1-based
        stage index (``1 .. n_stages``).
    lo, hi
        The counted period ``[lo, hi)`` in microseconds since 1970 (use the ``int64`` bounds
        for an open side).

    Returns
    -------
    dict of numpy.ndarray
        Per customer (``int64[c]``, ``int64[c, n_stages]``): ``highest`` (the highest stage
        index among the staged events in the period, 0 if none) and ``first`` (the first
        time each stage was entered in the period, :data:`NONE` if not). Per visit
        (``int64[v]``, in customer and visit order): ``customer`` (0-based), ``stage``,
        ``previous`` (the previous visit's stage, 0 for a customer's first visit),
        ``entered`` (the time of its first event), ``previous_entered`` (the previous
        visit's, :data:`NONE` for a first visit) and ``left`` (the next visit's entry,
        :data:`NONE` while the visit is open). Visits come from the whole history.
    """
    names = ("highest", "first", "customer", "stage", "previous", "entered")
    out = _stage_walk(bounds, us, stage, n_stages, lo, hi)
    return dict(zip((*names, "previous_entered", "left"), out, strict=True))


@numba.njit(cache=True, nogil=True)
def _distinct_per_key(
    customer: npt.NDArray[np.int64],
    key: npt.NDArray[np.int64],
    mask: npt.NDArray[np.bool_],
    size: int,
) -> npt.NDArray[np.int64]:
    seen = np.full(size, -1, np.int64)
    out = np.zeros(size, np.int64)
    for i in range(customer.shape[0]):
        if mask[i]:
            k = key[i]
            if seen[k] != customer[i]:
                seen[k] = customer[i]
                out[k] += 1
    return out


def distinct_per_key(
    customer: npt.NDArray[np.int64],
    key: npt.NDArray[np.int64],
    mask: npt.NDArray[np.bool_],
    size: int,
) -> npt.NDArray[np.int64]:
    """Distinct customers per key among the rows where ``mask`` holds.

    Parameters
    ----------
    customer
        ``int64[n]``, each row's customer, rows of one customer together (as
        :func:`stage_walk` gives visits).
    key
        ``int64[n]`` in ``0 .. size - 1``.
    mask
        ``bool[n]``: the rows counted.

    Returns
    -------
    numpy.ndarray
        ``int64[size]``: how many customers have a counted row with each key.
    """
    return _distinct_per_key(customer, key, mask, size)


@numba.njit(cache=True, nogil=True)
def _assign_stages(
    bounds: npt.NDArray[np.int64],
    code: npt.NDArray[np.int64],
    plain: npt.NDArray[np.int64],
    nth: npt.NDArray[np.int64],
    need: npt.NDArray[np.int64],
    stage_of: npt.NDArray[np.int64],
) -> npt.NDArray[np.int64]:
    n_plain = plain.shape[0]
    n_nth = nth.shape[0]
    stage = np.zeros(code.shape[0], np.int64)
    counts = np.zeros(max(n_nth, 1), np.int64)
    big = np.iinfo(np.int64).max
    for c in range(bounds.shape[0] - 1):
        counts[:] = 0
        for r in range(bounds[c], bounds[c + 1]):
            bits = code[r] // (n_plain + 1)
            p = code[r] % (n_plain + 1)
            best = big
            if p < n_plain:
                best = plain[p]
            for j in range(n_nth):
                if (bits >> j) & 1:
                    counts[j] += 1
                    if counts[j] >= need[j] and nth[j] < best:
                        best = nth[j]
            if best != big:
                stage[r] = stage_of[best]
    return stage


def assign_stages(
    bounds: npt.NDArray[np.int64],
    code: npt.NDArray[np.int64],
    plain: npt.NDArray[np.int64],
    nth: npt.NDArray[np.int64],
    need: npt.NDArray[np.int64],
    stage_of: npt.NDArray[np.int64],
) -> npt.NDArray[np.int64]:
    """Each event's stage, as :func:`kundresa.analytics.touchpoints.tag_events` assigns it:
    the stage of the first touchpoint (file order) the event fits, a touchpoint with
    ``nth: n`` only from the customer's n-th event that fits it (counted in event order).

    Parameters
    ----------
    bounds
        ``int64[c + 1]``: customer ``i``'s rows are ``bounds[i]:bounds[i + 1]``, each in
        the customer's event order.
    code
        ``int64[n]``: ``nth_bits * (len(plain) + 1) + p``: ``p`` indexes ``plain`` (the
        first touchpoint without ``nth`` the event fits; ``len(plain)`` if none) and bit
        ``j`` of ``nth_bits`` says the event fits touchpoint ``nth[j]``.
    plain, nth
        File positions of the touchpoints without and with an ``nth`` (above 1).
    need
        The ``nth`` of each touchpoint of ``nth``.
    stage_of
        The 1-based stage index of every touchpoint, by file position.

    Returns
    -------
    numpy.ndarray
        ``int64[n]``: each event's stage index, 0 where no touchpoint takes it.
    """
    return _assign_stages(bounds, code, plain, nth, need, stage_of)
