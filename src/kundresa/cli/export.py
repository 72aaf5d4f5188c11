"""``kundresa export``: the journey and its numbers as an Excel workbook, a Mermaid diagram,
an HTML report (:mod:`kundresa.report.export`) or the map on one sheet as PDF, PNG or SVG
(:mod:`kundresa.report.map_export`)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from kundresa.cli._common import JOURNEY_FILE, PROJECT_DIR, UserError, open_project, say, warn

__all__ = ["export"]

F = TypeVar("F", bound=Callable[..., Any])

_JOURNEY = click.option(
    "--journey",
    "journey_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Journey file (default: the project's journey.yaml).",
)
_LANG = click.option(
    "--lang",
    type=click.Choice(["sv", "da", "en"]),
    default=None,
    help="Language of headings and labels (default: the journey's).",
)
_PERSONA = click.option("--persona", default=None, help="Only this persona's customers.")


def _scope_options(func: F) -> F:
    for option in reversed(
        (
            PROJECT_DIR,
            _JOURNEY,
            _LANG,
            click.option("--since", default=None, help="Only events at or after this date (UTC)."),
            click.option("--until", default=None, help="Only events before this date (UTC)."),
            _PERSONA,
        )
    ):
        func = option(func)
    return func


_FILE = click.argument("file", type=click.Path(path_type=Path))


@click.group("export")
def export() -> None:
    """Take the journey from the screen: the map for the wall (PDF, PNG, SVG), an Excel
    workbook, a Mermaid diagram, an HTML report."""


@export.command("workbook")
@_FILE
@_scope_options
def workbook(file: Path, project_dir: Path, journey_file: Path | None, **scope: Any) -> None:
    """Write an Excel workbook: a sheet per analysis, the journey map, a funnel chart."""
    from kundresa.report.export import workbook as write_workbook

    with open_project(project_dir, None, journey_file) as project:
        sheets = write_workbook(project, file, **scope)
    say(f"wrote {file} ({len(sheets)} sheets: {', '.join(sheets)})")


@export.command("report")
@_FILE
@_scope_options
def report(file: Path, project_dir: Path, journey_file: Path | None, **scope: Any) -> None:
    """Write a self-contained HTML report of every analysis and the map (one file to
    e-mail)."""
    from kundresa.report.export import report as write_report

    with open_project(project_dir, None, journey_file) as project:
        write_report(project, file, **scope)
    say(f"wrote {file}")


@export.command("mermaid")
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path),
    default=None,
    help="Write to this file (default: print).",
)
@PROJECT_DIR
@_JOURNEY
@_LANG
@click.option("--persona", default=None, help="Only this persona (id or name) as the actor.")
def mermaid(
    output: Path | None,
    project_dir: Path,
    journey_file: Path | None,
    lang: str | None,
    persona: str | None,
) -> None:
    """Print the journey as a Mermaid `journey` diagram (stages, touchpoints, emotions)."""
    from kundresa.model.parse import load_journey
    from kundresa.report.export import (
        MERMAID_SUFFIXES,
        check_target,
        mermaid_journey,
        write_text,
    )

    if output is not None:
        check_target(output, MERMAID_SUFFIXES, "a Mermaid diagram")
    path = journey_file if journey_file is not None else project_dir / JOURNEY_FILE
    if not path.exists():
        raise UserError(
            f"{path}: no journey file; create one with `kundresa init` or pass --journey FILE"
        )
    text = mermaid_journey(load_journey(path), lang=lang, persona=persona)
    if output is None:
        click.echo(text, nl=False)
    else:
        write_text(output, text)
        say(f"wrote {output}")


class _PaperChoice(click.Choice):
    """A case-insensitive choice whose error names the choices as written (A4, not a4)."""

    def get_invalid_choice_message(self, value: Any, ctx: click.Context | None) -> str:
        return f"{value!r} is not one of {', '.join(map(str, self.choices))}."


@export.command("map")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["pdf", "png", "svg"]),
    default=None,
    help="File format (default: from the file's suffix; pdf without -o). The file's suffix "
    "must be the format's.",
)
@click.option(
    "--paper",
    type=_PaperChoice(["A4", "A3", "A2"], case_sensitive=False),
    default="A3",
    show_default=True,
    help="Sheet size, landscape; the map is fitted to one sheet.",
)
@click.option(
    "--dpi",
    type=click.IntRange(36, 600),
    default=150,
    show_default=True,
    help="Resolution of a PNG.",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path),
    default=None,
    help="Write to this file (default: journey-map.<format> in the current folder).",
)
@_scope_options
def map_(
    fmt: str | None,
    paper: str,
    dpi: int,
    output: Path | None,
    project_dir: Path,
    journey_file: Path | None,
    **scope: Any,
) -> None:
    """Write the journey map with live numbers on ONE landscape sheet: stages with reached
    and conversion, lanes, emotion curves per persona, touchpoints with their counts,
    channels and KPIs with status. PDF and SVG are vector with the fonts embedded."""
    from kundresa.report.export import check_target
    from kundresa.report.map_export import export_map

    if fmt is None:
        suffix = output.suffix.lower().lstrip(".") if output is not None else ""
        fmt = suffix if suffix in ("pdf", "png", "svg") else "pdf"
        if output is not None and fmt != suffix:
            raise UserError(
                f"{output}: the map is written to a file ending in .pdf, .png or .svg "
                f"({f'not {output.suffix!r}' if output.suffix else 'it has none'}); "
                "nothing written"
            )
    target = output if output is not None else Path(f"journey-map.{fmt}")
    check_target(target, (f".{fmt}",), f"a {fmt.upper()} map")
    with open_project(project_dir, None, journey_file) as project:
        export_map(project, target, format=fmt, paper=paper.upper(), dpi=dpi, warn=warn, **scope)
    say(f"wrote {target} ({fmt.upper()}, {paper.upper()} landscape, one sheet)")
