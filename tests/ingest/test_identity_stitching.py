"""Identity stitching: hand-checked cases, a brute-force reference, the schema migration."""

from __future__ import annotations

from collections import defaultdict, deque
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kundresa.analytics.funnel import event_funnel
from kundresa.model.parse import parse_journey
from kundresa.project import Project
from kundresa.store.warehouse import Warehouse

COLUMNS = ("anonymous_id", "user_id", "timestamp", "event", "_kind")


def table(rows: list[tuple[str | None, ...]], **extra: list[str | None]) -> pa.Table:
    cols = {name: [r[i] for r in rows] for i, name in enumerate(COLUMNS)}
    cols.update(extra)
    return pa.table({k: pa.array(v, pa.string()) for k, v in cols.items()})


def resolved(project: Project) -> list[tuple[str, str]]:
    """(customer_id, event) of every event as the analyses see it, in time order."""
    df = project.events.order_by("timestamp", "event").to_pandas()
    return list(zip(df["customer_id"], df["event"], strict=True))


def test_anonymous_history_joins_the_known_customer() -> None:
    project = Project.from_events(
        table(
            [
                ("anon-1", None, "2025-03-01 09:00", "page_view", None),
                ("anon-1", None, "2025-03-01 09:01", "add_to_cart", None),
                ("anon-1", "u42", "2025-03-01 09:05", "sign_in", None),
                (None, "u42", "2025-03-01 09:30", "purchase", None),
                ("anon-2", None, "2025-03-01 10:00", "page_view", None),
            ]
        )
    )
    assert resolved(project) == [
        ("u42", "page_view"),
        ("u42", "add_to_cart"),
        ("u42", "sign_in"),
        ("u42", "purchase"),
        ("anon-2", "page_view"),
    ]
    assert project.info()["customers"] == 2
    summary = project.identities()
    assert (summary["ids"], summary["persons"], summary["links"]) == (3, 2, 1)
    assert summary["persons_with_several_ids"] == 1 and summary["conflicts"] == 0
    person = project.identities("anon-1")
    assert person["customer_id"] == "u42" and person["events"] == 4
    ids = {i["id"]: i for i in person["ids"]}
    assert ids["anon-1"]["role"] == "anonymous" and ids["anon-1"]["events"] == 3
    assert ids["u42"]["role"] == "known" and ids["u42"]["events"] == 2


def test_funnel_from_first_visit_to_purchase_counts_each_person_once() -> None:
    rows = [
        ("anon-1", None, "2025-03-01 09:00", "page_view", None),
        ("anon-1", "u42", "2025-03-01 09:05", "sign_in", None),
        (None, "u42", "2025-03-01 09:30", "purchase", None),
        ("anon-2", None, "2025-03-01 10:00", "page_view", None),
    ]
    stitched = event_funnel(Project.from_events(table(rows)).events, ["page_view", "purchase"])
    assert stitched["count"].tolist() == [2, 1]
    # The same events without the link (ids never on one row): the purchase is lost.
    unlinked = [rows[0], ("anon-1", None, "2025-03-01 09:05", "sign_in", None), *rows[2:]]
    apart = event_funnel(Project.from_events(table(unlinked)).events, ["page_view", "purchase"])
    assert apart["count"].tolist() == [2, 0]


def test_a_persona_scope_works_on_stitched_ids() -> None:
    # With a link the events are a join on the identity map, and the persona's semi-join on
    # it was refused by Ibis ("... belong to another relation"): every --persona, and the web
    # pages' persona switch (500), failed once a project had one identity link.
    journey, problems = parse_journey(
        "kundresa: 1\nname: x\nstages: [{id: seen}, {id: bought}]\n"
        "personas: [{id: pro, match: {property: plan, equals: pro}}]\n"
        "touchpoints:\n"
        "  - {id: visit, stage: seen, match: {event: page_view}}\n"
        "  - {id: buy, stage: bought, match: {event: purchase}}\n"
    )
    assert journey is not None, problems
    rows = [
        ("anon-1", None, "2025-03-01 09:00", "page_view", None),
        ("anon-1", "u42", "2025-03-01 09:05", "sign_in", None),
        (None, "u42", "2025-03-01 09:30", "purchase", None),
        ("anon-2", None, "2025-03-01 10:00", "page_view", None),
    ]
    plans = {"plan": ["pro", None, None, "free"]}
    project = Project.from_events(table(rows, **plans), journey=journey)
    for scope in ({}, {"since": "2025-03-01"}):
        stages = project.run("stages", persona="pro", **scope).frame
        assert stages["reached"].tolist() == [1, 1], scope


