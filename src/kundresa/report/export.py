"""Exports a marketer takes to Excel, a slide or a wiki: a workbook, an HTML report and a
Mermaid ``journey`` diagram.

Every number comes from :meth:`Project.run <kundresa.project.Project.run>` (the analysis
registry, :mod:`kundresa.analyses`): this module runs no analysis of its own. Values keep the
registry's meaning: in the workbook a rate is the fraction 0-1 with the Excel format ``0.0%``,
a count is a whole number with ``#,##0``; each column's unit (:mod:`kundresa.report.units`)
chooses the format, so Excel shows the numbers in its own locale and they stay numbers.
Headings and sheet names are in the journey's language (:mod:`kundresa.report.labels`).

Files are written to a temporary file in the target folder and renamed into place, so a
failed export leaves no half-written file.

Examples
--------
>>> from kundresa.model.parse import parse_journey
>>> j, _ = parse_journey('''
... kundresa: 1
... name: "Shop: web"
... language: en
... stages: [{id: look, label: Look}, {id: buy, label: "Buy; pay"}]
... personas: [{id: anna, name: Anna}, {id: bo, name: "Bo, 40"}]
... touchpoints:
...   - {id: ad, stage: look, label: "Ad #1", match: {event: ad_click}}
...   - {id: cart, stage: buy, match: {event: purchase}}
... lanes: {emotions: {anna: {look: 2, buy: -1}, bo: {look: 2}}}
... ''')
>>> print(mermaid_journey(j), end="")
journey
    title Shop#58; web
    section Look
        Ad #35;1: 5: Anna, Bo#44; 40
    section Buy#59; pay
        cart: 2: Anna
        cart: 3: Bo#44; 40
"""

from __future__ import annotations

import html
import math
import os
import re
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kundresa.errors import KundresaError
from kundresa.report.journey_map import MapRow, map_rows
from kundresa.report.labels import SHEETS, heading, touchpoint_label, value_label, word
from kundresa.report.units import format_date, format_moment, format_value, is_numeric_unit

if TYPE_CHECKING:
    from kundresa.analyses import Result, Scope
    from kundresa.model.journey import Journey
    from kundresa.project import Project

__all__ = [
    "EXCEL_FORMATS",
    "SECTIONS",
    "ExportError",
    "Part",
    "check_target",
    "checked_scope",
    "collect",
    "file_mode",
    "html_report",
    "mermaid_journey",
    "report",
    "workbook",
    "write_atomic",
    "write_text",
]

#: What the workbook and the report hold: (analysis, parameters), in order.
SECTIONS: tuple[tuple[str, Mapping[str, Any]], ...] = (
    ("stages", {}),
    ("touchpoints", {}),
    ("transitions", {}),
    ("time_in_stage", {}),
    ("journeys", {}),
    ("retention_matrix", {"period": "month"}),
    ("bottlenecks", {}),
    ("kpis", {}),
    ("attribution_models", {}),
)

#: Excel number format of each unit. Durations are written in days (a ``seconds`` column is
#: divided by 86,400); a difference of two rates (``pp``) stays a fraction, shown signed.
EXCEL_FORMATS: dict[str, str] = {
    "count": "#,##0",
    "rate": "0.0%",
    "pp": "+0.0%;-0.0%;0.0%",
    "seconds": '0.0 "d"',
    "days": '0.0 "d"',
    "money": "#,##0.00",
    "p_value": "0.000",
    "number": "#,##0.00",
    "time": "yyyy-mm-dd hh:mm",
}
_DATE_FORMAT = "yyyy-mm-dd"

# The file-name extensions of each format an export writes (check_target refuses others).
WORKBOOK_SUFFIXES = (".xlsx",)
REPORT_SUFFIXES = (".html", ".htm")
MERMAID_SUFFIXES = (".mmd", ".mermaid", ".md", ".txt")  # Mermaid's own, or any text file


class ExportError(KundresaError):
    """An export cannot be written: no journey, no events, or a file that cannot be written
    (the message names it). Exit code 1."""

    exit_code = 1
    http_status = 409


@dataclass
class Part:
    """One analysis of an export: its registry result, or why there is none (an analysis
    that cannot answer with these data, such as attribution of a conversion event with a
    negative value)."""

    analysis: str
    result: Result | None
    problem: str | None = None
    units: dict[str, str] = field(default_factory=dict)

    def title(self, lang: str) -> str:
        return word(self.analysis, lang) if self.analysis in SHEETS else self.analysis


