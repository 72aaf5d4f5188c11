"""The ``kundresa`` command line.

Each command parses its arguments, opens a :class:`~kundresa.project.Project`, calls the
library and prints. Problems the user can fix (a missing file, a bad journey, a wrong column
name) are printed as one clear message with exit code 1; usage errors exit with 2.
"""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import click
from rich.console import Console

from kundresa.project import JOURNEY_FILE, Project, ProjectError
from kundresa.store.warehouse import IngestError

F = TypeVar("F", bound=Callable[..., Any])

# Piped output (files, CI logs) gets wide tables instead of rich's 80-column default.
_WIDTH = None if sys.stdout.isatty() else 160
out = Console(highlight=False, soft_wrap=True, width=_WIDTH)
err = Console(stderr=True, highlight=False, soft_wrap=True)


class UserError(click.ClickException):
    """A problem the user can fix; printed without a traceback, exit code 1."""

    def show(self, file: Any = None) -> None:
        err.print(f"[bold red]error:[/] {self.message}", markup=True)


def _user_errors() -> tuple[type[BaseException], ...]:
    from kundresa.model.parse import JourneyError

    return (ProjectError, IngestError, JourneyError, FileNotFoundError, PermissionError)


_ENGINE_MODULES = {"pyspark", "py4j", "duckdb", "ibis", "pyarrow"}


class _Main(click.Group):
    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except _user_errors() as exc:
            raise UserError(str(exc)) from exc
        except Exception as exc:
            # A query the engine refused (Spark, DuckDB, another Ibis backend): say which
            # and why in one line; KUNDRESA_DEBUG=1 shows the traceback.
            origin = type(exc).__module__.split(".")[0].lstrip("_")
            if origin not in _ENGINE_MODULES or os.environ.get("KUNDRESA_DEBUG"):
                raise
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            raise UserError(f"the query engine ({origin}) failed: {first[:500]}") from exc
        except KeyboardInterrupt:
            err.print("interrupted; nothing was changed")
            sys.exit(130)


@click.group(cls=_Main, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="kundresa")
def main() -> None:
    """Kundresa: the customer journey as code, with live numbers from your own events."""


# -- shared options ---------------------------------------------------------------------------

FORMAT = click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "json", "csv"]),
    default="table",
    show_default=True,
    help="Output format.",
)


def analysis_options(func: F) -> F:
    """Options every analysis takes: where the events and journey are, engine and format."""

    @click.option(
        "--project",
        "project_dir",
        type=click.Path(file_okay=False, path_type=Path),
        default=".",
        show_default=True,
        help="Project folder (journey.yaml and .kundresa/).",
    )
    @click.option(
        "--events",
        "events_file",
        type=click.Path(dir_okay=False, path_type=Path),
        help="Read this events file instead of the project's warehouse.",
    )
    @click.option(
        "--journey",
        "journey_file",
        type=click.Path(dir_okay=False, path_type=Path),
        help="Journey file (default: the project's journey.yaml).",
    )
    @click.option(
        "--engine",
        default="duckdb",
        show_default=True,
        help="duckdb, spark, or an Ibis connection URL.",
    )
    @click.option("--tz", default=None, help="Time zone of zone-less times in --events.")
    @FORMAT
    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        return func(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


@contextmanager
def open_project(
    project_dir: Path,
    events_file: Path | None,
    journey_file: Path | None,
    engine: str = "duckdb",
    tz: str | None = None,
) -> Iterator[Project]:
    """The project an analysis command works on."""
    if events_file is not None:
        if not events_file.exists():
            raise UserError(f"{events_file}: no such file")
        journey: Path | None = journey_file
        if journey is None and (project_dir / JOURNEY_FILE).exists():
            journey = project_dir / JOURNEY_FILE
        options = {"tz": tz} if tz else {}
        project = Project.from_events(events_file, journey=journey, engine=engine, **options)
    else:
        project = Project.open(project_dir, journey=journey_file, read_only=True, engine=engine)
    try:
        yield project
    finally:
        project.close()


def emit(
    df: Any,
    fmt: str,
    title: str | None = None,
    columns: list[str] | None = None,
    rates: Sequence[str] = (),
) -> None:
    """Print a result DataFrame in the chosen format (``rates``: more columns the terminal
    shows as percentages)."""
    from kundresa.report.tables import to_csv, to_json, to_rich_table

    if fmt == "json":
        click.echo(to_json(df))
    elif fmt == "csv":
        click.echo(to_csv(df), nl=False)
    else:
        out.print(to_rich_table(df, title=title, columns=columns, rates=rates))


# -- journey files ----------------------------------------------------------------------------


@main.command()
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table")
def templates(fmt: str) -> None:
    """List the built-in stage models."""
    import json

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
        table.add_row(t.id, stages, funnel, "yes" if t.circular else "no", end_section=True)
    out.print(table)


def _funnel_label(funnel: str | None) -> str:
    """``tofu`` as marketers write it: ``ToFu`` (empty for stages outside the funnel).

    >>> _funnel_label("mofu"), _funnel_label(None)
    ('MoFu', '')
    """
    return f"{funnel[:2].capitalize()}{funnel[2:].capitalize()}" if funnel else ""


@main.command()
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path), default=".")
@click.option("--template", default="kundresa-5", show_default=True, help="Stage model.")
@click.option("--lang", type=click.Choice(["sv", "da", "en"]), default="en", show_default=True)
@click.option("--name", default=None, help="The journey's name.")
@click.option("--force", is_flag=True, help="Overwrite an existing journey.yaml.")
def init(directory: Path, template: str, lang: str, name: str | None, force: bool) -> None:
    """Create a project with a commented journey.yaml to edit."""
    from kundresa.model.templates import TEMPLATES

    if template not in TEMPLATES:
        raise click.BadParameter(
            f"unknown template {template!r}; choose one of {', '.join(TEMPLATES)}",
            param_hint="--template",
        )
    project = Project.init(directory, template=template, lang=lang, name=name, force=force)
    project.close()
    out.print(f"Created {directory / JOURNEY_FILE} ({template}, {lang}).")
    out.print(
        "Next: edit it, check it with `kundresa validate`, load events with `kundresa ingest`."
    )


