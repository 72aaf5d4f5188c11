"""The journey map for the wall: one landscape sheet (A4, A3 or A2) as PDF, PNG or SVG.

The map is laid out once as drawing primitives (:class:`Box`, :class:`Text`, :class:`Line`,
:class:`Dot`) in :func:`layout_map`, and each format draws the same primitives:
:func:`map_svg` writes SVG with the fonts embedded as ``@font-face`` data, :func:`map_pdf`
writes a vector PDF with ReportLab (fonts embedded as subsets) and :func:`map_png` renders
that PDF with PDFium (pypdfium2). Nothing needs a browser.

What the sheet shows, from left to right one column per stage: the stage (label, funnel
position, goal); its numbers (reached with a bar, conversion from the previous stage,
entered, dropped; the stage where most customers are lost is marked); the lanes of the
journey file (activities, needs, challenges, thoughts, pain points, opportunities,
back-stage, content), the emotion curve of each persona (-2..2), the touchpoints with their
customers and events, the channels (online or offline, owned, paid or earned), and the KPIs
with their actual value, target and status. Numbers come from
:meth:`Project.run <kundresa.project.Project.run>` (``stages``, ``touchpoints``, ``kpis``)
and are written in the chosen language (:mod:`kundresa.report.units`).

The map always fits ONE sheet: the layout is made for a virtual page ``1/s`` times as wide
as the paper and drawn at scale ``s``; :func:`layout_map` takes the largest ``s`` (up to
the paper's own size, so text is never larger than on A4 scaled to the paper) at which the
height fits too. Text that would not fit at a readable size gets smaller; nothing is split
across sheets or cut.

The fonts are DejaVu Sans Condensed, cut down to Latin (``report/fonts``, Bitstream Vera
licence; the DejaVu changes are public domain), so å, ä, ö, æ and ø print on every machine.

Examples
--------
>>> from kundresa.model.parse import parse_journey
>>> j, _ = parse_journey('''
... kundresa: 1
... name: Blomsterhandel
... language: sv
... stages: [{id: look, label: Titta}, {id: buy, label: Köpa}]
... touchpoints: [{id: cart, stage: buy, label: Kassa, match: {event: purchase}}]
... lanes: {pain_points: {buy: [Långsam kassa för små köp]}}
... ''')
>>> figures = MapFigures.from_journey(j, reached=[120, 45])
>>> drawing = layout_map(figures, "A4")
>>> (round(drawing.width), round(drawing.height))
(842, 595)
>>> [t.text for t in drawing.texts() if t.text in ("Titta", "Köpa", "120", "45")]
['Titta', 'Köpa', '120', '45']
>>> overlapping_texts(drawing)
[]
>>> map_svg(drawing).startswith("<?xml")
True
"""

from __future__ import annotations

import base64
import io
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from functools import cache
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any
from xml.sax.saxutils import escape

from kundresa.report.journey_map import map_rows
from kundresa.report.labels import channel_label, heading, touchpoint_label, word
from kundresa.report.units import MISSING, format_count, format_date, format_rate, format_value

if TYPE_CHECKING:
    from kundresa.model.journey import Journey
    from kundresa.project import Project

__all__ = [
    "FORMATS",
    "PAPERS",
    "Box",
    "Dot",
    "Drawing",
    "KpiFigure",
    "Line",
    "MapFigures",
    "StageFigures",
    "Text",
    "export_map",
    "layout_map",
    "map_figures",
    "map_pdf",
    "map_png",
    "map_svg",
    "overlapping_texts",
    "render_map",
]

#: Landscape sheet sizes in points (1/72 inch): ISO 216 A4, A3 and A2.
PAPERS: dict[str, tuple[float, float]] = {
    "A4": (841.89, 595.28),
    "A3": (1190.55, 841.89),
    "A2": (1683.78, 1190.55),
}

#: The formats of :func:`export_map`.
FORMATS = ("pdf", "png", "svg")

# Colours of the web app (static/app.css) so the wall and the screen look alike.
INK = "#1d2430"
MUTED = "#5b6676"
LINE = "#d8dee7"
BG = "#f6f8fb"
LANE_BG = "#eef2f7"
HEAD = "#17212f"
HEAD_MUTED = "#c9d6e8"
ACCENT = "#1f6feb"
BAD = "#c62828"
BAD_BG = "#fdecea"
BAD_HEAD = "#8e1b1b"
GOOD = "#2e7d32"
GOOD_BG = "#e8f5e9"
FUNNEL = {
    "tofu": ("#d6e9ff", "#0b4a8f"),
    "mofu": ("#e5dcff", "#4b2a99"),
    "bofu": ("#ffe1cc", "#8a3c00"),
}
#: One colour per persona's emotion curve (the web app's chart palette).
PALETTE = ("#1f6feb", "#e8590c", "#2f9e44", "#ae3ec9", "#f59f00", "#0ca678", "#d6336c", "#5c7cfa")

_FONT = "KundresaMapSans"
_BOLD = "KundresaMapSans-Bold"
_FONT_FILES = {_FONT: "DejaVuSansCondensed-LGC.ttf", _BOLD: "DejaVuSansCondensed-Bold-LGC.ttf"}
# DejaVu's ascent and descent (hhea) as a share of the font size: the box a line of text
# takes, for the overlap check and the line height.
_ASCENT = 0.93
_DESCENT = 0.24

#: Words of the sheet (en, sv, da).
_WORDS: dict[str, tuple[str, str, str]] = {
    "conversion": ("Conversion", "Konvertering", "Konvertering"),
    "biggest_loss": (
        "Most customers lost here",
        "Flest kunder tappas här",
        "Flest kunder tabt her",
    ),
    "customers_events": ("customers · events", "kunder · händelser", "kunder · hændelser"),
    "target": ("target", "mål", "mål"),
    "met": ("met", "nådd", "nået"),
    "missed": ("missed", "missad", "misset"),
    "no_data": ("no data", "inga data", "ingen data"),
    "online": ("online", "online", "online"),
    "offline": ("offline", "offline", "offline"),
    "owned": ("owned", "egen", "ejet"),
    "paid": ("paid", "betald", "betalt"),
    "earned": ("earned", "förtjänad", "fortjent"),
    "numbers": ("Numbers", "Siffror", "Tal"),
    "stage": ("Stage", "Fas", "Fase"),
    "review_by": ("Review by", "Granska senast", "Gennemgå senest"),
    "overdue": ("overdue", "försenad", "forsinket"),
    "personas": ("Personas", "Personor", "Personaer"),
    "needs": ("Needs", "Behov", "Behov"),
    "challenges": ("Challenges", "Utmaningar", "Udfordringer"),
}


