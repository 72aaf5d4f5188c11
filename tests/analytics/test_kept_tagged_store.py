"""The tagged events the warehouse keeps (Project.keep_tagged): made after an ingest, read by
a later process instead of tagging again, dropped by every write of the events, and never
handed out for other events or other touchpoints."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest

from kundresa.analytics.touchpoints import tag_events, tagging_fingerprint
from kundresa.demo.generator import demo_journey_yaml, generate_events
from kundresa.project import Project
from kundresa.store.warehouse import TAGGED_TABLE

PAGE = ("touchpoints", "stages", "stage_attribution", "attribution_models", "compare")
"""Analyses that read the tagged events (the map, attribution and compare pages')."""


def _results(project: Project, **scope: str) -> dict[str, pd.DataFrame]:
    params = {"compare": {"by": "persona", "a": "business", "b": "private"}}
    if scope:
        params = {"compare": {"by": "variant"}}
    return {
        name: project.run(name, lang="en", **scope, **params.get(name, {})).frame for name in PAGE
    }


def _assert_same(got: dict[str, pd.DataFrame], want: dict[str, pd.DataFrame]) -> None:
    for name, frame in want.items():
        pd.testing.assert_frame_equal(got[name], frame, obj=name)


def _direct(folder: Path, **scope: str) -> dict[str, pd.DataFrame]:
    """The analyses of a project that keeps nothing: its events tagged in each query."""
    with Project.open(folder, read_only=True) as p:
        p._tagged_memo = lambda: None  # type: ignore[method-assign]
        return _results(p, **scope)


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    (tmp_path / "journey.yaml").write_text(demo_journey_yaml("en"), encoding="utf-8")
    events = generate_events(150, seed=5)
    pq.write_table(events.slice(0, 500), tmp_path / "first.parquet")
    pq.write_table(events.slice(500), tmp_path / "second.parquet")
    return tmp_path


def _kept(project: Project) -> str | None:
    return project.warehouse.stored_tagged(tagging_fingerprint(project.journey))


def _assert_ranked(project: Project) -> None:
    """The kept table's integer keys are those of its events now: customers numbered in id
    order, events in customer and event order, both from 0 without gaps, rows stored in it."""
    kept = project.warehouse.con.execute(
        f"SELECT customer_id, timestamp, event, event_id, _customer_rank, _event_rank "
        f"FROM {TAGGED_TABLE}"
    ).df()
    assert kept["_event_rank"].tolist() == list(range(len(kept)))  # stored in that order
    by_order = kept.sort_values(["customer_id", "timestamp", "event", "event_id"], kind="stable")
    assert by_order["_event_rank"].tolist() == list(range(len(kept)))
    ids = sorted(kept["customer_id"].unique())
    assert kept["_customer_rank"].tolist() == [ids.index(c) for c in kept["customer_id"]]


def test_ingest_keeps_the_tagged_events_and_a_later_process_reads_them(folder: Path) -> None:
    with Project.open(folder) as p:
        p.ingest([folder / "first.parquet"])
        assert _kept(p) == TAGGED_TABLE
        _assert_ranked(p)
        cols = ["event_id", "touchpoint", "stage", "stage_index"]
        kept = p.warehouse.con.table(TAGGED_TABLE).df()[cols]
        fresh = tag_events(p.events, p.journey).select(cols).to_pandas()
        key = ["event_id"]
        pd.testing.assert_frame_equal(
            kept.sort_values(key, ignore_index=True),
            fresh.sort_values(key, ignore_index=True),
            check_dtype=False,
        )
    want = _direct(folder)
    with Project.open(folder, read_only=True) as p:
        memo = p._tagged_memo()
        seeded = memo.peek(p.events, p.journey)
        assert seeded is not None and seeded.get_name().endswith(TAGGED_TABLE)
        _assert_same(_results(p), want)
        # Read from the kept table: the memo tagged no copy of its own.
        assert not [k for k, (journey, _, owned) in memo._tables.items() if owned and journey]
        memo.release()
        assert p.warehouse.stored_tagged(tagging_fingerprint(p.journey)) == TAGGED_TABLE


def test_every_write_drops_them_and_the_next_numbers_are_new(folder: Path) -> None:
    with Project.open(folder) as p:
        p.ingest([folder / "first.parquet"])
        before = _results(p)
        made_for = tagging_fingerprint(p.journey)
        # A write that fails leaves the kept table with the events it was made of.
        with pytest.raises(RuntimeError), p.warehouse.writing_events() as con:
            con.execute("DELETE FROM events")
            raise RuntimeError("stop")
        assert p.warehouse.stored_tagged(made_for) == TAGGED_TABLE
        # Any write of the events drops it in its own transaction.
        with p.warehouse.writing_events() as con:
            con.execute("UPDATE events SET value = value")
        assert p.warehouse.stored_tagged(made_for) is None
        assert p.keep_tagged()
        p.ingest([folder / "second.parquet"])
        assert _kept(p) == TAGGED_TABLE
        after = _results(p)
        assert after["stages"]["reached"].iloc[0] > before["stages"]["reached"].iloc[0]
        customer = str(p.events.customer_id.min().execute())
        p.forget(customer)
        assert _kept(p) == TAGGED_TABLE
        left = p.warehouse.con.execute(
            f"SELECT count(*) FROM {TAGGED_TABLE} WHERE customer_id = ?", [customer]
        ).fetchone()
        assert left == (0,)  # erased from the kept copy too
        _assert_ranked(p)  # numbered again, without the forgotten customer
    want = _direct(folder)
    with Project.open(folder, read_only=True) as p:
        assert p._tagged_memo().peek(p.events, p.journey) is not None
        _assert_same(_results(p), want)


def test_never_read_for_other_events_or_other_touchpoints(folder: Path) -> None:
    with Project.open(folder) as p:
        p.ingest([folder / "first.parquet"])
        made_for = tagging_fingerprint(p.journey)
        # A writer that does not know the table (an older version) adds events behind its
        # back: the kept table no longer matches the events and is not read.
        p.warehouse.con.execute(
            "INSERT INTO events SELECT * REPLACE (event_id || 'x' AS event_id) FROM events LIMIT 3"
        )
        assert p.warehouse.stored_tagged(made_for) is None
    text = (folder / "journey.yaml").read_text(encoding="utf-8")
    edited = text.replace("event: ad_click", "event: blog_visit", 1)
    assert edited != text
    (folder / "journey.yaml").write_text(edited, encoding="utf-8")
    with Project.open(folder) as p:
        p.keep_tagged()  # for the edited journey
        assert _kept(p) == TAGGED_TABLE
    (folder / "journey.yaml").write_text(text, encoding="utf-8")
    want = _direct(folder)
    with Project.open(folder, read_only=True) as p:
        assert _kept(p) is None  # made for other touchpoints
        assert p._tagged_memo().peek(p.events, p.journey) is None
        _assert_same(_results(p), want)


def test_kept_only_where_it_pays(folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import kundresa.project as module

    with Project.open(folder) as p:
        monkeypatch.setattr(module, "KEEP_TAGGED_EVENTS", 10)
        p.ingest([folder / "first.parquet"])
        assert _kept(p) is None  # too many events for a copy
        monkeypatch.undo()
        assert p.keep_tagged()
    with Project.open(folder, read_only=True) as p:
        assert not p.keep_tagged()  # read-only: nothing written
        assert _kept(p) == TAGGED_TABLE


def test_a_personas_tagged_events_are_cut_from_the_kept_ones(
    folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A persona's pages read their tagged events cut from the whole history's kept table
    (tagging is per customer), not tagged again: the same tables as tagging them."""
    from kundresa.analytics import touchpoints

    with Project.open(folder) as p:
        p.ingest([folder / "first.parquet"])
    want = _direct(folder, persona="business")
    tagged = []
    tag = touchpoints._tag

    def spy(events: object, journey: object) -> object:
        tagged.append(events)
        return tag(events, journey)  # type: ignore[arg-type]

    monkeypatch.setattr(touchpoints, "_tag", spy)
    with Project.open(folder, read_only=True) as p:
        got = _results(p, persona="business")
        assert p._tagged_memo().peek(p.scope(persona="business").events, p.journey) is not None
    assert tagged == []  # cut, never tagged
    _assert_same(got, want)
    assert got["stages"]["reached"].iloc[0] > 0