@main.command()
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path), required=False)
@click.option("--strict", is_flag=True, help="Treat warnings as problems (exit 1).")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")
def validate(file: Path | None, strict: bool, fmt: str) -> None:
    """Check a journey file and report every problem with line and column.

    Exit code 0 when there are no errors, 1 when there are, 2 for a usage error.
    """
    import json

    from kundresa.model.parse import validate_file

    path = file or Path(JOURNEY_FILE)
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
            out.print(f"[{colour}]{p}[/]", markup=True) if out.is_terminal else click.echo(str(p))
        warnings = len(problems) - len(errors)
        if not problems:
            click.echo(f"{path}: ok")
        else:
            click.echo(f"{path}: {len(errors)} error(s), {warnings} warning(s)")
    if errors or (strict and problems):
        sys.exit(1)


# -- data -------------------------------------------------------------------------------------


@main.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--project",
    "project_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=".",
    show_default=True,
)
@click.option("--customer-col", help="Column with the customer id.")
@click.option("--time-col", help="Column with the event time.")
@click.option("--event-col", help="Column with the event name.")
@click.option("--tz", help="Time zone of times written without one (default UTC).")
@click.option(
    "--source",
    default="auto",
    show_default=True,
    help="The export's format: auto (recognised from the columns), events, ga4, segment, "
    "… (README, Sources).",
)
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table")
@click.option("--quiet", is_flag=True, help="No progress bar.")
def ingest(
    files: tuple[Path, ...],
    project_dir: Path,
    customer_col: str | None,
    time_col: str | None,
    event_col: str | None,
    tz: str | None,
    source: str,
    fmt: str,
    quiet: bool,
) -> None:
    """Load event files (CSV, TSV, Parquet, JSON Lines; optionally gzipped).

    All files load in one transaction: if anything fails, nothing is stored.
    """
    import json

    for f in files:
        if not f.exists():
            raise UserError(f"{f}: no such file")
        if f.is_dir():
            raise UserError(f"{f}: is a folder; name the files to load")
    total = sum(f.stat().st_size for f in files)
    with Project.open(project_dir) as project:
        show = not quiet and fmt == "table" and total > 20 << 20
        if show:
            from rich.progress import (
                BarColumn,
                DownloadColumn,
                Progress,
                TextColumn,
                TimeRemainingColumn,
            )

            done: dict[str, int] = {}
            with Progress(
                TextColumn("loading"),
                BarColumn(),
                DownloadColumn(),
                TimeRemainingColumn(),
                console=err,
                transient=True,
            ) as bar:
                task = bar.add_task("ingest", total=total)

                def progress(name: str, n: int, size: int) -> None:
                    done[name] = n
                    bar.update(task, completed=sum(done.values()))

                report = project.ingest(
                    list(files),
                    customer_col=customer_col,
                    time_col=time_col,
                    event_col=event_col,
                    tz=tz,
                    source=source,
                    progress=progress,
                )
        else:
            report = project.ingest(
                list(files),
                customer_col=customer_col,
                time_col=time_col,
                event_col=event_col,
                tz=tz,
                source=source,
            )
    if fmt == "json":
        click.echo(json.dumps(report.as_dict(), indent=2, ensure_ascii=False))
        return
    for name, kind in report.recognised.items():
        if kind != "events" or len(report.recognised) > 1:
            out.print(f"{name}: read as {kind}", markup=False)
    out.print(
        f"read {report.rows_read:,}  loaded {report.loaded:,}  "
        f"duplicates {report.duplicates:,}  quarantined {report.quarantined:,}"
        + (f"  identify rows {report.identified:,}" if report.identified else "")
        + (f"  identity links {report.links:,}" if report.links else "")
        + (
            f" ({report.already_quarantined:,} already in quarantine)"
            if report.already_quarantined
            else ""
        )
    )
    for reason, n in report.reasons.items():
        out.print(f"  {n:>10,}  {reason}")
    if report.quarantined:
        out.print("See the rows and their line numbers with `kundresa quarantine`.")


@main.command()
@click.option(
    "--project",
    "project_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=".",
    show_default=True,
)
@click.option("--limit", type=click.IntRange(1), default=50, show_default=True)
@FORMAT
def quarantine(project_dir: Path, limit: int, fmt: str) -> None:
    """Show quarantined rows: source file, line and reason."""
    import pandas as pd

    with Project.open(project_dir, read_only=True) as project:
        rows = project.warehouse.quarantined(limit=limit)
    emit(pd.DataFrame(rows, columns=["ingest", "source", "line", "reason", "record"]), fmt)