def _w(key: str, lang: str) -> str:
    entry = _WORDS[key]
    return entry[("en", "sv", "da").index(lang)] if lang in ("en", "sv", "da") else entry[0]


# -- what the sheet shows -------------------------------------------------------------------


@dataclass(frozen=True)
class KpiFigure:
    """A stage's KPI: its metric (or label) as written, the target, the actual value (both
    formatted in the metric's unit) and whether it is met (``None``: no value)."""

    text: str
    target: str
    direction: str
    actual: str
    met: bool | None


@dataclass(frozen=True)
class StageFigures:
    """One stage column: label, funnel position, goal, the stage analysis' numbers (counts;
    ``conversion`` a fraction 0-1, ``None`` for the first stage), its touchpoints as
    ``(label, customers, events)``, its channels as ``(label, online, ownership)`` and KPIs."""

    id: str
    label: str
    funnel: str | None = None
    goal: str | None = None
    reached: int | None = None
    entered: int | None = None
    conversion: float | None = None
    dropped: int | None = None
    biggest_loss: bool = False
    touchpoints: tuple[tuple[str, int | None, int | None], ...] = ()
    channels: tuple[tuple[str, bool | None, str | None], ...] = ()
    kpis: tuple[KpiFigure, ...] = ()


@dataclass(frozen=True)
class MapFigures:
    """Everything the sheet shows, already in its language ``lang``: the journey's name, the
    scope (persona name, period), the review date, the stages, the text lanes as
    ``(label, one text per stage)``, the emotion curves as ``(persona name, -2..2 or None per
    stage)`` and the personas as ``(name, needs, challenges)``; ``note`` is a line printed
    under the title (why numbers are missing)."""

    name: str
    lang: str
    stages: tuple[StageFigures, ...]
    lanes: tuple[tuple[str, tuple[str, ...]], ...] = ()
    emotions: tuple[tuple[str, tuple[float | None, ...]], ...] = ()
    personas: tuple[tuple[str, tuple[str, ...], tuple[str, ...]], ...] = ()
    persona: str | None = None
    since: str | None = None
    until: str | None = None
    review_by: date | None = None
    made: date = field(default_factory=date.today)
    note: str | None = None

    @classmethod
    def from_journey(
        cls,
        journey: Journey,
        *,
        lang: str | None = None,
        reached: Sequence[int] | None = None,
        persona: str | None = None,
    ) -> MapFigures:
        """The sheet of a journey file without events (or with ``reached`` per stage):
        stages, lanes, touchpoints, channels, emotions and personas; numbers empty."""
        lang = lang or journey.language
        numbers = list(reached) if reached is not None else [None] * len(journey.stages)
        stages = []
        for i, (sid, n) in enumerate(zip(journey.stage_ids, numbers, strict=True)):
            prev = numbers[i - 1] if i else None
            stages.append(
                StageFigures(
                    id=sid,
                    label=journey.stage_label(sid, lang),
                    funnel=journey.stage(sid).funnel,
                    goal=journey.stage(sid).goal,
                    reached=n,
                    conversion=(n / prev) if n is not None and prev else None,
                    dropped=(prev - n) if n is not None and prev is not None else None,
                    touchpoints=tuple(
                        (touchpoint_label(journey, t.id, lang), None, None)
                        for t in journey.touchpoints
                        if t.stage == sid
                    ),
                    channels=_stage_channels(journey, sid, lang),
                    kpis=tuple(
                        KpiFigure(
                            k.label or heading(k.metric, lang),
                            format_value(k.target, _metric_unit(k.metric), lang),
                            k.direction,
                            MISSING,
                            None,
                        )
                        for k in journey.stage(sid).kpis
                    ),
                )
            )
        return cls._with_lanes(journey, lang, tuple(stages), persona)

    @classmethod
    def _with_lanes(
        cls, journey: Journey, lang: str, stages: tuple[StageFigures, ...], persona: str | None
    ) -> MapFigures:
        lanes: list[tuple[str, tuple[str, ...]]] = []
        emotions: list[tuple[str, tuple[float | None, ...]]] = []
        names = {p.id: p.name for p in journey.personas}
        for row in map_rows(journey, lang):
            if persona is not None and row.persona not in (None, persona):
                continue
            if row.lane == "emotions":
                who = (
                    names.get(row.persona, row.persona)
                    if row.persona
                    else word("all_personas", lang)
                )
                emotions.append((who, tuple(_number(c) for c in row.cells)))
            elif row.lane not in ("touchpoints", "channels", "goals", "kpis"):
                lanes.append((row.label, tuple(str(c or "") for c in row.cells)))
        personas = tuple(
            (p.name, tuple(p.needs), tuple(p.challenges))
            for p in journey.personas
            if persona is None or p.id == persona
        )
        return cls(
            name=journey.name,
            lang=lang,
            stages=stages,
            lanes=tuple(lanes),
            emotions=tuple(emotions),
            personas=personas,
            persona=names.get(persona, persona) if persona else None,
            review_by=journey.review_by,
        )


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or value is None or value == "":
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _metric_unit(metric: str) -> str:
    if metric.startswith("conversion"):
        return "rate"
    if metric.startswith("median_days"):
        return "days"
    return "count"


def _stage_channels(
    journey: Journey, sid: str, lang: str
) -> tuple[tuple[str, bool | None, str | None], ...]:
    out: dict[str, tuple[str, bool | None, str | None]] = {}
    for t in journey.touchpoints:
        if t.stage != sid or not t.channel or t.channel in out:
            continue
        ch = journey.channel(t.channel)
        name = channel_label(journey, t.channel, lang)
        out[t.channel] = (name, ch.online, ch.ownership) if ch else (name, None, None)
    return tuple(out.values())


def _int(value: Any) -> int | None:
    from kundresa.report.export import _plain

    v = _plain(value)
    return None if v is None else int(v)


#: The sheet's note when the project has no events: the map is the journey file's alone.
NO_EVENTS_NOTE = (
    "No events yet: the journey file's map, without numbers (load events with kundresa ingest)."
)


