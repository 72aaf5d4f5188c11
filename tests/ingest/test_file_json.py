"""JSON Lines and JSON array files: what is read as a record and what is quarantined."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kundresa.ingest.readers import iter_raw_batches


def read(path: Path) -> tuple[list[dict[str, object]], list[tuple[int, str]]]:
    rows: list[dict[str, object]] = []
    bad: list[tuple[int, str]] = []
    for batch in iter_raw_batches(path):
        rows.extend(batch.table().to_pylist())
        bad.extend((r.line, r.reason) for r in batch.rejected)
    return rows, bad


def test_a_repeated_top_level_key_is_quarantined(tmp_path: Path) -> None:
    f = tmp_path / "e.jsonl"
    f.write_text(
        '{"customer_id":"c1","timestamp":"2025-01-01","event":"a"}\n'
        '{"customer_id":"c4","timestamp":"2025-01-01","event":"b","customer_id":"c5"}\n',
        encoding="utf-8",
    )
    rows, bad = read(f)
    assert [r["customer_id"] for r in rows] == ["c1"]
    assert bad == [(2, "the key 'customer_id' appears more than once in the object")]


def test_repeated_keys_inside_a_nested_object_are_left_to_its_reader(tmp_path: Path) -> None:
    f = tmp_path / "e.jsonl"
    f.write_text(
        '{"customer_id":"c1","timestamp":"2025-01-01","event":"a","meta":{"k":1,"k":2}}\n',
        encoding="utf-8",
    )
    rows, bad = read(f)
    assert len(rows) == 1 and bad == []


def test_a_bom_before_the_first_line_is_not_a_json_error(tmp_path: Path) -> None:
    f = tmp_path / "e.jsonl"
    f.write_bytes(b'\xef\xbb\xbf{"customer_id":"c1","timestamp":"2025-01-01","event":"a"}\n')
    rows, bad = read(f)
    assert [r["customer_id"] for r in rows] == ["c1"] and bad == []


KEYS = st.sampled_from(["customer_id", "timestamp", "event", "x", "y"])


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(KEYS, st.text(max_size=3)), min_size=1, max_size=6))
def test_a_line_loads_exactly_when_its_keys_are_distinct(
    tmp_path_factory: pytest.TempPathFactory, pairs: list[tuple[str, str]]
) -> None:
    body = "{" + ",".join(f"{json.dumps(k)}:{json.dumps(v)}" for k, v in pairs) + "}\n"
    f = tmp_path_factory.mktemp("j") / "e.jsonl"
    f.write_text(body, encoding="utf-8")
    rows, bad = read(f)
    keys = [k for k, _ in pairs]
    if len(set(keys)) == len(keys):
        assert len(rows) == 1 and bad == []
    else:
        assert rows == [] and len(bad) == 1
        first = next(k for i, k in enumerate(keys) if k in keys[:i])
        assert repr(first) in bad[0][1]