@main.command()
@click.option(
    "--project",
    "project_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=".",
    show_default=True,
)
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table")
def info(project_dir: Path, fmt: str) -> None:
    """Show the project: journey, stages, events, date range, quarantine, last ingest."""
    import json

    from kundresa.report.tables import _plain

    with Project.open(project_dir, read_only=True) as project:
        data = project.info()
    if fmt == "json":
        click.echo(json.dumps(_plain(data), indent=2, ensure_ascii=False))
        return
    j = data["journey"]
    if j is None:
        out.print(f"{project_dir}: no {JOURNEY_FILE} (create one with `kundresa init`)")
    else:
        out.print(
            f"[bold]{j['name']}[/]  ({j['language']}, {'circular' if j['circular'] else 'linear'})",
            markup=True,
        )
        out.print("stages: " + " → ".join(s["label"] for s in j["stages"]))
        out.print(
            f"{j['personas']} personas, {j['channels']} channels, {j['touchpoints']} touchpoints"
            + (f"; review by {j['review_by']}" if j["review_by"] else "")
        )
    out.print(
        f"events: {data['events']:,} from {data['customers']:,} customers, "
        f"{data['event_names']:,} event names"
    )
    if data["events"]:
        out.print(f"period: {data['first_event']} – {data['last_event']} (UTC)")
    out.print(f"quarantined rows: {data['quarantined']:,}")
    last = data["last_ingest"]
    if last:
        out.print(
            f"last ingest #{last['id']} at {last['finished']:%Y-%m-%d %H:%M} UTC: "
            f"{', '.join(last['sources'])} (loaded {last['loaded']:,}, "
            f"duplicates {last['duplicates']:,}, quarantined {last['quarantined']:,})"
        )
    else:
        out.print("nothing ingested yet (`kundresa ingest FILE`)")


# -- identities -------------------------------------------------------------------------------
# Identity stitching and forgetting a person (docs/identity.md). Thin commands over
# Project.identities / Project.forget.


@main.command()
@click.argument("customer", metavar="[ID]", required=False)
@click.option(
    "--project",
    "project_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=".",
    show_default=True,
)
@click.option(
    "--events",
    "events_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Read this events file instead of the project's warehouse.",
)
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table")
def identities(customer: str | None, project_dir: Path, events_file: Path | None, fmt: str) -> None:
    """Identity stitching: a summary (ids, persons, links, conflicts), or with ID the person
    it belongs to (all their ids with first/last seen and event counts, and traits)."""
    import json

    from kundresa.report.tables import _plain

    with open_project(project_dir, events_file, None) as project:
        data = project.identities(customer)
    if fmt == "json":
        click.echo(json.dumps(_plain(data), indent=2, ensure_ascii=False, default=str))
        return
    if customer is None:
        _print_identity_summary(data)
    else:
        _print_person(data)


def _print_identity_summary(data: dict[str, Any]) -> None:
    import pandas as pd

    out.print(
        f"{data['ids']:,} ids, {data['persons']:,} persons, {data['links']:,} links; "
        f"{data['persons_with_several_ids']:,} persons with several ids; "
        f"{data['conflicts']:,} conflicts",
        markup=False,
    )
    if data["conflicting_ids"]:
        rows = [
            {
                "anonymous_id": c["anonymous_id"],
                "belongs to": c["customer_id"],
                "linked to (first seen)": ", ".join(
                    f"{x['known_id']} ({x['first_seen']:%Y-%m-%d %H:%M})" for x in c["linked_to"]
                ),
            }
            for c in data["conflicting_ids"]
        ]
        emit(
            pd.DataFrame(rows),
            "table",
            title="Anonymous ids linked to several known ids (each stays with the first)",
        )


def _print_person(data: dict[str, Any]) -> None:
    import pandas as pd

    out.print(
        f"customer {data['customer_id']}: {data['events']:,} events, {len(data['ids'])} ids",
        markup=False,
    )
    emit(pd.DataFrame(data["ids"]), "table", title="Ids")
    if data["traits"]:
        emit(pd.DataFrame(data["traits"]), "table", title="Traits (latest value)")
    for c in data["conflicts"]:
        others = [x["known_id"] for x in c["linked_to"] if x["known_id"] != c["customer_id"]]
        out.print(
            f"conflict: {c['anonymous_id']} is also linked to {', '.join(others)}; "
            f"it stays with {c['customer_id']}",
            markup=False,
        )


def _can_ask() -> bool:
    """Whether a confirmation can be asked (stdin is a terminal)."""
    return sys.stdin.isatty()


@main.command()
@click.argument("customer", metavar="ID")
@click.option(
    "--project",
    "project_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=".",
    show_default=True,
)
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table")
def forget(customer: str, project_dir: Path, yes: bool, fmt: str) -> None:
    """Remove a person (every id stitched to ID) from the project: events, identity links,
    traits, quarantined rows and uploaded files that mention them. Asks first unless --yes;
    without a terminal to ask on, --yes is required."""
    import json

    with Project.open(project_dir) as project:
        person = project.identities(customer)
        if not yes:
            if not _can_ask():
                raise UserError(
                    "forget deletes data for good: confirm with --yes (there is no terminal "
                    "to ask on)"
                )
            ids = ", ".join(i["id"] for i in person["ids"])
            click.confirm(
                f"Forget customer {person['customer_id']} ({ids}): {person['events']:,} events, "
                "their links and traits, and uploaded files that mention them?",
                abort=True,
                err=True,
            )
        counts = project.forget(customer)
    if fmt == "json":
        click.echo(json.dumps(counts, indent=2, ensure_ascii=False))
        return
    out.print(
        f"forgot customer {counts['customer_id']}: {counts['events']:,} events, "
        f"{counts['ids']:,} ids, {counts['links']:,} links, {counts['traits']:,} traits, "
        f"{counts['quarantined']:,} quarantined rows; {counts['file_rows']:,} rows from "
        f"{len(counts['files']):,} uploaded files",
        markup=False,
    )
    for f in counts["files"]:
        out.print(f"  rewrote {f}", markup=False)


# -- analyses ---------------------------------------------------------------------------------

LANG = click.option(
    "--lang",
    type=click.Choice(["sv", "da", "en"]),
    default=None,
    help="Label language (default: the journey's).",
)
SINCE = click.option("--since", default=None, help="Only events at or after this date (UTC).")
UNTIL = click.option("--until", default=None, help="Only events before this date (UTC).")