def map_figures(
    project: Project,
    *,
    lang: str | None = None,
    since: Any = None,
    until: Any = None,
    persona: str | None = None,
) -> MapFigures:
    """The sheet's figures from ``Project.run`` (``stages``, ``touchpoints``, ``kpis``) in
    one scope (a persona id, a period ``[since, until)``) and the journey file.

    A project without any event yet gives the journey file's sheet
    (:meth:`MapFigures.from_journey`, numbers empty) with :data:`NO_EVENTS_NOTE` as its note,
    as the map page draws it.

    Raises
    ------
    kundresa.report.export.ExportError
        The project has no journey file, or the project has events but none in the period
        (for the persona).
    kundresa.analyses.ParameterError
        An unknown persona or a bad period.
    """
    from kundresa.report.export import ExportError, _has_events, _plain, checked_scope

    try:
        scope = checked_scope(project, lang=lang, since=since, until=until, persona=persona)
    except ExportError:
        if not project.has_journey or _has_events(project):
            raise
        sheet = MapFigures.from_journey(project.journey, lang=lang, persona=persona)
        return replace(
            sheet,
            since=None if since in (None, "") else str(since),
            until=None if until in (None, "") else str(until),
            note=NO_EVENTS_NOTE,
        )
    journey = project.journey
    lang = lang or journey.language
    funnel = project.run("stages", scope=scope).frame
    tps = {
        str(r["touchpoint"]): r
        for r in project.run("touchpoints", scope=scope).frame.to_dict("records")
    }
    kpi_rows = project.run("kpis", scope=scope).frame.to_dict("records")
    dropped = {str(r["stage"]): _int(r["dropped"]) for r in funnel.to_dict("records")}
    # The stage where most customers are lost (the first of equals), as on the map page.
    lost = [(d, sid) for sid, d in dropped.items() if d]
    biggest = max(lost, key=lambda x: x[0])[1] if lost else None
    stages = []
    for r in funnel.to_dict("records"):
        sid = str(r["stage"])
        kpis = []
        for k in kpi_rows:
            if k.get("stage") != sid:
                continue
            metric = str(k["metric"])
            unit = _metric_unit(metric)
            actual = _plain(k.get("actual"))
            met = _plain(k.get("met"))
            # The KPI's own label from the journey file, else its metric's heading (the
            # kpis analysis' `label` column is the stage's).
            own = next((x.label for x in journey.stage(sid).kpis if x.metric == metric), None)
            kpis.append(
                KpiFigure(
                    own or heading(metric, lang),
                    format_value(_plain(k["target"]), unit, lang),
                    str(k.get("direction") or "at_least"),
                    format_value(actual, unit, lang),
                    None if met is None else bool(met),
                )
            )
        conversion = _plain(r.get("conversion_from_previous"))
        stages.append(
            StageFigures(
                id=sid,
                label=journey.stage_label(sid, lang),
                funnel=journey.stage(sid).funnel,
                goal=journey.stage(sid).goal,
                reached=_int(r["reached"]),
                entered=_int(r["entered"]),
                conversion=None if conversion is None else float(conversion),
                dropped=dropped[sid],
                biggest_loss=sid == biggest,
                touchpoints=tuple(
                    (
                        touchpoint_label(journey, t.id, lang),
                        _int(tps.get(t.id, {}).get("customers", 0)),
                        _int(tps.get(t.id, {}).get("events", 0)),
                    )
                    for t in journey.touchpoints
                    if t.stage == sid
                ),
                channels=_stage_channels(journey, sid, lang),
                kpis=tuple(kpis),
            )
        )
    base = MapFigures._with_lanes(journey, lang, tuple(stages), persona)
    return MapFigures(
        **{
            **base.__dict__,
            "since": None if since in (None, "") else str(since),
            "until": None if until in (None, "") else str(until),
        }
    )


# -- drawing primitives ---------------------------------------------------------------------


@dataclass(frozen=True)
class Box:
    """A rectangle: top-left corner ``(x, y)``, size, fill and stroke colours (``None``:
    none) and corner radius, in layout points (y grows downwards)."""

    x: float
    y: float
    w: float
    h: float
    fill: str | None = None
    stroke: str | None = None
    radius: float = 0.0
    stroke_width: float = 0.75


@dataclass(frozen=True)
class Text:
    """One line of text: its baseline starts (``anchor="start"``), is centred on or ends at
    ``x``; ``width`` is its measured advance in the layout font."""

    x: float
    y: float
    text: str
    size: float
    bold: bool = False
    color: str = INK
    anchor: str = "start"
    width: float = 0.0

    @property
    def left(self) -> float:
        return self.x - {"start": 0.0, "middle": self.width / 2, "end": self.width}[self.anchor]

    def bbox(self) -> tuple[float, float, float, float]:
        """``(left, top, right, bottom)`` of the line's box (ascent to descent)."""
        return (
            self.left,
            self.y - _ASCENT * self.size,
            self.left + self.width,
            self.y + _DESCENT * self.size,
        )


@dataclass(frozen=True)
class Line:
    """A polyline through ``points``; ``dash`` a dash length (0: solid)."""

    points: tuple[tuple[float, float], ...]
    color: str = LINE
    width: float = 0.75
    dash: float = 0.0


@dataclass(frozen=True)
class Dot:
    """A filled circle (a point of an emotion curve, a status light)."""

    x: float
    y: float
    r: float
    fill: str
    stroke: str | None = None


Item = Box | Text | Line | Dot


@dataclass
class Drawing:
    """A laid-out sheet: its size in points (``width`` x ``height``, landscape), the
    ``scale`` from layout points to sheet points, the items in drawing order and the title
    and language for the file's metadata."""

    width: float
    height: float
    scale: float
    items: list[Item]
    title: str
    lang: str

    def texts(self) -> list[Text]:
        return [i for i in self.items if isinstance(i, Text)]


def overlapping_texts(drawing: Drawing) -> list[tuple[str, str]]:
    """Pairs of text lines of ``drawing`` whose boxes overlap (an empty list when the
    layout is clean)."""
    boxes = [(t.text, t.bbox()) for t in drawing.texts() if t.text.strip()]
    out = []
    boxes.sort(key=lambda b: b[1][1])
    for i, (a, (l1, _t1, r1, b1)) in enumerate(boxes):
        for b, (l2, t2, r2, _b2) in boxes[i + 1 :]:
            if t2 >= b1 - 0.01:
                break
            if l1 < r2 - 0.01 and l2 < r1 - 0.01:
                out.append((a, b))
    return out


