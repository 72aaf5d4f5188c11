"""``kundresa export``: the journey and its numbers as an Excel workbook, a Mermaid diagram
or an HTML report (:mod:`kundresa.report.export`)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from kundresa.cli._common import JOURNEY_FILE, PROJECT_DIR, UserError, open_project, say

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
    """Take the journey from the screen: an Excel workbook, a Mermaid diagram, an HTML
    report."""


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
    from kundresa.report.export import check_target, mermaid_journey, write_text

    if output is not None:
        check_target(output)
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
