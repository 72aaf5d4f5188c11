"""The journey map as rows of text: stages as columns, lanes as rows (for exports).

Pure: reads a :class:`~kundresa.model.journey.Journey` and nothing else. A lane written per
persona (``emotions: {anna: {awareness: 1}}``) gives one row per persona; a lane written per
stage gives one row. Touchpoints and channels come from the journey's touchpoints (and the
lanes of those names), goals and KPIs from the stages. Lanes with nothing in any stage are
left out.

Examples
--------
>>> from kundresa.model.parse import parse_journey
>>> j, _ = parse_journey('''
... kundresa: 1
... name: Shop
... language: en
... stages:
...   - {id: look, label: Look, goal: Be found}
...   - {id: buy, label: Buy, kpis: [{metric: conversion_from_previous, target: 0.4}]}
... personas: [{id: anna, name: Anna}]
... channels: [{id: web, label: Web shop}]
... touchpoints: [{id: cart, stage: buy, label: Cart, channel: web, match: {event: add}}]
... lanes:
...   pain_points: {buy: [Slow checkout]}
...   emotions: {anna: {look: 1, buy: -2}}
... ''')
>>> for row in map_rows(j, "en"):
...     print(row.label, row.cells)
Emotions: Anna [1.0, -2.0]
Touchpoints ['', 'Cart']
Channels ['', 'Web shop']
Pain points ['', 'Slow checkout']
Goals ['Be found', '']
KPIs ['', 'Conversion from previous at least 40.0%']
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from kundresa.model.journey import LANES, Journey
from kundresa.report.labels import channel_label, heading, touchpoint_label, word
from kundresa.report.units import format_value

__all__ = ["MapRow", "map_rows"]


@dataclass(frozen=True)
class MapRow:
    """A row of the map: its lane, the persona (for lanes written per persona), its label in
    the export's language, and one cell per stage: text (lines joined by newlines), or a
    number for emotions (-2..2, ``None`` where not given)."""

    lane: str
    persona: str | None
    label: str
    cells: list[Any]


def _texts(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, list | tuple):
        return [str(v) for v in value]
    return [str(value)]


def _kpi_text(metric: str, target: float, direction: str, lang: str) -> str:
    unit = (
        "rate"
        if metric.startswith("conversion")
        else "days"
        if metric.startswith("median_days")
        else "count"
    )
    return f"{heading(metric, lang)} {word(direction, lang)} {format_value(target, unit, lang)}"


def map_rows(journey: Journey, lang: str | None = None) -> list[MapRow]:
    """The map's rows in the order a map is drawn (:data:`~kundresa.model.journey.LANES`,
    then goals and KPIs), in ``lang`` (default the journey's)."""
    lang = lang or journey.language
    stages = journey.stage_ids
    personas = {p.id: p.name for p in journey.personas}
    rows: list[MapRow] = []

    def add(lane: str, persona: str | None, cells: list[Any]) -> None:
        if any(c not in (None, "") for c in cells):
            label = word(lane, lang)
            if persona is not None:
                label = f"{label}: {personas.get(persona, persona)}"
            rows.append(MapRow(lane, persona, label, cells))

    for lane in LANES:
        content: Mapping[str, Any] = journey.lanes.get(lane) or {}
        per_stage = [k for k in content if k in stages]
        if lane in ("touchpoints", "channels"):
            cells = []
            for sid in stages:
                lines: list[str] = []
                for t in journey.touchpoints:
                    if t.stage != sid:
                        continue
                    if lane == "touchpoints":
                        lines.append(touchpoint_label(journey, t.id, lang))
                    elif t.channel:
                        lines.append(channel_label(journey, t.channel, lang))
                lines += _texts(content.get(sid))
                cells.append("\n".join(dict.fromkeys(lines)))
            add(lane, None, cells)
            continue
        if lane == "emotions":
            if per_stage:
                add(lane, None, [content.get(sid) for sid in stages])
            for pid in personas:
                if isinstance(content.get(pid), Mapping):
                    add(lane, pid, [content[pid].get(sid) for sid in stages])
            continue
        if per_stage:
            add(lane, None, ["\n".join(_texts(content.get(sid))) for sid in stages])
        for pid in personas:
            if isinstance(content.get(pid), Mapping):
                add(lane, pid, ["\n".join(_texts(content[pid].get(sid))) for sid in stages])
    add("goals", None, [journey.stage(sid).goal or "" for sid in stages])
    add(
        "kpis",
        None,
        [
            "\n".join(
                k.label or _kpi_text(k.metric, k.target, k.direction, lang)
                for k in journey.stage(sid).kpis
            )
            for sid in stages
        ],
    )
    return rows
