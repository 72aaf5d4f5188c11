"""Rewriting event files without a person's rows (used by `kundresa forget`)."""

from __future__ import annotations

import gzip
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from kundresa.ingest.redact import redact_file


def test_parquet_keeps_schema_and_other_rows(tmp_path: Path) -> None:
    f = tmp_path / "e.parquet"
    table = pa.table(
        {
            "user_id": ["u1", "u2", None, "u3"],
            "n": [1, 2, 3, 4],
            "props": pa.array(
                [[("ref", "x")], [], [("ref", "u1")], [("ref", "u10")]],
                pa.map_(pa.string(), pa.string()),
            ),
        }
    )
    pq.write_table(table, f)
    assert redact_file(f, ["nobody"]) == (None, 0)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["e.parquet"]
    copy, removed = redact_file(f, ["u1"])
    assert removed == 2 and copy is not None
    got = pq.read_table(copy)
    assert got.schema == table.schema
    assert got.column("n").to_pylist() == [2, 4]


def test_gzipped_json_lines_copy_other_lines_byte_for_byte(tmp_path: Path) -> None:
    f = tmp_path / "e.jsonl.gz"
    lines = [
        b'{"userId": "u1", "event": "a"}\n',
        b'{"userId":"u2",  "event": "b", "traits": {"friend": "u1x"}}\n',
        b'{"anonymousId": "d9", "context": {"linked": ["u1"]}}\n',
        b"not json, u1, here\n",
        b'{"userId": 42}\n',
    ]
    f.write_bytes(gzip.compress(b"".join(lines)))
    copy, removed = redact_file(f, ["u1", "42"])
    assert removed == 4 and copy is not None
    assert gzip.decompress(copy.read_bytes()) == lines[1]


def test_csv_fields_are_compared_whole_and_trimmed(tmp_path: Path) -> None:
    f = tmp_path / "e.csv"
    f.write_text('id;note\r\n u1 ;x\r\nu11;"u1 was here"\r\nu2;"[""u1""]"\r\n')
    copy, removed = redact_file(f, ["u1"])
    assert removed == 2 and copy is not None
    assert copy.read_bytes() == b'id;note\r\nu11;"u1 was here"\r\n'