# -- fonts and measuring --------------------------------------------------------------------


@cache
def _font_bytes(name: str) -> bytes:
    return (resources.files("kundresa.report") / "fonts" / _FONT_FILES[name]).read_bytes()


@cache
def _register_fonts() -> None:
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont

    for name in _FONT_FILES:
        pdfmetrics.registerFont(TTFont(name, io.BytesIO(_font_bytes(name))))


def unprintable(drawing: Drawing) -> list[str]:
    """The text on the sheet that holds characters the embedded font has no glyph for (they
    print as empty boxes), each as ``'text' (the first such characters)``, in drawing order;
    a line that is part of another reported one (a wrapped label's piece) is left out. The
    fonts cover Latin, Greek and Cyrillic; emoji and scripts such as Arabic, Hebrew or
    Chinese are not covered.

    Examples
    --------
    >>> unprintable(layout_map(MapFigures("Kundresa 🛒", "en", ()), "A4"))
    ["'Kundresa 🛒' (🛒 U+1F6D2)"]
    """
    from reportlab.pdfbase import pdfmetrics

    _register_fonts()
    found: dict[str, list[str]] = {}
    for t in drawing.texts():
        glyphs = pdfmetrics.getFont(_BOLD if t.bold else _FONT).face.charToGlyph
        lacking = list(dict.fromkeys(c for c in t.text if ord(c) not in glyphs and c.isprintable()))
        if lacking and t.text not in found:
            found[t.text] = lacking
    out = []
    for text, lacking in found.items():
        if any(text != other and text in other for other in found):
            continue
        chars = ", ".join(f"{c} U+{ord(c):04X}" for c in lacking[:4])
        out.append(f"'{text}' ({chars}{', …' if len(lacking) > 4 else ''})")
    return out


def _measure(text: str, size: float, bold: bool = False) -> float:
    from reportlab.pdfbase import pdfmetrics

    _register_fonts()
    return float(pdfmetrics.stringWidth(text, _BOLD if bold else _FONT, size))


def _wrap(text: str, size: float, width: float, bold: bool = False) -> list[str]:
    """``text`` broken into lines no wider than ``width`` (at spaces; a word wider than a
    line is broken between characters)."""
    out: list[str] = []
    for para in str(text).split("\n"):
        line = ""
        for word_ in para.split():
            candidate = f"{line} {word_}" if line else word_
            if _measure(candidate, size, bold) <= width:
                line = candidate
                continue
            if line:
                out.append(line)
            line = word_
            while _measure(line, size, bold) > width and len(line) > 1:
                cut = len(line) - 1
                while cut > 1 and _measure(line[:cut], size, bold) > width:
                    cut -= 1
                out.append(line[:cut])
                line = line[cut:]
        if line:
            out.append(line)
    return out


# -- layout ---------------------------------------------------------------------------------


class _Sheet:
    """Items being placed on a virtual page ``width`` points wide."""

    def __init__(self, width: float) -> None:
        self.width = width
        self.items: list[Item] = []
        self.under: list[Item] = []  # backgrounds, drawn first

    def text(
        self,
        x: float,
        y: float,
        text: str,
        size: float,
        *,
        bold: bool = False,
        color: str = INK,
        anchor: str = "start",
    ) -> Text:
        t = Text(x, y, text, size, bold, color, anchor, _measure(text, size, bold))
        self.items.append(t)
        return t

    def line(
        self,
        x: float,
        top: float,
        width: float,
        text: str,
        size: float,
        *,
        bold: bool = False,
        color: str = INK,
        anchor: str = "start",
    ) -> float:
        """One line from ``top``, its size made smaller if it would be wider than ``width``
        (a number is never broken); ``anchor="end"`` ends it at ``x + width``. Returns the y
        below it."""
        size = min(size, size * width / max(_measure(text, size, bold), 1e-9))
        at = x + width if anchor == "end" else x
        self.text(at, top + _ASCENT * size, text, size, bold=bold, color=color, anchor=anchor)
        return top + size * 1.2

    def para(
        self,
        x: float,
        top: float,
        width: float,
        text: str,
        size: float,
        *,
        bold: bool = False,
        color: str = INK,
        leading: float = 1.25,
    ) -> float:
        """Wrapped text from ``top``; returns the y below its last line."""
        y = top
        for line in _wrap(text, size, width, bold):
            self.text(x, y + _ASCENT * size, line, size, bold=bold, color=color)
            y += size * leading
        return y


_M = 24.0  # sheet margin
_LANE_W = 104.0  # the lane label column
_PAD = 6.0  # cell padding