# -- collecting -------------------------------------------------------------------------------


def _plain(value: Any) -> Any:
    if value is None:
        return None
    if hasattr(value, "item") and not isinstance(value, str | bytes):
        with suppress(ValueError, AttributeError):
            value = value.item()
    if isinstance(value, float) and (math.isnan(value) or math.isinf(value)):
        return None
    if type(value).__name__ in ("NaTType", "NAType"):
        return None
    if type(value).__name__ == "Timestamp":
        value = value.to_pydatetime()
    return value


def _units(result: Result) -> dict[str, str]:
    units = dict(result.units)
    if result.analysis == "attribution_models":
        for c in result.frame.columns:
            if str(c).endswith("_value"):
                units[str(c)] = "money"  # value credited: an amount, not a bare number
    return units


def checked_scope(
    project: Project,
    *,
    lang: str | None = None,
    since: Any = None,
    until: Any = None,
    persona: str | None = None,
) -> Scope:
    """The scope an export runs in, once it is known there is something to export.

    Raises
    ------
    ExportError
        The project has no journey file, or no events (in the period, for the persona).
    kundresa.analyses.ParameterError
        An unknown persona or a bad period.
    """

    if not project.has_journey:
        where = project.root / "journey.yaml" if project.root else "this project"
        raise ExportError(
            f"{where}: no journey file; create one with `kundresa init` or pass --journey FILE"
        )
    scope = project.scope(persona=persona, since=since, until=until, lang=lang)
    if int(scope.period_events().count().execute()) == 0:
        where = project.root or "this project"
        if (since or until or persona) and _has_events(project):
            span = (f" from {since}" if since else "") + (f" until {until}" if until else "")
            who = f" for persona {persona!r}" if persona else ""
            if since or until:
                raise ExportError(
                    f"{where}: the period{span} has no events{who}; choose another period"
                )
            raise ExportError(f"{where}: no events{who}; choose another persona")
        raise ExportError(f"{where}: no events yet; load some with `kundresa ingest FILE`")
    return scope


def _has_events(project: Project) -> bool:
    """Whether the project holds any event at all (whatever the scope)."""
    return int(project.scope().period_events().count().execute()) > 0


def collect(
    project: Project,
    *,
    lang: str | None = None,
    since: Any = None,
    until: Any = None,
    persona: str | None = None,
) -> list[Part]:
    """Run every analysis of :data:`SECTIONS` through :meth:`Project.run` in one scope.

    An analysis that cannot answer (:class:`~kundresa.analyses.AnalysisError`) gives a
    :class:`Part` with its reason instead of a result.

    Raises
    ------
    ExportError
        The project has no journey file, or no events (in the period, for the persona).
    kundresa.analyses.ParameterError
        An unknown persona or a bad period.
    """
    from kundresa.analyses import AnalysisError

    scope = checked_scope(project, lang=lang, since=since, until=until, persona=persona)
    parts = []
    for name, params in SECTIONS:
        try:
            result = project.run(name, scope=scope, **params)
        except AnalysisError as exc:
            parts.append(Part(name, None, str(exc)))
            continue
        frame = result.frame
        empty = [c for c in frame.columns if frame[c].isna().all() and len(frame)]
        if empty:
            result.frame = frame.drop(columns=empty)
        parts.append(Part(name, result, None, _units(result)))
    return parts


# -- writing files ----------------------------------------------------------------------------


def check_target(
    path: str | os.PathLike[str], suffixes: Sequence[str] = (), what: str = "this export"
) -> Path:
    """``path`` as a file an export can write (checked before any analysis runs).

    ``suffixes``, when given, are the file-name extensions (``.xlsx``; lower case, matched
    in any case) of the format written: a name with another extension, or none, is refused,
    so that a workbook is never written under the name ``x.txt``. ``what`` names the format
    in that message.

    Raises
    ------
    ExportError
        The folder does not exist, ``path`` is a folder, its extension is not one of
        ``suffixes``, or it cannot be written.
    """
    target = Path(path)
    folder = target.parent
    if not folder.is_dir():
        raise ExportError(f"{target}: the folder {folder} does not exist")
    if target.is_dir():
        raise ExportError(f"{target}: is a folder, not a file")
    if suffixes and target.suffix.lower() not in suffixes:
        got = f"not {target.suffix!r}" if target.suffix else "it has none"
        raise ExportError(
            f"{target}: {what} is written to a file ending in {' or '.join(suffixes)} "
            f"({got}); nothing written"
        )
    if target.exists() and not os.access(target, os.W_OK):
        raise ExportError(f"{target}: cannot write the file (permission denied)")
    return target


