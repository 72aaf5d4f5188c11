"""Live customer state: each customer's current stage, kept up to date as events arrive.

After every committed load (a file ingest, or a batch of the HTTP collector) :func:`catch_up`
reads only the events of the ingests after its watermark, moves each customer's stored state
forward event by event, records every change of current stage in ``stage_events`` (the
stage-entered feed) and moves the watermark. It never re-runs the stage analysis over the
whole history.

The state follows the stage semantics of :mod:`kundresa.analytics.stages` (DESIGN.md, "Stage
semantics"): the *current* stage is the stage of the customer's last staged event in the
event order (time, then event name, then event id); ``stage_entered_at`` is when the customer
entered it (the first event of the latest unbroken run of events in that stage); touchpoints
are tagged with ``nth`` counted over the customer's whole history; the persona is the first
(in file order) whose match fits any of the customer's events; customer ids are resolved
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
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import pyarrow as pa

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
_CHUNK = 50_000  # states and stage changes written per round trip
_FINGERPRINT = "live.journey"

_DDL = (
    """
    CREATE TABLE IF NOT EXISTS customer_state (
        customer_id VARCHAR PRIMARY KEY,
        stage VARCHAR,
        stage_entered_at TIMESTAMP,
        highest_stage VARCHAR,
        stages_visited VARCHAR[] NOT NULL,
        stages_first_at TIMESTAMP[] NOT NULL,
        persona VARCHAR,
        last_touchpoints VARCHAR[] NOT NULL,
        last_touchpoints_at TIMESTAMP[] NOT NULL,
        first_event_at TIMESTAMP NOT NULL,
        last_event_at TIMESTAMP NOT NULL,
        events BIGINT NOT NULL,
        updated_at TIMESTAMP NOT NULL,
        _last_event VARCHAR NOT NULL,
        _last_event_id VARCHAR,
        _counts INTEGER[] NOT NULL,
        _personas BOOLEAN[] NOT NULL
    )
    """,
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

_STATE_COLUMNS = (
    "customer_id",
    "stage",
    "stage_entered_at",
    "highest_stage",
    "stages_visited",
    "stages_first_at",
    "persona",
    "last_touchpoints",
    "last_touchpoints_at",
    "first_event_at",
    "last_event_at",
    "events",
    "updated_at",
    "_last_event",
    "_last_event_id",
    "_counts",
    "_personas",
)

_ARROW_STATE = pa.schema(
    [
        ("customer_id", pa.string()),
        ("stage", pa.string()),
        ("stage_entered_at", pa.timestamp("us")),
        ("highest_stage", pa.string()),
        ("stages_visited", pa.list_(pa.string())),
        ("stages_first_at", pa.list_(pa.timestamp("us"))),
        ("persona", pa.string()),
        ("last_touchpoints", pa.list_(pa.string())),
        ("last_touchpoints_at", pa.list_(pa.timestamp("us"))),
        ("first_event_at", pa.timestamp("us")),
        ("last_event_at", pa.timestamp("us")),
        ("events", pa.int64()),
        ("updated_at", pa.timestamp("us")),
        ("_last_event", pa.string()),
        ("_last_event_id", pa.string()),
        ("_counts", pa.list_(pa.int32())),
        ("_personas", pa.list_(pa.bool_())),
    ]
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
    # The analyses' event order (EVENT_ORDER): time, event name, event id (nulls last).
    return (ts, event, event_id is None, event_id or "")


class _Rules:
    """The journey's touchpoints and personas, ready to apply to one event at a time."""

    def __init__(self, journey: Journey) -> None:
        self.journey = journey
        self.stage_ids = list(journey.stage_ids)
        self.index = {s: i + 1 for i, s in enumerate(self.stage_ids)}
        self.touchpoints = list(journey.touchpoints)
        self.nth = [tp.match.nth or 1 for tp in self.touchpoints]
        self.personas = [p for p in journey.personas if p.match is not None]
        self._by_event: dict[str, list[int]] = {}

    def new_state(self, customer_id: str) -> CustomerState:
        return CustomerState(
            customer_id,
            counts=[0] * len(self.touchpoints),
            persona_flags=[False] * len(self.personas),
        )

    def apply(
        self,
        st: CustomerState,
        ts: datetime,
        event: str,
        event_id: str | None,
        fits: str | None,
        persona_fits: str | None,
    ) -> tuple[str | None, str] | None:
        """Move ``st`` past one event (which sorts after every event already in it), given
        which touchpoints' ``event``/``where`` and which personas' matches it fits (masks:
        character k for the k-th in file order); the stage change it makes, ``(from, to)``, or
        ``None``."""
        chosen = None
        for k in _bits(fits):
            # Every fitting event counts for nth, even after a touchpoint was chosen.
            st.counts[k] += 1
            if chosen is None and st.counts[k] >= self.nth[k]:
                chosen = k
        for i in _bits(persona_fits):
            st.persona_flags[i] = True
        if chosen is None:
            return None
        tp = self.touchpoints[chosen]
        st.last_touchpoints = [*st.last_touchpoints, (tp.id, ts)][-LAST_TOUCHPOINTS:]
        st.visited.setdefault(tp.stage, ts)
        st.highest = max(st.highest, self.index[tp.stage])
        if tp.stage == st.stage:
            return None
        move = (st.stage, tp.stage)
        st.stage, st.stage_entered_at = tp.stage, ts
        return move

    @staticmethod
    def summarise(st: CustomerState, row: tuple[Any, ...]) -> None:
        """Count a person's new events into ``st`` from their summary row (``_kind`` 0 of
        :meth:`events_sql`): how many, the first and the last (events that fit no touchpoint
        and no persona count only here, and never reach Python one by one)."""
        _, _, first_ts, _, _, _, _, n, last_ts, last_event, last_id = row
        st.events += int(n)
        if st.first_event_at is None:
            st.first_event_at = first_ts
        st.last_event_at = last_ts
        st.last_key = _key(last_ts, last_event, last_id)

    def persona(self, st: CustomerState) -> str | None:
        return next((p.id for p, f in zip(self.personas, st.persona_flags, strict=True) if f), None)

    def fingerprint(self) -> str:
        j = self.journey
        what = repr((j.stage_ids, j.touchpoints, tuple(self.personas)))
        return hashlib.sha256(what.encode("utf-8")).hexdigest()[:16]

    def events_sql(self, where: str = "") -> str:
        """SQL for the (resolved) events that ``where`` picks, in the event order per
        person: ``person``, ``timestamp``, ``event``, ``event_id``, and which touchpoints'
        ``event``/``where`` (``_tp``) and which personas' matches (``_pe``) each fits, as
        boolean lists in file order.

        The conditions are the analyses' own Ibis expressions
        (:func:`~kundresa.analytics.touchpoints.match_expr`), compiled once per journey and
        run on the warehouse's connection: properties never travel to Python.
        """
        key = (self.fingerprint(), where)
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
                "properties": "map<string, string>",
            },
            name="_live_events",
        )
        tps = [match_expr(t, tp.match) for tp in self.touchpoints]
        pes = [
            condition_expr(t.properties.get(p.match.property), p.match.condition)
            for p in self.personas
            if p.match is not None
        ]
        picked = t.select(
            "person", "timestamp", "event", "event_id", _tp=_mask(tps), _pe=_mask(pes)
        )
        inner = ibis.to_sql(picked, dialect="duckdb")
        order = '"timestamp", event, event_id NULLS LAST'
        sql = (
            f"WITH _live_events AS ({_EVENTS}{where}), _fits AS ({inner}) "
            # One summary row per person first (_kind 0: their first event, how many, their
            # last), then only the events that fit a touchpoint or a persona (_kind 1).
            f'SELECT person, 0 AS _kind, first("timestamp" ORDER BY {order}) AS "timestamp", '
            f"first(event ORDER BY {order}) AS event, "
            f"first(event_id ORDER BY {order}) AS event_id, "
            "NULL AS _tp, NULL AS _pe, count(*) AS _n, "
            f'last("timestamp" ORDER BY {order}) AS _last_ts, '
            f"last(event ORDER BY {order}) AS _last_event, "
            f"last(event_id ORDER BY {order}) AS _last_id "
            "FROM _live_events GROUP BY person "
            'UNION ALL SELECT person, 1, "timestamp", event, event_id, _tp, _pe, NULL, NULL, '
            "NULL, NULL FROM _fits WHERE contains(_tp, '1') OR contains(_pe, '1') "
            f"ORDER BY person, _kind, {order}"
        )
        if len(_SQL) > 32:
            _SQL.clear()
        _SQL[key] = sql
        return sql