@contextmanager
def usage() -> Iterator[None]:
    """Turn a library ValueError (a bad option value) into a usage error, exit code 2."""
    try:
        yield
    except ValueError as exc:
        raise click.UsageError(str(exc)) from exc


def _events(project: Project, since: str | None, until: str | None) -> Any:
    from kundresa.analytics.stages import filter_period

    return filter_period(project.events, since, until)


def _journey_or_none(project: Project) -> Any:
    return project.journey if project.has_journey else None


@main.command()
@analysis_options
@click.option("--by", default=None, help="Break down by persona, channel or a property.")
@click.option("--since", default=None, help="Only events at or after this date (UTC).")
@click.option("--until", default=None, help="Only events before this date (UTC).")
@click.option(
    "--compare-to",
    default=None,
    help="Show another period side by side: previous (same length before --since) or START:END.",
)
@LANG
def stages(
    project_dir: Path,
    events_file: Path | None,
    journey_file: Path | None,
    engine: str,
    tz: str | None,
    fmt: str,
    by: str | None,
    since: str | None,
    until: str | None,
    compare_to: str | None,
    lang: str | None,
) -> None:
    """The stage funnel: reached, entered, conversion and drop-off per stage."""
    from kundresa.analytics.stages import stage_funnel, stage_funnel_periods

    with open_project(project_dir, events_file, journey_file, engine, tz) as project, usage():
        if compare_to is None:
            df = stage_funnel(project, by=by, since=since, until=until, lang=lang)
        else:
            df = stage_funnel_periods(
                project, since=since, until=until, compare_to=compare_to, by=by, lang=lang
            )
        columns = None
        if compare_to is not None and fmt == "table":
            columns = [c for c in df.columns if c.split("previous_")[-1] in _SIDE_BY_SIDE]
        emit(df, fmt, title=f"{project.journey.name}: stage funnel", columns=columns)


_SIDE_BY_SIDE = (
    "segment",
    "stage",
    "reached",
    "dropped",
    "conversion_from_previous",
    "conversion_change",
)


@main.command()
@analysis_options
@click.option(
    "--step",
    "steps",
    multiple=True,
    required=True,
    help="A step: an event name, a|b, touchpoint:ID or stage:ID (repeat, in order).",
)
@click.option(
    "--window", default="7d", show_default=True, help="Conversion window: 90s, 30m, 12h, 7d."
)
@click.option(
    "--order", type=click.Choice(["ordered", "strict", "any"]), default="ordered", show_default=True
)
@click.option(
    "--exclude",
    "exclusions",
    multiple=True,
    help="X:a:b leaves out customers with an X event between steps a and b.",
)
@click.option("--by", default=None, help="Break down by persona, channel or a property.")
@click.option("--since", default=None, help="Only events at or after this date (UTC).")
@click.option("--until", default=None, help="Only events before this date (UTC).")
@click.option(
    "--view",
    type=click.Choice(["steps", "time", "trend", "customers"]),
    default="steps",
    show_default=True,
    help="steps: the funnel; time: time-to-convert histogram; trend: conversion by entry "
    "period; customers: who reached (or dropped after) --customers-at.",
)
@click.option("--period", type=click.Choice(["day", "week", "month"]), default="week")
@click.option("--customers-at", "customers_at", type=int, default=1, help="Step for customers.")
@click.option("--dropped", is_flag=True, help="With --view customers: those who stopped there.")
def funnel(
    project_dir: Path,
    events_file: Path | None,
    journey_file: Path | None,
    engine: str,
    tz: str | None,
    fmt: str,
    steps: tuple[str, ...],
    window: str,
    order: str,
    exclusions: tuple[str, ...],
    by: str | None,
    since: str | None,
    until: str | None,
    view: str,
    period: str,
    customers_at: int,
    dropped: bool,
) -> None:
    """An event funnel: customers reaching each step in order within a window."""
    from kundresa.analytics import funnel as f

    with open_project(project_dir, events_file, journey_file, engine, tz) as project, usage():
        events = _events(project, since, until)
        common: dict[str, Any] = {
            "window": window,
            "order": order,
            "exclusions": list(exclusions),
            "journey": _journey_or_none(project),
        }
        if view == "time":
            df = f.time_to_convert_histogram(events, list(steps), **common)
            title = "Time to convert"
        elif view == "trend":
            df = f.conversion_trend(events, list(steps), period=period, **common)
            title = f"Conversion by {period} of entry"
        elif view == "customers":
            df = f.funnel_step_customers(
                events, list(steps), step=customers_at, dropped=dropped, **common
            ).to_pandas()
            what = "dropped after" if dropped else "reached"
            title = f"Customers who {what} step {customers_at}"
        else:
            df = f.event_funnel(events, list(steps), by=by, **common)
            title = f"Funnel ({order}, window {window})"
        emit(df, fmt, title=title)


@main.command()
@analysis_options
@SINCE
@UNTIL
@click.option("--wide", is_flag=True, help="Show a from × to matrix of probabilities.")
@click.option("--no-ends", is_flag=True, help="Leave out the (start) and (end) moves.")
@LANG
def transitions(
    project_dir: Path,
    events_file: Path | None,
    journey_file: Path | None,
    engine: str,
    tz: str | None,
    fmt: str,
    since: str | None,
    until: str | None,
    wide: bool,
    no_ends: bool,
    lang: str | None,
) -> None:
    """Stage transition matrix: moves between stages, backward moves included."""
    from kundresa.analytics.journeys import transition_matrix

    with open_project(project_dir, events_file, journey_file, engine, tz) as project, usage():
        df = transition_matrix(
            _events(project, since, until), project.journey, ends=not no_ends, lang=lang
        )
        if wide and not df.empty:
            order = list(dict.fromkeys([*df["from_stage"], *df["to_stage"]]))
            grid = df.pivot(index="from_stage", columns="to_stage", values="probability")
            rows = [r for r in order if r in grid.index]
            df = grid.reindex(index=rows, columns=[c for c in order if c in grid.columns])
            df = df.rename_axis(None, axis=1).reset_index()
        rates = [str(c) for c in df.columns if c != "from_stage"] if wide else []
        emit(df, fmt, title=f"{project.journey.name}: stage transitions", rates=rates)