def test_a_later_ingest_link_rejoins_earlier_events(tmp_path: Path) -> None:
    wh = Warehouse(tmp_path / "w.duckdb")
    wh.ingest_arrow(table([("anon-1", None, "2025-03-01 09:00", "page_view", None)]))
    wh.ingest_arrow(table([(None, "u42", "2025-03-02 09:00", "purchase", None)]))
    project = Project(None, None, wh)
    assert sorted(resolved(project)) == [("anon-1", "page_view"), ("u42", "purchase")]
    report = wh.ingest_arrow(table([("anon-1", "u42", "2025-03-05 09:00", None, "identify")]))
    assert (report.loaded, report.identified, report.links) == (0, 1, 1)
    project = Project(None, None, wh)
    assert resolved(project) == [("u42", "page_view"), ("u42", "purchase")]
    # Loading the same link again adds nothing.
    again = wh.ingest_arrow(table([("anon-1", "u42", "2025-03-05 09:00", None, "identify")]))
    assert again.links == 0
    wh.close()


def test_shared_device_stays_with_the_first_known_id() -> None:
    project = Project.from_events(
        table(
            [
                ("dev-1", None, "2025-03-01 08:00", "page_view", None),
                ("dev-1", "u2", "2025-03-02 09:00", "sign_in", None),  # second link, by time
                ("dev-1", "u1", "2025-03-01 09:00", "sign_in", None),  # first link
                (None, "u2", "2025-03-02 10:00", "purchase", None),
            ]
        )
    )
    # dev-1's own events go to u1; rows that carried u2 stay u2's: two known ids never merge.
    assert resolved(project) == [
        ("u1", "page_view"),
        ("u1", "sign_in"),
        ("u2", "sign_in"),
        ("u2", "purchase"),
    ]
    summary = project.identities()
    assert summary["conflicts"] == 1 and summary["persons"] == 2
    conflict = summary["conflicting_ids"][0]
    assert conflict["anonymous_id"] == "dev-1" and conflict["customer_id"] == "u1"
    assert [x["known_id"] for x in conflict["linked_to"]] == ["u1", "u2"]
    assert project.identities("u2")["ids"] == [{**project.identities("u2")["ids"][0], "id": "u2"}]
    assert [c["anonymous_id"] for c in project.identities("u1")["conflicts"]] == ["dev-1"]


def test_backfilled_earlier_link_changes_the_owner(tmp_path: Path) -> None:
    wh = Warehouse(tmp_path / "w.duckdb")
    wh.ingest_arrow(table([("dev-1", "u2", "2025-03-02 09:00", "sign_in", None)]))
    wh.ingest_arrow(table([("dev-1", "u1", "2025-03-01 09:00", "sign_in", None)]))
    assert wh.person_ids("dev-1") == ("u1", ["u1", "dev-1"])
    wh.close()


@pytest.mark.parametrize("placeholder", ["", "null", "NULL", " None ", "undefined", "0"])
def test_placeholder_ids_are_no_id(placeholder: str) -> None:
    project = Project.from_events(
        table(
            [
                ("anon-1", placeholder, "2025-03-01 09:00", "page_view", None),
                (placeholder, "u1", "2025-03-01 09:01", "purchase", None),
                (placeholder, placeholder, "2025-03-01 09:02", "page_view", None),
            ]
        )
    )
    assert resolved(project) == [("anon-1", "page_view"), ("u1", "purchase")]
    assert project.identities()["links"] == 0
    [bad] = project.warehouse.quarantined()
    assert bad["line"] == 3 and bad["reason"].startswith("missing customer id")