def file_mode() -> int:
    """The permission bits of a new file: ``0o666`` less the process umask, as ``open`` gives
    them. A temporary file from :func:`tempfile.mkstemp` is ``0o600``; :func:`write_atomic`
    sets this mode on it before renaming it over the target.

    Examples
    --------
    >>> import os
    >>> old = os.umask(0o022)
    >>> oct(file_mode())
    '0o644'
    >>> _ = os.umask(old)
    """
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


@contextmanager
def write_atomic(path: str | os.PathLike[str]) -> Iterator[Path]:
    """A temporary path beside ``path``, renamed to ``path`` when the block ends without an
    error (and removed when it fails): a reader never sees a half-written file.

    Raises
    ------
    ExportError
        The folder does not exist, ``path`` is a folder, or it cannot be written.
    """
    target = check_target(path)
    folder = target.parent
    try:
        fd, tmp_name = tempfile.mkstemp(dir=folder, prefix=f".{target.name}.", suffix=".tmp")
    except OSError as exc:
        raise ExportError(f"{target}: cannot write in {folder} ({exc.strerror})") from None
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        os.chmod(tmp, file_mode())
        os.replace(tmp, target)
    except OSError as exc:
        raise ExportError(f"{target}: cannot write the file ({exc.strerror})") from None
    finally:
        if tmp.exists():
            tmp.unlink()


# -- the workbook -----------------------------------------------------------------------------

_BAD_SHEET_CHARS = re.compile(r"[\[\]:*?/\\]")


def _sheet_name(title: str, taken: set[str]) -> str:
    name = _BAD_SHEET_CHARS.sub(" ", title).strip("' ")[:31] or "Sheet"
    base, n = name, 2
    while name.lower() in taken:
        suffix = f" ({n})"
        name, n = base[: 31 - len(suffix)] + suffix, n + 1
    taken.add(name.lower())
    return name


def _metric_unit(metric: Any) -> str:
    """The unit of a KPI metric's value (``conversion_from_previous``: a rate)."""
    text = str(metric)
    if text.startswith("conversion"):
        return "rate"
    return "days" if text.startswith("median_days") else "count"


def _cell_unit(part: Part, column: str, columns: list[str], row: tuple[Any, ...]) -> str:
    """A cell's unit: its column's, except a KPI's target, actual and gap, which are in the
    unit of the row's metric (a conversion target of 0.6 reads 60.0%)."""
    if part.analysis == "kpis" and column in ("target", "actual", "gap") and "metric" in columns:
        return _metric_unit(row[columns.index("metric")])
    return part.units.get(column, "label")


def _heading(part: Part, column: str, lang: str) -> str:
    if part.analysis == "retention_matrix" and column.isdigit():
        return f"{word('month', lang)} {column}"  # months since the cohort's first
    return heading(column, lang)


def _excel_value(value: Any, unit: str) -> Any:
    v = _plain(value)
    if isinstance(v, datetime) and v.tzinfo is not None:
        v = v.astimezone(UTC).replace(tzinfo=None)
    if unit == "seconds" and isinstance(v, int | float) and not isinstance(v, bool):
        return v / 86400
    return v


def _width(texts: list[str]) -> float:
    longest = max((max((len(line) for line in t.split("\n")), default=0) for t in texts), default=8)
    return float(min(max(longest + 2, 8), 60))