@main.command()
@analysis_options
@SINCE
@UNTIL
@click.option(
    "--view",
    type=click.Choice(["summary", "time", "customers"]),
    default="summary",
    show_default=True,
    help="summary: backward moves, skips, loops, cycles; time: time in each stage; "
    "customers: one row per customer.",
)
@click.option("--limit", type=click.IntRange(1), default=50, show_default=True)
@LANG
def journeys(
    project_dir: Path,
    events_file: Path | None,
    journey_file: Path | None,
    engine: str,
    tz: str | None,
    fmt: str,
    since: str | None,
    until: str | None,
    view: str,
    limit: int,
    lang: str | None,
) -> None:
    """How non-linear the journeys are: moves, skips, loops, cycles and time in stage."""
    from kundresa.analytics import journeys as jr

    with open_project(project_dir, events_file, journey_file, engine, tz) as project, usage():
        events = _events(project, since, until)
        title: str | None
        if view == "time":
            df = jr.time_in_stage(events, project.journey, lang=lang)
            title = "Time in stage (days)"
        elif view == "customers":
            table = jr.customer_journeys(events, project.journey)
            df = table.limit(limit).to_pandas() if fmt == "table" else table.to_pandas()
            title = f"Customers (first {limit})" if fmt == "table" else None
        else:
            df = jr.journey_summary(events, project.journey)
            title = f"{project.journey.name}: non-linear journeys"
        emit(df, fmt, title=title)


@main.command()
@analysis_options
@click.argument("customer_id")
@click.option("--events-list", "show_events", is_flag=True, help="List every event, tagged.")
def customer(
    project_dir: Path,
    events_file: Path | None,
    journey_file: Path | None,
    engine: str,
    tz: str | None,
    fmt: str,
    customer_id: str,
    show_events: bool,
) -> None:
    """One customer's journey: stage visits, moves and cycles (or every event)."""
    from kundresa.analytics.journeys import stage_visits
    from kundresa.analytics.touchpoints import EVENT_ORDER, tag_events
    from kundresa.model.events import CUSTOMER

    with open_project(project_dir, events_file, journey_file, engine, tz) as project, usage():
        customer_id = project.resolve_id(customer_id)  # an anonymous id: its person
        events = project.events.filter(project.events[CUSTOMER] == customer_id)
        if events.count().to_pyarrow().as_py() == 0:
            raise UserError(f"no events for customer {customer_id!r}")
        if show_events:
            tagged = tag_events(events, project.journey)
            df = tagged.order_by(list(EVENT_ORDER)).drop("stage_index").to_pandas()
            emit(df, fmt, title=f"Events of {customer_id}")
        else:
            df = stage_visits(events, project.journey).drop(CUSTOMER).to_pandas()
            emit(df, fmt, title=f"Stage visits of {customer_id}")


@main.command()
@analysis_options
@SINCE
@UNTIL
@click.option(
    "--level",
    type=click.Choice(["touchpoint", "event", "stage", "channel"]),
    default="touchpoint",
    show_default=True,
)
@click.option(
    "--start", default=None, help="Paths from this point (event, touchpoint:ID, stage:ID)."
)
@click.option("--end", default=None, help="Paths up to this point.")
@click.option("--steps", type=int, default=5, show_default=True, help="How many nodes deep.")
@click.option(
    "--session-gap",
    default=None,
    help="Inactivity that starts a new session; 'none' for one path per customer "
    "[default: 30m for variants and sankey, none for dfg].",
)
@click.option("--collapse", is_flag=True, help="Count consecutive equal nodes once.")
@click.option("--top", type=click.IntRange(1), default=20, show_default=True)
@click.option(
    "--view",
    type=click.Choice(["variants", "sankey", "dfg"]),
    default="variants",
    show_default=True,
    help="variants: the most common paths; sankey: links between steps; dfg: "
    "directly-follows graph.",
)
def paths(
    project_dir: Path,
    events_file: Path | None,
    journey_file: Path | None,
    engine: str,
    tz: str | None,
    fmt: str,
    since: str | None,
    until: str | None,
    level: str,
    start: str | None,
    end: str | None,
    steps: int,
    session_gap: str | None,
    collapse: bool,
    top: int,
    view: str,
) -> None:
    """Paths customers take: top variants, Sankey links, directly-follows graph."""
    from kundresa.analytics import paths as pa

    if session_gap is None:
        session_gap = "none" if view == "dfg" else "30m"
    gap: str | None = None if session_gap.lower() in ("none", "0", "off") else session_gap
    with open_project(project_dir, events_file, journey_file, engine, tz) as project, usage():
        events = _events(project, since, until)
        journey = _journey_or_none(project)
        common: dict[str, Any] = {"journey": journey, "level": level, "session_gap": gap}
        if view == "dfg":
            df = pa.directly_follows(events, **common)
            if fmt == "table":
                df = df.head(top)
            title = f"Directly-follows graph ({level})"
        else:
            common.update(start=start, end=end, steps=steps, collapse_repeats=collapse)
            if view == "sankey":
                df = pa.path_links(events, **common)
                title = f"Path links ({level})"
            else:
                df = pa.paths(events, top=top, **common)
                title = f"Top paths ({level})"
        emit(df, fmt, title=title)


