"""The deduplication key of an event without an event id: every field, the properties in
name order, unambiguous; a warehouse keyed by the older rule is rekeyed at its next write."""

from __future__ import annotations

import json
from pathlib import Path

from kundresa.store.warehouse import Warehouse


def _line(props: dict[str, str], **top: str) -> str:
    row = {"customer_id": "r1", "timestamp": "2025-01-01T10:00:00Z", "event": "purchase"}
    return json.dumps({**row, **top, "properties": props})


def test_one_event_with_its_properties_in_another_order_is_loaded_once(tmp_path: Path) -> None:
    # A review's repro: two exports of one purchase, `properties` keys in another order,
    # loaded as two events (a "repeat purchase"); also within one file.
    first, second = tmp_path / "export1.jsonl", tmp_path / "export2.jsonl"
    first.write_text(_line({"plan": "pro", "country": "SE"}) + "\n", encoding="utf-8")
    second.write_text(_line({"country": "SE", "plan": "pro"}) + "\n", encoding="utf-8")
    wh = Warehouse(tmp_path / "w.duckdb")
    wh.ingest([first])
    wh.ingest([second])
    assert wh.event_count() == 1
    both = tmp_path / "both.jsonl"
    both.write_text(first.read_text() + second.read_text(), encoding="utf-8")
    fresh = Warehouse(None)
    fresh.ingest([both])
    assert fresh.event_count() == 1


def test_a_value_that_looks_like_two_properties_is_another_event(tmp_path: Path) -> None:
    # DuckDB's text of a map is {a=1, b=2} for both of these: the key must tell them apart.
    f = tmp_path / "e.jsonl"
    f.write_text(
        _line({"a": "1", "b": "2"}) + "\n" + _line({"a": "1, b=2"}) + "\n", encoding="utf-8"
    )
    wh = Warehouse(None)
    wh.ingest([f])
    assert wh.event_count() == 2


def test_a_warehouse_keyed_by_the_older_rule_is_rekeyed_at_its_next_write(
    tmp_path: Path,
) -> None:
    f = tmp_path / "e.jsonl"
    f.write_text(
        _line({"plan": "pro", "country": "SE"})
        + "\n"
        + _line({"x": "1"}, event="visit")
        + "\n"
        + _line({}, event="visit", event_id="e1")
        + "\n",
        encoding="utf-8",
    )
    path = tmp_path / "w.duckdb"
    wh = Warehouse(path)
    wh.ingest([f])
    assert wh.event_count() == 3
    # As an older version stored it: keys of the map's text, no rule in meta.
    wh.con.execute(
        "UPDATE events SET _key = md5_number(concat_ws(chr(31), customer_id, "
        "strftime(\"timestamp\", '%Y-%m-%dT%H:%M:%S.%f'), event, coalesce(channel, ''), "
        "coalesce(CAST(value AS VARCHAR), ''), coalesce(session_id, ''), "
        "CAST(properties AS VARCHAR))) WHERE event_id IS NULL"
    )
    wh.con.execute("DELETE FROM meta WHERE key = 'key_rule'")
    wh.close()
    wh = Warehouse(path)
    wh.ingest([f])  # the same file again: nothing added
    assert wh.event_count() == 3
    rule = wh.con.execute("SELECT value FROM meta WHERE key = 'key_rule'").fetchone()
    assert rule == ("2",)