def _mask(flags: list[Any]) -> Any:
    """The flags as one text of ``0`` and ``1`` (character k: flag k), so a row carries one
    short value whatever the number of touchpoints."""
    import ibis

    if not flags:
        return ibis.literal("")
    chars = [ibis.ifelse(f, "1", "0") for f in flags]
    return chars[0].concat(*chars[1:]) if len(chars) > 1 else chars[0]


def _bits(mask: str | None) -> Iterator[int]:
    """The positions of the ``1`` characters of a mask from :func:`_mask`."""
    if not mask:
        return
    i = mask.find("1")
    while i >= 0:
        yield i
        i = mask.find("1", i + 1)


# Compiled event queries by (journey fingerprint, filter).
_SQL: dict[tuple[str, str], str] = {}


def ensure_tables(con: Any) -> None:
    """Create the live tables if they are missing (idempotent; needs a write connection)."""
    for ddl in _DDL:
        con.execute(ddl)


def _meta(con: Any, key: str) -> str | None:
    row = con.execute("SELECT value FROM meta WHERE key = ?", [key]).fetchone()
    return None if row is None else str(row[0])


_PERSON = "coalesce(m.customer_id, e.customer_id)"
_EVENTS = (
    f'SELECT {_PERSON} AS person, e."timestamp", e.event, e.event_id, e.properties '
    "FROM events e LEFT JOIN id_map m ON m.id = e.customer_id"
)