@main.command()
@analysis_options
@SINCE
@UNTIL
@click.option(
    "--cohort",
    type=click.Choice(["first_event", "first_purchase"]),
    default="first_event",
    show_default=True,
)
@click.option(
    "--period", type=click.Choice(["day", "week", "month"]), default="week", show_default=True
)
@click.option(
    "--returning",
    type=click.Choice(["any", "purchase"]),
    default="any",
    show_default=True,
    help="What counts as coming back: any event, or a purchase (repeat purchases).",
)
@click.option(
    "--purchase",
    default="purchase",
    show_default=True,
    help="What a purchase is: an event, a|b, touchpoint:ID or stage:ID.",
)
@click.option("--periods", type=click.IntRange(1), default=None, help="How many periods to show.")
@click.option(
    "--view",
    type=click.Choice(["matrix", "long", "repeat", "lifecycle"]),
    default="matrix",
    show_default=True,
    help="matrix: cohort × period rates; long: one row per cohort and period; repeat: "
    "repeat purchase rate; lifecycle: new, returning, resurrecting, dormant per period.",
)
def retention(
    project_dir: Path,
    events_file: Path | None,
    journey_file: Path | None,
    engine: str,
    tz: str | None,
    fmt: str,
    since: str | None,
    until: str | None,
    cohort: str,
    period: str,
    returning: str,
    purchase: str,
    periods: int | None,
    view: str,
) -> None:
    """Retention: cohorts of returning or repeat-purchasing customers, and lifecycle."""
    from kundresa.analytics import retention as rt

    with open_project(project_dir, events_file, journey_file, engine, tz) as project, usage():
        events = _events(project, since, until)
        journey = _journey_or_none(project)
        rates: list[str] = []
        if view == "repeat":
            df = rt.repeat_purchase_rate(events, purchase=purchase, journey=journey)
            title = "Repeat purchase rate"
        elif view == "lifecycle":
            active = "purchase" if returning == "purchase" else "any"
            df = rt.lifecycle(
                events, period=period, active=active, purchase=purchase, journey=journey
            )
            title = f"Lifecycle by {period}"
        else:
            df = rt.retention(
                events,
                cohort=cohort,
                period=period,
                returning=returning,
                purchase=purchase,
                periods=periods,
                journey=journey,
            )
            if view == "matrix":
                df = rt.retention_matrix(df)
                rates = [str(c) for c in df.columns if c not in ("cohort", "cohort_size")]
            title = f"Retention by {period} ({cohort.replace('_', ' ')} cohorts)"
        emit(df, fmt, title=title, rates=rates)


@main.command()
@analysis_options
@SINCE
@UNTIL
@click.option(
    "--compare-to",
    default="previous",
    show_default=True,
    help="previous, START:END, or none.",
)
@click.option("--step", "steps", multiple=True, help="Also rank the steps of this event funnel.")
@click.option("--window", default="7d", show_default=True, help="Window for --step funnels.")
@click.option("--confidence", type=click.FloatRange(0.5, 0.999), default=0.95, show_default=True)
@click.option("--kpis", is_flag=True, help="Show every KPI's actual value against its target.")
@LANG
def bottlenecks(
    project_dir: Path,
    events_file: Path | None,
    journey_file: Path | None,
    engine: str,
    tz: str | None,
    fmt: str,
    since: str | None,
    until: str | None,
    compare_to: str,
    steps: tuple[str, ...],
    window: str,
    confidence: float,
    kpis: bool,
    lang: str | None,
) -> None:
    """Where customers are lost: stages and steps ranked, against KPIs and the last period."""
    from kundresa.analytics import bottlenecks as bn

    with open_project(project_dir, events_file, journey_file, engine, tz) as project, usage():
        if kpis:
            df = bn.kpi_status(project, since=since, until=until, lang=lang)
            emit(df, fmt, title=f"{project.journey.name}: KPIs")
            return
        other: str | None = None if compare_to.lower() == "none" else compare_to
        df = bn.bottlenecks(
            project,
            since=since,
            until=until,
            compare_to=other,
            steps=list(steps) or None,
            window=window,
            confidence=confidence,
            lang=lang,
        )
        wanted = ["kind", "label", "reached", "lost", "conversion", "kpi_gap"]
        wanted += ["previous_conversion", "change", "p_value", "significant"]
        columns = [c for c in wanted if c in df.columns] if fmt == "table" else None
        emit(df, fmt, title=f"{project.journey.name}: bottlenecks", columns=columns)


