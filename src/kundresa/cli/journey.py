"""Journey-file commands: templates, init, validate, history, restore."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click
from rich.markup import escape

from kundresa.cli._common import JOURNEY_FILE, PROJECT_DIR, UserError, out, say


@click.command()
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table")
def templates(fmt: str) -> None:
    """List the built-in stage models."""
    from kundresa.model.templates import TEMPLATES

    if fmt == "json":
        click.echo(
            json.dumps(
                [
                    {
                        "id": t.id,
                        "title": t.title,
                        "circular": t.circular,
                        "stages": [
                            {"id": s.id, "label": s.label, "funnel": s.funnel} for s in t.stages
                        ],
                    }
                    for t in TEMPLATES.values()
                ],
                ensure_ascii=False,
                indent=2,
            )
        )
        return
    from rich.table import Table

    table = Table(title="Built-in stage models", title_justify="left", header_style="bold")
    for col in ("template", "stages (sv / da / en)", "funnel", "circular"):
        table.add_column(col)
    for t in TEMPLATES.values():
        stages = "\n".join(
            f"{s.id}: {s.label['sv']} / {s.label['da']} / {s.label['en']}" for s in t.stages
        )
        funnel = "\n".join(_funnel_label(s.funnel) for s in t.stages)
        table.add_row(
            escape(t.id), escape(stages), funnel, "yes" if t.circular else "no", end_section=True
        )
    out.print(table)


def _funnel_label(funnel: str | None) -> str:
    """``tofu`` as marketers write it: ``ToFu`` (empty for stages outside the funnel).

    >>> _funnel_label("mofu"), _funnel_label(None)
    ('MoFu', '')
    """
    return f"{funnel[:2].capitalize()}{funnel[2:].capitalize()}" if funnel else ""


@click.command()
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path), default=".")
@click.option("--template", default="kundresa-5", show_default=True, help="Stage model.")
@click.option("--lang", type=click.Choice(["sv", "da", "en"]), default="en", show_default=True)
@click.option("--name", default=None, help="The journey's name.")
@click.option("--force", is_flag=True, help="Overwrite an existing journey.yaml.")
def init(directory: Path, template: str, lang: str, name: str | None, force: bool) -> None:
    """Create a project with a commented journey.yaml to edit."""
    from kundresa.model.templates import TEMPLATES
    from kundresa.project import Project

    if template not in TEMPLATES:
        raise click.BadParameter(
            f"unknown template {template!r}; choose one of {', '.join(TEMPLATES)}",
            param_hint="--template",
        )
    project = Project.init(directory, template=template, lang=lang, name=name, force=force)
    project.close()
    say(f"Created {directory / JOURNEY_FILE} ({template}, {lang}).")
    say("Next: edit it, check it with `kundresa validate`, load events with `kundresa ingest`.")


@click.command()
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path), required=False)
@click.option("--strict", is_flag=True, help="Treat warnings as problems (exit 1).")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")
@PROJECT_DIR
def validate(file: Path | None, strict: bool, fmt: str, project_dir: Path) -> None:
    """Check a journey file (FILE, else the project's journey.yaml) and report every problem
    with line and column.

    Exit code 0 when there are no errors, 1 when there are, 2 for a usage error.
    """
    from kundresa.model.parse import validate_file

    path = file or project_dir / JOURNEY_FILE
    if not path.exists():
        raise click.UsageError(f"{path}: no such file")
    problems = validate_file(path)
    errors = [p for p in problems if p.severity == "error"]
    if fmt == "json":
        click.echo(
            json.dumps(
                [
                    {
                        "severity": p.severity,
                        "message": p.message,
                        "file": p.source,
                        "line": p.line,
                        "column": p.column,
                        "field": p.path,
                    }
                    for p in problems
                ],
                ensure_ascii=False,
                indent=2,
            )
        )
    else:
        for p in problems:
            colour = "red" if p.severity == "error" else "yellow"
            if out.is_terminal:
                out.print(f"[{colour}]{escape(str(p))}[/]", markup=True)
            else:
                click.echo(str(p))
        warnings = len(problems) - len(errors)
        if not problems:
            click.echo(f"{path}: ok")
        else:
            click.echo(f"{path}: {len(errors)} error(s), {warnings} warning(s)")
    if errors or (strict and problems):
        sys.exit(1)


@click.command()
@PROJECT_DIR
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table")
def history(project_dir: Path, fmt: str) -> None:
    """List the saved versions of journey.yaml: id, saved at, size, what changed.

    The web app's editor and `kundresa restore` keep the version they replace.
    """
    from kundresa.store.history import history as versions

    if not (project_dir / JOURNEY_FILE).exists():
        raise UserError(f"{project_dir / JOURNEY_FILE}: no such file")
    rows = versions(project_dir)
    if fmt == "json":
        click.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    from rich.table import Table

    table = Table(title="Versions of journey.yaml", title_justify="left", header_style="bold")
    for col in ("version", "saved at (UTC)", "size", "changes"):
        table.add_column(col, justify="right" if col == "size" else "left")
    for r in rows:
        table.add_row(
            escape(r["version"]),
            escape(str(r["saved_at"] or "")),
            f"{r['size']:,} B",
            escape(r["changes"]),
        )
    out.print(table)
    if len(rows) > 1:
        say(f"Restore one with `kundresa restore {rows[1]['version']}`.")


@click.command()
@click.argument("version")
@PROJECT_DIR
def restore(version: str, project_dir: Path) -> None:
    """Make a saved VERSION journey.yaml again (the current one is kept in history).

    A version with errors is refused and nothing changes.
    """
    from kundresa.store.history import HistoryError, restore_version

    if not (project_dir / JOURNEY_FILE).exists():
        raise UserError(f"{project_dir / JOURNEY_FILE}: no such file")
    try:
        result = restore_version(project_dir, version)
    except HistoryError as exc:
        raise UserError(str(exc)) from exc
    say(f"Restored {version} as {project_dir / JOURNEY_FILE}.")
    if result["previous"]:
        say(f"The journey it replaced is kept as version {result['previous']}.")


@click.command()
@PROJECT_DIR
@click.option(
    "--journey",
    "journey_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Journey file (default: the project's journey.yaml).",
)
@click.option(
    "--by",
    "by",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    default=None,
    help="Date of the next review, YYYY-MM-DD (default: six months from today).",
)
@click.option(
    "--lang",
    type=click.Choice(["sv", "da", "en"]),
    default=None,
    help="Language of the journey's labels and of numbers (default: the journey's); the "
    "tool's words are English.",
)
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")
def review(
    project_dir: Path, journey_file: Path | None, by: Any, lang: str | None, fmt: str
) -> None:
    """Review the map: what changed since the last review (reached and conversion per stage
    then and now, KPIs missed, touchpoints without events, lanes untouched), then keep
    today's numbers and set review_by in the journey file (comments kept).

    Maps should be reviewed at least twice a year; `kundresa validate` and the map page say
    when the date has passed.
    """
    from kundresa.project import Project
    from kundresa.report.review import review as run_review
    from kundresa.report.review import review_text

    if journey_file is None and not (project_dir / JOURNEY_FILE).exists():
        raise UserError(
            f"{project_dir / JOURNEY_FILE}: no journey file; create one with `kundresa init` "
            "or pass --journey FILE"
        )
    with Project.open(project_dir, journey=journey_file, read_only=True) as project:
        result = run_review(project, by=by.date() if by is not None else None)
        language = lang or project.journey.language
        the_journey = project.journey
    if fmt == "json":
        click.echo(json.dumps(result, ensure_ascii=False, indent=2))
    else:
        click.echo(review_text(result, language, the_journey), nl=False)