def _paged_rows(con: Any, sql: str, params: Sequence[Any]) -> Iterable[tuple[Any, ...]]:
    """The rows of an :meth:`_Rules.events_sql` query, in order, read a page at a time from a
    temporary table, so that the caller may write on the same connection between pages (a
    connection has one result at a time; another connection would not see the caller's
    transaction)."""
    con.execute(
        "CREATE OR REPLACE TEMP TABLE _live_rows AS SELECT row_number() OVER (ORDER BY "
        'person, _kind, "timestamp", event, event_id NULLS LAST) AS _r, * FROM (' + sql + ")",
        list(params),
    )
    last = 0
    while True:
        page = con.execute(
            "SELECT * EXCLUDE (_r) FROM _live_rows WHERE _r > ? AND _r <= ? ORDER BY _r",
            [last, last + _CHUNK],
        ).fetchall()
        if not page:
            break
        yield from page
        last += _CHUNK
    con.execute("DROP TABLE _live_rows")


def _rows(con: Any, sql: str, params: Sequence[Any]) -> Iterable[tuple[Any, ...]]:
    cur = con.execute(sql, list(params))
    while True:
        chunk = cur.fetchmany(10_000)
        if not chunk:
            return
        yield from chunk


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
    states: dict[str, CustomerState] = {}
    if persons is not None and not persons:
        return states
    where = "" if persons is None else f" WHERE {_PERSON} IN (SELECT unnest(?))"
    params = [] if persons is None else [list(persons)]
    for row in _rows(con, rules.events_sql(where), params):
        person, kind, ts, event, event_id, fits, pfits = row[:7]
        if kind == 0:
            st = states[person] = rules.new_state(person)
            rules.summarise(st, row)
        else:
            rules.apply(states[person], ts, event, event_id, fits, pfits)
    return states


