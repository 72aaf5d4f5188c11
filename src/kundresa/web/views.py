"""What each page shows, as JSON-ready data: the page renders it and its API twin returns it.

Every builder takes an :class:`Analyses` (the served project, one scope — persona, period,
label language — and the warnings and notes of what ran) and the request's parameters, and
returns a dict. The numbers come from :meth:`Project.run <kundresa.project.Project.run>` (the
analysis registry and its one cache, shared with the CLI and notebooks); no analysis is
imported here. Results are turned into records with :func:`kundresa.report.tables.records`, so
the JSON matches the CLI's ``--format json``. Bad parameters raise
:class:`~kundresa.analyses.ParameterError` naming the parameter (HTTP 422); an analysis that
cannot answer raises :class:`~kundresa.analyses.AnalysisError`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import pandas as pd

from kundresa.analyses import AnalysisError, ParameterError, Result
from kundresa.errors import KundresaError
from kundresa.model.journey import LANES, Journey
from kundresa.project import ProjectError
from kundresa.report.labels import channel_label, touchpoint_label
from kundresa.report.tables import records

if TYPE_CHECKING:
    from kundresa.analyses import Scope
    from kundresa.project import Project
    from kundresa.web.state import ProjectState

__all__ = [
    "Analyses",
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

#: The attribution models of the attribution page, in the order of their columns.
PAGE_MODELS = ("first", "last", "last_non_direct", "linear", "time_decay", "position", "markov")


@dataclass
class Analyses:
    """The analyses a page runs: the served project in one scope, and what they said.

    Parameters
    ----------
    project
        The project (its :meth:`~kundresa.project.Project.run` and cache).
    persona, since, until, lang
        The scope: one persona's customers, a period ``[since, until)``, a label language.

    Raises
    ------
    ParameterError
        An unknown persona (naming the known ones), a date that is not one, or a reversed
        period.
    """

    project: Project
    persona: str | None = None
    since: str | None = None
    until: str | None = None
    lang: str | None = None
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.persona = self.persona or None
        self.since = self.since or None
        self.until = self.until or None
        self.scope: Scope = self.project.scope(
            persona=self.persona, since=self.since, until=self.until, lang=self.lang
        )

    @property
    def journey(self) -> Journey:
        return self.project.journey

    def result(self, name: str, **params: Any) -> Result:
        """Run the analysis ``name`` in the scope; its warnings and notes are kept."""
        result = self.project.run(name, scope=self.scope, **params)
        for w in result.warnings:
            if w not in self.warnings:
                self.warnings.append(w)
        for n in result.notes:
            if n not in self.notes:
                self.notes.append(n)
        return result

    def rows(self, name: str, **params: Any) -> list[dict[str, Any]]:
        """The analysis' table as records (JSON-ready)."""
        return records(self.result(name, **params).frame)

    def said(self, data: dict[str, Any]) -> dict[str, Any]:
        """``data`` with the ``warnings`` and ``notes`` of the analyses that made it."""
        data["warnings"] = list(self.warnings)
        data["notes"] = list(self.notes)
        return data


def _measured_emotions(run: Analyses, journey: Any) -> list[dict[str, Any]]:
    """Each survey of the journey as a line beside the drawn emotion curve: its measured
    NPS or CSAT mean per stage (``scores``, null where no answers), the answers behind it
    (``responses``) and ``values``, the score put on the curve's -2..2 scale (NPS / 50;
    CSAT from its scale's lowest to highest point)."""
    if not journey.surveys:
        return []
    rows = run.rows("surveys")
    out = []
    for sv in journey.surveys:
        low, high = sv.score_range
        name = sv.label or sv.event
        by_stage = {r["stage"]: r for r in rows if r["survey"] == name and r["event"] == sv.event}
        scores: list[float | None] = []
        values: list[float | None] = []
        for sid in journey.stage_ids:
            r = by_stage.get(sid)
            score = None if r is None else (r["nps"] if sv.metric == "nps" else r["mean"])
            scores.append(score)
            if score is None:
                values.append(None)
            elif sv.metric == "nps":
                values.append(score / 50)
            else:
                values.append(-2 + 4 * (score - low) / (high - low))
        out.append(
            {
                "survey": sv.event,
                "metric": sv.metric,
                "name": sv.label or f"{sv.metric.upper()} ({sv.event})",
                "scores": scores,
                "values": values,
                "responses": [
                    by_stage.get(sid, {}).get("responses", 0) for sid in journey.stage_ids
                ],
            }
        )
    return out


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