def _layout(figures: MapFigures, width: float) -> tuple[list[Item], float]:
    """The sheet's items on a page ``width`` points wide, and the height they take."""
    lang = figures.lang
    s = _Sheet(width)
    n = max(1, len(figures.stages))
    col_w = (width - 2 * _M - _LANE_W) / n
    inner = col_w - 2 * _PAD
    xs = [_M + _LANE_W + i * col_w for i in range(n)]

    # Title block: name and the stamp; below, the scope and the review date.
    y = _M
    stamp = f"{word('made', lang)} · {format_date(figures.made, lang)}"
    stamp_w = _measure(stamp, 8)
    s.text(width - _M, y + _ASCENT * 8, stamp, 8, color=MUTED, anchor="end")
    y = s.para(_M, y, width - 2 * _M - stamp_w - 24, figures.name, 22, bold=True, leading=1.15)
    y += 2
    period = (
        f"{format_date(figures.since, lang) if figures.since else '…'} – "
        f"{format_date(figures.until, lang) if figures.until else '…'}"
        if figures.since or figures.until
        else word("all_time", lang)
    )
    sub = " · ".join(
        (
            word("map", lang),
            f"{word('persona', lang)}: {figures.persona or word('all_personas', lang)}",
            f"{word('period', lang)}: {period}",
        )
    )
    due_w = 0.0
    if figures.review_by is not None:
        due = f"{_w('review_by', lang)} {format_date(figures.review_by, lang)}"
        late = figures.review_by < figures.made
        if late:
            due += f" ({_w('overdue', lang)})"
        color = BAD if late else MUTED
        due_w = s.text(
            width - _M, y + _ASCENT * 9, due, 9, bold=late, color=color, anchor="end"
        ).width
    y = s.para(_M, y, width - 2 * _M - due_w - 24, sub, 9, color=MUTED, leading=1.3)
    if figures.note:
        y = s.para(_M, y + 2, width - 2 * _M, figures.note, 9, bold=True, color=BAD, leading=1.3)
    y += 10
    grid_top = y

    def lane_label(
        top: float, bottom: float, label: str, dark: bool = False, note: str = ""
    ) -> None:
        s.under.append(Box(_M, top, _LANE_W, bottom - top, fill=HEAD if dark else LANE_BG))
        color = HEAD_MUTED if dark else "#33404f"
        at = s.para(_M + _PAD, top + _PAD, _LANE_W - 2 * _PAD, label, 8, bold=True, color=color)
        if note:
            s.para(_M + _PAD, at, _LANE_W - 2 * _PAD, note, 7, color=MUTED)

    def label_bottom(top: float, label: str, note: str = "") -> float:
        """The y below a lane's label (and note) in the lane column: a lane is at least as
        tall as its label, or a long label would run into the next lane's."""
        room = _LANE_W - 2 * _PAD
        at = top + _PAD + 8 * 1.25 * len(_wrap(label, 8, room, True))
        if note:
            at += 7 * 1.25 * len(_wrap(note, 7, room))
        return at + _PAD

    def rule(at: float) -> None:
        s.under.append(Line(((_M, at), (width - _M, at)), LINE, 0.6))

    # Stage header row (dark, as on the web page).
    top = y
    bottom = top
    heads: list[tuple[int, float]] = []
    for i, st in enumerate(figures.stages):
        cy = top + _PAD
        cy = s.para(xs[i] + _PAD, cy, inner, st.label, 12, bold=True, color="#ffffff")
        if st.funnel in FUNNEL:
            bg, fg = FUNNEL[st.funnel]
            tag = st.funnel.upper()
            tw = _measure(tag, 7, True)
            s.items.append(Box(xs[i] + _PAD, cy + 1, tw + 8, 11, fill=bg, radius=5.5))
            s.text(xs[i] + _PAD + 4, cy + 1 + 8, tag, 7, bold=True, color=fg)
            cy += 15
        if st.goal:
            cy = s.para(xs[i] + _PAD, cy + 2, inner, st.goal, 7.5, color=HEAD_MUTED)
        heads.append((i, cy))
        bottom = max(bottom, cy + _PAD)
    bottom = max(bottom, label_bottom(top, _w("stage", lang)))
    for i, st in enumerate(figures.stages):
        s.under.append(
            Box(xs[i], top, col_w, bottom - top, fill=BAD_HEAD if st.biggest_loss else HEAD)
        )
    lane_label(top, bottom, _w("stage", lang), dark=True)
    y = bottom

    # Numbers: reached (large) with a bar, then conversion, entered, dropped.
    top = y
    bottom = top
    most = max((st.reached or 0 for st in figures.stages), default=0)
    for i, st in enumerate(figures.stages):
        cx = xs[i] + _PAD
        cy = top + _PAD
        cy = s.line(cx, cy, inner, heading("reached", lang), 7, color=MUTED) + 1
        big = format_count(st.reached, lang) if st.reached is not None else MISSING
        cy = s.line(cx, cy, inner, big, 18, bold=True)
        share = (st.reached or 0) / most if most else 0.0
        s.items.append(Box(cx, cy, inner, 5, fill=LINE, radius=2.5))
        if share > 0:
            s.items.append(
                Box(
                    cx,
                    cy,
                    max(5.0, inner * share),
                    5,
                    fill=BAD if st.biggest_loss else ACCENT,
                    radius=2.5,
                )
            )
        cy += 5 + 5
        rows = [
            (
                _w("conversion", lang),
                format_rate(st.conversion, lang) if st.conversion is not None else MISSING,
            ),
            (
                heading("entered", lang),
                format_count(st.entered, lang) if st.entered is not None else MISSING,
            ),
        ]
        if st.dropped is not None:
            rows.append((heading("dropped", lang), format_count(st.dropped, lang)))
        for label, value in rows:
            vw = _measure(value, 8.5, True)
            if _measure(label, 7.5) + vw + 4 <= inner:  # label and value on one line
                s.text(cx, cy + _ASCENT * 8.5, label, 7.5, color=MUTED)
                s.text(cx + inner, cy + _ASCENT * 8.5, value, 8.5, bold=True, anchor="end")
                cy += 8.5 * 1.2
            else:  # a narrow column: the label, then the value below it
                cy = s.para(cx, cy, inner, label, 7.5, color=MUTED, leading=1.2)
                cy = s.line(cx, cy, inner, value, 8.5, bold=True, anchor="end")
        if st.biggest_loss:
            cy = s.para(
                cx, cy + 2, inner, "⚠ " + _w("biggest_loss", lang), 7.5, bold=True, color=BAD
            )
        bottom = max(bottom, cy + _PAD)
    bottom = max(bottom, label_bottom(top, _w("numbers", lang)))
    for i, st in enumerate(figures.stages):
        s.under.append(
            Box(xs[i], top, col_w, bottom - top, fill=BAD_BG if st.biggest_loss else "#f9fbfd")
        )
    lane_label(top, bottom, _w("numbers", lang))
    rule(bottom)
    y = bottom

    # Personas (spanning the stage columns): name, needs, challenges.
    band: tuple[float, float] | None = None
    if figures.personas:
        top = y
        per = max(1, len(figures.personas))
        pw = (width - 2 * _M - _LANE_W) / per
        bottom = top
        for k, (name, needs, challenges) in enumerate(figures.personas):
            px = _M + _LANE_W + k * pw + _PAD
            cy = s.para(px, top + _PAD, pw - 2 * _PAD, name, 9, bold=True)
            for key, items in (("needs", needs), ("challenges", challenges)):
                if items:
                    cy = s.para(
                        px,
                        cy + 1,
                        pw - 2 * _PAD,
                        f"{_w(key, lang)}: " + "; ".join(items),
                        7.5,
                        color=MUTED,
                    )
            bottom = max(bottom, cy + _PAD)
        bottom = max(bottom, label_bottom(top, _w("personas", lang)))
        # The personas span the stage columns, with rules of their own between them.
        band = (top, bottom)
        for k in range(1, per):
            px = _M + _LANE_W + k * pw
            s.under.append(Line(((px, top), (px, bottom)), LINE, 0.6))
        lane_label(top, bottom, _w("personas", lang))
        rule(bottom)
        y = bottom

    def text_lane(label: str, cells: Sequence[str]) -> None:
        nonlocal y
        top = y
        bottom = top + 8 * 1.25 + 2 * _PAD
        for i, cell in enumerate(cells):
            cy = top + _PAD
            for line in [c for c in cell.split("\n") if c.strip()]:
                cy = s.para(xs[i] + _PAD, cy, inner, line, 8, color=INK) + 2
            bottom = max(bottom, cy + _PAD - 2)
        bottom = max(bottom, label_bottom(top, label))
        lane_label(top, bottom, label)
        rule(bottom)
        y = bottom

    def emotion_lane() -> None:
        nonlocal y
        top = y
        # Legend in the lane column: one swatch per persona.
        ly = (
            top
            + _PAD
            + 8 * 1.25 * max(1, len(_wrap(word("emotions", lang), 8, _LANE_W - 2 * _PAD, True)))
            + 2
        )
        for k, (who, _) in enumerate(figures.emotions):
            color = PALETTE[k % len(PALETTE)]
            lines = _wrap(who, 7, _LANE_W - 2 * _PAD - 12)
            s.items.append(Box(_M + _PAD, ly + 1.5, 8, 3, fill=color, radius=1.5))
            for line in lines:
                s.text(_M + _PAD + 12, ly + _ASCENT * 7, line, 7, color=INK)
                ly += 7 * 1.2
            ly += 2
        height = max(84.0, ly - top + _PAD)
        bottom = top + height
        lane_label(top, bottom, word("emotions", lang))
        plot_top, plot_bottom = top + 10, bottom - 10
        mid = (plot_top + plot_bottom) / 2

        def at(v: float) -> float:
            return mid - (plot_bottom - plot_top) / 4 * max(-2.0, min(2.0, v))

        for v, dash in ((2, 0.0), (0, 2.0), (-2, 0.0)):
            s.under.append(Line(((xs[0], at(v)), (width - _M, at(v))), "#e4e9f0", 0.5, dash))
        s.text(xs[0] + 3, at(2) - 2, "+2", 6, color=MUTED)
        s.text(xs[0] + 3, at(-2) + 8, "−2", 6, color=MUTED)
        count = len(figures.emotions)
        for k, (_, values) in enumerate(figures.emotions):
            color = PALETTE[k % len(PALETTE)]
            # Personas often feel the same in a stage: each curve is nudged by its place in
            # the legend so that none hides another.
            nudge = (k - (count - 1) / 2) * 2.2
            pts = [
                (xs[i] + col_w / 2, at(v) + nudge)
                for i, v in enumerate(values)
                if v is not None and i < n
            ]
            if len(pts) > 1:
                s.items.append(Line(tuple(pts), color, 1.8))
            for px, py in pts:
                s.items.append(Dot(px, py, 2.8, color, "#ffffff"))
        rule(bottom)
        y = bottom

    emotions_done = False
    lane_order = [label for label, _ in figures.lanes]
    # The emotion curve goes where the journey file's lanes put it: after thoughts (the
    # order of kundresa.model.journey.LANES), i.e. before the first lane that follows it.
    after_emotions = {
        word(k, lang) for k in ("pain_points", "opportunities", "backstage", "content")
    }
    for label, cells in figures.lanes:
        if (
            not emotions_done
            and figures.emotions
            and any(label.startswith(a) for a in after_emotions)
        ):
            emotion_lane()
            emotions_done = True
        text_lane(label, cells)
        if label == lane_order[-1] and not emotions_done and figures.emotions:
            emotion_lane()
            emotions_done = True
    if figures.emotions and not emotions_done:
        emotion_lane()

    # Touchpoints with their customers and events.
    if any(st.touchpoints for st in figures.stages):
        top = y
        bottom = top
        for i, st in enumerate(figures.stages):
            cy = top + _PAD
            for label, customers, events in st.touchpoints:
                cy = s.para(xs[i] + _PAD, cy, inner, label, 8, bold=True)
                if customers is not None or events is not None:
                    nums = (
                        f"{format_count(customers or 0, lang)} · {format_count(events or 0, lang)}"
                    )
                    s.text(xs[i] + _PAD, cy + _ASCENT * 7.5, nums, 7.5, color=MUTED)
                    cy += 7.5 * 1.25
                cy += 3
            bottom = max(bottom, cy + _PAD - 3)
        note = _w("customers_events", lang)
        bottom = max(bottom, label_bottom(top, word("touchpoints", lang), note))
        lane_label(top, bottom, word("touchpoints", lang), note=note)
        rule(bottom)
        y = bottom

    # Channels, with online/offline and ownership as small tags.
    if any(st.channels for st in figures.stages):
        top = y
        bottom = top
        for i, st in enumerate(figures.stages):
            cy = top + _PAD
            for label, online, ownership in st.channels:
                tags = []
                if online is not None:
                    tags.append(_w("online" if online else "offline", lang))
                if ownership:
                    tags.append(_w(ownership, lang) if ownership in _WORDS else ownership)
                cy = s.para(xs[i] + _PAD, cy, inner, label, 8, bold=True)
                if tags:
                    cy = s.para(xs[i] + _PAD, cy, inner, " · ".join(tags), 7, color=MUTED)
                cy += 3
            bottom = max(bottom, cy + _PAD - 3)
        bottom = max(bottom, label_bottom(top, word("channels", lang)))
        lane_label(top, bottom, word("channels", lang))
        rule(bottom)
        y = bottom

    # KPIs: the metric, actual against the target, and a status light.
    if any(st.kpis for st in figures.stages):
        top = y
        bottom = top
        for i, st in enumerate(figures.stages):
            cy = top + _PAD
            for kpi in st.kpis:
                color = GOOD if kpi.met else BAD if kpi.met is False else MUTED
                fill = GOOD_BG if kpi.met else BAD_BG if kpi.met is False else BG
                start = cy
                cy = s.para(xs[i] + _PAD + 4, cy + 3, inner - 8, kpi.text, 7.5, color=MUTED)
                status = (
                    _w("met", lang)
                    if kpi.met
                    else _w("missed", lang)
                    if kpi.met is False
                    else _w("no_data", lang)
                )
                box_w = inner - 8  # the KPI's box, inside the cell
                bx = xs[i] + _PAD + 4
                actual_w = _measure(kpi.actual, 10, True)
                status_w = _measure(status, 7, True)
                s.items.append(Dot(bx + 4, cy + 5.5, 3.2, color))
                if 11 + actual_w + 6 + status_w <= box_w:  # light, value and status on a line
                    s.text(bx + 11, cy + _ASCENT * 10, kpi.actual, 10, bold=True, color=color)
                    s.text(
                        bx + box_w,
                        cy + _ASCENT * 10,
                        status,
                        7,
                        bold=True,
                        color=color,
                        anchor="end",
                    )
                    cy += 10 * 1.25
                else:  # a narrow column: the status under the value
                    cy = s.line(bx + 11, cy, box_w - 11, kpi.actual, 10, bold=True, color=color)
                    cy = s.line(bx, cy, box_w, status, 7, bold=True, color=color)
                sign = "≤" if kpi.direction == "at_most" else "≥"
                cy = s.para(
                    xs[i] + _PAD + 4,
                    cy,
                    inner - 8,
                    f"{_w('target', lang)} {sign} {kpi.target}",
                    7,
                    color=MUTED,
                )
                s.under.append(Box(xs[i] + _PAD, start, inner, cy + 3 - start, fill=fill, radius=3))
                cy += 6
            bottom = max(bottom, cy + _PAD - 3)
        bottom = max(bottom, label_bottom(top, word("kpis", lang)))
        lane_label(top, bottom, word("kpis", lang))
        rule(bottom)
        y = bottom

    # Column rules between stages, over the whole grid.
    spans = [(grid_top, y)]
    if band is not None:  # not across the personas' band
        spans = [(grid_top, band[0]), (band[1], y)]
    for x in xs[1:]:
        for a, b in spans:
            s.under.append(Line(((x, a), (x, b)), LINE, 0.6))
    s.under.append(Box(_M, grid_top, width - 2 * _M, y - grid_top, stroke=LINE, stroke_width=0.8))
    return [*s.under, *s.items], y + _M