def test_identify_rows_link_and_carry_traits_but_are_not_events() -> None:
    project = Project.from_events(
        table(
            [
                ("anon-1", None, "2025-03-01 09:00", "page_view", None),
                ("anon-1", "u1", "2025-03-01 09:05", None, "identify"),
                (None, "u1", "2025-03-03 09:05", None, "IDENTIFY"),
                (None, "u1", "2025-03-04 09:00", "purchase", "event"),
                ("anon-9", None, "2025-03-04 09:00", "page_view", "track"),
            ],
            plan=["x", "free", "pro", None, None],
            email=[None, "a@example.com", None, None, None],
        )
    )
    assert resolved(project) == [("u1", "page_view"), ("u1", "purchase")]
    traits = {t["key"]: t["value"] for t in project.identities("u1")["traits"]}
    assert traits == {"plan": "pro", "email": "a@example.com"}
    [bad] = project.warehouse.quarantined()
    assert "unknown row kind track" in bad["reason"] and bad["line"] == 5


def test_a_file_of_identify_calls_needs_no_event_column(tmp_path: Path) -> None:
    f = tmp_path / "identify.csv"
    f.write_text("anonymousId,userId,timestamp,_kind\nanon-1,u1,2025-03-01,identify\n")
    wh = Warehouse(None)
    report = wh.ingest([f])
    assert (report.loaded, report.identified, report.links, report.quarantined) == (0, 1, 1, 0)
    assert wh.person_ids("anon-1") == ("u1", ["u1", "anon-1"])


def test_chained_ids_are_one_person() -> None:
    # anon-b was linked to anon-a (as its known id), anon-a later to u1: one person, u1.
    project = Project.from_events(
        table(
            [
                ("anon-b", None, "2025-03-01 08:00", "page_view", None),
                ("anon-b", "anon-a", "2025-03-01 08:30", None, "identify"),
                ("anon-a", "u1", "2025-03-01 09:00", "sign_in", None),
            ]
        )
    )
    assert {c for c, _ in resolved(project)} == {"u1"}
    assert project.identities("anon-b")["customer_id"] == "u1"


def test_projects_without_links_read_events_as_stored() -> None:
    project = Project.from_events(table([(None, "u1", "2025-03-01 09:00", "page_view", None)]))
    assert not project.warehouse.has_links()
    # No join: the expression is the stored table's columns.
    assert "id_map" not in str(project.events.compile())


def test_other_engines_get_resolved_ids() -> None:
    rows = [
        ("anon-1", None, "2025-03-01 09:00", "page_view", None),
        ("anon-1", "u42", "2025-03-01 09:05", "sign_in", None),
    ]
    project = Project.from_events(table(rows), engine="duckdb://")
    assert set(project.events.customer_id.to_pandas()) == {"u42"}


def test_a_schema_1_warehouse_is_migrated(tmp_path: Path) -> None:
    path = tmp_path / "old.duckdb"
    con = duckdb.connect(str(path))
    con.execute(
        'CREATE TABLE events (customer_id VARCHAR NOT NULL, "timestamp" TIMESTAMP NOT NULL, '
        "event VARCHAR NOT NULL, channel VARCHAR, value DOUBLE, event_id VARCHAR, "
        "session_id VARCHAR, properties MAP(VARCHAR, VARCHAR), _key UHUGEINT NOT NULL, "
        "_ingest INTEGER NOT NULL)"
    )
    con.execute("CREATE TABLE meta (key VARCHAR PRIMARY KEY, value VARCHAR)")
    con.execute("INSERT INTO meta VALUES ('schema_version', '1')")
    con.execute(
        "INSERT INTO events VALUES ('anon-1', '2025-03-01 09:00', 'page_view', NULL, NULL, "
        "NULL, NULL, MAP(), 1, 1)"
    )
    con.close()
    reader = Warehouse(path, read_only=True)  # an old file read as it is: no links
    assert not reader.has_links() and reader.identity_summary()["ids"] == 1
    assert Project(None, None, reader).events.count().execute() == 1
    assert reader.layout()["current"] is False and reader.layout()["tail_rows"] == 1
    reader.close()
    wh = Warehouse(path)
    assert wh.con.sql("SELECT value FROM meta WHERE key = 'schema_version'").fetchone() == ("3",)
    wh.ingest_arrow(table([("anon-1", "u42", "2025-03-02 09:00", "sign_in", None)]))
    assert resolved(Project(None, None, wh)) == [("u42", "page_view"), ("u42", "sign_in")]
    # Its first write brought the old rows into the journey-ordered layout.
    lay = wh.layout()
    assert (lay["ordered_rows"], lay["tail_rows"], lay["customer_codes"]) == (2, 0, 2)
    wh.close()


