"""Parsing rules found by review (session 16): a properties column that is no JSON object,
a key written twice, numbers in the time column too small for an epoch, local times at a
daylight-saving change, offsets out of range, one decimal mark per file and binary text."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from kundresa.store.warehouse import Warehouse


def _reasons(wh: Warehouse) -> dict[int, str]:
    return {q["line"]: q["reason"] for q in wh.quarantined()}


def _loaded(wh: Warehouse, column: str) -> dict[str, object]:
    rows = wh.con.execute(f'SELECT customer_id, "{column}" FROM events').fetchall()
    return dict(rows)


# --- properties that are no JSON object, keys written twice ---------------------------------


@pytest.mark.parametrize("text", ["str", "not json {", "{broken", "5", "[1,2]", '"s"', "true"])
def test_properties_text_that_is_no_json_object_is_quarantined(tmp_path: Path, text: str) -> None:
    f = tmp_path / "p.csv"
    f.write_text(
        "customer_id,timestamp,event,properties\n"
        f"c1,2025-01-01,v,{json.dumps(text)}\n"
        'c2,2025-01-01,v,"{""a"":1}"\n'
    )
    wh = Warehouse(None)
    report = wh.ingest([f])
    assert (report.loaded, report.quarantined) == (1, 1)
    assert _reasons(wh) == {2: "column 'properties' is not a JSON object"}


def test_properties_no_object_in_json_lines_and_parquet(tmp_path: Path) -> None:
    j = tmp_path / "p.jsonl"
    j.write_text(
        '{"customer_id":"j","timestamp":"2025-01-01","event":"a","properties":"str"}\n'
        '{"customer_id":"k","timestamp":"2025-01-01","event":"a","properties":{"x":1}}\n'
    )
    q = tmp_path / "p.parquet"
    pq.write_table(
        pa.table(
            {
                "customer_id": ["p", "r"],
                "timestamp": ["2025-01-01", "2025-01-01"],
                "event": ["a", "a"],
                "properties": ["str", '{"x":"1"}'],
            }
        ),
        q,
    )
    wh = Warehouse(None)
    report = wh.ingest([j, q])
    assert (report.loaded, report.quarantined) == (2, 2)
    assert {r["reason"] for r in wh.quarantined()} == {"column 'properties' is not a JSON object"}


def test_a_properties_key_written_twice_is_quarantined(tmp_path: Path) -> None:
    f = tmp_path / "p.jsonl"
    f.write_text(
        '{"customer_id":"a","timestamp":"2025-01-01","event":"v",'
        '"properties":"{\\"a\\":1,\\"b\\":2,\\"a\\":2}"}\n'
        '{"customer_id":"b","timestamp":"2025-01-01","event":"v",'
        '"properties":"{\\"a\\":1,\\"A\\":2}"}\n'
    )
    wh = Warehouse(None)
    report = wh.ingest([f])
    assert (report.loaded, report.quarantined) == (1, 1)
    assert _reasons(wh) == {1: "column 'properties' has the key \"a\" more than once"}
    assert _loaded(wh, "properties") == {"b": {"a": "1", "A": "2"}}