def layout_map(figures: MapFigures, paper: str = "A3") -> Drawing:
    """Lay the map out on ONE landscape sheet of ``paper`` (a key of :data:`PAPERS`).

    The scale is the largest at which everything fits (found by bisection; the height a
    layout takes only falls as the virtual page gets wider), at most the paper's width over
    A4's, so text on A3 is as large as on A4 scaled up. Nothing is cut or split.

    Raises
    ------
    ValueError
        An unknown paper.
    """
    if paper not in PAPERS:
        raise ValueError(f"unknown paper {paper!r}; choose one of {', '.join(PAPERS)}")
    page_w, page_h = PAPERS[paper]
    high = page_w / PAPERS["A4"][0]
    low = 0.05

    def fits(scale: float) -> tuple[bool, list[Item]]:
        items, height = _layout(figures, page_w / scale)
        return height * scale <= page_h, items

    ok, items = fits(high)
    scale = high
    if not ok:
        for _ in range(18):
            mid = (low + high) / 2
            good, _items = fits(mid)
            if good:
                low = mid
            else:
                high = mid
        scale = low
        ok, items = fits(scale)
    return Drawing(page_w, page_h, scale, items, figures.name, figures.lang)


# -- rendering ------------------------------------------------------------------------------


def _fmt(v: float) -> str:
    return f"{v:.2f}".rstrip("0").rstrip(".")


