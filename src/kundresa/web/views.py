"""What each page shows, as JSON-ready data: the page renders it and its API twin returns it.

Every builder takes the :class:`~kundresa.web.state.ProjectState` and the request's
parameters and returns a dict; the numbers come from the analyses (no analysis logic here),
turned into records with :func:`kundresa.report.tables.records` so that the JSON matches the
CLI's ``--format json``. Bad parameters raise ``ValueError`` naming the parameter.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping, Sequence
from typing import Any

from kundresa.model.journey import LANES, Journey
from kundresa.report.tables import records
from kundresa.web.state import ProjectState

__all__ = [
    "attribution_view",
    "bottlenecks_view",
    "compare_view",
    "customer_view",
    "data_view",
    "funnel_customers_view",
    "funnel_view",
    "map_view",
    "paths_view",
    "retention_view",
]

MAP_LANES = ("persona", *LANES, "kpis")
"""The rows of the map page: the journey's lanes with the persona first and KPIs last."""


def available(module: str) -> bool:
    """Whether an analysis module has landed in this version."""
    try:
        importlib.import_module(module)
    except ImportError:
        return False
    return True


def _lines(value: Any) -> list[str]:
    """Lane content as a list of text lines (a lane cell may be text, a list or a number)."""
    if value is None:
        return []
    if isinstance(value, list | tuple):
        return [str(v) for v in value if v is not None]
    if isinstance(value, Mapping):
        return [f"{k}: {v}" for k, v in value.items()]
    return [str(value)]


def _lane_cell(journey: Journey, lane: str, stage: str, persona: str | None) -> list[str]:
    content = journey.lanes.get(lane) or {}
    if not isinstance(content, Mapping):
        return _lines(content)
    per_persona = {p.id: p.name for p in journey.personas}
    if persona is not None and isinstance(content.get(persona), Mapping):
        return _lines(content[persona].get(stage))
    if stage in content:
        return _lines(content[stage])
    # A lane written per persona and no persona chosen: every persona's line, named.
    out = []
    for pid, by_stage in content.items():
        if isinstance(by_stage, Mapping) and stage in by_stage:
            name = per_persona.get(str(pid), str(pid))
            out += [f"{name}: {line}" for line in _lines(by_stage[stage])]
    return out


def _period(since: str | None, until: str | None) -> tuple[str | None, str | None]:
    # Check the dates now, so a bad one is reported as the parameter, not deep in a query.
    from kundresa.analytics._period import Period

    Period.parse(since or None, until or None)
    return since or None, until or None


def map_view(
    state: ProjectState,
    *,
    persona: str | None = None,
    since: str | None = None,
    until: str | None = None,
    lang: str | None = None,
) -> dict[str, Any]:
    """The journey map: stages with their numbers, lanes, touchpoints, channels and KPIs."""
    from kundresa.analytics.stages import stage_funnel
    from kundresa.analytics.touchpoints import touchpoint_summary

    since, until = _period(since, until)
    journey = state.project.journey
    scope = state.scope(persona)
    funnel = records(stage_funnel(scope, lang=lang, since=since, until=until))
    tps = {
        r["touchpoint"]: r
        for r in records(touchpoint_summary(scope, lang=lang, since=since, until=until))
    }
    kpi_rows: list[dict[str, Any]] = []
    if available("kundresa.analytics.bottlenecks"):
        from kundresa.analytics.bottlenecks import kpi_status

        kpi_rows = records(kpi_status(scope, since=since, until=until, lang=lang))
    lost = [r for r in funnel if r["dropped"] is not None]
    biggest = max(lost, key=lambda r: r["dropped"])["stage"] if lost else None
    if biggest is not None and not any(r["dropped"] for r in lost):
        biggest = None
    stages = []
    for row in funnel:
        sid = row["stage"]
        stage = journey.stage(sid)
        touchpoints = [
            {
                "id": t.id,
                "label": t.label or t.id,
                "channel": t.channel,
                "customers": tps.get(t.id, {}).get("customers", 0),
                "events": tps.get(t.id, {}).get("events", 0),
            }
            for t in journey.touchpoints
            if t.stage == sid
        ]
        channel_ids = sorted({t["channel"] for t in touchpoints if t["channel"]})
        channels = []
        for cid in channel_ids:
            ch = journey.channel(cid)
            channels.append(
                {
                    "id": cid,
                    "label": (ch.label if ch and ch.label else cid),
                    "online": ch.online if ch else None,
                    "ownership": ch.ownership if ch else None,
                }
            )
        kpis = [r for r in kpi_rows if r.get("stage") == sid]
        if not kpi_rows:
            kpis = [
                {
                    "stage": sid,
                    "metric": k.metric,
                    "target": k.target,
                    "direction": k.direction,
                    "actual": row.get(k.metric),
                    "met": k.met(row.get(k.metric)),
                }
                for k in stage.kpis
            ]
        lanes = {
            lane: _lane_cell(journey, lane, sid, persona)
            for lane in LANES
            if lane not in ("touchpoints", "channels", "emotions")
        }
        stages.append(
            {
                **row,
                "funnel": stage.funnel,
                "goal": stage.goal,
                "biggest_loss": sid == biggest,
                "touchpoints": touchpoints,
                "channels": channels,
                "kpis": kpis,
                "lanes": lanes,
            }
        )
    emotions: dict[str, list[float | None]] = {}
    raw = journey.lanes.get("emotions") or {}
    if isinstance(raw, Mapping):
        people = [persona] if persona else [str(k) for k in raw]
        for pid in people:
            by_stage = raw.get(pid)
            if isinstance(by_stage, Mapping):
                emotions[pid] = [_number(by_stage.get(s)) for s in journey.stage_ids]
        if not emotions and all(s in journey.stage_ids for s in raw):
            emotions["all"] = [_number(raw.get(s)) for s in journey.stage_ids]
    return {
        "journey": {
            "name": journey.name,
            "language": journey.language,
            "circular": journey.circular,
            "review_by": journey.review_by.isoformat() if journey.review_by else None,
        },
        "persona": persona,
        "since": since,
        "until": until,
        "personas": [
            {
                "id": p.id,
                "name": p.name,
                "description": p.description,
                "needs": list(p.needs),
                "challenges": list(p.challenges),
                "goals": list(p.goals),
            }
            for p in journey.personas
        ],
        "stages": stages,
        "biggest_loss": biggest,
        "emotions": emotions,
        "touchpoints": list(tps.values()),
    }


