"""Where analyses run: the engine table, the one place engine differences live.

Analyses are Ibis expressions over an ``events`` table; this module gives them that table on
the chosen engine:

- ``duckdb`` (default): the warehouse itself, no copy.
- ``spark``, ``local[N]``, ``spark://host:port`` or ``yarn``: a PySpark session (local mode, or
  the cluster the URL names); the project's events are handed over as Parquet. Needs the
  ``spark`` extra.
- any other Ibis connection URL (``postgres://…``, ``clickhouse://…``, ``trino://…``): the
  backend's own ``events`` table when it has one, else the project's events are uploaded.

Every engine sees the *resolved* ``customer_id``: when the warehouse holds identity links, each
event's id is replaced by the id that names its person (``id_map``, see
:mod:`kundresa.store.identity`). Without links the table is read as stored, with no join.
"""

from __future__ import annotations

import logging
import os
import signal
import tempfile
import threading
import weakref
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import ibis

from kundresa import _interrupts
from kundresa.errors import KundresaError
from kundresa.model.events import CUSTOMER, EVENT_COLUMNS, PROPERTIES
from kundresa.store import resources

if TYPE_CHECKING:
    import ibis.expr.types as ir

    from kundresa.store.warehouse import Warehouse

__all__ = ["EngineError", "events_table", "is_spark", "spark_session"]

_SPARK_CONF = {
    # Timestamps are UTC instants everywhere; Spark must not shift them to the JVM's zone.
    "spark.sql.session.timeZone": "UTC",
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    "spark.sql.shuffle.partitions": "4",
    "spark.sql.ansi.enabled": "false",
}


class EngineError(KundresaError):
    """The engine named cannot be used (missing extra, bad URL)."""

    http_status = 503


def is_spark(engine: str) -> bool:
    return engine == "spark" or engine.startswith(("spark://", "local[", "local", "yarn"))


def spark_session(engine: str = "spark") -> Any:
    """A Spark session for ``engine`` (``spark`` means local mode with every core)."""
    try:
        from pyspark.sql import SparkSession
    except ImportError as exc:
        raise EngineError(
            "--engine spark needs PySpark: install the extra with "
            "`pip install 'kundresa[spark]'` (or `uv sync --extra spark`)"
        ) from exc
    master = "local[*]" if engine == "spark" else engine
    builder = SparkSession.builder.master(master).appName("kundresa")
    # KUNDRESA_MEMORY_LIMIT bounds the driver (in local mode, the whole engine) and Spark
    # spills to this process's folder; both apply when this process starts the JVM.
    builder = builder.config("spark.driver.memory", f"{resources.memory_bytes() // 2**20}m")
    builder = builder.config("spark.local.dir", str(resources.spill_folder()))
    for key, value in _SPARK_CONF.items():
        builder = builder.config(key, value)
    if _quiet_py4j_interrupts not in logging.getLogger().filters:
        logging.getLogger().addFilter(_quiet_py4j_interrupts)
    session = _started_in_a_thread(builder.getOrCreate)
    context = session.sparkContext
    context.setLogLevel("ERROR")
    handler = signal.getsignal(signal.SIGINT)
    main = threading.current_thread() is threading.main_thread()
    if context not in _CHAINED and main and callable(handler):
        # Ctrl-C cancels the session's jobs, then goes to the handler that was there (the
        # command's watch sees it: kundresa._interrupts). Once per Spark context.
        signal.signal(signal.SIGINT, _interrupts.chained(handler, context.cancelAllJobs))
        _CHAINED.add(context)
    return session


_CHAINED: weakref.WeakSet[Any] = weakref.WeakSet()
"""The Spark contexts whose jobs Ctrl-C cancels (:func:`spark_session`)."""


