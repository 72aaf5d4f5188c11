"""Data commands: ingest, quarantine, info."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click
from rich.markup import escape

from kundresa.cli._common import (
    FORMAT,
    JOURNEY_FILE,
    PROJECT_DIR,
    UserError,
    emit,
    err,
    out,
    say,
    stored_project,
    tz_option,
    warn,
)


def _encoding_option(value: str | None) -> str | None:
    """--encoding: a text encoding Python knows, else a usage error."""
    if value is None:
        return None
    from kundresa.ingest.readers import text_encoding

    try:
        text_encoding(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None
    return value


def _date_format_option(value: str | None) -> str | None:
    """--date-format: dmy, mdy or a strptime pattern, else a usage error."""
    if value is None or value in ("dmy", "mdy") or "%" in value:
        return value
    raise click.BadParameter(
        f"{value!r}: give dmy, mdy or a strptime pattern such as '%m/%d/%Y %H:%M'"
    )


@click.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@PROJECT_DIR
@click.option("--customer-col", help="Column with the customer id.")
@click.option("--time-col", help="Column with the event time.")
@click.option("--event-col", help="Column with the event name.")
@click.option(
    "--tz",
    callback=tz_option,
    help="Time zone of times written without one (default UTC).",
)
@click.option(
    "--source",
    default="auto",
    show_default=True,
    help="The export's format: auto (recognised from the columns), events, ga4, segment, "
    "… (README, Sources).",
)
@click.option(
    "--event",
    "event_name",
    help="The event every row becomes (survey answers: --source survey --event nps_answer).",
)
@click.option(
    "--encoding",
    callback=lambda ctx, param, value: _encoding_option(value),
    help="The file's text encoding (utf-8, utf-16, cp1252, latin-1…); default: told from "
    "the bytes.",
)
@click.option(
    "--decimal",
    type=click.Choice([",", "."]),
    help="The value column's decimal mark (one per file); default: told from the values, "
    "else , for ;-delimited files and . for others.",
)
@click.option(
    "--date-format",
    callback=lambda ctx, param, value: _date_format_option(value),
    help="How the time column writes dates: dmy or mdy (for 01/02/2025), or a strptime "
    "pattern such as '%m/%d/%Y %H:%M'.",
)
@click.option("--value-col", help="Column with the value (revenue).")
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
    event_name: str | None,
    encoding: str | None,
    decimal: str | None,
    date_format: str | None,
    value_col: str | None,
    fmt: str,
    quiet: bool,
) -> None:
    """Load event files (CSV, TSV, Parquet, JSON Lines; optionally gzipped).

    All files load in one transaction: if anything fails, nothing is stored.
    """
    from kundresa._files import not_a_regular_file

    for f in files:
        kind = not_a_regular_file(f)
        if kind == "a folder":
            raise UserError(f"{f}: is a folder; name the files to load")
        if kind is not None:  # a named pipe would wait for a writer forever
            raise UserError(f"{f}: is {kind}, not a file; name the files to load")
        if not f.exists():
            raise UserError(f"{f}: no such file")
    options: dict[str, Any] = {
        "customer_col": customer_col,
        "time_col": time_col,
        "event_col": event_col,
        "tz": tz,
        "source": source,
        "source_options": {"event": event_name} if event_name is not None else None,
        "encoding": encoding,
        "decimal": decimal,
        "date_format": date_format,
        "value_col": value_col,
    }
    stored: list[Any] = []  # the report, once the events are committed
    try:
        _ingest(project_dir, files, options, not quiet and fmt == "table", stored)
        _print_report(stored[0], fmt)
    except BaseException as exc:
        from kundresa.project import StoredButInterrupted, is_interrupt

        if stored and is_interrupt(exc) and not isinstance(exc, StoredButInterrupted):
            raise StoredButInterrupted(
                stored[0],
                "its report was not printed (`kundresa info` shows the last ingest): "
                "nothing to finish",
            ) from exc
        raise


def _ingest(
    project_dir: Path,
    files: tuple[Path, ...],
    options: dict[str, Any],
    show: bool,
    stored: list[Any],
) -> None:
    """Load ``files``; the report is appended to ``stored`` as soon as the events are in."""
    from kundresa.project import STORE_DIR, WAREHOUSE_FILE

    total = sum(f.stat().st_size for f in files)
    if (
        not (project_dir / JOURNEY_FILE).exists()
        and not (project_dir / STORE_DIR / WAREHOUSE_FILE).exists()
    ):
        # A user who forgot to change into the project would find the events nowhere.
        warn(
            f"{project_dir.resolve()} is no project yet (no {JOURNEY_FILE}): the events are "
            f"stored in its {STORE_DIR}/; `kundresa init` there adds a journey, or name the "
            "project with --project",
            "note",
        )
    with stored_project(project_dir, write=True) as project:
        show = show and total > 20 << 20
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

                stored.append(project.ingest(list(files), progress=progress, **options))
        else:
            stored.append(project.ingest(list(files), **options))


def _print_report(report: Any, fmt: str) -> None:
    if fmt == "json":
        click.echo(json.dumps(report.as_dict(), indent=2, ensure_ascii=False))
        return
    for name, kind in report.recognised.items():
        say(f"{name}: read as {kind}")
    say(
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
        say(f"  {n:>10,}  {reason}")
    if report.quarantined:
        say("See the rows and their line numbers with `kundresa quarantine`.")


@click.command()
@PROJECT_DIR
@click.option("--limit", type=click.IntRange(1), default=50, show_default=True)
@FORMAT
def quarantine(project_dir: Path, limit: int, fmt: str) -> None:
    """Show quarantined rows: source file, line and reason."""
    import pandas as pd

    with stored_project(project_dir) as project:
        rows = project.warehouse.quarantined(limit=limit)
    emit(pd.DataFrame(rows, columns=["ingest", "source", "line", "reason", "record"]), fmt)


@click.command()
@PROJECT_DIR
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table")
def info(project_dir: Path, fmt: str) -> None:
    """Show the project: journey, stages, events, date range, quarantine, last ingest."""
    from kundresa.report.tables import _plain

    with stored_project(project_dir) as project:
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
    lay = data["layout"]
    if lay.get("read_in_place"):
        say(f"store: the file {lay['read_in_place']} read in place (not journey-ordered)")
    elif lay["current"]:
        when = lay["reorganised"]
        say(
            f"store: journey-ordered, {lay['ordered_rows']:,} rows in order + "
            f"{lay['tail_rows']:,} in the tail; codes for {lay['customer_codes']:,} customers "
            f"and {lay['event_codes']:,} event names"
            + (f"; ordered {when:%Y-%m-%d %H:%M} UTC" if when else "")
        )
    else:
        say(
            "store: written by an older version, not yet journey-ordered (the next ingest or "
            "`kundresa reorganise` orders it)"
        )
    last = data["last_ingest"]
    if last:
        say(
            f"last ingest #{last['id']} at {last['finished']:%Y-%m-%d %H:%M} UTC: "
            f"{', '.join(last['sources'])} (loaded {last['loaded']:,}, "
            f"duplicates {last['duplicates']:,}, quarantined {last['quarantined']:,})"
        )
    else:
        say("nothing ingested yet (`kundresa ingest FILE`)")
    live = data.get("collector")
    if live is not None:
        pending = live["pending_batches"]
        say(
            f"collector: {pending:,} batches ({live['pending_bytes']:,} bytes) logged, not yet "
            "loaded (a running `kundresa serve --write-key` loads them)"
            if pending
            else "collector: every logged batch is loaded"
        )


@click.command()
@PROJECT_DIR
def reorganise(project_dir: Path) -> None:
    """Rewrite the warehouse in the journey-ordered layout (events by customer and time).

    Ingests keep the layout by themselves (merging their tail when it grows past a tenth of
    the rows); this brings a warehouse written by an older version to it at once, or merges
    the tail now. One transaction: if it fails, nothing changes. It then brings the live
    customer state up to date (what an ingest interrupted after its commit left to do),
    and rewrites the file into a new one holding only live data (the bytes of deleted rows,
    as after `kundresa forget`, are gone).
    """
    with stored_project(project_dir, write=True) as project:
        lay = project.warehouse.reorganise()
        if project.has_journey:
            project.catch_up()
        path = project.warehouse.path
    if path is not None:
        from kundresa.store.rewrite import rewrite_file

        try:
            rewrite_file(path)  # deleted rows' bytes (kundresa forget) go with the old file
        except BaseException as exc:
            from kundresa.project import InterruptedAfterCommit, is_interrupt

            if not is_interrupt(exc):  # Ctrl-C in Python or inside DuckDB's copy
                raise
            raise InterruptedAfterCommit(
                "interrupted after the warehouse was reorganised: the file was not rewritten "
                "(it is as before the rewrite); run `kundresa reorganise` again to finish"
            ) from exc
    say(
        f"{lay['ordered_rows']:,} events in journey order; codes for "
        f"{lay['customer_codes']:,} customers and {lay['event_codes']:,} event names"
    )