def map_svg(drawing: Drawing) -> str:
    """The drawing as an SVG document (UTF-8 text), the sheet's size in millimetres, the
    fonts embedded as ``@font-face`` data so it looks the same without them installed."""
    mm = 25.4 / 72
    # One family with a regular and a bold face, so bold text uses the real bold glyphs
    # (a separate family marked bold would be thickened again by the viewer).
    faces = "".join(
        f"@font-face{{font-family:'{_FONT}';font-weight:{weight};src:url(data:font/ttf;"
        f"base64,{base64.b64encode(_font_bytes(name)).decode('ascii')}) format('truetype');}}"
        for name, weight in ((_FONT, 400), (_BOLD, 700))
    )
    out = [
        '<?xml version="1.0" encoding="UTF-8"?>\n',
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{_fmt(drawing.width * mm)}mm" '
        f'height="{_fmt(drawing.height * mm)}mm" viewBox="0 0 {_fmt(drawing.width)} '
        f'{_fmt(drawing.height)}" xml:lang="{escape(drawing.lang)}">\n',
        f"<title>{escape(drawing.title)}</title>\n",
        f"<style>{faces}text{{font-family:'{_FONT}','DejaVu Sans Condensed','DejaVu Sans',"
        "sans-serif}</style>\n",
        '<rect width="100%" height="100%" fill="#ffffff"/>\n',
        f'<g transform="scale({drawing.scale:.6f})">\n',
    ]
    for item in drawing.items:
        if isinstance(item, Box):
            attrs = f'fill="{item.fill or "none"}"'
            if item.stroke:
                attrs += f' stroke="{item.stroke}" stroke-width="{_fmt(item.stroke_width)}"'
            if item.radius:
                attrs += f' rx="{_fmt(item.radius)}"'
            out.append(
                f'<rect x="{_fmt(item.x)}" y="{_fmt(item.y)}" width="{_fmt(item.w)}" '
                f'height="{_fmt(item.h)}" {attrs}/>\n'
            )
        elif isinstance(item, Text):
            family = ' font-weight="bold"' if item.bold else ""
            anchor = f' text-anchor="{item.anchor}"' if item.anchor != "start" else ""
            out.append(
                f'<text x="{_fmt(item.x)}" y="{_fmt(item.y)}" font-size="{_fmt(item.size)}" '
                f'fill="{item.color}"{family}{anchor} xml:space="preserve">'
                f"{escape(item.text)}</text>\n"
            )
        elif isinstance(item, Line):
            pts = " ".join(f"{_fmt(x)},{_fmt(y)}" for x, y in item.points)
            dash = f' stroke-dasharray="{_fmt(item.dash)}"' if item.dash else ""
            out.append(
                f'<polyline points="{pts}" fill="none" stroke="{item.color}" '
                f'stroke-width="{_fmt(item.width)}" stroke-linejoin="round"{dash}/>\n'
            )
        else:
            stroke = f' stroke="{item.stroke}" stroke-width="1"' if item.stroke else ""
            out.append(
                f'<circle cx="{_fmt(item.x)}" cy="{_fmt(item.y)}" r="{_fmt(item.r)}" '
                f'fill="{item.fill}"{stroke}/>\n'
            )
    out.append("</g>\n</svg>\n")
    return "".join(out)


