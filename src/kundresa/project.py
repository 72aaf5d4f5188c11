"""The project: a journey file, its event warehouse and the engine that runs analyses.

A project folder holds ``journey.yaml`` and a ``.kundresa/`` folder with the DuckDB warehouse
(events, quarantine, ingest log) and earlier versions of the journey file. Every interface —
notebook, CLI, HTTP API, web page — holds one :class:`Project`.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from collections.abc import Hashable
from contextlib import suppress
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kundresa.errors import KundresaError

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa
    from ibis.expr.types import Table

    from kundresa.analyses import Result, Scope
    from kundresa.model.journey import Journey
    from kundresa.store.warehouse import IngestReport, Warehouse

__all__ = [
    "CACHE_SIZE",
    "JOURNEY_FILE",
    "KEEP_TAGGED_EVENTS",
    "STORE_DIR",
    "UPLOADS_DIR",
    "Project",
    "ProjectError",
    "read_events",
]

JOURNEY_FILE = "journey.yaml"
STORE_DIR = ".kundresa"
WAREHOUSE_FILE = "warehouse.duckdb"
UPLOADS_DIR = "uploads"
"""Where the web app keeps uploaded files, inside :data:`STORE_DIR`."""

#: Results kept per project (least recently used dropped first).
CACHE_SIZE = 256
#: Up to this many events, analyses run through :meth:`Project.run` share one tagged copy of
#: the events per version (a DuckDB temporary table, about 230 bytes an event with its
#: properties); above it each analysis tags the events in its own queries, as engines other
#: than DuckDB always do.
KEEP_TAGGED_EVENTS = 3_000_000
_SCOPE_KEYS = ("persona", "since", "until", "lang")


class ProjectError(KundresaError):
    """A project cannot be opened or created; the message says why and what to do."""

    http_status = 409


def is_interrupt(exc: BaseException) -> bool:
    """Whether ``exc`` is Ctrl-C: a ``KeyboardInterrupt``, or one arriving inside a DuckDB
    query (DuckDB raises ``InterruptException``, or ``RuntimeError: Query interrupted`` with
    the ``KeyboardInterrupt`` as its cause)."""
    if isinstance(exc, KeyboardInterrupt):
        return True
    if type(exc).__name__ == "InterruptException":
        return True
    return isinstance(exc, RuntimeError) and isinstance(exc.__cause__, KeyboardInterrupt)


class InterruptedAfterCommit(KeyboardInterrupt):
    """Ctrl-C after a write committed: what was done stands, only a follow-up was not done.
    ``message`` says so in one line and how to finish; the command line prints it instead of
    "nothing was changed" and ends with exit code 130."""

    def __init__(self, message: str) -> None:
        self.message = message
        super().__init__(message)


class StoredButInterrupted(InterruptedAfterCommit):
    """Ctrl-C after an ingest committed its events: the events are stored, only the
    follow-up (``unfinished``) was not done."""

    def __init__(self, report: IngestReport, unfinished: str) -> None:
        self.report = report
        self.unfinished = unfinished
        super().__init__(
            f"interrupted after the events were stored: ingest {report.ingest_id} loaded "
            f"{report.loaded:,} events ({report.quarantined:,} quarantined); {unfinished}"
        )


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
        # (source, table) of a raw export read in place (from_table), else None.
        self._table_source: tuple[str, str | None] | None = None
        # Results of Project.run, keyed by what they depend on (see version()); shared by
        # every interface that holds this project, so guarded by a lock.
        self.lock = threading.RLock()
        self._cache: OrderedDict[Hashable, Any] = OrderedDict()
        self._data_generation = 0
        self._journey_generation = 0
        # The file the journey was read from (None: given as a model, or none), watched so
        # that results follow edits made outside this process.
        self._journey_source: Path | None = None
        self._journey_mtime = 0
        # The saved next-stage model and the file version it was read from.
        self._model: tuple[tuple[str, int], Any] | None = None
        # Tagged events kept for the analyses of one version (see _tagged_memo).
        self._tagged: tuple[tuple[int, int, int], Any] | None = None

    # -- opening -----------------------------------------------------------------------------

    @classmethod
    def open(
        cls,
        path: str | os.PathLike[str] = ".",
        *,
        journey: str | os.PathLike[str] | None = None,
        read_only: bool = False,
        engine: str = "duckdb",
        read_journey: bool = True,
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
        read_journey
            False: leave the journey file unread, so the project has no journey (the web
            app serving a journey file with errors, so that its editor can repair it).

        Raises
        ------
        ProjectError
            When the folder does not exist or the journey file has errors (the message lists
            every problem with line and column).
        """
        from kundresa.model.parse import JourneyError, load_journey
        from kundresa.store.warehouse import IngestError, Warehouse

        root = Path(path)
        if root.is_file():
            journey = journey or root
            root = root.parent
        if not root.is_dir():
            raise ProjectError(f"{root}: no such folder")
        journey_path = Path(journey) if journey is not None else root / JOURNEY_FILE
        model = None
        if read_journey and journey_path.exists():
            try:
                model = load_journey(journey_path)
            except JourneyError as exc:
                raise ProjectError(str(exc)) from exc
        elif read_journey and journey is not None:
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
        project = cls(root, model, wh, engine)
        project._watch(journey_path if model is not None else None)
        return project

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
        # What this call creates is removed again when a step fails (a read-only or full
        # disk): the folder is as it was, and the OSError names the path.
        created = [d for d in (*reversed(root.parents), root, root / STORE_DIR) if not d.exists()]
        tmp = target.with_suffix(".yaml.tmp")
        replaced = False
        try:
            root.mkdir(parents=True, exist_ok=True)
            (root / STORE_DIR).mkdir(exist_ok=True)
            tmp.write_text(text, encoding="utf-8")
            tmp.replace(target)
            replaced = True
            return cls.open(root)
        except BaseException:
            _remove_quietly(tmp, target if replaced and not force else None, created)
            raise

    @classmethod
    def from_events(
        cls,
        events: str | os.PathLike[str] | pd.DataFrame | pa.Table,
        *,
        journey: Journey | str | os.PathLike[str] | None = None,
        engine: str = "duckdb",
        in_place: bool = False,
        warm: bool = True,
        **options: Any,
    ) -> Project:
        """A project over events that live in a file or a DataFrame, kept in memory.

        ``options`` are passed to :meth:`Warehouse.ingest` (``customer_col``, ``time_col``,
        ``event_col``, ``tz``). With ``in_place`` and no options, a canonical Parquet file
        that the ingest would store unchanged is read where it is instead of copied
        (:func:`kundresa.store.in_place.read_in_place`: the same events, the same results,
        without the copy); the file must then not change while the project is open. With
        ``warm`` (the default) the DuckDB engine's modules (Ibis) are imported in a thread
        while the file is read in place; the command line's lean event funnel, which needs
        no engine (:func:`kundresa.analyses._lean.run_lean`), passes ``False``.
        """
        from kundresa.store.warehouse import Warehouse

        model: Journey | None
        if journey is None or not isinstance(journey, str | os.PathLike):
            model = journey
        else:
            from kundresa.model.parse import JourneyError, load_journey  # only for a file

            try:
                model = load_journey(journey)
            except JourneyError as exc:
                raise ProjectError(str(exc)) from exc
        wh = Warehouse(None)
        if not (in_place and not options and _read_in_place(wh, events, engine, warm)):
            _load(wh, events, options)
        project = cls(None, model, wh, engine)
        if isinstance(journey, str | os.PathLike):
            project._watch(Path(journey))
        return project

    @classmethod
    def from_table(
        cls,
        engine: str,
        *,
        source: str = "ga4",
        table: str | None = None,
        journey: Journey | str | os.PathLike[str] | None = None,
    ) -> Project:
        """A project whose analyses run directly on a raw export table where it lives, with
        no ingest (see :mod:`kundresa.store.ga4_direct`).

        Parameters
        ----------
        engine
            An Ibis connection URL (``bigquery://project/dataset``, ``duckdb:///ga4.duckdb``…).
        source
            The export's format; ``ga4`` (Google Analytics 4's BigQuery export) only.
        table
            The table, or a ``*`` pattern; by default every daily ``events_YYYYMMDD`` table.
        journey
            The journey model or file.

        Raises
        ------
        ProjectError
            Unknown source, an engine that cannot connect, or no such table (one line).
        """
        if source != "ga4":
            raise ProjectError(f"--source {source!r}: only ga4 tables can be read in place")
        from kundresa.model.parse import JourneyError, load_journey
        from kundresa.store.warehouse import Warehouse

        model: Journey | None
        if journey is None or not isinstance(journey, str | os.PathLike):
            model = journey
        else:
            try:
                model = load_journey(journey)
            except JourneyError as exc:
                raise ProjectError(str(exc)) from exc
        # An empty in-memory warehouse: the events are the table's, never copied.
        project = cls(None, model, Warehouse(None), engine)
        project._table_source = (source, table)
        if isinstance(journey, str | os.PathLike):
            project._watch(Path(journey))
        return project

    def close(self) -> None:
        """Release the warehouse (and its file lock)."""
        with self.lock:
            if self._tagged is not None and self._tagged[1] is not None:
                self._tagged[1].release()
            self._tagged = None
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
        """The canonical event table as an Ibis expression on the project's engine, with the
        journey's channel matches applied (the journey is applied at query time)."""
        if self._events is None:
            from kundresa.store.engines import EngineError, events_table

            try:
                if self._table_source is not None:
                    from kundresa.store.engines import source_events_table

                    events = source_events_table(self.engine, *self._table_source)
                else:
                    events = events_table(self.engine, self.warehouse)
            except EngineError as exc:
                raise ProjectError(str(exc)) from exc
            if self._journey is not None:
                from kundresa.analytics.touchpoints import apply_channel_matches

                events = apply_channel_matches(events, self._journey)
            from ibis.expr.operations import JoinChain

            if isinstance(events.op(), JoinChain):
                # A join's result (ids resolved through the identity map) is still an open
                # join chain, which a later join on it (a persona's semi-join on the customers
                # it picks from these events) would extend, and Ibis refuses that ("...
                # belong to another relation"): a table of its own.
                events = events.view()
            self._events = events
        return self._events

    def ingest(self, files: list[str | os.PathLike[str]], **options: Any) -> IngestReport:
        """Load event files into the warehouse (see :meth:`Warehouse.ingest`), then bring the
        live customer state up to date (:meth:`catch_up`) when the project has a journey."""
        try:
            report = self.warehouse.ingest(files, **options)
        finally:
            self.data_changed()
        # The events are committed: an interruption from here on stops only the follow-up,
        # and says so (StoredButInterrupted) instead of passing for an ingest that did nothing.
        from kundresa._interrupts import Watch

        caught_up = self._journey is None
        catching_up = Watch()  # tells whether the catch-up committed (a Ctrl-C right after)
        try:
            if self._journey is not None:
                try:
                    self.catch_up()
                    caught_up = True
                except Exception as exc:  # the events are in; the next catch-up does this again
                    if is_interrupt(exc):
                        raise
                    import logging

                    logging.getLogger("kundresa.live").warning(
                        "live customer state not updated (the next ingest catches up): %s", exc
                    )
            self._keep_tagged_quietly()
        except BaseException as exc:
            caught_up = caught_up or catching_up.wrote
            if is_interrupt(exc):
                raise StoredButInterrupted(
                    report,
                    "the live customer state was not brought up to date; run "
                    "`kundresa reorganise` (or the next `kundresa ingest`) to finish"
                    if not caught_up
                    else "only keeping the tagged events was left (analyses tag the events "
                    "when they need them): nothing to finish",
                ) from exc
            raise
        return report

    # -- live customer state -----------------------------------------------------------------

    def catch_up(self) -> list[Any]:
        """Bring the live customer state and the stage-entered feed up to date with every
        committed ingest (:func:`kundresa.live.state.catch_up`; incremental: only the events
        of ingests since the last call). Needs the warehouse open for writing.

        Returns
        -------
        list of kundresa.live.state.StageEvent
            The stage changes recorded by this call.
        """
        from kundresa.live.state import catch_up

        with self.lock:
            return catch_up(self.warehouse.con, self.journey)

    def stage_events(
        self, since: int = 0, limit: int = 1000, *, at_or_after: datetime | None = None
    ) -> list[dict[str, Any]]:
        """The stage-entered feed: stage changes with ``seq > since`` (and, with
        ``at_or_after``, that happened then or later), oldest first, at most ``limit``; each
        ``seq``, ``customer_id``, ``from_stage``, ``to_stage`` and ``at`` (ISO 8601, UTC).
        See docs/live-state.md."""
        from kundresa.live.state import stage_events_since

        with self.lock:
            found = stage_events_since(self.warehouse.con, since, limit, at_or_after=at_or_after)
        return [e.as_dict() for e in found]

    def customer_state(self, id: str, *, lang: str | None = None) -> dict[str, Any]:
        """One customer's live state and next best step (``GET /api/customers/{id}``).

        ``id`` may be any of the person's ids (identity stitching). The state comes from the
        ``customer_state`` table kept by :meth:`catch_up` (computed from the customer's own
        events when that is not up to date); ``p_next_stage`` and the scored
        ``recommended_content`` from the saved next-stage model applied to the customer's
        events only (:func:`kundresa.analytics.predict.score_customer`; the model is loaded
        once per file). Without a saved model they are null (the content lane items are still
        listed) and ``notes`` says how to train one: a request never trains.

        Returns
        -------
        dict
            ``customer_id``, ``stage``, ``stage_label``, ``stage_entered_at``, ``persona``,
            ``next_stage``, ``p_next_stage``, ``recommended_content`` (``item``, ``kind``,
            ``reason``, ``score``; touchpoints only where ``score`` is above 0),
            ``not_recommended`` (the touchpoints whose ``score`` is 0 or below),
            ``horizon_days``, ``highest_stage``, ``stages_visited``, ``last_touchpoints``,
            ``first_event_at``, ``last_event_at``, ``events`` and ``notes`` (a list of
            strings).

        Raises
        ------
        kundresa.errors.NotFoundError
            The warehouse has no event for any of the person's ids.
        ProjectError
            The project has no journey.
        """
        from kundresa.errors import NotFoundError
        from kundresa.live.state import customer_events, read_state

        self.refresh()
        journey = self.journey
        customer_id = self.resolve_id(id)
        with self.lock:
            state = read_state(self.warehouse.con, journey, customer_id, lang=lang)
        if state is None:
            raise NotFoundError(f"no events for customer {id.strip()!r}")
        ids = journey.stage_ids
        stage = state["stage"]
        following = ids[ids.index(stage) + 1] if stage in ids[:-1] else None
        answer: dict[str, Any] = {
            **{k: state[k] for k in ("customer_id", "stage", "stage_label", "stage_entered_at")},
            "persona": state["persona"],
            "next_stage": following,
            "p_next_stage": None,
            "recommended_content": [],
            "not_recommended": [],
            "horizon_days": None,
            **{k: v for k, v in state.items() if k not in _ANSWER_FIRST},
            "notes": [],
        }
        if stage is None:
            answer["notes"].append("no event of this customer is in a stage of the journey")
            return answer
        model = self._next_stage_model()
        if model is None:
            answer["notes"].append(
                "no next-stage model trained: `kundresa predict` trains one "
                "(p_next_stage and scored recommendations need it)"
            )
            answer["recommended_content"] = _content_items(journey, stage, state["persona"])
            return answer
        from kundresa.analytics.predict import journey_changed, score_customer

        drift = journey_changed(model, journey)
        if drift is not None:
            answer["notes"].append(drift)
        with self.lock:
            events = customer_events(self.warehouse.con, customer_id)
        scored = score_customer(events, journey, customer_id, model)
        answer["next_stage"] = scored["next_stage"]
        answer["p_next_stage"] = scored["p_next_stage"]
        answer["recommended_content"] = scored["recommended_content"]
        answer["not_recommended"] = scored["not_recommended"]
        answer["horizon_days"] = scored["horizon_days"]
        return answer

    def _next_stage_model(self) -> Any:
        """The saved next-stage model, loaded once per version of its file (``None`` when
        there is none)."""
        from kundresa.analytics.predict import load_model

        path = self.model_path()
        try:
            stamp = path.stat().st_mtime_ns if path is not None else None
        except OSError:
            stamp = None
        if path is None or stamp is None:
            return None
        held = self._model
        if held is not None and held[0] == (str(path), stamp):
            return held[1]
        model = load_model(path)
        self._model = ((str(path), stamp), model)
        return model

    # -- identities --------------------------------------------------------------------------

    def identities(self, id: str | None = None) -> dict[str, Any]:
        """Identity stitching: a summary, or one person (docs/identity.md).

        Without ``id``: ``ids``, ``persons``, ``links``, ``persons_with_several_ids``,
        ``conflicts`` and ``conflicting_ids`` (anonymous ids linked to more than one known id;
        see :meth:`Warehouse.identity_summary`). With ``id``: the person it belongs to —
        ``customer_id``, ``events``, ``ids`` (each with ``role``, ``first_seen``,
        ``last_seen``, ``events``), ``traits`` and ``conflicts`` (:meth:`Warehouse.identity`).

        Raises
        ------
        ProjectError
            When ``id`` is given and the warehouse has never seen it.

        Examples
        --------
        >>> import pandas as pd
        >>> events = pd.DataFrame({
        ...     "anonymous_id": ["anon-1", "anon-1", None],
        ...     "user_id": [None, "u42", "u42"],
        ...     "timestamp": ["2025-03-01 09:00", "2025-03-01 09:05", "2025-03-01 09:30"],
        ...     "event": ["page_view", "sign_in", "purchase"],
        ... })
        >>> project = Project.from_events(events)
        >>> person = project.identities("anon-1")
        >>> person["customer_id"], person["events"], [i["id"] for i in person["ids"]]
        ('u42', 3, ['u42', 'anon-1'])
        >>> project.events.customer_id.nunique().execute()
        1
        """
        from kundresa.store.warehouse import IdentityError

        if id is None:
            return self.warehouse.identity_summary()
        try:
            return self.warehouse.identity(id)
        except IdentityError as exc:
            raise ProjectError(str(exc)) from exc

    def resolve_id(self, id: str) -> str:
        """The customer id the analyses use for the person ``id`` belongs to (an anonymous id
        gives its known id; an id stitched to no other gives itself)."""
        return self.warehouse.resolve_id(id)

    def uploads(self) -> list[Path]:
        """Uploaded files the web app keeps for this project (oldest first)."""
        if self.root is None:
            return []
        folder = self.root / STORE_DIR / UPLOADS_DIR
        if not folder.is_dir():
            return []
        # Left-over copies of an interrupted forget are not uploads.
        return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix != ".redacted")

    def forget(self, id: str) -> dict[str, Any]:
        """Remove a person (every id stitched to ``id``) from the project (a GDPR erasure).

        The warehouse part runs in one transaction (:meth:`Warehouse.forget`: events, links,
        traits, quarantined rows). Every uploaded file kept by the web app is rewritten
        without the rows that mention one of the person's ids (a field equal to it, or the id
        as a JSON string inside a field; :func:`kundresa.ingest.redact.redact_file`). The
        rewritten copies are made first and swapped in (atomic renames) only after the
        warehouse has committed, so a failure anywhere before leaves everything unchanged.
        Files loaded with ``kundresa ingest`` live outside the project and are the user's to
        rewrite (the ingest log names them). The warehouse file itself is not rewritten here
        (this project holds it open): the erased values may remain in its free blocks until
        :func:`kundresa.store.rewrite.rewrite_file` rewrites it after the project is closed
        (what ``kundresa forget`` and ``kundresa reorganise`` do; docs/identity.md).

        Returns
        -------
        dict
            ``customer_id``; the numbers of ``ids``, ``events``, ``links``, ``traits`` and
            ``quarantined`` rows removed from the warehouse; ``files`` (the uploads rewritten)
            and ``file_rows`` (rows removed from them).

        Raises
        ------
        ProjectError
            When the warehouse has never seen ``id``, or an upload cannot be read or written.
        """
        from kundresa.ingest.readers import ReadError
        from kundresa.ingest.redact import redact_file
        from kundresa.store.warehouse import IdentityError

        try:
            _, ids = self.warehouse.person_ids(id)
        except IdentityError as exc:
            raise ProjectError(str(exc)) from exc
        copies: list[tuple[Path, Path]] = []
        file_rows = 0
        try:
            for upload in self.uploads():
                copy, removed = redact_file(upload, ids)
                if copy is not None:
                    copies.append((copy, upload))
                    file_rows += removed
            counts = self.warehouse.forget(id)
        except BaseException as exc:
            for copy, _ in copies:
                copy.unlink(missing_ok=True)
            if isinstance(exc, ReadError | OSError):
                raise ProjectError(f"forget stopped, nothing was changed: {exc}") from exc
            raise
        self.data_changed()
        for copy, upload in copies:
            copy.replace(upload)
        self._keep_tagged_quietly()
        counts["files"] = [str(upload) for _, upload in copies]
        counts["file_rows"] = file_rows
        return counts

    # -- versions and the result cache -------------------------------------------------------

    def _watch(self, path: Path | None) -> None:
        self._journey_source = path
        self._journey_mtime = self._file_mtime()

    def _file_mtime(self) -> int:
        path = self._journey_source
        try:
            return path.stat().st_mtime_ns if path is not None else 0
        except OSError:
            return 0

    def refresh(self) -> bool:
        """Re-read the journey file when it changed on disk since it was read (an editor
        outside this process); whether it did.

        Raises
        ------
        ProjectError
            The changed file has errors; the project keeps the journey it had (and tries
            again next time).
        """
        if self._journey_source is None or self._file_mtime() == self._journey_mtime:
            return False
        self.reload_journey()
        return True

    def data_changed(self) -> None:
        """Say the events changed (an ingest elsewhere on this warehouse): cached results
        and known names are dropped."""
        with self.lock:
            self._events = None  # engines that copy the events must see the new ones
            self._data_generation += 1
            self._cache.clear()

    def set_journey(self, journey: Journey | None) -> None:
        """Use another journey model (an edit saved by the web app); drops cached results."""
        with self.lock:
            self._journey = journey
            self._journey_generation += 1
            self._cache.clear()

    def reload_journey(self) -> None:
        """Re-read ``journey.yaml`` (it changed on disk).

        Raises
        ------
        ProjectError
            The file has errors; the project keeps the journey it had.
        """
        from kundresa.model.parse import JourneyError, load_journey

        path = self._journey_source or self.journey_path
        if path is None:
            return
        try:
            model = load_journey(path) if path.exists() else None
        except JourneyError as exc:
            raise ProjectError(str(exc)) from exc
        with self.lock:
            self.set_journey(model)
            self._watch(path if model is not None else None)

    def version(self) -> tuple[int, int, int]:
        """What results depend on: the journey (edits here and the file's modification time)
        and the data (ingests through this project)."""
        return (self._journey_generation, self._journey_mtime, self._data_generation)

    def clear_cache(self) -> None:
        with self.lock:
            self._cache.clear()

    def cached_only(self, key: Hashable) -> tuple[bool, Any]:
        """``(True, result)`` when :meth:`cached` holds a result for ``key`` at this
        :meth:`version`, else ``(False, None)``; never computes nor waits for the lock."""
        hit = self._cache.get((self.version(), key), _MISSING)
        return (False, None) if hit is _MISSING else (True, hit)

    def cached(self, key: Hashable, compute: Any) -> Any:
        """``compute()`` once per project :meth:`version` and ``key`` (under the project's
        lock; a hit is returned without waiting for it). ``compute`` must not wait for a lock
        that another thread may hold while it waits for this project's lock (the web app's
        lock is always taken *before* it: kundresa.web.state)."""
        found, hit = self.cached_only(key)
        if found:
            return hit
        with self.lock:
            full = (self.version(), key)
            if full in self._cache:
                self._cache.move_to_end(full)
                return self._cache[full]
            value = compute()
            self._cache[full] = value
            while len(self._cache) > CACHE_SIZE:
                self._cache.popitem(last=False)
            return value

    def known_names(self, kind: str = "event") -> frozenset[str]:
        """The event names (``kind="event"``) or property keys (``"property"``) in the data:
        one DISTINCT query each, asked only when a name needs checking, cached by data
        version."""

        def compute() -> frozenset[str]:
            if kind == "event" and self._table_source is None:
                from kundresa.store._decoded import decoded_file

                # A file read in place and decoded: the names its rows have, without a scan
                # (and without the engine: the lean event funnel asks before loading Ibis).
                decoded = decoded_file(self.warehouse.con)
                if decoded is not None:
                    return frozenset(n for n in decoded.used_names() if n)
            from kundresa.analytics._portable import property_keys
            from kundresa.model.events import EVENT

            t = self.events
            if kind == "event":
                names = t.select(name=t[EVENT].cast("string"))
            elif kind == "property":
                names = t.select(name=property_keys(t).unnest().cast("string"))
            else:
                raise ValueError(f"kind: {kind!r} is not event or property")
            rows = names.distinct().to_pyarrow().column("name").to_pylist()
            return frozenset(r for r in rows if r)

        value: frozenset[str] = self.cached(("known_names", kind), compute)
        return value

    # -- analyses ----------------------------------------------------------------------------

    def scope(
        self,
        *,
        persona: str | None = None,
        since: Any = None,
        until: Any = None,
        lang: str | None = None,
        events: Table | None = None,
    ) -> Scope:
        """What analyses run on: one persona's customers (all when ``None``), a period
        ``[since, until)`` (UTC dates or times), a label language.

        Raises
        ------
        ParameterError
            An unknown persona (the message lists the journey's), a date that is not one, or
            ``since`` not before ``until``.
        """
        from kundresa.analyses import Scope, check_period
        from kundresa.analyses.resolve import Names

        check_period(since, until)  # before any query (Scope checks it again, cheaply)
        since = since if since not in ("", None) else None
        until = until if until not in ("", None) else None
        table = events if events is not None else self.events
        if persona:
            Names(self._journey).persona(persona)
            from kundresa.analytics.touchpoints import persona_expr

            who = persona_expr(table, self.journey)
            chosen = who.filter(who.persona == persona).select("customer_id")
            whole, table = table, table.semi_join(chosen, "customer_id")
            memo = self._tagged_memo()
            if memo is not None:  # the persona's tagged events: cut from the whole history's
                memo.cut(table, whole, chosen)
        where = self.root / JOURNEY_FILE if self.root else "this project"
        return Scope(
            journey=self._journey,
            events=table,
            engine=self.engine,
            persona=persona or None,
            since=None if since is None else str(since),
            until=None if until is None else str(until),
            lang=lang,
            known_names=self.known_names,
            resolve_id=self.resolve_id,
            source=None if events is None else ("events", id(events)),
            missing_journey=(
                f"{where}: no journey file; create one with `kundresa init` or pass --journey FILE"
            ),
            runner=self._run_in,
        )

    def run(self, name: str, *, scope: Scope | None = None, **params: Any) -> Result:
        """Run the analysis ``name`` (see :mod:`kundresa.analyses` for the list).

        Parameters are checked against the analysis' declaration, names (steps, stages,
        touchpoints, personas, properties) resolved, and the result cached until the journey
        or the data change. ``persona``, ``since``, ``until`` and ``lang`` make the scope when
        ``scope`` is not given.

        Returns
        -------
        kundresa.analyses.Result
            ``frame`` (a pandas DataFrame), ``units`` per column, ``warnings`` (names not in
            the data) and ``notes`` (how names were read).

        Raises
        ------
        kundresa.analyses.ParameterError
            A bad parameter or an unknown stage, touchpoint or persona (a usage error).
        kundresa.analyses.AnalysisError
            The analysis cannot answer (no journey file, no events for a customer).

        Examples
        --------
        >>> import pandas as pd
        >>> events = pd.DataFrame({
        ...     "customer_id": ["u1", "u1", "u2"],
        ...     "timestamp": ["2025-03-01 09:00", "2025-03-02 10:00", "2025-03-01 11:00"],
        ...     "event": ["visit", "purchase", "visit"],
        ... })
        >>> project = Project.from_events(events)
        >>> result = project.run("funnel", steps=["visit", "purchase"], window="7d")
        >>> result.frame[["step", "event", "count", "conversion_from_start"]]
           step     event  count  conversion_from_start
        0     1     visit      2                    1.0
        1     2  purchase      1                    0.5
        >>> result.units["conversion_from_start"]
        'rate'
        >>> project.run("funnel", steps=["visit", "signup"]).warnings
        ["event 'signup' never occurs in the data; it counts 0"]
        """
        from kundresa.analyses import get
        from kundresa.analyses._registry import run_analysis

        analysis = get(name)
        if scope is None:
            self.refresh()
        given = {
            k: params.pop(k)
            for k in _SCOPE_KEYS
            if k in params and k not in {p.name for p in analysis.params}
        }
        if scope is None:
            scope = self.scope(**given)
        elif given:
            raise TypeError(f"give either scope or {', '.join(given)}, not both")
        checked = analysis.check(params)
        key = (scope.key, name, _freeze(checked))

        def compute() -> Result:
            from kundresa.analytics.touchpoints import using_tagged_memo

            # The analyses that tag events (touchpoints, stages) share one tagged table per
            # version: a page's analyses, and those made of others, tag the events once.
            with using_tagged_memo(self._tagged_memo()):
                return run_analysis(analysis, scope, checked)

        result: Result = self.cached(key, compute)
        return _copy(result)

    def _tagged_memo(self) -> Any:
        """The :class:`~kundresa.analytics.touchpoints.TaggedMemo` of this :meth:`version`
        (the previous version's tables are released; it starts from the tagged events the
        warehouse keeps, :meth:`keep_tagged`), or ``None`` for a project of more than
        :data:`KEEP_TAGGED_EVENTS` events or not on DuckDB."""
        from kundresa.analytics.touchpoints import TaggedMemo

        with self.lock:
            version = self.version()
            if self._tagged is not None and self._tagged[0] != version:
                if self._tagged[1] is not None:
                    self._tagged[1].release()
                self._tagged = None
            if self._tagged is None:
                memo = None
                if self.engine == "duckdb":
                    try:  # a stored table's row count: no scan
                        events = int(self.events.count().to_pyarrow().as_py())
                    except Exception:  # no readable events: the analysis will say why
                        events = KEEP_TAGGED_EVENTS + 1
                    memo = TaggedMemo() if events <= KEEP_TAGGED_EVENTS else None
                    if memo is not None:
                        # The tagged events the warehouse keeps (keep_tagged), if any: then
                        # no analysis of this version tags them. Without: the memo tags.
                        with suppress(Exception):
                            self._seed_tagged(memo)
                self._tagged = (version, memo)
            return self._tagged[1]

    def keep_tagged(self) -> bool:
        """Tag the events with the journey's touchpoints and stages once and keep them in the
        warehouse (:meth:`Warehouse.store_tagged
        <kundresa.store.warehouse.Warehouse.store_tagged>`), so that the analyses of any later
        process on this warehouse (the web app's first page, a notebook) read them instead of
        tagging the events again; a journey with the same touchpoints and stages
        (:func:`~kundresa.analytics.touchpoints.tagging_fingerprint`) reads them too.

        :meth:`ingest` and :meth:`forget` call it after their write; every write of the
        events (an ingest, ``forget``, ``reorganise``, a collector load) drops the kept copy
        in its own transaction, so it never holds events that are gone or misses new ones.
        Only for a warehouse file open for writing, on DuckDB, with a journey that has
        touchpoints and at most :data:`KEEP_TAGGED_EVENTS` events (the copy is about as
        large as the events); otherwise nothing is done. The copy also holds the integer keys
        of the event order (:func:`~kundresa.analytics.touchpoints.with_event_ranks`), and
        its rows are stored in that order.

        Returns
        -------
        bool
            Whether the tagged events are kept now.
        """
        import ibis

        from kundresa.analytics.touchpoints import (
            EVENT_RANK,
            tag_events,
            tagging_fingerprint,
            with_event_ranks,
        )

        wh = self.warehouse
        journey = self._journey
        if (
            self.engine != "duckdb"
            or self._table_source is not None
            or wh.path is None
            or wh.read_only
            or journey is None
            or not journey.touchpoints
        ):
            return False
        with self.lock:
            made_for = tagging_fingerprint(journey)
            if wh.stored_tagged(made_for) is not None:
                return True
            if not 0 < wh.event_count() <= KEEP_TAGGED_EVENTS:
                return False
            # Outside Project.run: tag_events computes the tags (no memo to read them from).
            # With the integer keys of the event order (the attribution paths sort and join
            # on them), stored in that order.
            tagged = with_event_ranks(tag_events(self.events, journey)).order_by(EVENT_RANK)
            wh.store_tagged(ibis.to_sql(tagged), made_for)
            self._drop_tagged_memo()  # the next analysis starts from the kept copy
            return True

    def _keep_tagged_quietly(self) -> None:
        """:meth:`keep_tagged` after a write: a failure only costs the next process the
        tagging (it logs, never undoes the write)."""
        try:
            self.keep_tagged()
        except Exception as exc:
            if is_interrupt(exc):
                raise
            import logging

            logging.getLogger("kundresa").warning(
                "tagged events not kept (analyses tag them when they need them): %s", exc
            )

    def _drop_tagged_memo(self) -> None:
        with self.lock:
            if self._tagged is not None and self._tagged[1] is not None:
                self._tagged[1].release()
            self._tagged = None

    def _seed_tagged(self, memo: Any) -> None:
        """Hand ``memo`` the tagged events the warehouse keeps for this journey, if any."""
        from kundresa.analytics.touchpoints import tagging_fingerprint

        journey = self._journey
        if journey is None or not journey.touchpoints or self._table_source is not None:
            return
        name = self.warehouse.stored_tagged(tagging_fingerprint(journey))
        if name is None:
            return
        events = self.events
        backend = events._find_backend(use_default=False)
        memo.seed(events, journey, backend.table(name))

    def _run_in(self, name: str, scope: Scope, params: dict[str, Any]) -> Result:
        """:meth:`run` in a given scope (what an analysis made of others calls)."""
        return self.run(name, scope=scope, **params)

    def model_path(self) -> Path | None:
        """Where the next-stage model is saved (``.kundresa/models/next_stage.pkl``), or
        ``None`` for a project without a folder."""
        from kundresa.analytics.predict import MODEL_FILE

        return None if self.root is None else Path(self.root) / MODEL_FILE

    def train_next_stage(
        self, *, horizon: str | float = "30d", seed: int = 0, save: bool = True
    ) -> Any:
        """Train and evaluate the next-stage model on this project's history and save it
        (when ``save`` and the project has a folder). See
        :func:`kundresa.analytics.predict.train_next_stage`.

        Returns
        -------
        kundresa.analytics.predict.NextStageModel
            The model, with ``metrics`` against the baseline.
        """
        from kundresa.analytics.predict import train_next_stage

        self.refresh()
        model = train_next_stage(self, horizon=horizon, seed=seed)
        path = self.model_path()
        if save and path is not None:
            model.save(path)
        return model

    def next_best_step(
        self,
        customer_id: str,
        *,
        model: Any = None,
        horizon: str | float | None = None,
        seed: int = 0,
    ) -> tuple[dict[str, Any], list[str]]:
        """One customer's stage, P(next stage) and recommended content
        (:func:`kundresa.analytics.predict.next_best_step`), with the saved model; trained
        (and saved) first when there is none, or when ``horizon`` is not the saved model's
        (``None``: the saved model's, 30 days when training).

        Returns
        -------
        tuple
            The answer (a dict) and notes: a model was trained for it, or the saved one
            was trained on other data.

        Raises
        ------
        kundresa.analytics.predict.PredictError
            Unknown customer, no staged events, or a history too short to train on.
        """
        from kundresa.analytics._duration import parse_duration
        from kundresa.analytics.predict import journey_changed, load_model, next_best_step
        from kundresa.errors import NotFoundError, UsageError
        from kundresa.model.events import CUSTOMER

        self.refresh()
        journey = self.journey  # no journey: an error before anything is read
        days = None
        if horizon is not None:
            try:
                days = parse_duration(horizon, "horizon") / 86400
            except ValueError as exc:
                raise UsageError(str(exc)) from None
        events = self.events
        customer_id = self.resolve_id(customer_id)  # any of the person's ids
        if int(events.filter(events[CUSTOMER] == customer_id).count().to_pandas()) == 0:
            raise NotFoundError(f"no events for customer {customer_id!r}")
        notes: list[str] = []
        if model is None:
            path = self.model_path()
            if path is not None and path.exists():
                model = load_model(path)
                if days is not None and abs(model.horizon_days - days) > 1e-9:
                    model = None
            if model is None:
                model = self.train_next_stage(
                    horizon=horizon if horizon is not None else "30d", seed=seed
                )
                notes.append("no saved model for this horizon: trained one first")
            else:
                seen = model.data_version.get("events")
                now = int(events.count().to_pandas())
                if seen != now:
                    notes.append(
                        f"the model was trained on {seen:,} events, the project now has "
                        f"{now:,}: `kundresa predict` retrains it"
                    )
        drift = journey_changed(model, journey)
        if drift is not None:
            notes.append(drift)
        if self.engine != "duckdb":
            return next_best_step(events, journey, customer_id, model), notes
        # The same answer from the customer's own events only (tested equal): a fraction of
        # a second instead of the whole pipeline over every event.
        from kundresa.analytics.predict import score_customer
        from kundresa.live.state import customer_events

        with self.lock:
            mine = customer_events(self.warehouse.con, customer_id)
        return score_customer(mine, journey, customer_id, model), notes

    def reviews(self) -> list[dict[str, Any]]:
        """The map's reviews (``kundresa review``, :mod:`kundresa.report.review`), oldest
        first: each the numbers and lanes at that time and the ``review_by`` it set; an
        empty list without a project folder or before the first review.

        Raises
        ------
        kundresa.store.reviews.ReviewStoreError
            The reviews file is not readable.
        """
        from kundresa.store.reviews import load_reviews

        return load_reviews(self.root) if self.root is not None else []

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
        if self.root is not None and (self.root / STORE_DIR / "collector").is_dir():
            from kundresa.live.loader import collector_status

            out["collector"] = collector_status(
                self.root / STORE_DIR / "collector", self.warehouse.con
            )
        return out