def _write_table(
    wb: Any, ws: Any, part: Part, lang: str, formats: dict[str, Any], header: Any
) -> int:
    """Write a result's frame with a header row; return the number of data rows."""
    assert part.result is not None
    frame = part.result.frame
    columns = [str(c) for c in frame.columns]
    for j, c in enumerate(columns):
        ws.write_string(0, j, _heading(part, c, lang), header)
    widths = [[_heading(part, c, lang)] for c in columns]
    for i, row in enumerate(frame.itertuples(index=False, name=None), start=1):
        for j, (c, value) in enumerate(zip(columns, row, strict=True)):
            unit = _cell_unit(part, c, columns, row)
            v = _excel_value(value_label(c, _plain(value), lang), unit)
            fmt = formats.get(unit)
            if v is None:
                ws.write_blank(i, j, None, fmt)
            elif isinstance(v, bool):
                ws.write_boolean(i, j, v)
            elif isinstance(v, datetime):
                ws.write_datetime(i, j, v, formats["time"])
            elif isinstance(v, date):
                ws.write_datetime(i, j, v, formats["date"])
            elif isinstance(v, int | float) and (is_numeric_unit(unit) or unit == "label"):
                ws.write_number(i, j, v, fmt)
            else:
                ws.write_string(i, j, str(v))
            if i <= 200:
                widths[j].append(format_value(value_label(c, _plain(value), lang), unit, lang))
    for j, texts in enumerate(widths):
        ws.set_column(j, j, _width(texts))
    ws.freeze_panes(1, 0)
    if len(frame):
        ws.autofilter(0, 0, len(frame), len(columns) - 1)
    _write_notes(ws, len(frame) + 2, part)
    return len(frame)


def _write_notes(ws: Any, row: int, part: Part) -> None:
    if part.result is None:
        return
    for i, text in enumerate([*part.result.warnings, *part.result.notes]):
        ws.write_string(row + i, 0, text)


def _funnel_chart(wb: Any, ws: Any, sheet: str, part: Part, rows: int, lang: str) -> None:
    """A native bar chart of reached per stage, beside the stage funnel."""
    assert part.result is not None
    columns = [str(c) for c in part.result.frame.columns]
    if not rows or "reached" not in columns:
        return
    cat = columns.index("label") if "label" in columns else columns.index("stage")
    val = columns.index("reached")
    chart = wb.add_chart({"type": "column"})
    chart.add_series(
        {
            "name": heading("reached", lang),
            "categories": [sheet, 1, cat, rows, cat],
            "values": [sheet, 1, val, rows, val],
            "data_labels": {"value": True},
        }
    )
    chart.set_title({"name": word("reached_chart", lang)})
    chart.set_legend({"none": True})
    chart.set_y_axis({"num_format": "#,##0", "min": 0})
    ws.insert_chart(rows + 3, 0, chart, {"x_scale": 1.5, "y_scale": 1.2})


def _write_map(wb: Any, ws: Any, journey: Journey, lang: str, header: Any) -> None:
    wrap = wb.add_format({"text_wrap": True, "valign": "top"})
    lane = wb.add_format({"bold": True, "text_wrap": True, "valign": "top"})
    emotion = wb.add_format({"num_format": "+0;-0;0", "align": "center", "valign": "top"})
    ws.write_string(0, 0, word("lane", lang), header)
    for j, sid in enumerate(journey.stage_ids, start=1):
        ws.write_string(0, j, journey.stage_label(sid, lang), header)
    for i, row in enumerate(map_rows(journey, lang), start=1):
        ws.write_string(i, 0, row.label, lane)
        for j, cell in enumerate(row.cells, start=1):
            if isinstance(cell, int | float):
                ws.write_number(i, j, cell, emotion)
            elif cell:
                ws.write_string(i, j, str(cell), wrap)
    ws.set_column(0, 0, 28)
    ws.set_column(1, len(journey.stage_ids), 30)
    ws.freeze_panes(1, 1)


