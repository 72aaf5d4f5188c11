"""Live customer state: each customer's current stage, kept up to date as events arrive.

After every committed load (a file ingest, or a batch of the HTTP collector) :func:`catch_up`
reads only the events of the ingests after its watermark, moves each customer's stored state
past them, records every change of current stage in ``stage_events`` (the stage-entered feed)
and moves the watermark. It never re-runs the stage analysis over the whole history, and the
work is set-wise: a few SQL statements over every customer of the load at once (window
functions per customer: running ``nth`` counts, the stage before each touchpoint), with no
event or state passing through Python (issue 14: the per-customer Python replay held the
interpreter lock ~40 µs per event, delaying the collector's acks).

The state follows the stage semantics of :mod:`kundresa.analytics.stages` (docs/analytics.md,
"Stage assignment"): the *current* stage is the stage of the customer's last staged event in the
event order (time; ties by event name, event id, session id, channel, value);
``stage_entered_at`` is when the customer entered it (the first event of the latest unbroken
run of events in that stage); touchpoints are tagged with ``nth`` counted over the customer's
whole history; the persona is the first (in file order) whose match fits any of the
customer's events; customer ids are resolved
through identity stitching (``id_map``).

Fallbacks (docs/live-state.md):

- **A late event** — one that sorts before an event already processed for its customer (a
  backfill, a phone that was offline) — cannot be appended: that customer (only) is recomputed
  from their whole history. If their current stage differs afterwards, one stage event from
  the old to the new current stage is recorded, at the new ``stage_entered_at``.
- **Identity changes** — a new link merges two ids, ``forget`` removes one: every person whose
  set of ids changed is recomputed from their whole history (and an id that now belongs to
  another person loses its own row). Except when the change moves no stored event: an id
  new to the id map whose events all arrive in this load (a visitor who signs in), or an id
  whose person is the same; its new events are then appended as usual.
- **A journey edit** that changes stages, touchpoints or personas: the state is rebuilt from
  the whole history at the next catch-up, silently (no stage events: the customers did not
  move, the map did).

Tables (created idempotently by :func:`ensure_tables`): ``customer_state`` (one row per
customer with any event), ``stage_events`` (the feed, ``seq`` increasing) and
``live_id_map`` (the id map as of the last catch-up); the watermark and the journey's
fingerprint are rows of the warehouse's ``meta`` table.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from kundresa.live.tables import forget_ids
from kundresa.live.tables import has_tables as _has_tables

if TYPE_CHECKING:
    from kundresa.model.journey import Journey

__all__ = [
    "LAST_TOUCHPOINTS",
    "CustomerState",
    "StageEvent",
    "catch_up",
    "compute_states",
    "customer_events",
    "ensure_tables",
    "forget_ids",
    "latest_seq",
    "read_state",
    "stage_events_since",
]

#: How many of a customer's most recent touchpoints the state keeps.
LAST_TOUCHPOINTS = 5

_WATERMARK = "live.watermark"
_FINGERPRINT = "live.journey"
_STATE_TYPES = (
    ("customer_id", "VARCHAR"),
    ("stage", "VARCHAR"),
    ("stage_entered_at", "TIMESTAMP"),
    ("highest_stage", "VARCHAR"),
    ("stages_visited", "VARCHAR[]"),
    ("stages_first_at", "TIMESTAMP[]"),
    ("persona", "VARCHAR"),
    ("last_touchpoints", "VARCHAR[]"),
    ("last_touchpoints_at", "TIMESTAMP[]"),
    ("first_event_at", "TIMESTAMP"),
    ("last_event_at", "TIMESTAMP"),
    ("events", "BIGINT"),
    ("updated_at", "TIMESTAMP"),
    ("_last_event", "VARCHAR"),
    ("_last_event_id", "VARCHAR"),
    ("_counts", "INTEGER[]"),
    ("_personas", "BOOLEAN[]"),
)
_STATE_COLUMNS = tuple(c for c, _ in _STATE_TYPES)
_NOT_NULL = {
    "stages_visited",
    "stages_first_at",
    "last_touchpoints",
    "last_touchpoints_at",
    "first_event_at",
    "last_event_at",
    "events",
    "updated_at",
    "_last_event",
    "_counts",
    "_personas",
}

# customer_state has no primary key: the catch-up rewrites each batch's customers (a delete
# and an insert), and DuckDB's index made that ~50x dearer (1-3 s for 20,000 customers on
# disk); the catch-up alone writes the table and keeps one row per customer.
_DDL = (
    "CREATE TABLE IF NOT EXISTS customer_state (customer_id VARCHAR NOT NULL, "
    + ", ".join(f"{c} {t}" + (" NOT NULL" if c in _NOT_NULL else "") for c, t in _STATE_TYPES[1:])
    + ")",
    """
    CREATE TABLE IF NOT EXISTS stage_events (
        seq BIGINT PRIMARY KEY,
        customer_id VARCHAR NOT NULL,
        from_stage VARCHAR,
        to_stage VARCHAR NOT NULL,
        "at" TIMESTAMP NOT NULL,
        recorded_at TIMESTAMP NOT NULL,
        ingest INTEGER NOT NULL
    )
    """,
    "CREATE TABLE IF NOT EXISTS live_id_map (id VARCHAR NOT NULL, customer_id VARCHAR NOT NULL)",
    "CREATE TABLE IF NOT EXISTS meta (key VARCHAR PRIMARY KEY, value VARCHAR)",
)


@dataclass(frozen=True)
class StageEvent:
    """A customer's current stage changed: ``from_stage`` (``None`` for their first stage)
    to ``to_stage`` at ``at`` (a UTC instant, naive); ``seq`` orders the feed."""

    seq: int
    customer_id: str
    from_stage: str | None
    to_stage: str
    at: datetime

    def as_dict(self) -> dict[str, Any]:
        """The webhook body and feed item: ``customer_id``, ``from_stage``, ``to_stage``,
        ``at`` (ISO 8601 in UTC, ``Z``) and ``seq``."""
        return {
            "seq": self.seq,
            "customer_id": self.customer_id,
            "from_stage": self.from_stage,
            "to_stage": self.to_stage,
            "at": _iso(self.at),
        }


@dataclass
class CustomerState:
    """One customer's state, as :func:`catch_up` keeps it (see the module's docstring)."""

    customer_id: str
    stage: str | None = None
    stage_entered_at: datetime | None = None
    highest: int = 0
    visited: dict[str, datetime] = field(default_factory=dict)
    persona_flags: list[bool] = field(default_factory=list)
    last_touchpoints: list[tuple[str, datetime]] = field(default_factory=list)
    first_event_at: datetime | None = None
    last_event_at: datetime | None = None
    last_key: tuple[Any, ...] | None = None
    events: int = 0
    counts: list[int] = field(default_factory=list)


def _iso(at: datetime | None) -> str | None:
    if at is None:
        return None
    return at.replace(tzinfo=None).isoformat() + "Z"


def _key(ts: datetime, event: str, event_id: str | None) -> tuple[Any, ...]:
    # The first keys of the analyses' event order (EVENT_ORDER; nulls last): a tie in them
    # makes a late event, which recomputes the customer in the whole order.
    return (ts, event, event_id is None, event_id or "")


class _Rules:
    """The journey's touchpoints and personas, and the set-wise SQL that applies them to a
    batch of events (one statement per step, over every customer of the batch at once)."""

    def __init__(self, journey: Journey) -> None:
        self.journey = journey
        self.stage_ids = list(journey.stage_ids)
        self.index = {s: i + 1 for i, s in enumerate(self.stage_ids)}
        self.touchpoints = list(journey.touchpoints)
        self.nth = [tp.match.nth or 1 for tp in self.touchpoints]
        self.personas = [p for p in journey.personas if p.match is not None]

    def persona(self, st: CustomerState) -> str | None:
        return next((p.id for p, f in zip(self.personas, st.persona_flags, strict=True) if f), None)

    def fingerprint(self) -> str:
        j = self.journey
        what = repr((j.stage_ids, j.touchpoints, tuple(self.personas)))
        return hashlib.sha256(what.encode("utf-8")).hexdigest()[:16]

    def events_sql(self, where: str = "") -> str:
        """SQL for the (resolved) events that ``where`` picks: ``person``, ``timestamp``,
        ``event``, ``event_id``, ``session_id``, ``channel``, ``value``, whether each fits
        touchpoint k's ``event``/``where`` (``_t{k}``, file order) and persona i's match
        (``_p{i}``), and ``_r``, the event's rank in its person's event order (1 for their
        first).

        The conditions are the analyses' own Ibis expressions
        (:func:`~kundresa.analytics.touchpoints.match_expr`), compiled once per journey and
        run on the warehouse's connection: properties never travel to Python.
        """
        key = (self.fingerprint(), "events", where)
        found = _SQL.get(key)
        if found is not None:
            return found
        import ibis

        from kundresa.analytics.touchpoints import condition_expr, match_expr

        t = ibis.table(
            {
                "person": "string",
                "timestamp": "timestamp(6)",
                "event": "string",
                "event_id": "string",
                "session_id": "string",
                "channel": "string",
                "value": "float64",
                "properties": "map<string, string>",
            },
            name="_live_events",
        )
        flags = {f"_t{k}": match_expr(t, tp.match) for k, tp in enumerate(self.touchpoints)}
        for i, p in enumerate(self.personas):
            assert p.match is not None
            value = t.properties.get(p.match.property)
            flags[f"_p{i}"] = condition_expr(value, p.match.condition)
        picked = t.select(
            "person", "timestamp", "event", "event_id", "session_id", "channel", "value", **flags
        )
        inner = ibis.to_sql(picked, dialect="duckdb")
        sql = (
            f"WITH _live_events AS ({_EVENTS}{where}), _fits AS ({inner}) "
            f"SELECT *, row_number() OVER (PARTITION BY person ORDER BY {_ORDER}) AS _r "
            "FROM _fits"
        )
        return _remember(key, sql)

    def steps_sql(self) -> str:
        """SQL for the batch's events that are touchpoints, from ``_live_in`` (rows of
        :meth:`events_sql` and ``_redo``) and ``_live_base`` (the stored states to move on;
        none for a ``_redo`` person): ``person``, ``_r``, ``timestamp``, ``_redo``,
        the touchpoint chosen (``touchpoint``), its ``stage`` and ``stage_index`` (1-based).

        An event is touchpoint k when it fits k's ``event``/``where`` and is at least k's
        ``nth`` such event of the person's whole history (the stored count plus a running
        count); of several, the first in file order. Every fitting event counts for ``nth``,
        chosen or not (:func:`kundresa.analytics.touchpoints.tag_touchpoints`).
        """
        key = (self.fingerprint(), "steps", "")
        found = _SQL.get(key)
        if found is not None:
            return found
        n = len(self.touchpoints)
        if n == 0:
            sql = (
                "SELECT NULL::VARCHAR AS person, NULL::BIGINT AS _r, "
                'NULL::TIMESTAMP AS "timestamp", NULL::BOOLEAN AS _redo, '
                "NULL::VARCHAR AS touchpoint, NULL::VARCHAR AS stage, "
                "NULL::INTEGER AS stage_index WHERE false"
            )
            return _remember(key, sql)
        counted = [k for k in range(n) if self.nth[k] > 1]
        running = "".join(
            f", coalesce(b._counts[{k + 1}], 0) + count_if(i._t{k}) OVER _w AS _c{k}"
            for k in counted
        )
        window = (
            " WINDOW _w AS (PARTITION BY i.person ORDER BY i._r "
            "ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)"
            if counted
            else ""
        )
        chosen = " ".join(
            f"WHEN _t{k} AND _c{k} >= {self.nth[k]} THEN {k + 1}"
            if self.nth[k] > 1
            else f"WHEN _t{k} THEN {k + 1}"
            for k in range(n)
        )
        fits = " OR ".join(f"i._t{k}" for k in range(n))
        ids = _texts(tp.id for tp in self.touchpoints)
        stages = _texts(tp.stage for tp in self.touchpoints)
        index = "[" + ", ".join(str(self.index[tp.stage]) for tp in self.touchpoints) + "]"
        sql = (
            'SELECT person, _r, "timestamp", _redo, '
            f"{ids}[_k] AS touchpoint, {stages}[_k] AS stage, {index}[_k] AS stage_index "
            f'FROM (SELECT person, _r, "timestamp", _redo, CASE {chosen} END AS _k '
            f"FROM (SELECT i.*{running} FROM _live_in i LEFT JOIN _live_base b "
            f"ON b.customer_id = i.person WHERE {fits}{window})) "
            "WHERE _k IS NOT NULL"
        )
        return _remember(key, sql)

    @staticmethod
    def changes_sql() -> str:
        """SQL for every change of current stage in ``_live_steps`` (a touchpoint of another
        stage than the one before it, or than the stored stage for a person's first):
        ``customer_id``, ``n`` (the event's rank), ``from_stage``, ``to_stage``, ``at``,
        ``_redo``."""
        return (
            'SELECT person AS customer_id, _r AS n, from_stage, stage AS to_stage, "timestamp" '
            'AS "at", _redo FROM (SELECT s.*, coalesce(lag(s.stage) OVER (PARTITION BY '
            "s.person ORDER BY s._r), b.stage) AS from_stage FROM _live_steps s "
            "LEFT JOIN _live_base b ON b.customer_id = s.person) "
            "WHERE stage IS DISTINCT FROM from_stage"
        )

    def states_sql(self, now: datetime) -> str:
        """SQL for the new state of every person in ``_live_in``, in the columns of
        ``customer_state``: their stored state (``_live_base``; none for a ``_redo``
        person) moved past their events in ``_live_in``, given the touchpoints chosen
        (``_live_steps``) and the stage changes (``_live_changes``)."""
        key = (self.fingerprint(), "states", "")
        sql = _SQL.get(key)
        if sql is None:
            n, m = len(self.touchpoints), len(self.personas)
            counts = ", ".join(f"count_if(_t{k}) AS _c{k}" for k in range(n))
            flags = ", ".join(f"bool_or(_p{i}) AS _q{i}" for i in range(m))
            new_counts = ", ".join(f"coalesce(b._counts[{k + 1}], 0) + a._c{k}" for k in range(n))
            new_flags = ", ".join(
                f"coalesce(b._personas[{i + 1}], false) OR a._q{i}" for i in range(m)
            )
            stage_ids = _texts(self.stage_ids)
            personas = _texts(p.id for p in self.personas)
            last = LAST_TOUCHPOINTS
            sql = (
                "WITH _agg AS (SELECT person, bool_or(_redo) AS _redo, count(*) AS _n, "
                'min("timestamp") AS _first, max("timestamp") AS _last'
                + "".join(f", {x}" for x in (counts, flags) if x)
                + " FROM _live_in GROUP BY person), "
                "_end AS (SELECT i.person, i.event, i.event_id FROM _live_in i "
                "JOIN _agg a ON a.person = i.person AND i._r = a._n), "
                "_now AS (SELECT person, arg_max(stage, _r) AS stage, "
                "max(stage_index) AS highest FROM _live_steps GROUP BY person), "
                '_entered AS (SELECT customer_id, max("at") AS "at" FROM _live_changes '
                "GROUP BY customer_id), "
                # The last touchpoints: the stored ones, then the batch's newest few.
                # (Lists of structs sorted, not ordered aggregates: those sort group by group.)
                "_tail AS (SELECT person, list_slice(list_sort(list({'r': _r, 'tp': touchpoint, "
                f"'at': \"timestamp\"}})), -{last}, -1) AS _l FROM _live_steps GROUP BY person), "
                # Each stage's first entry: the stored ones (never later than the batch's).
                '_firsts AS (SELECT person, stage, min("at") AS "at", '
                f"coalesce(min(stage_index), list_position({stage_ids}, stage)) AS stage_index "
                "FROM (SELECT b.customer_id AS person, unnest(b.stages_visited) "
                'AS stage, unnest(b.stages_first_at) AS "at", NULL::INTEGER AS stage_index '
                "FROM _live_base b "
                'UNION ALL SELECT person, stage, "timestamp", stage_index FROM _live_steps) '
                "GROUP BY person, stage), "
                "_visited AS (SELECT person, list_sort(list({'at': \"at\", 'i': stage_index, "
                "'s': stage})) AS _l FROM _firsts GROUP BY person), "
                "_next AS (SELECT a.person AS customer_id, "
                "CASE WHEN c.stage IS NULL THEN b.stage ELSE c.stage END AS stage, "
                'coalesce(e."at", b.stage_entered_at) AS stage_entered_at, '
                f"{stage_ids}[greatest(coalesce(list_position({stage_ids}, b.highest_stage), "
                "0), coalesce(c.highest, 0))] AS highest_stage, "
                "coalesce(list_transform(v._l, lambda x: x.s), []::VARCHAR[]) AS stages_visited, "
                'coalesce(list_transform(v._l, lambda x: x."at"), []::TIMESTAMP[]) '
                "AS stages_first_at, "
                "list_slice(coalesce(b.last_touchpoints, []::VARCHAR[]) || "
                "coalesce(list_transform(t._l, lambda x: x.tp), []::VARCHAR[]), "
                f"-{last}, -1) AS last_touchpoints, "
                "list_slice(coalesce(b.last_touchpoints_at, []::TIMESTAMP[]) || "
                f'coalesce(list_transform(t._l, lambda x: x."at"), []::TIMESTAMP[]), -{last}, -1) '
                "AS last_touchpoints_at, "
                "coalesce(b.first_event_at, a._first) AS first_event_at, "
                "a._last AS last_event_at, coalesce(b.events, 0) + a._n AS events, "
                f"{_NOW} AS updated_at, z.event AS _last_event, "
                "z.event_id AS _last_event_id, "
                f"[{new_counts}]::INTEGER[] AS _counts, [{new_flags}]::BOOLEAN[] AS _personas "
                "FROM _agg a JOIN _end z ON z.person = a.person "
                "LEFT JOIN _live_base b ON b.customer_id = a.person "
                "LEFT JOIN _now c ON c.person = a.person "
                "LEFT JOIN _entered e ON e.customer_id = a.person "
                "LEFT JOIN _tail t ON t.person = a.person "
                "LEFT JOIN _visited v ON v.person = a.person) "
                "SELECT customer_id, stage, stage_entered_at, highest_stage, stages_visited, "
                f"stages_first_at, {personas}[list_position(_personas, true)] AS persona, "
                "last_touchpoints, last_touchpoints_at, first_event_at, last_event_at, events, "
                "updated_at, _last_event, _last_event_id, _counts, _personas FROM _next"
            )
            _remember(key, sql)
        # The clock is the one thing that differs between calls: a literal, not a parameter,
        # so that the text can sit inside a larger statement.
        return sql.replace(_NOW, _timestamp(now))


# The analyses' event order (EVENT_ORDER), nulls last as DuckDB's default.
_ORDER = '"timestamp", event, event_id, session_id, channel, value'

_NOW = "__live_now__"  # replaced by the clock's time in each statement

# Compiled SQL by (journey fingerprint, what, filter).
_SQL: dict[tuple[str, str, str], str] = {}


def _remember(key: tuple[str, str, str], sql: str) -> str:
    if len(_SQL) > 64:
        _SQL.clear()
    _SQL[key] = sql
    return sql


def _text(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _texts(values: Iterable[str]) -> str:
    return "([" + ", ".join(_text(v) for v in values) + "]::VARCHAR[])"


def _timestamp(at: datetime) -> str:
    return f"TIMESTAMP '{at.isoformat(sep=' ')}'"


def ensure_tables(con: Any) -> None:
    """Create the live tables if they are missing (idempotent; needs a write connection)."""
    for ddl in _DDL:
        con.execute(ddl)
    keyed = con.execute(
        "SELECT count(*) FROM duckdb_constraints() WHERE database_name = current_database() "
        "AND table_name = 'customer_state' AND constraint_type = 'PRIMARY KEY'"
    ).fetchone()
    if keyed and keyed[0]:
        # A warehouse written before the key was dropped: the same rows, without the key.
        con.execute("ALTER TABLE customer_state RENAME TO _customer_state_keyed")
        con.execute(_DDL[0])
        con.execute("INSERT INTO customer_state SELECT * FROM _customer_state_keyed")
        con.execute("DROP TABLE _customer_state_keyed")


def _meta(con: Any, key: str) -> str | None:
    row = con.execute("SELECT value FROM meta WHERE key = ?", [key]).fetchone()
    return None if row is None else str(row[0])


_PERSON = "coalesce(m.customer_id, e.customer_id)"
_EVENTS = (
    f'SELECT {_PERSON} AS person, e."timestamp", e.event, e.event_id, e.session_id, e.channel, '
    "e.value, e.properties "
    "FROM events e LEFT JOIN id_map m ON m.id = e.customer_id"
)
# A relation shaped like customer_state with no rows: the stored states of a recompute.
_NO_STATES = "SELECT " + ", ".join(f"NULL::{t} AS {c}" for c, t in _STATE_TYPES) + " WHERE false"


def compute_states(
    con: Any, journey: Journey, persons: Sequence[str] | None = None
) -> dict[str, CustomerState]:
    """The state of ``persons`` (customer ids as analyses name them; ``None``: everyone)
    computed from their whole history, without storing anything.

    Parameters
    ----------
    con
        A DuckDB connection to a warehouse (read-only is enough).
    journey
        The journey.
    persons
        Resolved customer ids.

    Returns
    -------
    dict
        :class:`CustomerState` by customer id, for those with any event.
    """
    rules = _Rules(journey)
    if persons is not None and not persons:
        return {}
    where = "" if persons is None else f" WHERE {_PERSON} IN (SELECT unnest(?))"
    params = [] if persons is None else [list(persons)]
    now = datetime.now(UTC).replace(tzinfo=None)
    # One statement (no temporary tables: a read-only connection may serve other readers).
    sql = (
        "WITH _live_in AS MATERIALIZED (SELECT *, false AS _redo FROM ("
        + rules.events_sql(where)
        + f")), _live_base AS ({_NO_STATES}), _live_steps AS MATERIALIZED ("
        + rules.steps_sql()
        + "), _live_changes AS MATERIALIZED ("
        + rules.changes_sql()
        + "), _live_states AS ("
        + rules.states_sql(now)
        + ") SELECT * FROM _live_states"
    )
    rows = con.execute(sql, params).fetchall()
    return {r[0]: _state(rules, r) for r in rows}


def catch_up(
    con: Any, journey: Journey, *, in_transaction: bool = False, changes: bool = True
) -> list[StageEvent]:
    """Bring the live customer state up to date with every ingest; the stage events it
    recorded.

    Call it with the open write connection after each load (the collector's loader and
    every file ingest do), from one thread at a time. It processes only the events of
    ingests after its watermark (``events._ingest``), customers whose ids were stitched or
    forgotten since, and — for a late event — that customer's whole history (module
    docstring). Everything it changes is one transaction: its own, or, with
    ``in_transaction``, the caller's (a loader that calls it before committing its load, so
    that the load and the state commit together). If it fails, the state, the feed and the
    watermark are as they were, and the next call does the work again.

    Parameters
    ----------
    con
        A DuckDB write connection to the warehouse.
    journey
        The project's journey.
    in_transaction
        The caller has a transaction open on ``con`` (and commits or rolls it back).
    changes
        False: the stage changes are recorded in the feed as always, but not read back
        (an empty list is returned; the collector's loader, which does not use them, saves
        building a Python object per change).

    Returns
    -------
    list of StageEvent
        The stage changes recorded, in ``seq`` order (empty when nothing changed, after a
        rebuild for a changed journey, and with ``changes`` false).
    """
    ensure_tables(con)
    rules = _Rules(journey)
    now = datetime.now(UTC).replace(tzinfo=None)
    if in_transaction:
        return _catch_up(con, rules, now, changes)
    from kundresa._interrupts import transaction

    with transaction(con):
        recorded = _catch_up(con, rules, now, changes)
    return recorded


def _catch_up(con: Any, rules: _Rules, now: datetime, changes: bool) -> list[StageEvent]:
    fingerprint = rules.fingerprint()
    watermark = int(_meta(con, _WATERMARK) or 0)
    row = con.execute("SELECT coalesce(max(id), 0) FROM ingests").fetchone()
    latest = int(row[0]) if row else 0
    if _meta(con, _FINGERPRINT) != fingerprint:
        # A new journey (or a first catch-up): everyone from their whole history, quietly
        # when there was a state before (the map changed, not the customers).
        had_state = _meta(con, _FINGERPRINT) is not None
        con.execute("DELETE FROM customer_state")
        con.execute("DELETE FROM live_id_map")
        con.execute("INSERT INTO live_id_map SELECT id, customer_id FROM id_map")
        con.execute(
            "CREATE OR REPLACE TEMP TABLE _live_in AS SELECT *, false AS _redo FROM ("
            + rules.events_sql()
            + ")"
        )
        recorded = _advance(con, rules, now, latest, record=not had_state, changes=changes)
        _set_meta(con, fingerprint, latest)
        return recorded

    # Persons whose ids changed since the last catch-up (links, forget): recomputed.
    changed = con.execute(
        """
        SELECT coalesce(a.id, b.id), a.customer_id, b.customer_id
        FROM live_id_map a FULL OUTER JOIN id_map b ON a.id = b.id
        WHERE a.customer_id IS DISTINCT FROM b.customer_id
        """
    ).fetchall()
    recompute: set[str] = set()
    # A state holds only events loaded by the watermark. An id that is new to the id map
    # (a new link) and has no such event moves nothing between persons: its events are all
    # new, and reach their person below, resolved by the new map. Likewise an id whose person
    # stays the same. So a visitor who signs in costs no whole-history recompute.
    newcomers = [id_ for id_, old, new in changed if old is None and (new or id_) != id_]
    had_events = (
        {
            r[0]
            for r in con.execute(
                "SELECT DISTINCT customer_id FROM events "
                "WHERE _ingest <= ? AND customer_id IN (SELECT unnest(?))",
                [watermark, newcomers],
            ).fetchall()
        }
        if newcomers
        else set()
    )
    for id_, old, new in changed:
        if (old or id_) == (new or id_) or (old is None and id_ not in had_events):
            continue
        recompute.update({old or id_, new or id_})
    if changed:
        # The copy takes the changed rows only (each id is one row of either map): a load
        # with new links rewrites those, not the whole map.
        ids = [id_ for id_, _, _ in changed]
        con.execute("DELETE FROM live_id_map WHERE id IN (SELECT unnest(?))", [ids])
        con.execute(
            "INSERT INTO live_id_map SELECT id, customer_id FROM id_map "
            "WHERE id IN (SELECT unnest(?))",
            [ids],
        )
    if latest <= watermark and not recompute:
        return []

    # The new events, by person: appended to the stored state when they all sort after it.
    con.execute(
        "CREATE OR REPLACE TEMP TABLE _live_in AS SELECT *, false AS _redo FROM ("
        + rules.events_sql(" WHERE e._ingest > ?")
        + ")",
        [watermark],
    )
    # A late event (the person's first new event sorts before, or as, the last one stored):
    # that customer from their whole history.
    late = con.execute(
        "SELECT i.person FROM _live_in i JOIN customer_state s ON s.customer_id = i.person "
        'WHERE i._r = 1 AND (i."timestamp", i.event, i.event_id IS NULL, '
        "coalesce(i.event_id, '')) <= (s.last_event_at, s._last_event, "
        "s._last_event_id IS NULL, coalesce(s._last_event_id, ''))"
    ).fetchall()
    recompute.update(r[0] for r in late)
    if recompute:
        redo = sorted(recompute)
        con.execute("DELETE FROM _live_in WHERE person IN (SELECT unnest(?))", [redo])
        con.execute(
            "INSERT INTO _live_in SELECT *, true AS _redo FROM ("
            + rules.events_sql(f" WHERE {_PERSON} IN (SELECT unnest(?))")
            + ")",
            [redo],
        )
    recorded = _advance(
        con, rules, now, latest, record=True, redo=sorted(recompute), changes=changes
    )
    _set_meta(con, fingerprint, latest)
    return recorded


def _advance(
    con: Any,
    rules: _Rules,
    now: datetime,
    ingest: int,
    *,
    record: bool,
    redo: Sequence[str] = (),
    changes: bool = True,
) -> list[StageEvent]:
    """Move the stored state of every person in ``_live_in`` past their events there (from
    no state for ``_redo`` persons, and for the ``redo`` ones with no event left: their row
    goes), record the stage changes in ``stage_events`` — every one, or with ``record``
    false none; for a ``_redo`` person one, from the stored to the new current stage — and
    return them (with ``changes`` false: none)."""
    con.execute(
        "CREATE OR REPLACE TEMP TABLE _live_before AS SELECT * FROM customer_state "
        "WHERE customer_id IN (SELECT person FROM _live_in UNION SELECT unnest(?))",
        [list(redo)],
    )
    # (A separate table, not a join condition on _redo: that would be no equi-join.)
    con.execute(
        "CREATE OR REPLACE TEMP TABLE _live_base AS SELECT * FROM _live_before "
        "WHERE customer_id IN (SELECT person FROM _live_in WHERE NOT _redo)"
    )
    con.execute("CREATE OR REPLACE TEMP TABLE _live_steps AS " + rules.steps_sql())
    con.execute("CREATE OR REPLACE TEMP TABLE _live_changes AS " + rules.changes_sql())
    con.execute("CREATE OR REPLACE TEMP TABLE _live_next AS " + rules.states_sql(now))
    recorded = 0
    base = 0
    if record:
        row = con.execute("SELECT coalesce(max(seq), 0) FROM stage_events").fetchone()
        base = int(row[0]) if row else 0
        # In time order, so the feed reads like the customers moved.
        row = con.execute(
            "INSERT INTO stage_events SELECT ? + row_number() OVER "
            '(ORDER BY "at", customer_id, n), customer_id, from_stage, to_stage, "at", ?, ? '
            'FROM (SELECT customer_id, n, from_stage, to_stage, "at" FROM _live_changes '
            "WHERE NOT _redo UNION ALL SELECT x.customer_id, 0, b.stage, x.stage, "
            "x.stage_entered_at FROM _live_next x JOIN (SELECT DISTINCT person FROM _live_in "
            "WHERE _redo) r ON r.person = x.customer_id LEFT JOIN _live_before b "
            "ON b.customer_id = x.customer_id "
            "WHERE x.stage IS NOT NULL AND x.stage IS DISTINCT FROM b.stage)",
            [base, now, ingest],
        ).fetchone()
        recorded = int(row[0]) if row else 0
    con.execute(
        "DELETE FROM customer_state WHERE customer_id IN (SELECT customer_id FROM _live_before)"
    )
    con.execute("INSERT INTO customer_state SELECT * FROM _live_next")
    for table in ("_in", "_before", "_base", "_steps", "_changes", "_next"):
        con.execute(f"DROP TABLE _live{table}")
    return stage_events_since(con, base, limit=recorded) if recorded and changes else []


def _set_meta(con: Any, fingerprint: str, watermark: int) -> None:
    con.execute(
        "INSERT OR REPLACE INTO meta VALUES (?, ?), (?, ?)",
        [_WATERMARK, str(watermark), _FINGERPRINT, fingerprint],
    )


def _state(rules: _Rules, row: Sequence[Any]) -> CustomerState:
    """A ``customer_state`` row (its columns in order) as a :class:`CustomerState`."""
    d = dict(zip(_STATE_COLUMNS, row, strict=True))
    return CustomerState(
        d["customer_id"],
        stage=d["stage"],
        stage_entered_at=d["stage_entered_at"],
        highest=rules.index.get(d["highest_stage"], 0) if d["highest_stage"] else 0,
        visited=dict(zip(d["stages_visited"], d["stages_first_at"], strict=True)),
        persona_flags=list(d["_personas"]),
        last_touchpoints=list(zip(d["last_touchpoints"], d["last_touchpoints_at"], strict=True)),
        first_event_at=d["first_event_at"],
        last_event_at=d["last_event_at"],
        last_key=_key(d["last_event_at"], d["_last_event"], d["_last_event_id"]),
        events=int(d["events"]),
        counts=list(d["_counts"]),
    )


def _read(con: Any, rules: _Rules, persons: list[str]) -> dict[str, CustomerState]:
    if not persons:
        return {}
    cols = ", ".join(f'"{c}"' for c in _STATE_COLUMNS)
    cur = con.execute(
        f"SELECT {cols} FROM customer_state WHERE customer_id IN (SELECT unnest(?))", [persons]
    )
    return {r[0]: _state(rules, r) for r in cur.fetchall()}


def _as_dict(st: CustomerState, rules: _Rules, lang: str | None) -> dict[str, Any]:
    j = rules.journey
    order = sorted(st.visited.items(), key=lambda kv: (kv[1], rules.index[kv[0]]))
    return {
        "customer_id": st.customer_id,
        "stage": st.stage,
        "stage_label": j.stage_label(st.stage, lang) if st.stage else None,
        "stage_entered_at": _iso(st.stage_entered_at),
        "highest_stage": rules.stage_ids[st.highest - 1] if st.highest else None,
        "stages_visited": [{"stage": s, "first_entered_at": _iso(t)} for s, t in order],
        "persona": rules.persona(st),
        "last_touchpoints": [
            {"touchpoint": tp, "at": _iso(t)} for tp, t in reversed(st.last_touchpoints)
        ],
        "first_event_at": _iso(st.first_event_at),
        "last_event_at": _iso(st.last_event_at),
        "events": st.events,
    }


def read_state(
    con: Any, journey: Journey, customer_id: str, *, lang: str | None = None
) -> dict[str, Any] | None:
    """One customer's live state as a dict, or ``None`` when they have no event.

    Read from ``customer_state`` when it is up to date (its watermark is the last ingest
    and it was built for this journey); otherwise — a read-only warehouse written before
    the live tables existed, or a catch-up still to come — computed from the customer's
    own events, so the answer is always current.

    Parameters
    ----------
    con
        A DuckDB connection to the warehouse (read-only is enough).
    journey
        The journey.
    customer_id
        The customer id as analyses name the person (resolve any other id first).
    lang
        Language of ``stage_label``; default the journey's.

    Returns
    -------
    dict or None
        ``customer_id``, ``stage``, ``stage_label``, ``stage_entered_at`` (ISO, UTC),
        ``highest_stage``, ``stages_visited`` (``stage``, ``first_entered_at``, in the order
        first entered), ``persona``, ``last_touchpoints`` (``touchpoint``, ``at``; newest
        first, at most :data:`LAST_TOUCHPOINTS`), ``first_event_at``, ``last_event_at`` and
        ``events``.
    """
    rules = _Rules(journey)
    if _is_current(con, rules) or _is_current_for(con, rules, customer_id):
        found = _read(con, rules, [customer_id]).get(customer_id)
    else:
        found = compute_states(con, journey, [customer_id]).get(customer_id)
    return None if found is None else _as_dict(found, rules, lang)


def _is_current(con: Any, rules: _Rules) -> bool:
    if not _has_tables(con):
        return False
    row = con.execute("SELECT coalesce(max(id), 0) FROM ingests").fetchone()
    latest = int(row[0]) if row else 0
    if _meta(con, _FINGERPRINT) != rules.fingerprint():
        return False
    if int(_meta(con, _WATERMARK) or 0) != latest:
        return False
    # Ids stitched or forgotten since the last catch-up make the stored rows stale too.
    diff = con.execute(
        "SELECT EXISTS (SELECT id, customer_id FROM live_id_map "
        "EXCEPT SELECT id, customer_id FROM id_map) OR EXISTS (SELECT id, customer_id "
        "FROM id_map EXCEPT SELECT id, customer_id FROM live_id_map)"
    ).fetchone()
    return not (diff and diff[0])


def _is_current_for(con: Any, rules: _Rules, person: str) -> bool:
    """Whether the stored row of ``person`` is up to date while the state as a whole is not
    (the collector's loads commit before the catch-up that follows them): built for this
    journey, with no event of theirs loaded after the watermark and no id of theirs stitched
    or forgotten since. Reads only the events past the watermark and the person's ids."""
    if not _has_tables(con) or _meta(con, _FINGERPRINT) != rules.fingerprint():
        return False
    watermark = int(_meta(con, _WATERMARK) or 0)
    ids = "SELECT id, customer_id FROM {} WHERE id = $2 OR customer_id = $2"
    row = con.execute(
        f"SELECT EXISTS (SELECT 1 FROM ({_EVENTS} WHERE e._ingest > $1) WHERE person = $2) "
        f"OR EXISTS ({ids.format('live_id_map')} EXCEPT {ids.format('id_map')}) "
        f"OR EXISTS ({ids.format('id_map')} EXCEPT {ids.format('live_id_map')})",
        [watermark, person],
    ).fetchone()
    return not (row and row[0])


def stage_events_since(
    con: Any, since: int = 0, limit: int = 1000, *, at_or_after: datetime | None = None
) -> list[StageEvent]:
    """Stage events with ``seq > since`` (and ``at >= at_or_after``, a naive UTC instant, when
    given), oldest first, at most ``limit`` (an empty list when the warehouse has no feed
    yet).

    Examples
    --------
    >>> import duckdb
    >>> stage_events_since(duckdb.connect(), 0)
    []
    """
    if not _has_tables(con):
        return []
    rows = con.execute(
        'SELECT seq, customer_id, from_stage, to_stage, "at" FROM stage_events '
        'WHERE seq > ? AND (?::TIMESTAMP IS NULL OR "at" >= ?::TIMESTAMP) ORDER BY seq LIMIT ?',
        [since, at_or_after, at_or_after, limit],
    ).fetchall()
    return [StageEvent(int(s), c, f, t, at) for s, c, f, t, at in rows]


def latest_seq(con: Any) -> int:
    """The ``seq`` of the newest stage event (0 when there is none)."""
    if not _has_tables(con):
        return 0
    row = con.execute("SELECT coalesce(max(seq), 0) FROM stage_events").fetchone()
    return int(row[0]) if row else 0


def customer_events(con: Any, customer_id: str) -> Any:
    """Every event of one person (all their ids, resolved through ``id_map``) as a pandas
    DataFrame with the canonical columns (``properties`` a dict per row), in the event
    order: what :func:`kundresa.analytics.predict.score_customer` reads."""
    import pandas as pd

    cols = ("channel", "value", "session_id")
    rows = con.execute(
        f'SELECT {_PERSON}, e."timestamp", e.event, '
        + ", ".join(f"e.{c}" for c in cols)
        + f", e.event_id, e.properties FROM events e LEFT JOIN id_map m ON m.id = e.customer_id "
        f'WHERE {_PERSON} = ? ORDER BY e."timestamp", e.event, e.event_id, e.session_id, '
        "e.channel, e.value",
        [customer_id],
    ).fetchall()
    names = ["customer_id", "timestamp", "event", *cols, "event_id", "properties"]
    return pd.DataFrame(rows, columns=names)
