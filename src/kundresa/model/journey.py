"""The journey model: stages, personas, channels, touchpoints, lanes (pure, no I/O)."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from functools import cache
from typing import Any

from kundresa.model.events import plain_number

__all__ = [
    "KPI_METRICS",
    "LANES",
    "SURVEY_METRICS",
    "Channel",
    "Condition",
    "Journey",
    "Kpi",
    "Match",
    "Persona",
    "PersonaMatch",
    "Stage",
    "Survey",
    "Touchpoint",
]

LANES = (
    "activities",
    "needs",
    "challenges",
    "thoughts",
    "emotions",
    "touchpoints",
    "channels",
    "pain_points",
    "opportunities",
    "backstage",
    "content",
)
"""The rows of a journey map, in the order they are drawn."""

KPI_METRICS = (
    "reached",
    "entered",
    "conversion_from_previous",
    "conversion_from_start",
    "dropped",
    "median_days_in_stage",
)


def _as_float(value: Any) -> float | None:
    # The same texts as a query's number (kundresa.model.events.plain_number).
    return plain_number(value)


@cache
def compiled(pattern: str) -> Any:
    """``pattern`` compiled by RE2 (the ``google-re2`` bindings), the engine behind DuckDB's
    ``regexp_matches``: a condition fits a value in Python exactly when it does in a query
    (Python's ``re`` differs: ``x$`` fits ``"x\\n"`` there and not in RE2), and matching takes
    time linear in the value, so no value can make a pattern such as ``(a+)+$`` backtrack
    for minutes (RE2's design: Russ Cox, "Regular Expression Matching Can Be Simple And
    Fast"). Raises ``re2.error`` for a pattern RE2 cannot compile."""
    import re2

    return re2.compile(pattern)


@dataclass(frozen=True)
class Condition:
    """A condition on one property value: every given part must hold.

    A missing property (``None``) never fits. ``regex`` is searched anywhere in the value
    (anchor it with ``^`` and ``$`` for a whole match). ``gte``/``lte`` with a numeric bound
    compare numerically, and a value that is not a finite number (text, ``nan``, ``inf``,
    ``1e999``) does not fit; a text bound (such as a date ``2026-01-01``) compares as text.

    Examples
    --------
    >>> Condition(regex="^/pricing").matches("/pricing/pro")
    True
    >>> at_least_9 = Condition(gte=9)
    >>> at_least_9.matches("10"), at_least_9.matches("8"), at_least_9.matches(None)
    (True, False, False)
    >>> Condition(in_=("se", "dk")).matches("no"), Condition(gte="2026-01").matches("2026-03")
    (False, True)
    """

    equals: str | None = None
    in_: tuple[str, ...] | None = None
    regex: str | None = None
    gte: float | str | None = None
    lte: float | str | None = None

    def matches(self, value: str | None) -> bool:
        """Whether a property value fits (``None``: the property is missing)."""
        if value is None:
            return False
        if self.equals is not None and value != self.equals:
            return False
        if self.in_ is not None and value not in self.in_:
            return False
        if self.regex is not None and compiled(self.regex).search(value) is None:
            return False
        for bound, ge in ((self.gte, True), (self.lte, False)):
            if bound is None:
                continue
            b = _as_float(bound)
            if b is not None:
                v = _as_float(value)
                if v is None or not math.isfinite(v) or (v < b if ge else v > b):
                    return False
            elif value < str(bound) if ge else value > str(bound):
                return False
        return True

    def implies(self, other: Condition) -> bool:
        """Whether every value fitting ``self`` also fits ``other`` (conservatively)."""
        return self == other or other == Condition()


@dataclass(frozen=True)
class Match:
    """Which events a touchpoint takes: event names (``None``: any), property conditions,
    and ``nth`` (only the customer's n-th and later fitting events).

    Examples
    --------
    >>> m = Match(events=("page_view",), where={"path": Condition(regex="^/pricing")})
    >>> m.fits("page_view", {"path": "/pricing"}), m.fits("page_view", {}), m.fits("buy", {})
    (True, False, False)
    """

    events: tuple[str, ...] | None = None
    where: Mapping[str, Condition] = field(default_factory=dict)
    nth: int | None = None

    def fits(self, event: str, properties: Mapping[str, str | None]) -> bool:
        """Whether an event fits ``events`` and ``where`` (``nth`` is counted elsewhere)."""
        if self.events is not None and event not in self.events:
            return False
        return all(c.matches(properties.get(k)) for k, c in self.where.items())

    def covers(self, other: Match) -> bool:
        """Whether every event ``other`` takes is also taken by ``self`` — then a later
        touchpoint with ``other`` can never win against an earlier one with ``self``.

        Conservative: ``False`` means "not proven", not "some event gets through".

        Examples
        --------
        >>> buy, repeat = Match(("buy",)), Match(("buy",), nth=2)
        >>> buy.covers(repeat), repeat.covers(buy)
        (True, False)
        """
        if self.events is not None and (
            other.events is None or not set(other.events) <= set(self.events)
        ):
            return False
        mine = self.nth or 1
        if mine > 1 and (other.nth or 1) < mine:
            return False
        return all(k in other.where and other.where[k].implies(c) for k, c in self.where.items())


@dataclass(frozen=True)
class Kpi:
    """A stage goal: ``metric`` (one of :data:`KPI_METRICS`) should be at least (or at most,
    with ``direction="at_most"``) ``target``.

    Examples
    --------
    >>> Kpi("conversion_from_previous", 0.5).met(0.6), Kpi("dropped", 100, "at_most").met(120)
    (True, False)
    """

    metric: str
    target: float
    direction: str = "at_least"
    label: str | None = None

    def met(self, actual: float | None) -> bool | None:
        """Whether an actual value meets the target (``None`` when there is no value)."""
        if actual is None:
            return None
        return actual >= self.target if self.direction == "at_least" else actual <= self.target


@dataclass(frozen=True)
class Stage:
    """A column of the map: ``label`` per language, funnel position (tofu/mofu/bofu), goal
    and KPIs."""

    id: str
    label: Mapping[str, str]
    funnel: str | None = None
    goal: str | None = None
    kpis: tuple[Kpi, ...] = ()
    description: str | None = None


@dataclass(frozen=True)
class PersonaMatch:
    """How to recognise a persona's customers from their events' properties."""

    property: str
    condition: Condition


@dataclass(frozen=True)
class Persona:
    """A typical customer; ``match`` recognises their customers in the event data."""

    id: str
    name: str
    description: str | None = None
    needs: tuple[str, ...] = ()
    challenges: tuple[str, ...] = ()
    goals: tuple[str, ...] = ()
    match: PersonaMatch | None = None


@dataclass(frozen=True)
class Channel:
    """Where touchpoints happen: online or offline; owned, paid or earned.

    ``match`` (optional) claims events for this channel when the journey is applied: the
    first channel in file order whose match fits an event sets its ``channel``, over the
    channel stored at ingest (README, "Sources": channels from campaign data).
    """

    id: str
    label: str | None = None
    online: bool = True
    ownership: str | None = None
    match: Match | None = None
    labels: Mapping[str, str] = field(default_factory=dict)
    """The display label per language (``label`` is the one in the journey's language)."""


@dataclass(frozen=True)
class Touchpoint:
    """A moment where the customer meets the company; events that fit ``match`` land on
    ``stage``."""

    id: str
    stage: str
    match: Match
    label: str | None = None
    channel: str | None = None
    description: str | None = None
    labels: Mapping[str, str] = field(default_factory=dict)
    """The display label per language (``label`` is the one in the journey's language)."""


SURVEY_METRICS = ("nps", "csat")
"""What a survey measures: Net Promoter Score (0-10 answers) or customer satisfaction."""


@dataclass(frozen=True)
class Survey:
    """Survey answers (events named ``event``) whose ``score`` property measures a stage.

    ``metric`` is ``nps`` (a 0-10 "how likely are you to recommend us" answer; NPS is the
    share of promoters, 9-10, minus the share of detractors, 0-6, in points: Reichheld,
    "The One Number You Need to Grow", Harvard Business Review, 2003) or ``csat`` (a
    satisfaction rating on ``scale``, default 1-5; its mean, and the share of answers in
    the top two points of the scale). ``stage`` puts every answer on that stage; without
    it an answer counts for the stage of the touchpoint its event lands on.

    Examples
    --------
    >>> Survey("nps_answer", "nps").score_range
    (0.0, 10.0)
    >>> Survey("csat_answer", "csat", scale=(1, 7)).score_range
    (1, 7)
    """

    event: str
    metric: str
    score: str = "score"
    stage: str | None = None
    scale: tuple[float, float] | None = None
    label: str | None = None

    @property
    def score_range(self) -> tuple[float, float]:
        """The lowest and highest valid score; answers outside it are not counted (nor, for
        NPS, answers that are not whole numbers: the scale is the 11 points 0-10)."""
        if self.metric == "nps":
            return (0.0, 10.0)
        return self.scale or (1.0, 5.0)


def _pick_label(
    labels: Mapping[str, str], label: str | None, lang: str | None, language: str
) -> str | None:
    return labels.get(lang or language) or labels.get("en") or labels.get(language) or label


@dataclass(frozen=True)
class Journey:
    """A customer journey: ordered stages and the rules that put events on them.

    Examples
    --------
    >>> from kundresa.model.parse import parse_journey
    >>> j, _ = parse_journey("kundresa: 1\\nname: Shop\\ntemplate: kundresa-5\\nlanguage: da")
    >>> j.stage_ids[:3], j.stage_label("awareness"), j.stage_label("awareness", "sv")
    (('awareness', 'consideration', 'decision'), 'Bevidsthed', 'Medvetenhet')
    """

    name: str
    stages: tuple[Stage, ...]
    language: str = "en"
    circular: bool = False
    timezone: str = "UTC"
    """The project time zone (IANA name): calendar days, weeks and months, and dates given
    without a time, are read in it. Timestamps stay UTC instants."""
    review_by: date | None = None
    template: str | None = None
    personas: tuple[Persona, ...] = ()
    channels: tuple[Channel, ...] = ()
    touchpoints: tuple[Touchpoint, ...] = ()
    lanes: Mapping[str, Any] = field(default_factory=dict)
    source: str | None = None
    surveys: tuple[Survey, ...] = ()

    @property
    def stage_ids(self) -> tuple[str, ...]:
        return tuple(s.id for s in self.stages)

    def stage(self, stage_id: str) -> Stage:
        """The stage with this id (``KeyError`` naming the stages if there is none)."""
        for s in self.stages:
            if s.id == stage_id:
                return s
        raise KeyError(f"no stage {stage_id!r}; stages: {', '.join(self.stage_ids)}")

    def stage_index(self, stage_id: str) -> int:
        """1-based position of a stage (``ValueError`` if there is no such stage)."""
        return self.stage_ids.index(stage_id) + 1

    def stage_label(self, stage_id: str, lang: str | None = None) -> str:
        """The stage's label in ``lang`` (default the journey's), else in English, else in the
        journey's language (a label written as plain text is in that language), else its id."""
        label = self.stage(stage_id).label
        return (
            label.get(lang or self.language)
            or label.get("en")
            or label.get(self.language)
            or stage_id
        )

    def touchpoint_label(self, touchpoint_id: str, lang: str | None = None) -> str:
        """The touchpoint's display label in ``lang`` (default the journey's), by the rules of
        :meth:`stage_label`; its id when it has no label or there is no such touchpoint.

        Examples
        --------
        >>> tp = Touchpoint("ad_click", "a", Match(), "Annonsklick", labels={"sv": "Annonsklick",
        ...                 "en": "Ad click"})
        >>> j = Journey("j", (Stage("a", {}),), language="sv", touchpoints=(tp,))
        >>> j.touchpoint_label("ad_click"), j.touchpoint_label("ad_click", "da")
        ('Annonsklick', 'Ad click')
        >>> j.touchpoint_label("visit")
        'visit'
        """
        tp = next((t for t in self.touchpoints if t.id == touchpoint_id), None)
        if tp is None:
            return touchpoint_id
        return _pick_label(tp.labels, tp.label, lang, self.language) or touchpoint_id

    def channel_label(self, channel_id: str, lang: str | None = None) -> str | None:
        """The journey channel's display label in ``lang`` (default the journey's), by the
        rules of :meth:`stage_label`; ``None`` when the journey gives it none."""
        ch = self.channel(channel_id)
        if ch is None:
            return None
        return _pick_label(ch.labels, ch.label, lang, self.language)

    def touchpoint(self, touchpoint_id: str) -> Touchpoint:
        """The touchpoint with this id (``KeyError`` if there is none)."""
        for t in self.touchpoints:
            if t.id == touchpoint_id:
                return t
        raise KeyError(f"no touchpoint {touchpoint_id!r}")

    def channel(self, channel_id: str) -> Channel | None:
        """The channel with this id, or ``None``."""
        return next((c for c in self.channels if c.id == channel_id), None)

    @property
    def decision_stage(self) -> str:
        """The purchase stage: the one marked BoFu, else the third, else the last.

        Examples
        --------
        >>> s = [Stage(x, {}) for x in ("a", "b", "c", "d")]
        >>> Journey("j", tuple(s)).decision_stage, Journey("j", tuple(s[:2])).decision_stage
        ('c', 'b')
        """
        for s in self.stages:
            if s.funnel == "bofu":
                return s.id
        return self.stages[min(2, len(self.stages) - 1)].id

    def persona_for(self, events_properties: Iterable[Mapping[str, str | None]]) -> str | None:
        """The persona of a customer: the first persona (file order) whose match fits any of
        the customer's events; ``None`` when none does.

        Parameters
        ----------
        events_properties
            The properties of each of the customer's events.

        Examples
        --------
        >>> seg = lambda v: PersonaMatch("segment", Condition(equals=v))
        >>> j = Journey("j", (), personas=(Persona("anna", "Anna", match=seg("private")),
        ...                                Persona("erik", "Erik", match=seg("business"))))
        >>> j.persona_for([{"segment": "business"}, {"segment": "private"}])
        'anna'
        >>> j.persona_for([{"page": "/"}]) is None
        True
        """
        props = list(events_properties)
        for p in self.personas:
            if p.match is not None and any(
                p.match.condition.matches(e.get(p.match.property)) for e in props
            ):
                return p.id
        return None

    def lane(self, name: str, stage_id: str, persona: str | None = None) -> Any:
        """A lane's content for a stage (and persona, where the lane is per persona)."""
        content = self.lanes.get(name) or {}
        if persona is not None and isinstance(content.get(persona), Mapping):
            return content[persona].get(stage_id)
        return content.get(stage_id)