def map_pdf(drawing: Drawing) -> bytes:
    """The drawing as a one-page vector PDF (fonts embedded as subsets), with the map's
    title, language and producer in its metadata."""
    from reportlab.lib.colors import HexColor
    from reportlab.pdfgen.canvas import Canvas

    _register_fonts()
    buf = io.BytesIO()
    # The initial font is ours: else ReportLab lists Helvetica, which no text uses.
    c = Canvas(
        buf, pagesize=(drawing.width, drawing.height), pageCompression=1, initialFontName=_FONT
    )
    c.setTitle(drawing.title)
    c.setAuthor("Kundresa")
    c.setCreator("Kundresa")
    c.setSubject(drawing.title)
    k, h = drawing.scale, drawing.height
    for item in drawing.items:
        if isinstance(item, Box):
            if item.fill:
                c.setFillColor(HexColor(item.fill))
            if item.stroke:
                c.setStrokeColor(HexColor(item.stroke))
                c.setLineWidth(item.stroke_width * k)
            args = (item.x * k, h - (item.y + item.h) * k, item.w * k, item.h * k)
            if item.radius:
                c.roundRect(
                    *args, item.radius * k, stroke=int(bool(item.stroke)), fill=int(bool(item.fill))
                )
            else:
                c.rect(*args, stroke=int(bool(item.stroke)), fill=int(bool(item.fill)))
        elif isinstance(item, Text):
            c.setFillColor(HexColor(item.color))
            c.setFont(_BOLD if item.bold else _FONT, item.size * k)
            draw = {"start": c.drawString, "middle": c.drawCentredString, "end": c.drawRightString}
            draw[item.anchor](item.x * k, h - item.y * k, item.text)
        elif isinstance(item, Line):
            c.setStrokeColor(HexColor(item.color))
            c.setLineWidth(item.width * k)
            c.setLineJoin(1)
            c.setDash([item.dash * k, item.dash * k] if item.dash else [])
            path = c.beginPath()
            (x0, y0), *rest = item.points
            path.moveTo(x0 * k, h - y0 * k)
            for x, y in rest:
                path.lineTo(x * k, h - y * k)
            c.drawPath(path, stroke=1, fill=0)
            c.setDash([])
        else:
            c.setFillColor(HexColor(item.fill))
            if item.stroke:
                c.setStrokeColor(HexColor(item.stroke))
                c.setLineWidth(1 * k)
            c.circle(item.x * k, h - item.y * k, item.r * k, stroke=int(bool(item.stroke)), fill=1)
    c.showPage()
    c.save()
    return buf.getvalue()


def map_png(drawing: Drawing, dpi: int = 150) -> bytes:
    """The drawing as a PNG image: :func:`map_pdf` rendered by PDFium at ``dpi`` dots per
    inch (A3 at 150 dpi is 2480 x 1754 pixels).

    Raises
    ------
    ValueError
        ``dpi`` outside 36..600.
    """
    import pypdfium2 as pdfium

    if not 36 <= dpi <= 600:
        raise ValueError(f"dpi must be between 36 and 600, not {dpi}")
    pdf = pdfium.PdfDocument(map_pdf(drawing))
    try:
        page = pdf[0]
        image = page.render(scale=dpi / 72).to_pil()
        buf = io.BytesIO()
        image.save(buf, format="PNG", optimize=True, dpi=(dpi, dpi))
        page.close()
    finally:
        pdf.close()
    return buf.getvalue()


def export_map(
    project: Project,
    path: str | os.PathLike[str],
    *,
    format: str | None = None,
    paper: str = "A3",
    lang: str | None = None,
    since: Any = None,
    until: Any = None,
    persona: str | None = None,
    dpi: int = 150,
    warn: Callable[[str], None] | None = None,
) -> Path:
    """Write the journey map with its numbers to ``path`` as one landscape sheet: PDF, PNG
    or SVG (``format``, default from the file's suffix), atomically; return the path.

    ``warn`` is called with a line for each thing the reader should know: the project has
    no events yet (the sheet is the journey file's, without numbers), or text holds
    characters the embedded font cannot print (:func:`unprintable`).

    Raises
    ------
    kundresa.report.export.ExportError
        An unknown format, a file name whose extension is not the format's (``format="png"``
        to ``map.pdf``), no journey, no events (in the scope), or a file that cannot be
        written (nothing is written then).
    kundresa.analyses.ParameterError
        An unknown persona or a bad period.
    """
    from kundresa.report.export import ExportError, check_target, write_atomic

    target = check_target(path)
    kind = (format or target.suffix.lstrip(".")).lower()
    if kind not in FORMATS:
        raise ExportError(f"{target}: unknown map format {kind!r}; choose pdf, png or svg")
    check_target(target, (f".{kind}",), f"a {kind.upper()} map")
    if paper not in PAPERS:
        raise ExportError(f"unknown paper {paper!r}; choose {', '.join(PAPERS)}")
    data = render_map(
        project,
        kind,
        paper=paper,
        lang=lang,
        since=since,
        until=until,
        persona=persona,
        dpi=dpi,
        warn=warn,
    )
    with write_atomic(target) as tmp:
        tmp.write_bytes(data)
    return target


def render_map(
    project: Project,
    format: str,
    *,
    paper: str = "A3",
    lang: str | None = None,
    since: Any = None,
    until: Any = None,
    persona: str | None = None,
    dpi: int = 150,
    warn: Callable[[str], None] | None = None,
) -> bytes:
    """The map as the bytes of a ``format`` file (``pdf``, ``png`` or ``svg``): what
    :func:`export_map` writes and the web's ``/export/map.pdf`` serves; ``warn`` as
    :func:`export_map`'s."""
    figures = map_figures(project, lang=lang, since=since, until=until, persona=persona)
    drawing = layout_map(figures, paper)
    if warn is not None:
        if figures.note:
            warn(figures.note)
        lacking = unprintable(drawing)
        if lacking:
            warn(
                "the map's font has no glyph for some characters (they print as empty "
                "boxes): " + "; ".join(lacking)
            )
    if format == "svg":
        return map_svg(drawing).encode("utf-8")
    if format == "png":
        return map_png(drawing, dpi)
    return map_pdf(drawing)
