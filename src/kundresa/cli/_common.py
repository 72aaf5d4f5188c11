"""What every command shares: the consoles, errors and their exit codes, the project an analysis
command opens, and printing a result.

Nothing heavy is imported here: the commands import the library when they run.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import click

if TYPE_CHECKING:
    from rich.console import Console

    from kundresa.analyses import Result
    from kundresa.project import Project

F = TypeVar("F", bound=Callable[..., Any])

JOURNEY_FILE = "journey.yaml"


class _Console:
    """A rich console made on first use: a command that prints JSON or CSV, or nothing on
    the consoles, does not import rich (~40 ms before an analysis starts reading)."""

    def __init__(self, **options: Any) -> None:
        self._options = options
        self._console: Console | None = None

    def _made(self) -> Console:
        if self._console is None:
            from rich.console import Console

            self._console = Console(**self._options)
        return self._console

    def __getattr__(self, name: str) -> Any:
        return getattr(self._made(), name)

    # Special methods are looked up on the type, not through __getattr__: rich's Live (a
    # progress bar given this console) enters it as a context manager.
    def __enter__(self) -> Console:
        return self._made().__enter__()

    def __exit__(self, *exc: object) -> None:
        self._made().__exit__(*exc)


def escape(text: str) -> str:
    """``text`` with rich's markup escaped (``rich.markup.escape``)."""
    from rich.markup import escape as rich_escape

    return rich_escape(text)


# Piped output (files, CI logs) gets wide tables instead of rich's 80-column default.
_WIDTH = None if sys.stdout.isatty() else 160
out: Console = _Console(highlight=False, soft_wrap=True, width=_WIDTH)  # type: ignore[assignment]
err: Console = _Console(stderr=True, highlight=False, soft_wrap=True)  # type: ignore[assignment]


class UserError(click.ClickException):
    """A problem the user can fix; printed without a traceback, exit code 1."""

    def show(self, file: Any = None) -> None:
        err.print(f"[bold red]error:[/] {escape(self.message)}", markup=True)


def say(text: str) -> None:
    """Print a line of plain text (never read as markup)."""
    out.print(text, markup=False)


def warn(text: str, kind: str = "warning") -> None:
    """A warning or note on stderr, so JSON and CSV on stdout stay clean."""
    colour = "yellow" if kind == "warning" else "cyan"
    err.print(f"[{colour}]{kind}:[/] {escape(text)}", markup=True)


# -- errors: mapped to exit codes in one place -------------------------------------------------

_ENGINE_MODULES = {"pyspark", "py4j", "duckdb", "ibis", "pyarrow"}


def _user_errors() -> tuple[type[BaseException], ...]:
    """Errors a user can fix: Kundresa's error tree (each class says its exit code,
    :mod:`kundresa.errors`) and a file the system cannot open."""
    from kundresa.errors import KundresaError

    return (KundresaError, OSError)


def os_error_line(exc: OSError) -> str:
    """An operating-system error as one line naming the path and the reason.

    >>> os_error_line(OSError(30, "Read-only file system", "/ro/journey.yaml"))
    '/ro/journey.yaml: Read-only file system'
    >>> os_error_line(OSError(18, "Invalid cross-device link", "a", None, "b"))
    'a -> b: Invalid cross-device link'
    """
    reason = exc.strerror or (str(exc.args[0]) if exc.args else "") or type(exc).__name__
    if exc.filename is None:
        return str(exc) if exc.strerror is None else reason
    path = os.fsdecode(exc.filename)
    if exc.filename2 is not None:
        path = f"{path} -> {os.fsdecode(exc.filename2)}"
    return f"{path}: {reason}"


def raise_for(exc: BaseException) -> NoReturn:
    """Turn an error from the library into the command line's answer: a usage error (exit 2),
    a problem the user can fix (exit 1, one line), or a traceback for a bug.

    Kundresa's errors say which themselves (``exit_code``, :mod:`kundresa.errors`). An
    operating-system error anywhere (a read-only disk, a full disk, a missing or forbidden
    file) is one line naming the path and the reason, exit 1.
    """
    if isinstance(exc, OSError) and not isinstance(exc, click.ClickException):
        from kundresa.errors import KundresaError

        if not isinstance(exc, KundresaError):
            raise UserError(os_error_line(exc)) from exc
    if isinstance(exc, _user_errors()):
        if getattr(exc, "exit_code", 1) == 2:
            raise click.UsageError(str(exc)) from exc
        raise UserError(str(exc)) from exc
    if isinstance(exc, Exception):
        # A query the engine refused (Spark, DuckDB, another Ibis backend): say which and why
        # in one line; KUNDRESA_DEBUG=1 shows the traceback.
        origin = type(exc).__module__.split(".")[0].lstrip("_")
        if origin in _ENGINE_MODULES and not os.environ.get("KUNDRESA_DEBUG"):
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            hint = ""
            if "Compilation rule for" in first:  # Ibis cannot write this query for the backend
                hint = (
                    " (this engine lacks a rule the analysis needs: docs/engines.md lists the"
                    " engines and what is tested on each)"
                )
            raise UserError(f"the query engine ({origin}) failed: {first[:500]}{hint}") from exc
    raise exc


