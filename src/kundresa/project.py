"""The project: a journey file, its event warehouse and the engine that runs analyses.

A project folder holds ``journey.yaml`` and a ``.kundresa/`` folder with the DuckDB warehouse
(events, quarantine, ingest log) and earlier versions of the journey file. Every interface —
notebook, CLI, HTTP API, web page — holds one :class:`Project`.
"""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from kundresa.store.warehouse import IngestError, IngestReport, Warehouse

if TYPE_CHECKING:
    import pandas as pd
    from ibis.expr.types import Table

    from kundresa.model.journey import Journey

__all__ = ["JOURNEY_FILE", "STORE_DIR", "Project", "ProjectError", "read_events"]

JOURNEY_FILE = "journey.yaml"
STORE_DIR = ".kundresa"
WAREHOUSE_FILE = "warehouse.duckdb"


class ProjectError(Exception):
    """A project cannot be opened or created; the message says why and what to do."""


class Project:
    """A journey, its events and the engine the analyses run on.

    Open an existing project folder with :meth:`open`, create one with :meth:`init`, or wrap
    events that are not stored anywhere with :meth:`from_events`.

    Parameters
    ----------
    root
        The project folder (``None`` for an in-memory project).
    journey
        The journey model, or ``None`` when the folder has no ``journey.yaml`` yet.
    warehouse
        Where the events are.

    Examples
    --------
    >>> import tempfile
    >>> folder = tempfile.mkdtemp()
    >>> project = Project.init(folder, template="kundresa-5", lang="sv")
    >>> [project.journey.stage_label(s) for s in project.journey.stage_ids][:2]
    ['Medvetenhet', 'Övervägande']
    >>> project.events.count().execute()
    0
    >>> project.close()
    """

    def __init__(
        self,
        root: Path | None,
        journey: Journey | None,
        warehouse: Warehouse,
        engine: str = "duckdb",
    ) -> None:
        self.root = root
        self._journey = journey
        self.warehouse = warehouse
        self.engine = engine
        self._events: Table | None = None

    # -- opening -----------------------------------------------------------------------------

    @classmethod
    def open(
        cls,
        path: str | os.PathLike[str] = ".",
        *,
        journey: str | os.PathLike[str] | None = None,
        read_only: bool = False,
        engine: str = "duckdb",
    ) -> Project:
        """Open the project in a folder.

        Parameters
        ----------
        path
            The project folder, or its ``journey.yaml``.
        journey
            Use this journey file instead of the folder's ``journey.yaml``.
        read_only
            Open the warehouse without the write lock (several readers may share it).
        engine
            Where analyses run: ``duckdb`` (default), ``spark`` (or a Spark master URL), or
            an Ibis connection URL; see :mod:`kundresa.store.engines`.

        Raises
        ------
        ProjectError
            When the folder does not exist or the journey file has errors (the message lists
            every problem with line and column).
        """
        from kundresa.model.parse import JourneyError, load_journey

        root = Path(path)
        if root.is_file():
            journey = journey or root
            root = root.parent
        if not root.is_dir():
            raise ProjectError(f"{root}: no such folder")
        journey_path = Path(journey) if journey is not None else root / JOURNEY_FILE
        model = None
        if journey_path.exists():
            try:
                model = load_journey(journey_path)
            except JourneyError as exc:
                raise ProjectError(str(exc)) from exc
        elif journey is not None:
            raise ProjectError(f"{journey_path}: no such journey file")
        store = root / STORE_DIR / WAREHOUSE_FILE
        if read_only and not store.exists():
            # Nothing ingested yet: an empty in-memory warehouse reads the same.
            wh = Warehouse(None)
        else:
            try:
                wh = Warehouse(store, read_only=read_only)
            except IngestError as exc:
                raise ProjectError(str(exc)) from exc
        return cls(root, model, wh, engine)

    @classmethod
    def init(
        cls,
        path: str | os.PathLike[str],
        *,
        template: str = "kundresa-5",
        lang: str = "en",
        name: str | None = None,
        force: bool = False,
        today: date | None = None,
    ) -> Project:
        """Create a project folder with a commented ``journey.yaml`` from a stage template.

        Raises
        ------
        ProjectError
            When the folder already has a journey file (unless ``force``) or the template or
            language is unknown.
        """
        from kundresa.model.render import render_journey_yaml

        root = Path(path)
        target = root / JOURNEY_FILE
        if target.exists() and not force:
            raise ProjectError(f"{target} already exists; use --force to overwrite it")
        try:
            text = render_journey_yaml(template, lang, name=name, today=today)
        except ValueError as exc:
            raise ProjectError(str(exc)) from exc
        root.mkdir(parents=True, exist_ok=True)
        (root / STORE_DIR).mkdir(exist_ok=True)
        tmp = target.with_suffix(".yaml.tmp")
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(target)
        return cls.open(root)

    @classmethod
    def from_events(
        cls,
        events: str | os.PathLike[str] | pd.DataFrame | pa.Table,
        *,
        journey: Journey | str | os.PathLike[str] | None = None,
        engine: str = "duckdb",
        **options: Any,
    ) -> Project:
        """A project over events that live in a file or a DataFrame, kept in memory.

        ``options`` are passed to :meth:`Warehouse.ingest` (``customer_col``, ``time_col``,
        ``event_col``, ``tz``).
        """
        from kundresa.model.parse import JourneyError, load_journey

        model: Journey | None
        if journey is None or not isinstance(journey, str | os.PathLike):
            model = journey
        else:
            try:
                model = load_journey(journey)
            except JourneyError as exc:
                raise ProjectError(str(exc)) from exc
        wh = Warehouse(None)
        _load(wh, events, options)
        return cls(None, model, wh, engine)

    def close(self) -> None:
        """Release the warehouse (and its file lock)."""
        self.warehouse.close()

    def __enter__(self) -> Project:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- contents ----------------------------------------------------------------------------

    @property
    def journey(self) -> Journey:
        """The journey model; raises :class:`ProjectError` when the project has none."""
        if self._journey is None:
            where = self.root / JOURNEY_FILE if self.root else "this project"
            raise ProjectError(
                f"{where}: no journey file; create one with `kundresa init` or pass --journey FILE"
            )
        return self._journey

    @property
    def has_journey(self) -> bool:
        return self._journey is not None

    @property
    def journey_path(self) -> Path | None:
        return self.root / JOURNEY_FILE if self.root is not None else None

    @property
    def events(self) -> Table:
        """The canonical event table as an Ibis expression on the project's engine."""
        if self._events is None:
            from kundresa.store.engines import EngineError, events_table

            try:
                self._events = events_table(self.engine, self.warehouse)
            except EngineError as exc:
                raise ProjectError(str(exc)) from exc
        return self._events

    def ingest(self, files: list[str | os.PathLike[str]], **options: Any) -> IngestReport:
        """Load event files into the warehouse (see :meth:`Warehouse.ingest`)."""
        report = self.warehouse.ingest(files, **options)
        self._events = None  # engines that copy the events must see the new ones
        return report

    def info(self) -> dict[str, Any]:
        """What the project holds: journey, stages, events, quarantine and the last ingest."""
        out: dict[str, Any] = {
            "root": str(self.root) if self.root else None,
            "journey": None,
        }
        if self._journey is not None:
            j = self._journey
            out["journey"] = {
                "name": j.name,
                "language": j.language,
                "circular": j.circular,
                "timezone": j.timezone,
                "review_by": j.review_by.isoformat() if j.review_by else None,
                "stages": [{"id": s, "label": j.stage_label(s)} for s in j.stage_ids],
                "personas": len(j.personas),
                "channels": len(j.channels),
                "touchpoints": len(j.touchpoints),
            }
        out.update(self.warehouse.summary())
        return out