def _started_in_a_thread(start: Callable[[], Any]) -> Any:
    """``start()`` run in a thread while this one waits for it. PySpark's SparkContext, made
    in the main thread, puts in a SIGINT handler of its own that Ctrl-C met half-made (JVM
    up, session not) and failed on ("the query engine (py4j) failed", exit 1, tracebacks);
    made in another thread it puts in none, and Ctrl-C here is a KeyboardInterrupt."""
    box: dict[str, Any] = {}

    def run() -> None:
        try:
            box["done"] = start()
        except BaseException as exc:
            box["error"] = exc

    thread = threading.Thread(target=run, name="kundresa-spark-start", daemon=True)
    thread.start()
    thread.join()
    if "error" in box:
        raise box["error"]
    return box["done"]


def _quiet_py4j_interrupts(record: logging.LogRecord) -> bool:
    """False for py4j's report of a call that Ctrl-C interrupted (py4j logs it with its
    traceback on the root logger, which then prints it): the command's one line says it."""
    interrupted = record.exc_info is not None and record.exc_info[0] is KeyboardInterrupt
    return not (interrupted and f"{os.sep}py4j{os.sep}" in record.pathname)


def _resolved_sql(warehouse: Warehouse, *, json_properties: bool = False) -> str:
    """SQL for the canonical event columns with resolved customer ids (for copies).

    With ``json_properties`` the properties map becomes a JSON object as text, for backends
    without a map type (read with :func:`kundresa.analytics._portable.property_value`)."""

    def column(c: str) -> str:
        if c == CUSTOMER and warehouse.has_links():
            return "coalesce(m.customer_id, e.customer_id) AS customer_id"
        if c == PROPERTIES and json_properties:
            return f'CAST(to_json(e."{c}") AS VARCHAR) AS "{c}"'
        return f'e."{c}"'

    cols = ", ".join(column(c) for c in EVENT_COLUMNS)
    if not warehouse.has_links():
        return f"SELECT {cols} FROM events e"
    return f"SELECT {cols} FROM events e LEFT JOIN id_map m ON m.id = e.customer_id"


def events_table(engine: str, warehouse: Warehouse) -> ir.Table:
    """The warehouse's events as an Ibis table on ``engine``, customer ids resolved."""
    if engine == "duckdb":
        backend = ibis.duckdb.from_connection(warehouse.con)
        _remember_compiled_sql(backend)
        events = backend.table("events")
        if not warehouse.has_links():
            return events.select(*EVENT_COLUMNS)
        id_map = backend.table("id_map").rename(_id="id", _person="customer_id")
        joined = events.left_join(id_map, events.customer_id == id_map._id)
        return joined.select(
            *(
                joined._person.coalesce(joined.customer_id).name(CUSTOMER)
                if c == CUSTOMER
                else joined[c]
                for c in EVENT_COLUMNS
            )
        )
    if is_spark(engine):
        session = spark_session(engine)
        folder = Path(tempfile.mkdtemp(prefix="kundresa-spark-"))
        target = folder / "events.parquet"
        warehouse.con.execute(f"COPY ({_resolved_sql(warehouse)}) TO '{target}' (FORMAT parquet)")
        frame = session.read.parquet(str(target))
        # DuckDB writes zone-less timestamps; Spark reads them as TIMESTAMP_NTZ, which Ibis
        # maps back to a zone-less timestamp: the same UTC instants on both engines.
        frame.createOrReplaceTempView("events")
        backend = ibis.pyspark.connect(session)
        return backend.table("events").select(*EVENT_COLUMNS)
    try:
        backend = ibis.connect(engine)
    except Exception as exc:  # any driver error: report the URL, not a traceback
        raise EngineError(f"--engine {engine!r}: cannot connect: {exc}") from exc
    if backend.name == "duckdb":  # another DuckDB database: bounded like the warehouse
        resources.configure(backend.con)
    if "events" not in backend.list_tables():
        result = warehouse.con.execute(_resolved_sql(warehouse, json_properties=True))
        # DuckDB 1.5 renamed fetch_arrow_table to to_arrow_table; older ones have only the first.
        fetch = getattr(result, "to_arrow_table", None) or result.fetch_arrow_table
        arrow = fetch()
        # A memtable, not the Arrow table itself: Ibis 12 cannot create a DuckDB 1.5 table
        # from raw Arrow, and every backend accepts a memtable.
        backend.create_table("events", ibis.memtable(arrow))
    return backend.table("events").select(*EVENT_COLUMNS)