# -- options ----------------------------------------------------------------------------------

FORMAT = click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "json", "csv"]),
    default="table",
    show_default=True,
    help="Output format.",
)

EXCEL = click.option(
    "--excel",
    is_flag=True,
    help="With --format csv: CSV for Excel in the journey's language (UTF-8 with BOM; "
    "';' and decimal comma for sv/da).",
)

PROJECT_DIR = click.option(
    "--project",
    "project_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=".",
    show_default=True,
    help="Project folder (journey.yaml and .kundresa/).",
)


def source_options(func: F) -> F:
    """Where the events and journey are, and the engine: every analysis takes these."""
    for option in reversed(
        (
            PROJECT_DIR,
            click.option(
                "--events",
                "events_file",
                type=click.Path(dir_okay=False, path_type=Path),
                help="Read this events file instead of the project's warehouse.",
            ),
            click.option(
                "--journey",
                "journey_file",
                type=click.Path(dir_okay=False, path_type=Path),
                help="Journey file (default: the project's journey.yaml).",
            ),
            click.option(
                "--engine",
                default="duckdb",
                show_default=True,
                help="duckdb, spark, or an Ibis connection URL.",
            ),
            click.option(
                "--source",
                "table_source",
                type=click.Choice(["ga4"]),
                default=None,
                help="Read a raw export table in place on --engine (a GA4 BigQuery export).",
            ),
            click.option(
                "--table",
                "table_name",
                default=None,
                help="With --source: the table or a * pattern (default: GA4's events_YYYYMMDD).",
            ),
            click.option(
                "--tz",
                default=None,
                callback=tz_option,
                help="Time zone of zone-less times in --events.",
            ),
            FORMAT,
            EXCEL,
        )
    ):
        func = option(func)
    return func


@contextmanager
def stored_project(project_dir: Path, *, write: bool = False) -> Iterator[Project]:
    """The project stored in ``project_dir`` for a data command: read-only, or with
    ``write`` holding the warehouse's write lock (a second writer gets a one-line error
    naming the lock), closed when the command ends."""
    from kundresa.project import Project

    with Project.open(project_dir, read_only=not write) as project:
        yield project


def in_place_allowed() -> bool:
    """One command: a canonical Parquet file is read in place when nothing would change
    (``KUNDRESA_IN_PLACE=0`` always copies it into the in-memory warehouse)."""
    from kundresa._env import switched_off

    return not switched_off("KUNDRESA_IN_PLACE")


@contextmanager
def open_project(
    project_dir: Path,
    events_file: Path | None,
    journey_file: Path | None,
    engine: str = "duckdb",
    tz: str | None = None,
    table_source: str | None = None,
    table_name: str | None = None,
    *,
    warm: bool = True,
) -> Iterator[Project]:
    """The project an analysis command works on (``warm``: see :meth:`Project.from_events
    <kundresa.project.Project.from_events>`)."""
    from kundresa.project import Project

    if table_name is not None and table_source is None:
        raise UserError("--table goes with --source (e.g. --source ga4)")
    if table_source is not None:
        if events_file is not None:
            raise UserError("--source reads a table on --engine: it does not go with --events")
        journey_path: Path | None = journey_file
        if journey_path is None and (project_dir / JOURNEY_FILE).exists():
            journey_path = project_dir / JOURNEY_FILE
        project = Project.from_table(
            engine, source=table_source, table=table_name, journey=journey_path
        )
    elif events_file is not None:
        if not events_file.exists():
            raise UserError(f"{events_file}: no such file")
        journey: Path | None = journey_file
        if journey is None and (project_dir / JOURNEY_FILE).exists():
            journey = project_dir / JOURNEY_FILE
        options = {"tz": tz} if tz else {}
        project = Project.from_events(
            events_file,
            journey=journey,
            engine=engine,
            in_place=in_place_allowed(),
            warm=warm,
            **options,
        )
        try:
            note = quarantine_note(project, events_file)
        except BaseException:
            project.close()
            raise
        if note:
            warn(note, "note")
    else:
        project = Project.open(project_dir, journey=journey_file, read_only=True, engine=engine)
    try:
        yield project
    finally:
        project.close()