_MISSING = object()

# Fields of the customer answer that come first, in the order the README lists them
# ("Live customer state").
_ANSWER_FIRST = frozenset(
    ("customer_id", "stage", "stage_label", "stage_entered_at", "persona", "next_stage")
)


def _content_items(journey: Journey, stage: str, persona: str | None) -> list[dict[str, Any]]:
    """The journey's ``content`` lane items for a stage, unscored (no model needed)."""
    value = journey.lane("content", stage, persona)
    texts = [] if value is None else [value] if isinstance(value, str) else list(value)
    label = journey.stage_label(stage)
    return [
        {
            "item": str(text),
            "kind": "content",
            "reason": f"the journey's content for {label}; not in the events, so not scored",
            "score": None,
        }
        for text in texts
    ]


def _freeze(value: Any) -> Hashable:
    if isinstance(value, dict):
        return tuple(sorted((k, _freeze(v)) for k, v in value.items()))
    if isinstance(value, list | tuple):
        return tuple(_freeze(v) for v in value)
    return value


def _copy(result: Result) -> Result:
    """A result the caller may change without changing the cached one."""
    from dataclasses import replace

    return replace(
        result,
        frame=result.frame.copy(),
        warnings=list(result.warnings),
        notes=list(result.notes),
        params=dict(result.params),
    )