def workbook(
    project: Project,
    path: str | os.PathLike[str],
    *,
    lang: str | None = None,
    since: Any = None,
    until: Any = None,
    persona: str | None = None,
) -> list[str]:
    """Write an Excel workbook (``.xlsx``): one sheet per analysis of :data:`SECTIONS` and
    the journey map (stages as columns, lanes as rows).

    Numbers are written as numbers with the Excel format of their unit
    (:data:`EXCEL_FORMATS`): the values are those of ``project.run(...).frame``, except
    ``seconds`` columns, written in days. The stage funnel sheet has a bar chart of reached
    per stage. Headings and sheet names are in ``lang`` (default: the journey's language).

    Parameters
    ----------
    project
        The project whose analyses are exported.
    path
        The file to write (replaced when it exists).
    lang, since, until, persona
        The scope: label language, period ``[since, until)`` (UTC dates), one persona's
        customers.

    Returns
    -------
    list of str
        The sheet names, in order.

    Raises
    ------
    ExportError
        A file name not ending in ``.xlsx``, no journey, no events, or the file cannot be
        written.
    kundresa.analyses.ParameterError
        An unknown persona or a bad period.
    """
    import xlsxwriter

    check_target(path, WORKBOOK_SUFFIXES, "an Excel workbook")
    parts = collect(project, lang=lang, since=since, until=until, persona=persona)
    journey = project.journey
    lang = lang or journey.language
    names: list[str] = []
    with write_atomic(path) as tmp:
        wb = xlsxwriter.Workbook(str(tmp), {"strings_to_numbers": False, "nan_inf_to_errors": True})
        wb.set_properties({"title": f"{journey.name}", "comments": "Made by Kundresa"})
        header = wb.add_format(
            {"bold": True, "text_wrap": True, "valign": "top", "bottom": 1, "bg_color": "#EEF2F7"}
        )
        formats: dict[str, Any] = {
            u: wb.add_format({"num_format": f}) for u, f in EXCEL_FORMATS.items()
        }
        formats["date"] = wb.add_format({"num_format": _DATE_FORMAT})
        taken: set[str] = set()
        for part in parts:
            sheet = _sheet_name(part.title(lang), taken)
            ws = wb.add_worksheet(sheet)
            names.append(sheet)
            if part.result is None:
                ws.write_string(0, 0, word("not_available", lang), header)
                ws.write_string(1, 0, part.problem or "")
                ws.set_column(0, 0, 60)
                continue
            rows = _write_table(wb, ws, part, lang, formats, header)
            if part.analysis == "stages":
                _funnel_chart(wb, ws, sheet, part, rows, lang)
        sheet = _sheet_name(word("map", lang), taken)
        _write_map(wb, wb.add_worksheet(sheet), journey, lang, header)
        names.append(sheet)
        wb.close()
    return names


# -- the HTML report --------------------------------------------------------------------------