@main.command()
@analysis_options
@SINCE
@UNTIL
@click.option(
    "--by", required=True, help="Segments: persona, channel or a property (e.g. variant)."
)
@click.option("--a", "seg_a", default=None, help="First segment value (default: the first of two).")
@click.option("--b", "seg_b", default=None, help="Second segment value.")
@click.option("--step", "steps", multiple=True, help="Compare on these funnel steps, not stages.")
@click.option("--window", default="7d", show_default=True)
@click.option("--order", type=click.Choice(["ordered", "strict", "any"]), default="ordered")
@click.option("--confidence", type=click.FloatRange(0.5, 0.999), default=0.95, show_default=True)
@LANG
def compare(
    project_dir: Path,
    events_file: Path | None,
    journey_file: Path | None,
    engine: str,
    tz: str | None,
    fmt: str,
    since: str | None,
    until: str | None,
    by: str,
    seg_a: str | None,
    seg_b: str | None,
    steps: tuple[str, ...],
    window: str,
    order: str,
    confidence: float,
    lang: str | None,
) -> None:
    """Two segments or A/B variants at every stage, with confidence intervals and a test."""
    from kundresa.analytics import compare as cmp

    with open_project(project_dir, events_file, journey_file, engine, tz) as project, usage():
        df = cmp.compare(
            project,
            by=by,
            a=seg_a,
            b=seg_b,
            steps=list(steps) or None,
            window=window,
            order=order,
            confidence=confidence,
            since=since,
            until=until,
            lang=lang,
        )
        first = "step" if "step" in df.columns else "stage"
        wanted = [first, "reached_a", "rate_a", "reached_b", "rate_b", "difference"]
        wanted += ["difference_ci_low", "difference_ci_high", "p_value", "significant"]
        columns = [c for c in wanted if c in df.columns] if fmt == "table" else None
        a, b = (df["segment_a"].iloc[0], df["segment_b"].iloc[0]) if len(df) else ("a", "b")
        emit(df, fmt, title=f"Compare by {by}: a = {a}, b = {b}", columns=columns)


@main.command()
@analysis_options
@SINCE
@UNTIL
@click.option(
    "--target",
    required=True,
    help="What success is: stage:ID (reaching it), touchpoint:ID or an event.",
)
@click.option(
    "--among", default=None, help="Only customers who reached this (default: the previous stage)."
)
@click.option("--min-customers", type=click.IntRange(1), default=5, show_default=True)
@click.option("--top", type=click.IntRange(1), default=30, show_default=True)
@click.option("--confidence", type=click.FloatRange(0.5, 0.999), default=0.95, show_default=True)
def correlation(
    project_dir: Path,
    events_file: Path | None,
    journey_file: Path | None,
    engine: str,
    tz: str | None,
    fmt: str,
    since: str | None,
    until: str | None,
    target: str,
    among: str | None,
    min_customers: int,
    top: int,
    confidence: float,
) -> None:
    """Which events and properties make reaching a stage or step more or less likely."""
    from kundresa.analytics import compare as cmp

    with open_project(project_dir, events_file, journey_file, engine, tz) as project, usage():
        df = cmp.correlation(
            project,
            target=target,
            among=among,
            min_customers=min_customers,
            confidence=confidence,
            since=since,
            until=until,
            top=top,
        )
        emit(df, fmt, title=f"What goes with reaching {target}")


# -- attribution ------------------------------------------------------------------------------

MODELS = (
    "first",
    "last",
    "last_non_direct",
    "linear",
    "time_decay",
    "position",
    "markov",
    "shapley",
)


@main.command()
@analysis_options
@click.option(
    "--paths",
    "paths_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="A paths file (path,total_conversions,total_conversion_value,total_null) instead of "
    "the project's events.",
)
@click.option("--sep", default=">", show_default=True, help="Channel separator in --paths.")
@click.option(
    "--model",
    type=click.Choice([*MODELS, "all"]),
    default="markov",
    show_default=True,
    help="all: every model side by side.",
)
@click.option(
    "--order", type=click.IntRange(1, 4), default=1, show_default=True, help="Markov order."
)
@click.option(
    "--conversion",
    default="purchase",
    show_default=True,
    help="What converts: an event, touchpoint:ID or stage:ID (first entry).",
)
@click.option(
    "--lookback", default="30d", show_default=True, help="Touches counted before a conversion."
)
@click.option(
    "--level", type=click.Choice(["channel", "touchpoint"]), default="channel", show_default=True
)
@click.option("--half-life", default="7d", show_default=True, help="Time decay half-life.")
@click.option(
    "--position",
    default="0.4,0.2,0.4",
    show_default=True,
    help="Position-based weights: first, middle, last.",
)
@click.option("--direct", default="direct", show_default=True, help="The direct channel's name.")
@click.option(
    "--game",
    type=click.Choice(["rate", "conversions"]),
    default="rate",
    show_default=True,
    help="Shapley game: the conversion rate of the journeys within each channel set (credits "
    "can be negative), or their conversions (an equal split among a path's channels).",
)
@click.option("--seed", type=int, default=0, show_default=True, help="Seed for sampled Shapley.")
@click.option(
    "--samples",
    type=click.IntRange(2),
    default=None,
    help="Shapley permutations when sampled (above 15 channels; default 2000).",
)
@click.option(
    "--view",
    type=click.Choice(["credits", "transitions", "removal", "stages", "paths"]),
    default="credits",
    show_default=True,
    help="credits: channel credits; transitions/removal: the Markov chain; stages: stage "
    "attribution (which channels move customers to the next stage); paths: the paths used.",
)
@SINCE
@UNTIL
@LANG
def attribution(
    project_dir: Path,
    events_file: Path | None,
    journey_file: Path | None,
    engine: str,
    tz: str | None,
    fmt: str,
    paths_file: Path | None,
    sep: str,
    model: str,
    order: int,
    conversion: str,
    lookback: str,
    level: str,
    half_life: str,
    position: str,
    direct: str,
    game: str,
    seed: int,
    samples: int | None,
    view: str,
    since: str | None,
    until: str | None,
    lang: str | None,
) -> None:
    """Multi-touch attribution: which channels and touchpoints earn the conversions."""
    from kundresa.analytics._duration import parse_duration

    with usage():
        try:
            weights = tuple(float(x) for x in position.split(","))
        except ValueError as exc:
            raise ValueError(f"--position {position!r} is not three numbers (0.4,0.2,0.4)") from exc
        opts: dict[str, Any] = {
            "direct": direct,
            "half_life": parse_duration(half_life),
            "position": weights,
            "order": order,
            "seed": seed,
            "samples": samples,
            "game": game,
        }
    if paths_file is not None:
        from kundresa.attribution.paths_file import PathsFileError, read_paths_file

        if view == "stages":
            raise click.UsageError("--view stages needs the project's events, not --paths")
        try:
            paths = read_paths_file(paths_file, sep=sep)
        except PathsFileError as exc:
            # Bad input in the file, not a bad option: exit 1 like other bad files.
            raise UserError(str(exc)) from exc
        with usage():
            _attribution_out(paths, model, view, opts, fmt)
        return
    from kundresa.attribution.journey import conversion_paths, stage_attribution

    with open_project(project_dir, events_file, journey_file, engine, tz) as project, usage():
        events = _events(project, since, until)
        journey = _journey_or_none(project)
        if view == "stages":
            if journey is None:
                raise UserError("--view stages needs a journey file")
            df = stage_attribution(
                events, journey, level=level, lookback=lookback, order=order, lang=lang
            )
            # The table stays narrow: the label names both stages; the per-transition counts
            # (customers, progressed) are in --format json and csv.
            hidden = ("from_stage", "to_stage", "customers", "progressed")
            shown = [c for c in df.columns if c not in hidden]
            emit(df, fmt, title="Stage attribution (Markov, exact removal effects)", columns=shown)
            return
        paths = conversion_paths(
            events, conversion=conversion, journey=journey, level=level, lookback=lookback
        )
        _attribution_out(paths, model, view, opts, fmt)


