"""The journey-ordered store: how the warehouse keeps its events for per-customer scans.

The ``events`` table is kept clustered by customer and time, so that an analysis that walks
each customer's sequence reads the rows in that order instead of grouping and sorting them:

- **Dictionary codes.** Every customer id and event name has an integer code, in the tables
  ``customer_codes (code, customer_id)`` and ``event_codes (code, event)``; each event row
  carries its codes in ``events._c`` and ``events._e``. A code is given when an ingest first
  stores the id or name and never changes; a customer removed by ``forget`` loses theirs.
- **An ordered main part and a small tail.** The rows of ingests up to the one recorded in
  ``meta`` (``store_ordered_ingest``) are stored in the *store order* — by customer code, then
  time, event name, event id, session id, channel, value (nulls last) and row key — and
  nothing else comes between them. Later ingests append their new rows (each ingest's rows in
  that order too) as the *tail*. When the tail grows past :data:`TAIL_FRACTION` of all rows
  (or on :func:`reorganise`), the table is rewritten in the store order and the tail is empty
  again (``store_reorganised`` records when).
- **The live collector's loads never rewrite.** They append (:func:`settle` with
  ``fraction=None``); once the tail passes :data:`LOAD_TAIL_FRACTION` (:data:`TAIL_FRACTION`
  when no events are arriving) the loader rewrites the rows *beside* the next loads, on a
  connection and in a transaction of its own (:func:`rewrite_beside_loads`; the loads'
  rows committed meanwhile end up in front of the rewritten ones, as the tail). A rewrite
  costs the whole table: inside a load it held back every event acked behind it, and
  rewriting at every tenth of growth would cost each event about ten rewrites of a row.

Readers (:mod:`kundresa.analytics._ordered`) read the main part (``_ingest`` up to the one
recorded) in storage order (a scan, no sort), the tail sorted by DuckDB (its rows are
selected by ``_ingest``, wherever they are stored), and merge the two. Everything here but
:func:`rewrite_beside_loads` runs inside the caller's transaction: a failed ingest leaves
codes, rows and layout as they were.

Warehouses written before the layout existed (schema 2) gain the columns when opened for
writing and are brought to the layout by their next write (an ingest, a collector load) or
by ``kundresa reorganise``; until then analyses read them on the grouping path.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from kundresa._interrupts import transaction

__all__ = [
    "DDL",
    "LOAD_TAIL_FRACTION",
    "STORE_ORDER",
    "TAIL_FRACTION",
    "assign_codes",
    "has_layout",
    "layout_summary",
    "ordered_ingest",
    "reorganise",
    "rewrite_beside_loads",
    "settle",
    "tail_rows",
]

TAIL_FRACTION = 0.1
"""The tail may hold up to this fraction of all rows before an ingest reorganises the store."""

LOAD_TAIL_FRACTION = 0.5
"""The tail's share past which the live collector's loader starts a rewrite beside its loads
(:func:`rewrite_beside_loads`; :data:`TAIL_FRACTION` between bursts). Rewriting the table
whenever the tail passes a fraction ``f`` of it costs each appended row ``1 / f`` rewrites
of a row, on average: 10 at 0.1, 2 at 0.5."""

STORE_ORDER = '_c, "timestamp", event, event_id, session_id, channel, value, _key'  # nulls last
"""The order of rows in the main part (SQL, DuckDB's default ascending, nulls last)."""

DDL = (
    "ALTER TABLE events ADD COLUMN IF NOT EXISTS _c INTEGER",
    "ALTER TABLE events ADD COLUMN IF NOT EXISTS _e INTEGER",
    "CREATE TABLE IF NOT EXISTS customer_codes (code INTEGER NOT NULL, customer_id VARCHAR "
    "NOT NULL)",
    "CREATE TABLE IF NOT EXISTS event_codes (code INTEGER NOT NULL, event VARCHAR NOT NULL)",
)
"""Schema 3: the code columns and the dictionaries (added to older warehouses on open)."""

_ORDERED_KEY = "store_ordered_ingest"
_REORGANISED_KEY = "store_reorganised"


def _one(con: Any, sql: str, params: list[Any] | None = None) -> Any:
    row = con.execute(sql, params or []).fetchone()
    return None if row is None else row[0]


def has_layout(con: Any) -> bool:
    """Whether the database on ``con`` has the code columns and dictionaries (schema 3)."""
    n = _one(
        con,
        "SELECT count(*) FROM duckdb_columns() WHERE table_name = 'events' "
        "AND column_name = '_c' AND database_name = current_database()",
    )
    return bool(n)


def ordered_ingest(con: Any) -> int | None:
    """The last ingest whose rows are in the main part, or None when the store has never been
    put in order (an older warehouse, or an empty one)."""
    try:
        value = _one(con, "SELECT value FROM meta WHERE key = ?", [_ORDERED_KEY])
    except Exception:  # a warehouse too old to have the meta table
        return None
    return None if value is None else int(value)


def assign_codes(con: Any, source: str) -> None:
    """Give codes to the customer ids and event names of ``source`` (a table or subquery with
    ``customer_id`` and ``event``) that have none yet: the next free numbers, in id order."""
    for table, column in (("customer_codes", "customer_id"), ("event_codes", "event")):
        con.execute(
            f"""
            INSERT INTO {table}
            SELECT (SELECT coalesce(max(code), -1) FROM {table})
                   + row_number() OVER (ORDER BY n.v), n.v
            FROM (SELECT DISTINCT {column} AS v FROM {source}) n
            WHERE NOT EXISTS (SELECT 1 FROM {table} d WHERE d.{column} = n.v)
            """
        )


def reorganise(con: Any, ingest_id: int | None = None) -> None:
    """Rewrite ``events`` in the store order, codes filled in, the tail empty (inside the
    caller's transaction). ``ingest_id``: the last ingest the main part now holds (default:
    the newest in the ingest log)."""
    assign_codes(con, "events WHERE _c IS NULL OR _e IS NULL")
    if ingest_id is None:
        ingest_id = int(_one(con, "SELECT coalesce(max(id), 0) FROM ingests"))
    # The order comes from the INSERT's own ORDER BY, which DuckDB keeps whatever
    # ``preserve_insertion_order`` is (the database's setting: not switched here, under the
    # readers on other connections).
    con.execute(
        """
        CREATE OR REPLACE TEMP TABLE _reorganised AS
        SELECT e.* REPLACE (c.code AS _c, v.code AS _e)
        FROM events e
        JOIN customer_codes c ON c.customer_id = e.customer_id
        JOIN event_codes v ON v.event = e.event
        """
    )
    con.execute("DELETE FROM events")
    con.execute(f"INSERT INTO events SELECT * FROM _reorganised ORDER BY {STORE_ORDER}")
    con.execute("DROP TABLE _reorganised")
    now = datetime.now(UTC).replace(tzinfo=None).isoformat(timespec="seconds")
    con.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", [_ORDERED_KEY, str(ingest_id)])
    con.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", [_REORGANISED_KEY, now])


def settle(con: Any, ingest_id: int, fraction: float | None = TAIL_FRACTION) -> bool:
    """After ingest ``ingest_id`` appended its rows: reorganise when the store was never in
    order or the tail has grown past ``fraction`` (default :data:`TAIL_FRACTION`) of all
    rows; when the main part is empty, this ingest's rows (appended in the store order)
    become it. ``ingest_id`` must be the newest ingest. ``fraction=None``: never for the
    tail's length (the collector's loads, beside :func:`rewrite_beside_loads`), and without
    counting the main part. Returns whether the table was rewritten."""
    done = ordered_ingest(con)
    if done is None or _one(con, "SELECT count(*) FROM events WHERE _c IS NULL OR _e IS NULL"):
        reorganise(con, ingest_id)
        return True
    if fraction is None:
        if _one(con, "SELECT 1 FROM events WHERE _ingest <= ? LIMIT 1", [done]) is not None:
            return False  # a main part: nothing here (no count of it, no rewrite)
        main = 0
    else:
        main = int(_one(con, "SELECT count(*) FROM events WHERE _ingest <= ?", [done]))
    tail = int(_one(con, "SELECT count(*) FROM events WHERE _ingest > ?", [done]))
    if main == 0 and tail == int(
        _one(con, "SELECT count(*) FROM events WHERE _ingest = ?", [ingest_id])
    ):
        # Only this ingest's rows, stored in the store order by one statement: in order.
        now = datetime.now(UTC).replace(tzinfo=None).isoformat(timespec="seconds")
        con.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", [_ORDERED_KEY, str(ingest_id)])
        con.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", [_REORGANISED_KEY, now])
        return False
    if fraction is not None and tail > fraction * (main + tail):
        reorganise(con, ingest_id)
        return True
    return False


def tail_rows(con: Any) -> tuple[int, int]:
    """``(tail rows, all rows)`` of the store on ``con`` (all rows in the tail when it was
    never put in order). Reads the ``_ingest`` column of the tail's row groups only: the main
    part's are skipped by their zone maps."""
    total = int(_one(con, "SELECT count(*) FROM events"))
    done = ordered_ingest(con)
    if done is None:
        return total, total
    return int(_one(con, "SELECT count(*) FROM events WHERE _ingest > ?", [done])), total


def rewrite_beside_loads(
    con: Any,
    fraction: float = TAIL_FRACTION,
    before_commit: Callable[[], None] | None = None,
) -> int | None:
    """Rewrite in the store order the rows this transaction sees, while other connections to
    the database keep appending ingests: :func:`reorganise` for a connection of its own
    (``con``, e.g. a ``cursor()`` of the writer), which it runs in a transaction of its own.

    DuckDB's transactions are optimistic: the rows the others append meanwhile are not seen
    here and do not conflict with deleting the rows that are, and they are committed in
    front of the rewritten rows (a transaction's own inserts join the table when it
    commits). So ``_ingest <= K`` — ``K`` the newest ingest this transaction sees, recorded
    as ``store_ordered_ingest`` — selects exactly the rewritten rows, stored together in the
    store order; what the others appended is the tail. Only the rewritten rows and the two
    ``meta`` keys of the layout are written: no codes are given here (every row must have
    its codes, which the appending ingests give to theirs), and an ingest running beside
    this must not write ``store_ordered_ingest`` (:func:`settle` with ``fraction=None``
    writes it only when the store holds nothing but that ingest's rows, so that this
    transaction saw no rows and wrote nothing).

    Parameters
    ----------
    con
        A DuckDB connection no other thread uses meanwhile, outside a transaction.
    fraction
        Rewrite only when the tail holds more than this fraction of the rows seen.
    before_commit
        Called inside the transaction just before ``COMMIT`` (tests append ingests there).

    Returns
    -------
    int or None
        The number of rows rewritten, or None when nothing was (the tail within
        ``fraction``, or a store never put in order or with rows without codes: those are
        for :func:`settle`).

    Raises
    ------
    duckdb.Error
        When DuckDB fails or the transaction conflicts with another (a ``forget`` deleting
        the same rows): rolled back, the store as it was.
    """
    total: int | None = None
    with transaction(con) as interrupts:
        done = ordered_ingest(con)
        tail, rows = tail_rows(con)
        if (
            done is None
            or tail <= fraction * rows
            or _one(con, "SELECT count(*) FROM events WHERE _c IS NULL OR _e IS NULL")
        ):
            interrupts.abandon()
            return None
        ingest_id = int(_one(con, "SELECT coalesce(max(id), 0) FROM ingests"))
        # The order comes from the INSERT's own ORDER BY, which DuckDB keeps whatever
        # ``preserve_insertion_order`` is: that setting is the database's, and the loads and
        # readers on the other connections switch it meanwhile.
        con.execute(
            "CREATE OR REPLACE TEMP TABLE _rewritten AS SELECT * FROM events WHERE _ingest <= ?",
            [ingest_id],
        )
        con.execute("DELETE FROM events WHERE _ingest <= ?", [ingest_id])
        con.execute(f"INSERT INTO events SELECT * FROM _rewritten ORDER BY {STORE_ORDER}")
        con.execute("DROP TABLE _rewritten")
        now = datetime.now(UTC).replace(tzinfo=None).isoformat(timespec="seconds")
        con.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", [_ORDERED_KEY, str(ingest_id)])
        con.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", [_REORGANISED_KEY, now])
        if before_commit is not None:
            before_commit()
        total = rows
    return total


def layout_summary(con: Any) -> dict[str, Any]:
    """How the store is laid out: ``ordered_rows`` (the main part), ``tail_rows``,
    ``customer_codes`` and ``event_codes`` (dictionary sizes), ``ordered_through_ingest``,
    ``reorganised`` (UTC, or None) and ``current`` (False for a warehouse an older version
    wrote that its next write will bring to the layout)."""
    total = int(_one(con, "SELECT count(*) FROM events"))
    if not has_layout(con) or ordered_ingest(con) is None:
        return {
            "ordered_rows": 0,
            "tail_rows": total,
            "customer_codes": 0,
            "event_codes": 0,
            "ordered_through_ingest": None,
            "reorganised": None,
            "current": total == 0 and has_layout(con),
        }
    done = ordered_ingest(con)
    main = int(_one(con, "SELECT count(*) FROM events WHERE _ingest <= ?", [done]))
    when = _one(con, "SELECT value FROM meta WHERE key = ?", [_REORGANISED_KEY])
    return {
        "ordered_rows": main,
        "tail_rows": total - main,
        "customer_codes": int(_one(con, "SELECT count(*) FROM customer_codes")),
        "event_codes": int(_one(con, "SELECT count(*) FROM event_codes")),
        "ordered_through_ingest": done,
        "reorganised": None if when is None else datetime.fromisoformat(when),
        "current": True,
    }