_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,Arial,sans-serif;margin:2rem;
color:#1d2733;max-width:80rem}
h1{font-size:1.6rem;margin-bottom:.2rem}h2{font-size:1.2rem;margin-top:2.2rem;
border-bottom:2px solid #d8dee6;padding-bottom:.2rem}
.meta{color:#5b6675;margin-top:0}
table{border-collapse:collapse;margin:.6rem 0;font-size:.85rem}
th,td{border:1px solid #d8dee6;padding:.25rem .5rem;vertical-align:top;text-align:left}
th{background:#eef2f7}td.n{text-align:right;font-variant-numeric:tabular-nums;
white-space:nowrap}
.scroll{overflow-x:auto}.note{color:#5b6675;font-size:.85rem}
table.map td{white-space:pre-line;min-width:9rem}table.map th:first-child{min-width:10rem}
.bar{display:inline-block;height:.7rem;background:#4f7cac;vertical-align:middle}
"""


def _esc(text: Any) -> str:
    return html.escape(str(text), quote=True)


def _cell(value: Any, unit: str, lang: str, timezone: str = "UTC") -> str:
    """A table cell's text in ``lang``: a date as the language writes it, an instant to the
    second in ``timezone`` (the journey's), never ISO."""
    v = _plain(value)
    if isinstance(v, bool):
        return word("yes" if v else "no", lang)
    if isinstance(v, datetime) and v.time() != datetime.min.time():
        return format_moment(v, lang, timezone)
    if isinstance(v, date):
        return format_date(v, lang)
    return format_value(v, unit, lang)


def _html_table(part: Part, lang: str, timezone: str = "UTC") -> str:
    assert part.result is not None
    frame = part.result.frame
    if not len(frame):
        return f'<p class="note">{_esc(word("no_rows", lang))}</p>'
    columns = [str(c) for c in frame.columns]
    head = "".join(f"<th>{_esc(_heading(part, c, lang))}</th>" for c in columns)
    # The stage funnel gets a bar of reached per stage, drawn with CSS alone.
    bars: float | None = None
    if part.analysis == "stages" and "reached" in columns:
        bars = float(max((_plain(v) or 0) for v in frame["reached"]))
        head += "<th></th>"
    body = []
    for row in frame.itertuples(index=False, name=None):
        cells = []
        for c, value in zip(columns, row, strict=True):
            unit = _cell_unit(part, c, columns, row)
            v = _plain(value)
            numeric = is_numeric_unit(unit) and not isinstance(v, bool | str)
            css = ' class="n"' if numeric else ""
            cells.append(
                f"<td{css}>{_esc(_cell(value_label(c, v, lang), unit, lang, timezone))}</td>"
            )
        if bars is not None:
            reached = _plain(row[columns.index("reached")]) or 0
            width = round(200 * reached / bars) if bars else 0
            cells.append(f'<td><span class="bar" style="width:{width}px"></span></td>')
        body.append("<tr>" + "".join(cells) + "</tr>")
    return (
        f'<div class="scroll"><table><thead><tr>{head}</tr></thead><tbody>'
        + "\n".join(body)
        + "</tbody></table></div>"
    )


def _html_map(journey: Journey, lang: str) -> str:
    head = f"<th>{_esc(word('lane', lang))}</th>" + "".join(
        f"<th>{_esc(journey.stage_label(s, lang))}</th>" for s in journey.stage_ids
    )
    rows = []
    row: MapRow
    for row in map_rows(journey, lang):
        cells = []
        for cell in row.cells:
            if isinstance(cell, int | float):
                text = f"{cell:+g}" if cell else "0"
                cells.append(f'<td class="n">{_esc(text)}</td>')
            else:
                cells.append(f"<td>{_esc(cell or '')}</td>")
        rows.append(f"<tr><th>{_esc(row.label)}</th>{''.join(cells)}</tr>")
    return (
        f'<div class="scroll"><table class="map"><thead><tr>{head}</tr></thead><tbody>'
        + "\n".join(rows)
        + "</tbody></table></div>"
    )


def html_report(
    project: Project,
    *,
    lang: str | None = None,
    since: Any = None,
    until: Any = None,
    persona: str | None = None,
) -> str:
    """A self-contained HTML page of every analysis of :data:`SECTIONS` and the journey
    map: inline CSS, no scripts, no external address; every value written in its unit in
    ``lang`` (default the journey's), dates and instants as the language writes them (CLDR
    through Babel, :func:`kundresa.report.units.format_date`; instants in the journey's time
    zone), and every text from the journey or the data escaped.

    Raises
    ------
    ExportError, kundresa.analyses.ParameterError
        As :func:`collect`.
    """
    parts = collect(project, lang=lang, since=since, until=until, persona=persona)
    journey = project.journey
    lang = lang or journey.language
    period = (
        f"{format_date(since, lang) if since else '…'} – "
        f"{format_date(until, lang) if until else '…'}"
        if since or until
        else word("all_time", lang)
    )
    who = persona if persona else word("all_personas", lang)
    sections = [f"<h2>{_esc(word('map', lang))}</h2>{_html_map(journey, lang)}"]
    for part in parts:
        title = _esc(part.title(lang))
        if part.result is None:
            body = f'<p class="note">{_esc(word("not_available", lang))}: {_esc(part.problem)}</p>'
        else:
            body = _html_table(part, lang, journey.timezone)
            notes = [*part.result.warnings, *part.result.notes]
            body += "".join(f'<p class="note">{_esc(n)}</p>' for n in notes)
        sections.append(f'<section id="{_esc(part.analysis)}"><h2>{title}</h2>{body}</section>')
    meta = (
        f"{_esc(word('period', lang))}: {_esc(period)} · {_esc(word('persona', lang))}: "
        f"{_esc(who)} · {_esc(word('made', lang))}, {_esc(format_date(date.today(), lang))}"
    )
    return (
        f'<!DOCTYPE html>\n<html lang="{_esc(lang)}">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{_esc(journey.name)}: {_esc(word('report', lang))}</title>\n"
        f"<style>{_CSS}</style>\n</head>\n<body>\n"
        f"<h1>{_esc(journey.name)}: {_esc(word('report', lang))}</h1>\n"
        f'<p class="meta">{meta}</p>\n' + "\n".join(sections) + "\n</body>\n</html>\n"
    )


def report(
    project: Project,
    path: str | os.PathLike[str],
    *,
    lang: str | None = None,
    since: Any = None,
    until: Any = None,
    persona: str | None = None,
) -> Path:
    """Write :func:`html_report` to ``path`` (UTF-8), atomically; return the path.

    Raises
    ------
    ExportError, kundresa.analyses.ParameterError
        A file name not ending in ``.html`` (or ``.htm``); else as :func:`collect` and
        :func:`write_atomic`.
    """
    check_target(path, REPORT_SUFFIXES, "an HTML report")
    text = html_report(project, lang=lang, since=since, until=until, persona=persona)
    with write_atomic(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(path)


# -- Mermaid ----------------------------------------------------------------------------------

# Mermaid's journey lexer ends a task name at '#', ':', ';' and a newline, and its task data
# (the score and actors) at '#', ';' and a newline; actors are split at commas; '%%' starts a
# comment. Mermaid replaces entity codes (#58;) before it parses and restores them in the
# drawing, so these characters are written as codes. Mermaid draws labels as HTML, so the
# characters of markup (<, >, &, ", ') are written as codes too: a persona named
# "<script>" is drawn as that text, never read as a tag.
_MERMAID_CODES = {
    "#": "#35;",
    ":": "#58;",
    ";": "#59;",
    "%": "#37;",
    ",": "#44;",
    "<": "#60;",
    ">": "#62;",
    "&": "#38;",
    '"': "#34;",
    "'": "#39;",
}
_MERMAID_SPECIAL = re.compile(r"[#:;%,<>&\"']")
_MERMAID_KEYWORDS = ("section", "title", "journey", "acctitle", "accdescr")


def _mermaid_text(text: str) -> str:
    """``text`` as one Mermaid journey token: one line, special characters as entity codes,
    never read as a keyword."""
    one_line = " ".join(str(text).split())
    out = _MERMAID_SPECIAL.sub(lambda m: _MERMAID_CODES[m.group()], one_line)
    if out.lower().startswith(_MERMAID_KEYWORDS):
        out = f"#{ord(out[0])};{out[1:]}"
    return out or "-"


def _score(emotion: float | None) -> int:
    """An emotion -2..2 as a Mermaid score 1..5 (3, neutral, when not given)."""
    if emotion is None:
        return 3
    return max(1, min(5, math.floor(float(emotion) + 0.5) + 3))


def mermaid_journey(
    journey: Journey, *, lang: str | None = None, persona: str | None = None
) -> str:
    """The journey as a Mermaid ``journey`` diagram (https://mermaid.js.org/syntax/userJourney.html).

    Stages are sections, touchpoints tasks (a stage without touchpoints gets one task named
    after the stage), personas the actors. A task's score is the persona's emotion in the
    stage (``lanes.emotions``, -2..2) plus 3, so 1..5; a stage without an emotion scores 3.
    Personas with different emotions in a stage get a task line each, personas that agree
    share one. Labels are escaped for Mermaid (``:``, ``#``, ``;``, ``%``, ``,`` and the
    markup characters ``<``, ``>``, ``&``, ``"``, ``'`` as entity codes).

    Parameters
    ----------
    journey
        The journey.
    lang
        Stage label language (default the journey's).
    persona
        Only this persona (id or name) as the actor.

    Raises
    ------
    kundresa.analyses.ParameterError
        ``persona`` is not one of the journey's.
    """
    from kundresa.analyses import ParameterError

    personas = list(journey.personas)
    if persona is not None:
        chosen = [p for p in personas if persona in (p.id, p.name)]
        if not chosen:
            known = ", ".join(p.id for p in personas) or "(none)"
            raise ParameterError(f"no persona {persona!r}; personas: {known}")
        personas = chosen
    lines = ["journey", f"    title {_mermaid_text(journey.name)}"]
    for sid in journey.stage_ids:
        lines.append(f"    section {_mermaid_text(journey.stage_label(sid, lang))}")
        tasks = [
            touchpoint_label(journey, t.id, lang) for t in journey.touchpoints if t.stage == sid
        ]
        tasks = list(dict.fromkeys(tasks)) or [journey.stage_label(sid, lang)]
        groups: dict[int, list[str]] = {}
        if personas:
            for p in personas:
                emotion = journey.lane("emotions", sid, p.id)
                if emotion is None or isinstance(emotion, Mapping):
                    emotion = _stage_emotion(journey, sid)
                groups.setdefault(_score(emotion), []).append(_mermaid_text(p.name))
        else:
            groups[_score(_stage_emotion(journey, sid))] = []
        for task in tasks:
            for score, actors in groups.items():
                data = f": {score}" + (f": {', '.join(actors)}" if actors else "")
                lines.append(f"        {_mermaid_text(task)}{data}")
    return "\n".join(lines) + "\n"


def _stage_emotion(journey: Journey, stage_id: str) -> float | None:
    value = (journey.lanes.get("emotions") or {}).get(stage_id)
    return value if isinstance(value, int | float) else None


def write_text(path: str | os.PathLike[str], text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically (:func:`write_atomic`)."""
    with write_atomic(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(path)