def map_view(run: Analyses) -> dict[str, Any]:
    """The journey map: stages with their numbers, lanes, touchpoints, channels and KPIs."""
    journey = run.journey
    persona = run.persona
    # The touchpoints first: they tag the events once for the version (kept), and the stage
    # funnel then reads the kept stages instead of evaluating every touchpoint again.
    tps = {r["touchpoint"]: r for r in run.rows("touchpoints")}
    funnel = run.rows("stages")
    kpi_rows = run.rows("kpis")
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
                "label": touchpoint_label(journey, t.id, run.lang),
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
                    "label": channel_label(journey, cid, run.lang),
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
    return run.said(
        {
            "measured_emotions": _measured_emotions(run, journey),
            "journey": {
                "name": journey.name,
                "language": journey.language,
                "circular": journey.circular,
                "review_by": journey.review_by.isoformat() if journey.review_by else None,
                "review_overdue": journey.review_by is not None
                and journey.review_by < date.today(),
                "last_review": _last_review(run.project),
            },
            "persona": persona,
            "since": run.since,
            "until": run.until,
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
    )


def _last_review(project: Project) -> str | None:
    """The date of the map's last review; a broken reviews file does not break the map."""
    try:
        reviews = project.reviews()
    except KundresaError:
        return None
    return str(reviews[-1].get("reviewed_on")) if reviews else None


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


def _steps(run: Analyses, steps: str | Sequence[str] | None) -> list[str]:
    step_list = _split(steps) or default_steps(run.journey)
    if len(step_list) < 2:
        raise ParameterError("steps: an event funnel needs at least two steps")
    return step_list


def funnel_view(
    run: Analyses,
    *,
    steps: str | Sequence[str] | None = None,
    window: str = "30d",
    order: str = "ordered",
    exclusions: str | Sequence[str] | None = None,
    by: str | None = None,
    period: str = "week",
) -> dict[str, Any]:
    """The stage funnel and an event funnel with its time to convert and trend."""
    step_list = _steps(run, steps)
    excl = _split(exclusions)
    common: dict[str, Any] = {
        "steps": step_list,
        "window": window,
        "order": order,
        "exclusions": excl,
    }
    funnel = run.rows("funnel", by=by or None, **common)
    return run.said(
        {
            "stages": run.rows("stages"),
            "choices": step_choices(run.journey, run.lang),
            "steps": step_list,
            "window": window,
            "order": order,
            "exclusions": excl,
            "by": by or None,
            "period": period,
            "funnel": funnel,
            "time_to_convert": run.rows("funnel_time", **common),
            "trend": run.rows("funnel_trend", period=period, **common),
        }
    )


def step_choices(journey: Journey, lang: str | None) -> list[dict[str, str]]:
    """The journey's stages and touchpoints as event-funnel steps a person can pick: each
    ``value`` (``stage:ID``, ``touchpoint:ID``), its display ``label`` in ``lang``
    (:mod:`kundresa.report.labels`) and its ``kind``, in journey order.

    Examples
    --------
    >>> from kundresa.model.parse import parse_journey
    >>> j, _ = parse_journey("kundresa: 1\\nname: S\\nstages: [{id: a, label: Look}]\\n"
    ...     "touchpoints: [{id: ad_click, stage: a, label: Ad click, match: {event: ad}}]")
    >>> [(c["value"], c["label"]) for c in step_choices(j, "en")]
    [('stage:a', 'Look'), ('touchpoint:ad_click', 'Ad click')]
    """
    out = [
        {"kind": "stage", "value": f"stage:{s}", "label": journey.stage_label(s, lang)}
        for s in journey.stage_ids
    ]
    out += [
        {
            "kind": "touchpoint",
            "value": f"touchpoint:{t.id}",
            "label": touchpoint_label(journey, t.id, lang),
        }
        for t in journey.touchpoints
    ]
    return out


def funnel_customers_view(
    run: Analyses,
    *,
    step: int,
    steps: str | Sequence[str] | None = None,
    window: str = "30d",
    order: str = "ordered",
    exclusions: str | Sequence[str] | None = None,
    dropped: bool = False,
    limit: int = 200,
) -> dict[str, Any]:
    """The customers who reached a funnel step (or dropped right after it)."""
    step_list = _steps(run, steps)
    if not 1 <= step <= len(step_list):
        raise ParameterError(f"step: must be between 1 and {len(step_list)}, got {step}")
    frame = run.result(
        "funnel_customers",
        steps=step_list,
        step=step,
        dropped=dropped,
        window=window,
        order=order,
        exclusions=_split(exclusions),
    ).frame
    chosen = frame.sort_values("customer_id", kind="stable").head(limit)
    return run.said(
        {"step": step, "dropped": dropped, "total": len(frame), "customers": records(chosen)}
    )


def paths_view(
    run: Analyses,
    *,
    level: str = "touchpoint",
    start: str | None = None,
    end: str | None = None,
    steps: int = 5,
    session_gap: str | None = None,
) -> dict[str, Any]:
    """Sankey links of paths from or to a point, the directly-follows graph and the stage
    transition matrix."""
    session_gap = session_gap or None  # none: one path per customer, the whole journey
    shape: dict[str, Any] = {
        "level": level,
        "start": start or None,
        "end": end or None,
        "steps": steps,
        "session_gap": session_gap or "none",
    }
    return run.said(
        {
            "level": level,
            "start": start or None,
            "end": end or None,
            "steps": steps,
            "session_gap": session_gap,
            "paths": run.rows("paths", top=20, **shape),
            "links": run.rows("path_links", **shape),
            "dfg": run.rows("dfg", level=level),
            "transitions": run.rows("transitions"),
        }
    )


def _period_start(day: date, period: str) -> date:
    """The first day of the day, ISO week (from Monday) or month ``day`` falls in."""
    if period == "week":
        return day - timedelta(days=day.weekday())
    if period == "month":
        return day.replace(day=1)
    return day


def _add_periods(start: date, k: int, period: str) -> date:
    if period == "month":
        months = start.year * 12 + start.month - 1 + k
        return date(months // 12, months % 12 + 1, 1)
    return start + timedelta(days=k * (7 if period == "week" else 1))


def _last_period(run: Analyses, period: str) -> date | None:
    """The first day of the period the data's last event falls in (in the journey's time
    zone): that period is still running when the data ends."""
    last = run.project.events["timestamp"].max().execute()
    if last is None or last != last:
        return None
    stamp = pd.Timestamp(last)
    utc = stamp.tz_convert("UTC") if stamp.tzinfo else stamp.tz_localize("UTC")
    try:
        tz = run.journey.timezone
    except ProjectError:  # no journey: the analyses count in UTC
        tz = "UTC"
    return _period_start(utc.tz_convert(ZoneInfo(tz)).date(), period)


def _day(value: Any) -> date:
    return date.fromisoformat(str(value)[:10])


def retention_view(
    run: Analyses,
    *,
    period: str = "week",
    cohort: str = "first_event",
    returning: str = "any",
    periods: int | None = 12,
) -> dict[str, Any]:
    """Cohort retention (long form, and as a matrix for the heat map) and the lifecycle.

    Every retention and lifecycle row has ``complete``: false for the period the data's last
    event falls in (the analyses count it, but it is still running: its numbers will grow).
    """
    retention = run.rows(
        "retention", cohort=cohort, period=period, returning=returning, periods=periods
    )
    lifecycle = run.rows("lifecycle", period=period)
    last = _last_period(run, period)
    for r in retention:
        cell = _add_periods(_day(r["cohort"]), int(r["period"]), period)
        r["complete"] = last is None or cell < last
    for r in lifecycle:
        r["complete"] = last is None or _day(r["period"]) < last
    return run.said(
        {
            "available": True,
            "period": period,
            "cohort": cohort,
            "returning": returning,
            "retention": retention,
            "lifecycle": lifecycle,
            "repeat_purchase": run.rows("repeat_purchase"),
        }
    )


def bottlenecks_view(run: Analyses) -> dict[str, Any]:
    """The ranked bottlenecks and the KPI status per stage."""
    ranked = run.result("bottlenecks").frame
    return run.said(
        {
            "available": True,
            # The periods compared: without dates, the last 30 days of data and the 30 before.
            "period": _days(ranked.attrs.get("period")),
            "previous_period": _days(ranked.attrs.get("previous_period")),
            "bottlenecks": records(ranked),
            # KPI status over the chosen dates, or all the data (as on the journey map).
            "kpi_period": [run.since, run.until],
            "kpis": run.rows("kpis"),
        }
    )


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
    run: Analyses,
    *,
    by: str = "persona",
    a: str | None = None,
    b: str | None = None,
    target: str = "purchase",
) -> dict[str, Any]:
    """Two segments side by side with confidence intervals, and the correlation table."""
    personas = [p.id for p in run.journey.personas]
    if by == "persona" and not (a or b) and len(personas) > 2:
        a, b = personas[0], personas[1]  # a page opens on the first two personas
    out: dict[str, Any] = {"available": True, "by": by, "a": a, "b": b, "target": target}
    out["comparison"] = run.rows("compare", by=by, a=a or None, b=b or None)
    out["correlation"] = run.rows("correlation", target=target, top=30)
    return run.said(out)


def attribution_view(
    run: Analyses,
    *,
    conversion: str = "purchase",
    level: str = "channel",
    lookback: str = "30d",
) -> dict[str, Any]:
    """Every attribution model side by side, and which channels move customers between
    stages."""
    paths = {"conversion": conversion, "level": level, "lookback": lookback}
    try:
        # The page's models only (exact Shapley is on the CLI and in Python: it can take long).
        models = run.rows("attribution_models", models=list(PAGE_MODELS), **paths)
    except AnalysisError as exc:  # a refund as the conversion: an empty table says why
        run.warnings.append(str(exc))
        models = []
    keep = (
        "channel",
        *(f"{m}_{k}" for m in PAGE_MODELS for k in ("conversions", "value", "share")),
    )
    models = [{k: r[k] for k in keep if k in r} for r in models]
    for r in models:  # how the chart names it: a channel's (or a touchpoint's) display label
        r["channel_label"] = _channel_or_touchpoint(run.journey, str(r["channel"]), run.lang)
    return run.said(
        {
            "available": True,
            "conversion": conversion,
            "level": level,
            "lookback": lookback,
            "models": models,
            "stages": run.rows("stage_attribution", level=level, lookback=lookback),
        }
    )


def timeline_channel(
    journey: Journey, touchpoint: str | None, channel: str | None, lang: str | None
) -> dict[str, Any]:
    """How a timeline shows an event's touchpoint and channel.

    The rule (README, "Touchpoints and channels"): an event on a touchpoint that declares a
    ``channel:`` is shown in that channel, as the map files the touchpoint; an event on a
    touchpoint without one, or on none, in its own ``channel`` column. The event's own
    channel (where the visit came from, what attribution credits) is kept as ``source``
    when it differs from the channel shown.

    Returns
    -------
    dict
        ``touchpoint_label``, ``touchpoint_channel`` (declared, or ``None``),
        ``channel_label`` (of the channel shown) and ``source`` (the label of the event's
        own channel where it differs, else ``None``).

    Examples
    --------
    >>> from kundresa.model.parse import parse_journey
    >>> j, _ = parse_journey("kundresa: 1\\nname: S\\nstages: [{id: a}]\\n"
    ...     "channels: [{id: search, label: Search ads}]\\n"
    ...     "touchpoints: [{id: ad_click, stage: a, channel: search, match: {event: ad}}]")
    >>> timeline_channel(j, "ad_click", "organic_social", "en")["channel_label"]
    'Search ads'
    >>> timeline_channel(j, "ad_click", "organic_social", "sv")["source"]
    'Organiska sociala medier'
    >>> timeline_channel(j, None, "email", "en")["channel_label"]
    'Email'
    """
    declared = None
    if touchpoint is not None:
        declared = next((t.channel for t in journey.touchpoints if t.id == touchpoint), None)
    shown = declared or channel
    return {
        "touchpoint_label": touchpoint_label(journey, touchpoint, lang) if touchpoint else None,
        "touchpoint_channel": declared,
        "channel_label": channel_label(journey, shown, lang) if shown else None,
        "source": (channel_label(journey, channel, lang) if channel and channel != shown else None),
    }


def _channel_or_touchpoint(journey: Journey, value: str, lang: str | None) -> str:
    """The display label of an attribution row's ``channel`` (a touchpoint id at
    ``level=touchpoint``)."""
    if journey.channel(value) is None and any(t.id == value for t in journey.touchpoints):
        return touchpoint_label(journey, value, lang)
    return channel_label(journey, value, lang)


#: Columns of a customer's timeline, in order.
TIMELINE = ("timestamp", "event", "channel", "value", "touchpoint", "stage", "session_id")


def customer_view(run: Analyses, *, customer: str, limit: int = 1000) -> dict[str, Any]:
    """One customer's timeline: events with touchpoint, stage and channel; stage visits."""
    journey, lang = run.journey, run.lang
    try:
        tagged = run.result("customer", customer_id=customer, events_list=True).frame
        visits = run.result("customer", customer_id=customer).frame
    except AnalysisError:  # no events for this customer
        return run.said(
            {
                "customer": customer,
                "found": False,
                "events_total": 0,
                "events": [],
                "visits": [],
                "cycles": 0,
            }
        )
    rows = records(tagged[[*TIMELINE, "properties"]].head(limit))
    for r in rows:
        if r["stage"] is not None:
            r["stage_label"] = journey.stage_label(r["stage"], lang)
        r.update(timeline_channel(journey, r["touchpoint"], r["channel"], lang))
        props = r.get("properties")
        if isinstance(props, list):  # Arrow maps arrive as (key, value) pairs
            r["properties"] = {str(k): v for k, v in props}
    vrows = records(visits.sort_values("visit", kind="stable"))
    for v in vrows:
        v["label"] = journey.stage_label(v["stage"], lang)
    return run.said(
        {
            "customer": customer,
            "found": True,
            "events_total": len(tagged),
            "events": rows,
            "visits": vrows,
            "cycles": max((v["cycle"] for v in vrows), default=0),
        }
    )


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
