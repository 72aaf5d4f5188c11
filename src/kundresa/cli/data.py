"""Data commands: ingest, quarantine, info."""

from __future__ import annotations

import json
from pathlib import Path

import click
from rich.markup import escape

from kundresa.cli._common import FORMAT, JOURNEY_FILE, UserError, emit, err, out, say


@click.command()
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
    for f in files:
        if not f.exists():
            raise UserError(f"{f}: no such file")
        if f.is_dir():
            raise UserError(f"{f}: is a folder; name the files to load")
    total = sum(f.stat().st_size for f in files)
    from kundresa.project import Project

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
            say(f"{name}: read as {kind}")
    say(
        f"read {report.rows_read:,}  loaded {report.loaded:,}  "
        f"duplicates {report.duplicates:,}  quarantined {report.quarantined:,}"
        + (
            f" ({report.already_quarantined:,} already in quarantine)"
            if report.already_quarantined
            else ""
        )
    )
    for reason, n in report.reasons.items():
        say(f"  {n:>10,}  {reason}")
    if report.quarantined:
        say("See the rows and their line numbers with `kundresa quarantine`.")


@click.command()
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

    from kundresa.project import Project

    with Project.open(project_dir, read_only=True) as project:
        rows = project.warehouse.quarantined(limit=limit)
    emit(pd.DataFrame(rows, columns=["ingest", "source", "line", "reason", "record"]), fmt)


@click.command()
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
    from kundresa.project import Project
    from kundresa.report.tables import _plain

    with Project.open(project_dir, read_only=True) as project:
        data = project.info()
    if fmt == "json":
        click.echo(json.dumps(_plain(data), indent=2, ensure_ascii=False))
        return
    j = data["journey"]
    if j is None:
        say(f"{project_dir}: no {JOURNEY_FILE} (create one with `kundresa init`)")
    else:
        out.print(
            f"[bold]{escape(j['name'])}[/]  "
            f"({j['language']}, {'circular' if j['circular'] else 'linear'})",
            markup=True,
        )
        say("stages: " + " → ".join(s["label"] for s in j["stages"]))
        say(
            f"{j['personas']} personas, {j['channels']} channels, {j['touchpoints']} touchpoints"
            + (f"; review by {j['review_by']}" if j["review_by"] else "")
        )
    say(
        f"events: {data['events']:,} from {data['customers']:,} customers, "
        f"{data['event_names']:,} event names"
    )
    if data["events"]:
        say(f"period: {data['first_event']} – {data['last_event']} (UTC)")
    say(f"quarantined rows: {data['quarantined']:,}")
    last = data["last_ingest"]
    if last:
        say(
            f"last ingest #{last['id']} at {last['finished']:%Y-%m-%d %H:%M} UTC: "
            f"{', '.join(last['sources'])} (loaded {last['loaded']:,}, "
            f"duplicates {last['duplicates']:,}, quarantined {last['quarantined']:,})"
        )
    else:
        say("nothing ingested yet (`kundresa ingest FILE`)")
