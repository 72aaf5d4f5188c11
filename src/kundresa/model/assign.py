"""A plain-Python reference for touchpoint matching.

The analyses do this with Ibis expressions on any engine
(:func:`kundresa.analytics.touchpoints.tag_events`); this version, written straight from the
rules, is what those expressions are tested against.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any

from kundresa.model.journey import Journey

__all__ = ["assign_touchpoints", "stage_of"]


def assign_touchpoints(journey: Journey, events: Sequence[Mapping[str, Any]]) -> list[str | None]:
    """The touchpoint of every event (``None`` where no touchpoint fits).

    Touchpoints are tried in file order and the first whose match fits wins. ``nth: n`` lets
    a touchpoint take only the customer's n-th and later events among those that fit its
    ``event`` and ``where`` — counted over all of the customer's fitting events in time order
    (ties in input order), whichever touchpoint they end up on.

    Parameters
    ----------
    journey
        The journey model.
    events
        Mappings with ``customer_id``, ``timestamp``, ``event`` and ``properties``.

    Examples
    --------
    >>> from kundresa.model.parse import parse_journey
    >>> j, _ = parse_journey('''
    ... kundresa: 1
    ... template: buyers-journey
    ... touchpoints:
    ...   - {id: repeat, stage: decision, match: {event: buy, nth: 2}}
    ...   - {id: first, stage: decision, match: {event: buy}}
    ...   - {id: look, stage: awareness, match: {event: view}}
    ... ''')
    >>> evs = [{"customer_id": "a", "timestamp": t, "event": e, "properties": {}}
    ...        for t, e in [(1, "buy"), (2, "view"), (3, "buy"), (4, "wave")]]
    >>> assign_touchpoints(j, evs)
    ['first', 'look', 'repeat', None]
    """
    order = sorted(range(len(events)), key=lambda i: (events[i]["timestamp"], i))
    counts: dict[tuple[str, int], int] = defaultdict(int)
    result: list[str | None] = [None] * len(events)
    for i in order:
        e = events[i]
        props = e.get("properties") or {}
        chosen: str | None = None
        for k, tp in enumerate(journey.touchpoints):
            if not tp.match.fits(e["event"], props):
                continue
            # Count every fitting event, even after a touchpoint was chosen.
            counts[(e["customer_id"], k)] += 1
            if chosen is None and counts[(e["customer_id"], k)] >= (tp.match.nth or 1):
                chosen = tp.id
        result[i] = chosen
    return result


def stage_of(journey: Journey, touchpoint_id: str | None) -> str | None:
    """The stage a touchpoint belongs to."""
    if touchpoint_id is None:
        return None
    return journey.touchpoint(touchpoint_id).stage