def quarantine_note(project: Project, events_file: Path) -> str | None:
    """The note an analysis over ``--events`` prints when rows of the file were quarantined
    (left out of every number): how many, the commonest reasons with the first line of each,
    and how to see them all. None when no row was.

    >>> import pandas as pd
    >>> from kundresa.project import Project
    >>> p = Project.from_events(pd.DataFrame({"customer_id": ["c1", "c2"],
    ...     "timestamp": ["2025-01-01", "garbage"], "event": ["v", "v"]}))
    >>> note = quarantine_note(p, Path("e.csv"))
    >>> note.startswith("e.csv: 1 row quarantined and left out of the numbers")
    True
    >>> "first at line" in note, note.endswith("then `kundresa quarantine`")
    (True, True)
    >>> p.close()
    """
    con = project.warehouse.con
    try:
        counted = con.execute(
            "SELECT reason, count(*), min(line) FROM quarantine GROUP BY reason"
        ).fetchall()
    except Exception:  # a warehouse without a quarantine table (a file read in place)
        return None
    from kundresa.store.warehouse import _reason_kind  # the ingest report's grouping

    kinds: dict[str, list[int | None]] = {}
    for reason, n, first in counted:
        count_first = kinds.setdefault(_reason_kind(str(reason)), [0, None])
        count_first[0] = int(count_first[0] or 0) + int(n)
        if first is not None and (count_first[1] is None or first < count_first[1]):
            count_first[1] = int(first)
    total = sum(int(n or 0) for n, _ in kinds.values())
    if not total:
        return None
    ranked = sorted(kinds.items(), key=lambda kv: (-(kv[1][0] or 0), kv[1][1] or 0, kv[0]))
    shown = [
        f"{kind}: {n or 0:,}" + (f", first at line {first}" if first is not None else "")
        for kind, (n, first) in ranked[:3]
    ]
    more = f"; {len(ranked) - 3} more reason(s)" if len(ranked) > 3 else ""
    rows = "row" if total == 1 else "rows"
    return (
        f"{events_file}: {total:,} {rows} quarantined and left out of the numbers "
        f"({'; '.join(shown)}{more}); see them all with `kundresa ingest {events_file}` in a "
        "project, then `kundresa quarantine`"
    )


# -- output -----------------------------------------------------------------------------------


def emit(
    df: Any,
    fmt: str,
    title: str | None = None,
    columns: Sequence[str] | None = None,
    units: Mapping[str, str] | None = None,
    lang: str = "en",
    excel: bool = False,
) -> None:
    """Print a DataFrame: JSON and CSV with raw numbers, a table with each column written in
    its unit (:mod:`kundresa.report.units`); with ``excel``, CSV for Excel in ``lang``."""
    from kundresa.report.tables import to_csv, to_excel_csv, to_json, to_rich_table

    if excel and fmt != "csv":
        raise click.UsageError("--excel goes with --format csv")
    if fmt == "json":
        click.echo(to_json(df))
    elif fmt == "csv" and excel:
        sys.stdout.flush()
        sys.stdout.buffer.write(to_excel_csv(df, lang))
        sys.stdout.buffer.flush()
    elif fmt == "csv":
        click.echo(to_csv(df), nl=False)
    else:
        out.print(to_rich_table(df, title=title, columns=columns, units=units, lang=lang))


def emit_result(result: Result, fmt: str, title: str | None = None, excel: bool = False) -> None:
    """Print a registry result, its notes and warnings (on stderr)."""
    for note in result.notes:
        warn(note, "note")
    for warning in result.warnings:
        warn(warning)
    emit(
        result.frame,
        fmt,
        title=result.title if title is None else title,
        columns=result.table_columns if fmt == "table" else None,
        units=result.units,
        lang=result.lang,
        excel=excel,
    )


def tz_option(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """--tz: an IANA time zone name, else a usage error (exit code 2), as for --encoding."""
    if not value:
        return value
    import zoneinfo

    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise click.BadParameter(
            f"{value!r} is not a time zone name (use e.g. UTC, Europe/Stockholm)"
        ) from None
    return value
