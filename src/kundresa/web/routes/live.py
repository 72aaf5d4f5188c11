"""Live customer state: ``/api/customers/{id}`` and the stage-entered feed
``/api/stage-events`` (docs/live-state.md)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from fastapi.responses import JSONResponse, Response

from kundresa.errors import KundresaError
from kundresa.web import limits
from kundresa.web.site import Site

MAX_FEED = 10_000
"""Most stage events one feed request returns."""


def parse_since(text: str | None) -> tuple[int, datetime | None]:
    """A feed position: a ``seq`` (an integer: events after it), or a date or ISO time (events
    that happened at or after it; a time without a zone is UTC).

    Examples
    --------
    >>> parse_since("42")
    (42, None)
    >>> parse_since("2026-03-01T10:00:00+01:00")
    (0, datetime.datetime(2026, 3, 1, 9, 0))
    >>> parse_since(None)
    (0, None)
    """
    if text is None or not text.strip():
        return 0, None
    text = text.strip()
    if text.isascii() and text.isdigit():  # str.isdigit() holds for '²', which int() refuses
        return int(text), None
    try:
        at = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise limits.ParameterError(  # a bad parameter: 422, as every other (docs/web.md)
            "since", f"{text!r} is neither a sequence number nor a date or ISO time"
        ) from None
    if at.tzinfo is not None:
        at = at.astimezone(UTC).replace(tzinfo=None)
    return 0, at


def router(site: Site) -> APIRouter:
    r = APIRouter()
    state = site.state

    def failed(exc: Exception) -> JSONResponse:
        return JSONResponse({"detail": site.shown(exc)}, status_code=site.status_of(exc))

    @r.get(
        # ``:path``: an id may hold a ``/`` (sent as ``%2F``, which is decoded before routing).
        "/api/customers/{customer_id:path}",
        tags=["live"],
        summary="One customer's live state and next best step",
        responses={404: {"description": "No event has this id (nor any id stitched to it)."}},
    )
    def api_customer_state(
        customer_id: Annotated[
            str, Path(max_length=500, description="Any of the person's ids (stitched).")
        ],
        lang: Annotated[
            str | None, Query(pattern="^(sv|da|en)$", description="Stage label language.")
        ] = None,
    ) -> Response:
        """`customer_id`, `stage`, `stage_label`, `stage_entered_at` (ISO 8601, UTC), `persona`,
        `next_stage`, `p_next_stage` (the saved next-stage model's probability of reaching a
        later stage within `horizon_days`; null without a model, with a note) and
        `recommended_content` (`item`, `kind`, `reason`, `score`); also `highest_stage`,
        `stages_visited`, `last_touchpoints`, `first_event_at`, `last_event_at`, `events` and
        `notes`. Up to date with every committed ingest. 404 for an id with no events."""
        if not customer_id.strip():
            return failed(ValueError("customer_id: a customer id is required"))
        try:
            with state.lock:
                answer = state.project.customer_state(customer_id, lang=lang)
        except (ValueError, KundresaError) as exc:
            return failed(exc)
        return JSONResponse(answer)

    @r.get("/api/stage-events", tags=["live"], summary="The stage-entered feed")
    def api_stage_events(
        since: Annotated[
            str | None,
            Query(
                max_length=40,
                description="A sequence number (events after it: pass the last `next_since`) "
                "or a date or ISO time (events that happened at or after it).",
            ),
        ] = None,
        limit: Annotated[int, Query(ge=1, le=MAX_FEED, description="Most events returned.")] = 1000,
    ) -> Response:
        """Customers' stage changes, oldest first: `events` (each `seq`, `customer_id`,
        `from_stage` (null for a customer's first stage), `to_stage`, `at`) and `next_since`
        (the `seq` to ask from next time: the last event's, or with fewer than `limit` the
        feed's newest, so that a poll from a date goes on from now). The same items are
        posted to `--webhook` receivers."""
        from kundresa.live.state import latest_seq

        try:
            after, at = parse_since(since)
            with state.lock, state.project.lock:  # no load commits between the two reads
                events = state.project.stage_events(after, limit, at_or_after=at)
                head = latest_seq(state.project.warehouse.con)
        except (ValueError, KundresaError) as exc:
            return failed(exc)
        last = events[-1]["seq"] if events else after
        if len(events) < limit:
            # Every event up to the feed's head was looked at: the next poll starts after it
            # (with a date, those before the date were passed over, not left for later).
            last = max(last, head)
        body: dict[str, Any] = {"events": events, "next_since": last}
        return JSONResponse(body)

    return r