def _attribution_out(paths: Any, model: str, view: str, opts: dict[str, Any], fmt: str) -> None:
    from kundresa.attribution import models as am

    if paths.empty:
        raise UserError("no paths: no touches or conversions to attribute")
    if view == "paths":
        df = paths.assign(path=[" > ".join(p) for p in paths["path"]])
        df = df.groupby("path", as_index=False)[["conversions", "value", "nulls"]].sum()
        df = df.rename(
            columns={
                "conversions": "total_conversions",
                "value": "total_conversion_value",
                "nulls": "total_null",
            }
        ).sort_values("total_conversions", ascending=False, kind="stable")
        emit(df, fmt, title="Paths")
        return
    if view in ("transitions", "removal"):
        result = am.markov(paths, order=opts["order"])
        if view == "transitions":
            emit(result.transitions, fmt, title=f"Markov chain (order {opts['order']})")
        else:
            emit(result.removal_effects, fmt, title="Removal effects")
        return
    if model == "all":
        if fmt == "table":
            # Three narrow tables (a model per column) rather than one 25 columns wide.
            wide = am.compare_models(paths, **opts)
            for what, title in (
                ("conversions", "Conversions credited, by model"),
                ("value", "Value credited, by model"),
                ("share", "Share of the conversions (%), by model"),
            ):
                table = wide[["channel"]].copy()
                for m in MODELS:
                    table[m] = wide[f"{m}_{what}"] * (100.0 if what == "share" else 1.0)
                emit(table, fmt, title=title)
            return
        df = pd_concat([am.attribute(paths, m, **opts) for m in MODELS])
    else:
        df = am.attribute(paths, model, **opts)
    emit(df, fmt, title=f"Attribution ({model})")


def pd_concat(frames: list[Any]) -> Any:
    import pandas as pd

    return pd.concat(frames, ignore_index=True)


# -- demo -------------------------------------------------------------------------------------


@main.command()
@click.argument(
    "directory", type=click.Path(file_okay=False, path_type=Path), default="kundresa-demo"
)
@click.option("--customers", type=click.IntRange(1), default=20_000, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--lang", type=click.Choice(["sv", "da", "en"]), default="en", show_default=True)
@click.option("--no-serve", is_flag=True, help="Build the demo project only; do not serve it.")
@click.option("--force", is_flag=True, help="Rebuild even if DIRECTORY holds another project.")
@click.option(
    "--port",
    type=click.IntRange(1, 65535),
    default=8000,
    show_default=True,
    help="Port to serve on.",
)
def demo(
    directory: Path,
    customers: int,
    seed: int,
    lang: str,
    no_serve: bool,
    force: bool,
    port: int,
) -> None:
    """Build a demo company's project (journey and events), summarise it and serve the web app
    on 127.0.0.1 (``--no-serve`` stops after the summary)."""
    from kundresa.analytics.stages import stage_funnel
    from kundresa.demo.project import build_demo

    with err.status(f"generating {customers:,} demo customers…"):
        project = build_demo(directory, customers=customers, seed=seed, lang=lang, force=force)
    with project:
        info = project.info()
        funnel = stage_funnel(project)
        from kundresa.analytics.touchpoints import touchpoint_summary

        tps = touchpoint_summary(project)
    out.print(f"[bold]{info['journey']['name']}[/] — demo project in {directory}", markup=True)
    out.print(
        f"{info['events']:,} events from {info['customers']:,} customers, "
        f"{info['first_event']:%Y-%m-%d} – {info['last_event']:%Y-%m-%d}"
    )
    emit(funnel, "table", title="Customers per stage")
    emit(tps, "table", title="Touchpoints")
    out.print("Files:")
    out.print(f"  journey   {directory / JOURNEY_FILE}")
    out.print(f"  events    {directory / 'data' / 'events.parquet'}")
    out.print(f"  warehouse {directory / '.kundresa' / 'warehouse.duckdb'}")
    out.print(f"Try: kundresa stages --project {directory} --by persona")
    if no_serve:
        out.print(f"Serve it in the browser with: kundresa serve --project {directory}")
        return
    from kundresa.web.cli import run_server

    run_server(directory, port=port, lang=lang)


from kundresa.web.cli import serve  # noqa: E402  (the web layer sits on top of the CLI)

main.add_command(serve)