def _number(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _split(text: str | Sequence[str] | None) -> list[str]:
    """Steps or exclusions given as lines of text, or as repeated parameters."""
    if text is None:
        return []
    items = [text] if isinstance(text, str) else list(text)
    return [line.strip() for item in items for line in item.splitlines() if line.strip()]


def default_steps(journey: Journey) -> list[str]:
    """The event funnel a page opens with: the journey's stages in order."""
    return [f"stage:{s}" for s in journey.stage_ids]


def funnel_view(
    state: ProjectState,
    *,
    steps: str | Sequence[str] | None = None,
    window: str = "30d",
    order: str = "ordered",
    exclusions: str | Sequence[str] | None = None,
    by: str | None = None,
    period: str = "week",
    persona: str | None = None,
    since: str | None = None,
    until: str | None = None,
    lang: str | None = None,
) -> dict[str, Any]:
    """The stage funnel (seed 004's table) and an event funnel with its time to convert and
    trend."""
    from kundresa.analytics.funnel import funnel_report
    from kundresa.analytics.stages import stage_funnel

    since, until = _period(since, until)
    journey = state.project.journey
    scope = state.scope(persona)
    step_list = _split(steps) or default_steps(journey)
    if len(step_list) < 2:
        raise ValueError("steps: an event funnel needs at least two steps")
    excl = _split(exclusions)
    common: dict[str, Any] = {
        "window": window,
        "order": order,
        "exclusions": excl,
        "journey": journey,
        "since": since,
        "until": until,
    }
    report = funnel_report(scope.events, step_list, by=by or None, period=period, **common)
    out: dict[str, Any] = {
        "stages": records(stage_funnel(scope, lang=lang, since=since, until=until)),
        "steps": step_list,
        "window": window,
        "order": order,
        "exclusions": excl,
        "by": by or None,
        "period": period,
        "funnel": records(report["funnel"]),
        "time_to_convert": records(report["time_to_convert"]),
        "trend": records(report["trend"]),
    }
    return out


def funnel_customers_view(
    state: ProjectState,
    *,
    step: int,
    steps: str | Sequence[str] | None = None,
    window: str = "30d",
    order: str = "ordered",
    exclusions: str | Sequence[str] | None = None,
    dropped: bool = False,
    persona: str | None = None,
    since: str | None = None,
    until: str | None = None,
    limit: int = 200,
) -> dict[str, Any]:
    """The customers who reached a funnel step (or dropped right after it)."""
    from kundresa.analytics.funnel import funnel_step_customers

    since, until = _period(since, until)
    journey = state.project.journey
    scope = state.scope(persona)
    step_list = _split(steps) or default_steps(journey)
    if not 1 <= step <= len(step_list):
        raise ValueError(f"step: must be between 1 and {len(step_list)}, got {step}")
    t = funnel_step_customers(
        scope.events,
        step_list,
        step=step,
        dropped=dropped,
        window=window,
        order=order,
        exclusions=_split(exclusions),
        journey=journey,
        since=since,
        until=until,
    )
    total = int(t.count().execute())
    rows = records(t.order_by("customer_id").limit(limit).to_pandas())
    return {"step": step, "dropped": dropped, "total": total, "customers": rows}


PATH_LEVELS = ("touchpoint", "stage", "event", "channel")


def paths_view(
    state: ProjectState,
    *,
    level: str = "touchpoint",
    start: str | None = None,
    end: str | None = None,
    steps: int = 5,
    session_gap: str | None = None,
    persona: str | None = None,
    since: str | None = None,
    until: str | None = None,
    lang: str | None = None,
) -> dict[str, Any]:
    """Sankey links of paths from or to a point, the directly-follows graph and the stage
    transition matrix."""
    from kundresa.analytics.journeys import transition_matrix
    from kundresa.analytics.paths import directly_follows, path_links, paths

    since, until = _period(since, until)
    journey = state.project.journey
    scope = state.scope(persona)
    session_gap = session_gap or None  # none: one path per customer, the whole journey
    opts: dict[str, Any] = {"journey": journey, "level": level, "session_gap": session_gap}
    ends: dict[str, Any] = {"start": start or None, "end": end or None}
    p: dict[str, Any] = {"since": since, "until": until}
    return {
        "level": level,
        "start": start or None,
        "end": end or None,
        "steps": steps,
        "session_gap": session_gap,
        "paths": records(paths(scope.events, steps=steps, top=20, **opts, **ends, **p)),
        "links": records(path_links(scope.events, steps=steps, **opts, **ends, **p)),
        "dfg": records(directly_follows(scope.events, journey=journey, level=level, **p)),
        "transitions": records(transition_matrix(scope.events, journey, lang=lang, **p)),
    }


def retention_view(
    state: ProjectState,
    *,
    period: str = "week",
    cohort: str = "first_event",
    returning: str = "any",
    periods: int | None = 12,
    persona: str | None = None,
    since: str | None = None,
    until: str | None = None,
) -> dict[str, Any]:
    """Cohort retention (long form, and as a matrix for the heat map) and the lifecycle."""
    if not available("kundresa.analytics.retention"):
        return {"available": False}
    from kundresa.analytics.retention import lifecycle, repeat_purchase_rate, retention

    since, until = _period(since, until)
    journey = state.project.journey
    scope = state.scope(persona)
    long = retention(
        scope.events,
        cohort=cohort,
        period=period,
        returning=returning,
        periods=periods,
        journey=journey,
        since=since,
        until=until,
    )
    p: dict[str, Any] = {"since": since, "until": until}
    return {
        "available": True,
        "period": period,
        "cohort": cohort,
        "returning": returning,
        "retention": records(long),
        "lifecycle": records(lifecycle(scope.events, period=period, journey=journey, **p)),
        "repeat_purchase": records(repeat_purchase_rate(scope.events, journey=journey, **p)),
    }


def bottlenecks_view(
    state: ProjectState,
    *,
    persona: str | None = None,
    since: str | None = None,
    until: str | None = None,
    lang: str | None = None,
) -> dict[str, Any]:
    """The ranked bottlenecks and the KPI status per stage."""
    if not available("kundresa.analytics.bottlenecks"):
        return {"available": False}
    from kundresa.analytics.bottlenecks import bottlenecks, kpi_status

    since, until = _period(since, until)
    scope = state.scope(persona)
    ranked = bottlenecks(scope, since=since, until=until, lang=lang)
    return {
        "available": True,
        # The periods compared: without dates, the last 30 days of data and the 30 before.
        "period": _days(ranked.attrs.get("period")),
        "previous_period": _days(ranked.attrs.get("previous_period")),
        "bottlenecks": records(ranked),
        # KPI status over the chosen dates, or all the data (as on the journey map).
        "kpi_period": [since, until],
        "kpis": records(kpi_status(scope, since=since, until=until, lang=lang)),
    }


def _days(period: Any) -> list[str | None] | None:
    """A ``[start, end)`` period as ISO dates (times where not at midnight)."""
    if not period:
        return None
    out: list[str | None] = []
    for moment in period:
        if moment is None:
            out.append(None)
        elif (moment.hour, moment.minute, moment.second) == (0, 0, 0):
            out.append(f"{moment:%Y-%m-%d}")
        else:
            out.append(moment.isoformat())
    return out


def compare_view(
    state: ProjectState,
    *,
    by: str = "persona",
    a: str | None = None,
    b: str | None = None,
    target: str = "purchase",
    persona: str | None = None,
    since: str | None = None,
    until: str | None = None,
) -> dict[str, Any]:
    """Two segments side by side with confidence intervals, and the correlation table."""
    if not available("kundresa.analytics.compare"):
        return {"available": False}
    from kundresa.analytics.compare import compare, correlation

    since, until = _period(since, until)
    scope = state.scope(persona)
    personas = [p.id for p in state.project.journey.personas]
    if by == "persona" and not (a or b) and len(personas) > 2:
        a, b = personas[0], personas[1]  # a page opens on the first two personas
    out: dict[str, Any] = {"available": True, "by": by, "a": a, "b": b, "target": target}
    out["comparison"] = records(
        compare(scope, by=by, a=a or None, b=b or None, since=since, until=until)
    )
    out["correlation"] = records(
        correlation(scope, target=target, since=since, until=until, top=30)
    )
    return out


def attribution_view(
    state: ProjectState,
    *,
    conversion: str = "purchase",
    level: str = "channel",
    lookback: str = "30d",
    persona: str | None = None,
    since: str | None = None,
    until: str | None = None,
    lang: str | None = None,
) -> dict[str, Any]:
    """Every attribution model side by side, and which channels move customers between
    stages."""
    if not (available("kundresa.attribution.models") and available("kundresa.attribution.journey")):
        return {"available": False}
    from kundresa.attribution.journey import conversion_paths, stage_attribution
    from kundresa.attribution.models import compare_models

    since, until = _period(since, until)
    journey = state.project.journey
    scope = state.scope(persona)
    p: dict[str, Any] = {"since": since, "until": until}
    paths = conversion_paths(
        scope.events, conversion=conversion, journey=journey, level=level, lookback=lookback, **p
    )
    models = (
        "first",
        "last",
        "last_non_direct",
        "linear",
        "time_decay",
        "position",
        "markov",
    )
    return {
        "available": True,
        "conversion": conversion,
        "level": level,
        "lookback": lookback,
        "models": records(compare_models(paths, models)) if len(paths) else [],
        "stages": records(
            stage_attribution(scope.events, journey, level=level, lookback=lookback, lang=lang, **p)
        ),
    }


def customer_view(
    state: ProjectState, *, customer: str, lang: str | None = None, limit: int = 1000
) -> dict[str, Any]:
    """One customer's timeline: events with touchpoint, stage and channel; stage visits."""
    from kundresa.analytics.journeys import stage_visits
    from kundresa.analytics.touchpoints import EVENT_ORDER, tag_events
    from kundresa.model.events import CUSTOMER

    journey = state.project.journey
    events = state.project.events
    mine = events.filter(events[CUSTOMER] == customer)
    tagged = tag_events(mine, journey)
    cols = [
        "timestamp",
        "event",
        "channel",
        "value",
        "touchpoint",
        "stage",
        "session_id",
        "properties",
    ]
    frame = tagged.order_by([tagged[c] for c in EVENT_ORDER]).select(*cols).limit(limit)
    rows = records(frame.to_pandas())
    for r in rows:
        if r["stage"] is not None:
            r["stage_label"] = journey.stage_label(r["stage"], lang)
        props = r.get("properties")
        if isinstance(props, list):  # Arrow maps arrive as (key, value) pairs
            r["properties"] = {str(k): v for k, v in props}
    visits = stage_visits(mine, journey)
    vrows = records(visits.order_by("visit").to_pandas())
    for v in vrows:
        v["label"] = journey.stage_label(v["stage"], lang)
    total = int(mine.count().execute())
    return {
        "customer": customer,
        "found": total > 0,
        "events_total": total,
        "events": rows,
        "visits": vrows,
        "cycles": max((v["cycle"] for v in vrows), default=0),
    }


def data_view(state: ProjectState, *, limit: int = 200) -> dict[str, Any]:
    """What the warehouse holds, the ingest history and quarantined rows with reasons."""
    wh = state.project.warehouse
    summary = records_one(state.project.info())
    log = [records_one(r) for r in wh.ingest_log()]
    return {
        "summary": summary,
        "ingests": log,
        "quarantine": [records_one(r) for r in wh.quarantined(limit)],
    }


def records_one(row: Mapping[str, Any]) -> dict[str, Any]:
    """One dict made JSON-ready like a record."""
    from kundresa.report.tables import _plain

    return {str(k): _plain(v) for k, v in row.items()}