def _load_engine() -> None:
    """Import the DuckDB engine's modules (a thread's warm-up; a failure is left to the real
    import to raise)."""
    with suppress(Exception):
        import ibis.backends.duckdb  # noqa: F401

        import kundresa.store.engines  # noqa: F401


def _read_in_place(wh: Warehouse, events: Any, engine: str, warm: bool = True) -> bool:
    if not isinstance(events, str | os.PathLike):
        return False
    from kundresa.store.in_place import read_in_place

    # Ibis and its DuckDB backend (~0.3-0.5 s of imports, which every analysis but the lean
    # event funnel needs) load while Arrow and DuckDB read the file with the interpreter lock
    # released (after numba, which the check needs first).
    then = _load_engine if engine == "duckdb" and warm else None
    try:
        return read_in_place(wh, events, then=then) is not None
    finally:
        from kundresa.store._read_ahead import discard

        discard()  # a read ahead the check did not take (kundresa.store._read_ahead)


def _load(wh: Warehouse, events: Any, options: dict[str, Any]) -> IngestReport:
    import pyarrow as pa

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


def _remove_quietly(tmp: Path, written: Path | None, created: list[Path]) -> None:
    """Undo a failed :meth:`Project.init`: its temporary file, the journey file it wrote
    (``written``, only where none was there before) and the folders it made, as far as the
    disk allows (a read-only disk has none of them)."""
    import shutil

    for path in (tmp, written):
        if path is not None:
            with suppress(OSError):
                path.unlink(missing_ok=True)
    for folder in reversed(created):
        with suppress(OSError):
            if folder.name == STORE_DIR:
                shutil.rmtree(folder)
            else:
                folder.rmdir()