def _load(wh: Warehouse, events: Any, options: dict[str, Any]) -> IngestReport:
    if isinstance(events, str | os.PathLike):
        return wh.ingest([events], **options)
    if isinstance(events, pa.Table):
        return wh.ingest_arrow(events, **options)
    try:
        import pandas as pd
    except ImportError:  # pragma: no cover - pandas is a dependency
        pd = None  # type: ignore[assignment]
    if pd is not None and isinstance(events, pd.DataFrame):
        return wh.ingest_arrow(pa.Table.from_pandas(events, preserve_index=False), **options)
    raise TypeError(
        f"expected a file path, a pandas DataFrame or a pyarrow Table, got {type(events).__name__}"
    )


def read_events(
    source: str | os.PathLike[str] | pd.DataFrame | pa.Table,
    *,
    customer_col: str | None = None,
    time_col: str | None = None,
    event_col: str | None = None,
    tz: str | None = None,
) -> Table:
    """Read an events file or DataFrame into the canonical event table (in memory).

    The same rules as ``kundresa ingest`` apply: column aliases, time zones to UTC,
    deduplication; bad rows are left out (see ``Project.from_events(...).warehouse
    .quarantined()`` for the reasons).

    Parameters
    ----------
    source
        A CSV, TSV, Parquet or JSON Lines file (optionally gzipped), a pandas DataFrame or a
        pyarrow Table.
    customer_col, time_col, event_col
        Source column names when the aliases do not find them.
    tz
        Time zone of timestamps written without one (default UTC).

    Returns
    -------
    ibis.expr.types.Table
        Columns ``customer_id``, ``timestamp``, ``event``, ``channel``, ``value``,
        ``event_id``, ``session_id``, ``properties``.

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({
    ...     "user_id": ["u1", "u1", "u2"],
    ...     "ts": ["2025-03-01 09:00", "2025-03-01 09:05", "2025-03-02 10:00"],
    ...     "event_name": ["page_view", "purchase", "page_view"],
    ...     "path": ["/pricing", None, "/"],
    ... })
    >>> events = read_events(df, tz="Europe/Stockholm")
    >>> events.order_by("timestamp").select("customer_id", "timestamp", "event").to_pandas()
      customer_id           timestamp      event
    0          u1 2025-03-01 08:00:00  page_view
    1          u1 2025-03-01 08:05:00   purchase
    2          u2 2025-03-02 09:00:00  page_view
    """
    given = {"customer_col": customer_col, "time_col": time_col, "event_col": event_col}
    options: dict[str, Any] = {k: v for k, v in given.items() if v is not None}
    if tz is not None:
        options["tz"] = tz
    return Project.from_events(source, **options).events