_COMPILED_KEPT = 256
"""Expressions whose SQL one backend remembers (:func:`_remember_compiled_sql`)."""


def _remember_compiled_sql(backend: Any) -> None:
    """Make ``backend`` remember the SQL it compiled for its last :data:`_COMPILED_KEPT`
    expressions (without parameters), so that one expression is compiled once.

    The analyses of one project each read the same rows (a stage analysis reads the staged
    rows of the whole history; a page runs several) and Ibis compiles an expression anew at
    every execution, which takes longer than DuckDB takes to run it on small data. Ibis
    expressions are immutable and compared by value, and the SQL of one depends only on it,
    the compile options keyed with it and the backend's dialect; DuckDB still runs each query
    on the data of the moment. An expression over an in-memory table (``ibis.memtable``: the
    funnel's best attempts joined back, say) is compiled every time: its key would keep the
    table's data alive, and each such table has a name of its own, so its SQL is not met
    again."""
    import ibis.expr.operations as ops

    kept: dict[tuple[Any, ...], str] = {}
    lock = threading.Lock()
    compile_sql = _unfused(backend.compile)

    def compile(
        expr: ir.Expr, /, *, limit: Any = None, params: Any = None, pretty: bool = False
    ) -> str:
        op = expr.op()
        if params or op.find(ops.InMemoryTable):
            return compile_sql(expr, limit=limit, params=params, pretty=pretty)
        default = ibis.options.sql.default_limit if limit == "default" else None
        key = (op, limit, pretty, default)
        try:
            with lock:
                sql = kept.get(key)
        except TypeError:  # a value that cannot be hashed: compiled every time
            return compile_sql(expr, limit=limit, pretty=pretty)
        if sql is None:
            sql = compile_sql(expr, limit=limit, pretty=pretty)
            with lock:
                if len(kept) >= _COMPILED_KEPT:
                    del kept[next(iter(kept))]
                kept[key] = sql
        else:
            backend._log(sql)
        return sql

    backend.compile = compile


_FUSE_LOCK = threading.Lock()


def _unfused(compile_sql: Any) -> Any:
    """``compile_sql`` (a backend's ``compile``) with Ibis's merging of nested selects
    (``ibis.options.sql.fuse_selects``) off for the call, the user's setting restored after.

    Merging a select into the one below it is the costliest rewrite of Ibis's compiler on the
    long chains of window steps the analyses build (a third of a stage analysis's compile
    time), and it buys DuckDB nothing: DuckDB's optimizer removes the nested projections
    itself. The option is process-wide, so compiles through here take turns (they hold the
    interpreter lock anyway)."""

    def compile(expr: ir.Expr, /, **kwargs: Any) -> str:
        options = ibis.options.sql
        with _FUSE_LOCK:
            fused = options.fuse_selects
            options.fuse_selects = False
            try:
                return str(compile_sql(expr, **kwargs))
            finally:
                options.fuse_selects = fused

    return compile


def source_events_table(engine: str, source: str, table: str | None = None) -> ir.Table:
    """The events of a raw export table on ``engine`` (an Ibis URL), mapped where the data
    lives: ``source`` ``ga4`` reads a GA4 BigQuery export (see
    :mod:`kundresa.store.ga4_direct`); ``table`` defaults to its daily ``events_*`` tables."""
    from kundresa.store.ga4_direct import GA4TableError, ga4_events, ga4_table

    if engine == "duckdb" or is_spark(engine):
        raise EngineError(
            f"--source {source}: give --engine the URL of the database that holds the table "
            "(bigquery://project/dataset, duckdb:///file.duckdb, postgres://...)"
        )
    try:
        backend = ibis.connect(engine)
    except Exception as exc:  # any driver error: report the URL, not a traceback
        raise EngineError(f"--engine {engine!r}: cannot connect: {exc}") from exc
    if backend.name == "duckdb":
        resources.configure(backend.con)
    try:
        return ga4_events(ga4_table(backend, table))
    except GA4TableError as exc:
        raise EngineError(f"--engine {engine!r}: {exc}") from exc