# -- a brute-force reference --------------------------------------------------------------------


def reference_names(
    links: list[tuple[str, str, int]], events: list[tuple[str, int]]
) -> dict[str, str]:
    """The person's name for every linked id, by the rules written out plainly."""
    first: dict[str, tuple[int, str]] = {}
    for a, k, t in links:
        if a != k and (a not in first or (t, k) < first[a]):
            first[a] = (t, k)
    adjacent: dict[str, set[str]] = defaultdict(set)
    for a, (_, k) in first.items():
        adjacent[a].add(k)
        adjacent[k].add(a)
    seen: dict[str, int] = {}
    real = [(a, k, t) for a, k, t in links if a != k]  # an id beside itself links nothing
    for who, t in [*events, *((a, t) for a, _, t in real), *((k, t) for _, k, t in real)]:
        seen[who] = min(seen.get(who, t), t)
    names: dict[str, str] = {}
    for start in adjacent:
        if start in names:
            continue
        component, queue = {start}, deque([start])
        while queue:
            for nxt in adjacent[queue.popleft()]:
                if nxt not in component:
                    component.add(nxt)
                    queue.append(nxt)
        roots = [n for n in component if n not in first]
        assert len(roots) <= 1
        name = roots[0] if roots else min(component, key=lambda n: (seen[n], n))
        for n in component:
            names[n] = name
    return names


ID = st.sampled_from([f"a{i}" for i in range(6)] + [f"k{i}" for i in range(4)])


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    links=st.lists(st.tuples(ID, ID, st.integers(0, 20)), max_size=14),
    events=st.lists(st.tuples(ID, st.integers(0, 20)), max_size=8),
)
def test_resolution_matches_a_brute_force_reference(
    links: list[tuple[str, str, int]], events: list[tuple[str, int]]
) -> None:
    def at(t: int) -> str:
        return f"2025-03-01 00:{t:02d}:00"

    rows = [(a, k, at(t), None, "identify") for a, k, t in links]
    rows += [(None, who, at(t), "e", None) for who, t in events]
    if not rows:
        return
    wh = Warehouse(None)
    wh.ingest_arrow(table(rows))
    expected = reference_names(links, events)
    got = dict(wh.con.execute("SELECT id, customer_id FROM id_map").fetchall())
    assert got == {i: n for i, n in expected.items() if i != n}
    persons = {expected.get(who, who) for who, _ in events}
    assert set(Project(None, None, wh).events.customer_id.to_pandas()) == persons
    wh.close()


def test_a_failed_ingest_stores_no_links_or_traits(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    wh = Warehouse(tmp_path / "w.duckdb")
    wh.ingest_arrow(table([("anon-1", "u1", "2025-03-01 09:00", "sign_in", None)]))

    def tables() -> list[list[tuple[object, ...]]]:
        return [
            wh.con.sql(f"SELECT * FROM {t} ORDER BY ALL").fetchall()
            for t in ("events", "identity_links", "customer_traits", "id_map", "ingests")
        ]

    before = tables()

    def broken(con: object, touched: str | None = None) -> int:
        raise KeyboardInterrupt  # as if Ctrl-C landed while the id map was rebuilt

    monkeypatch.setattr("kundresa.store.warehouse.materialise_id_map", broken)
    later = table(
        [
            ("anon-2", "u1", "2025-03-02 09:00", None, "identify"),
            ("anon-3", None, "2025-03-02 09:01", "page_view", None),
        ],
        plan=["pro", None],
    )
    with pytest.raises(KeyboardInterrupt):
        wh.ingest_arrow(later)
    assert tables() == before
    monkeypatch.undo()
    assert wh.ingest_arrow(later).links == 1
    assert wh.person_ids("anon-2") == ("u1", ["u1", "anon-1", "anon-2"])
    wh.close()