def catch_up(con: Any, journey: Journey, *, in_transaction: bool = False) -> list[StageEvent]:
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

    Returns
    -------
    list of StageEvent
        The stage changes recorded, in ``seq`` order (empty when nothing changed, and after
        a rebuild for a changed journey).
    """
    ensure_tables(con)
    rules = _Rules(journey)
    now = datetime.now(UTC).replace(tzinfo=None)
    if in_transaction:
        return _catch_up(con, rules, now)
    con.execute("BEGIN TRANSACTION")
    try:
        recorded = _catch_up(con, rules, now)
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return recorded


def _catch_up(con: Any, rules: _Rules, now: datetime) -> list[StageEvent]:
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
        moves = _Moves(con)
        done: list[CustomerState] = []
        st: CustomerState | None = None
        # Rows come person by person: each finished state is written in chunks, so memory
        # holds a chunk, not the warehouse's customers.
        for row in _paged_rows(con, rules.events_sql(), []):
            person, kind, ts, event, event_id, fits, pfits = row[:7]
            if kind == 0:  # a new person: their summary row comes first
                if st is not None:
                    done.append(st)
                if len(done) >= _CHUNK:
                    _write(con, rules, done, now)
                    done = []
                st = rules.new_state(person)
                rules.summarise(st, row)
                continue
            assert st is not None
            move = rules.apply(st, ts, event, event_id, fits, pfits)
            if move is not None and not had_state:
                moves.add(person, *move, ts)
        if st is not None:
            done.append(st)
        _write(con, rules, done, now)
        recorded = moves.finish(latest, now)
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
    fresh: dict[str, list[tuple[Any, ...]]] = {}
    fresh_sql = rules.events_sql(" WHERE e._ingest > ?")
    for row in _rows(con, fresh_sql, [watermark]):
        fresh.setdefault(row[0], []).append(row)
    stored = _read(con, rules, list(set(fresh) | recompute))
    moves = _Moves(con)
    updated: dict[str, CustomerState] = {}
    for person, evs in fresh.items():
        if person in recompute:
            continue
        st = stored.get(person) or rules.new_state(person)
        summary = evs[0]  # the first new event (of any kind), how many, the last
        if st.last_key is not None and _key(*summary[2:5]) <= st.last_key:
            recompute.add(person)  # a late event: this customer from their whole history
            continue
        rules.summarise(st, summary)
        for _, _, ts, event, event_id, fits, pfits, *_ in evs[1:]:
            move = rules.apply(st, ts, event, event_id, fits, pfits)
            if move is not None:
                moves.add(person, *move, ts)
        updated[person] = st
    if recompute:
        again = compute_states(con, rules.journey, sorted(recompute))
        for person in sorted(recompute):
            before = stored.get(person)
            after = again.get(person)
            if after is not None:
                updated[person] = after
                old_stage = before.stage if before is not None else None
                if after.stage is not None and after.stage != old_stage:
                    assert after.stage_entered_at is not None
                    moves.add(person, old_stage, after.stage, after.stage_entered_at)
    gone = [p for p in recompute if p not in updated]
    if gone:
        con.execute("DELETE FROM customer_state WHERE customer_id IN (SELECT unnest(?))", [gone])
    _write(con, rules, updated.values(), now)
    recorded = moves.finish(latest, now)
    _set_meta(con, fingerprint, latest)
    return recorded


def _set_meta(con: Any, fingerprint: str, watermark: int) -> None:
    con.execute(
        "INSERT OR REPLACE INTO meta VALUES (?, ?), (?, ?)",
        [_WATERMARK, str(watermark), _FINGERPRINT, fingerprint],
    )


class _Moves:
    """Stage changes found by one catch-up, kept in a temporary table (a first catch-up of
    a large warehouse finds millions) and numbered in time order at the end."""

    def __init__(self, con: Any) -> None:
        self.con = con
        self.buffer: list[tuple[int, str, str | None, str, datetime]] = []
        self.n = 0
        con.execute(
            "CREATE OR REPLACE TEMP TABLE _live_moves (n BIGINT, customer_id VARCHAR, "
            'from_stage VARCHAR, to_stage VARCHAR, "at" TIMESTAMP)'
        )

    def add(self, customer_id: str, from_stage: str | None, to_stage: str, at: datetime) -> None:
        self.buffer.append((self.n, customer_id, from_stage, to_stage, at))
        self.n += 1
        if len(self.buffer) >= _CHUNK:
            self._flush()

    def _flush(self) -> None:
        if not self.buffer:
            return
        n, c, f, t, at = zip(*self.buffer, strict=True)
        table = pa.table(
            {
                "n": pa.array(n, pa.int64()),
                "customer_id": pa.array(c, pa.string()),
                "from_stage": pa.array(f, pa.string()),
                "to_stage": pa.array(t, pa.string()),
                "at": pa.array(at, pa.timestamp("us")),
            }
        )
        self.con.register("_live_chunk", table)
        try:
            self.con.execute("INSERT INTO _live_moves SELECT * FROM _live_chunk")
        finally:
            self.con.unregister("_live_chunk")
        self.buffer = []

    def finish(self, ingest: int, now: datetime) -> list[StageEvent]:
        """Append the changes to ``stage_events`` — in time order, so the feed reads like the
        customers moved — and return them."""
        self._flush()
        con = self.con
        row = con.execute("SELECT coalesce(max(seq), 0) FROM stage_events").fetchone()
        base = int(row[0]) if row else 0
        con.execute(
            "INSERT INTO stage_events SELECT ? + row_number() OVER "
            '(ORDER BY "at", customer_id, n), customer_id, from_stage, to_stage, "at", ?, ? '
            "FROM _live_moves",
            [base, now, ingest],
        )
        con.execute("DROP TABLE _live_moves")
        return stage_events_since(con, base, limit=self.n) if self.n else []


def _write(con: Any, rules: _Rules, states: Iterable[CustomerState], now: datetime) -> None:
    rows: dict[str, list[Any]] = {c: [] for c in _STATE_COLUMNS}
    for st in states:
        assert st.last_key is not None
        rows["customer_id"].append(st.customer_id)
        rows["stage"].append(st.stage)
        rows["stage_entered_at"].append(st.stage_entered_at)
        rows["highest_stage"].append(rules.stage_ids[st.highest - 1] if st.highest else None)
        order = sorted(st.visited.items(), key=lambda kv: (kv[1], rules.index[kv[0]]))
        rows["stages_visited"].append([s for s, _ in order])
        rows["stages_first_at"].append([t for _, t in order])
        rows["persona"].append(rules.persona(st))
        rows["last_touchpoints"].append([tp for tp, _ in st.last_touchpoints])
        rows["last_touchpoints_at"].append([t for _, t in st.last_touchpoints])
        rows["first_event_at"].append(st.first_event_at)
        rows["last_event_at"].append(st.last_event_at)
        rows["events"].append(st.events)
        rows["updated_at"].append(now)
        rows["_last_event"].append(st.last_key[1])
        rows["_last_event_id"].append(None if st.last_key[2] else st.last_key[3])
        rows["_counts"].append(st.counts)
        rows["_personas"].append(st.persona_flags)
    if not rows["customer_id"]:
        return
    table = pa.table(rows, schema=_ARROW_STATE)
    con.execute(
        "DELETE FROM customer_state WHERE customer_id IN (SELECT unnest(?))",
        [rows["customer_id"]],
    )
    con.register("_live_states", table)
    try:
        con.execute("INSERT INTO customer_state SELECT * FROM _live_states")
    finally:
        con.unregister("_live_states")


def _read(con: Any, rules: _Rules, persons: list[str]) -> dict[str, CustomerState]:
    if not persons:
        return {}
    cols = ", ".join(f'"{c}"' for c in _STATE_COLUMNS)
    cur = con.execute(
        f"SELECT {cols} FROM customer_state WHERE customer_id IN (SELECT unnest(?))", [persons]
    )
    out: dict[str, CustomerState] = {}
    for r in cur.fetchall():
        d = dict(zip(_STATE_COLUMNS, r, strict=True))
        st = CustomerState(
            d["customer_id"],
            stage=d["stage"],
            stage_entered_at=d["stage_entered_at"],
            highest=rules.index.get(d["highest_stage"], 0) if d["highest_stage"] else 0,
            visited=dict(zip(d["stages_visited"], d["stages_first_at"], strict=True)),
            persona_flags=list(d["_personas"]),
            last_touchpoints=list(
                zip(d["last_touchpoints"], d["last_touchpoints_at"], strict=True)
            ),
            first_event_at=d["first_event_at"],
            last_event_at=d["last_event_at"],
            last_key=_key(d["last_event_at"], d["_last_event"], d["_last_event_id"]),
            events=int(d["events"]),
            counts=list(d["_counts"]),
        )
        out[st.customer_id] = st
    return out


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
    if _is_current(con, rules):
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
        f'WHERE {_PERSON} = ? ORDER BY e."timestamp", e.event, e.event_id NULLS LAST',
        [customer_id],
    ).fetchall()
    names = ["customer_id", "timestamp", "event", *cols, "event_id", "properties"]
    return pd.DataFrame(rows, columns=names)
