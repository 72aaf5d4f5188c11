"""The ingest's staging and parsing as made bounded and faster for issue 12: a JSON
properties column parsed once, Parquet map columns turned into JSON text in slices, and the
raw record built for the quarantined rows only — with the same stored events as before."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from kundresa.ingest import readers
from kundresa.ingest.readers import _to_string
from kundresa.store.warehouse import Warehouse


def _properties(wh: Warehouse) -> dict[str, dict[str, str] | None]:
    rows = wh.con.execute("SELECT customer_id, properties FROM events").fetchall()
    return {c: None if p is None else dict(p) for c, p in rows}


# (the JSON text of the properties column, the properties stored)
CASES = [
    ('{"a":"1","b":null}', {"a": "1"}),  # a null value leaves its key out
    ('{"a.b":"3","a b":"4","s":"null"}', {"a.b": "3", "a b": "4", "s": "null"}),
    (
        '{"n":{"x":1},"l":[1,2],"t":true,"f":1.50,"i":-3}',
        {"n": '{"x":1}', "l": "[1,2]", "t": "true", "f": "1.5", "i": "-3"},
    ),
    ("{}", {}),
    ('  {"p":"q"}  ', {"p": "q"}),
    ('{"\\u00fc":"\\u00e5\\n","\\"q":"\\\\"}', {"ü": "å\n", '"q': "\\"}),
    ('{"x":""}', {"x": ""}),
    ('{"a":[null],"b":{"c":null}}', {"a": "[null]", "b": '{"c":null}'}),
    # Keys that the former per-key ``->>`` read as a JSON path (dropped, the whole document,
    # or an error): now each its own value.
    ('{"/y":"2","$x":"1","":"e"}', {"/y": "2", "$x": "1", "": "e"}),
]


def test_a_json_properties_column_is_read_key_by_key(tmp_path: Path) -> None:
    f = tmp_path / "p.jsonl"
    lines = [
        json.dumps({"user_id": f"c{i}", "ts": "2025-01-01", "event": "x", "properties": text})
        for i, (text, _) in enumerate(CASES)
    ]
    f.write_text("\n".join(lines) + "\n")
    wh = Warehouse(None)
    report = wh.ingest([f])
    assert report.loaded == len(CASES)
    got = _properties(wh)
    assert got == {f"c{i}": want for i, (_, want) in enumerate(CASES)}


def test_json_properties_beside_plain_property_columns(tmp_path: Path) -> None:
    """The JSON column's keys win over plain columns of the same name; the plain columns
    stay when the JSON text is empty; text that is not an object is quarantined."""
    f = tmp_path / "p.csv"
    f.write_text(
        "user_id,ts,event,plan,properties\n"
        'a,2025-01-01,x,pro,"{""plan"":""free"",""k"":""v""}"\n'
        "b,2025-01-01,x,pro,\n"
        "c,2025-01-01,x,pro,[1]\n"
    )
    wh = Warehouse(None)
    report = wh.ingest([f])
    assert (report.loaded, report.quarantined) == (2, 1)
    assert _properties(wh) == {"a": {"plan": "free", "k": "v"}, "b": {"plan": "pro"}}
    [q] = wh.quarantined()
    assert q["line"] == 4 and "is not a JSON object" in q["reason"]
    # The raw record is built for the quarantined row (after parsing): the row as read.
    assert json.loads(q["record"]) == {
        "user_id": "c",
        "ts": "2025-01-01",
        "event": "x",
        "plan": "pro",
        "properties": "[1]",
    }


def test_quarantined_rows_of_two_files_keep_their_own_records(tmp_path: Path) -> None:
    """The raw record is looked up by file and line: two files with a bad row on the same
    line each keep their own."""
    one, two = tmp_path / "one.csv", tmp_path / "two.csv"
    one.write_text("user_id,ts,event\na,2025-01-01,x\n,2025-01-01,bad-one\n")
    two.write_text("user_id,ts,event\nb,2025-01-01,y\n,2025-01-02,bad-two\n")
    wh = Warehouse(None)
    report = wh.ingest([one, two])
    assert (report.loaded, report.quarantined) == (2, 2)
    records = {q["source"]: json.loads(q["record"])["event"] for q in wh.quarantined()}
    assert records == {str(one): "bad-one", str(two): "bad-two"}


def _reference(arr: pa.Array) -> list[str | None]:
    """What map columns were turned into before: ``json.dumps(dict(v))`` per row."""
    return [None if v is None else json.dumps(dict(v), default=str) for v in arr.to_pylist()]


@pytest.mark.parametrize("value_type", [pa.string(), pa.float64(), pa.int64()])
def test_map_columns_become_the_same_json_text(
    monkeypatch: pytest.MonkeyPatch, value_type: pa.DataType
) -> None:
    """Sliced arrays (Parquet batches are slices of a row group), nulls, empty maps, and
    more rows than one slice of Python objects."""
    monkeypatch.setattr(readers, "_OBJECT_ROWS", 3)
    one = "å\n" if value_type == pa.string() else 1
    values = [
        [("a", one), ("b", None)],
        None,
        [],
        [("c", one), ("a", one)],
        [("d", one)],
        [("e", None)],
        None,
        [("f", one), ("g", one), ("h", one)],
    ]
    arr = pa.array(values, pa.map_(pa.string(), value_type))
    for piece in (arr, arr.slice(1), arr.slice(2, 2), arr.slice(3), arr.slice(8)):
        assert _to_string(piece).to_pylist() == _reference(piece)


def test_a_parquet_map_column_loads_as_properties(tmp_path: Path) -> None:
    """Kundresa's own Parquet shape (a ``properties`` map) in several row groups and
    batches: every row's properties as written, nulls left out."""
    n = 1_000
    table = pa.table(
        {
            "customer_id": [f"c{i}" for i in range(n)],
            "timestamp": pa.array(
                [1_750_000_000_000_000 + i for i in range(n)], pa.timestamp("us")
            ),
            "event": ["view"] * n,
            "properties": pa.array(
                [[("k", str(i)), ("odd", "1" if i % 2 else None)] for i in range(n)],
                pa.map_(pa.string(), pa.string()),
            ),
        }
    )
    f = tmp_path / "e.parquet"
    pq.write_table(table, f, row_group_size=300)
    wh = Warehouse(None)
    assert wh.ingest([f]).loaded == n
    got = _properties(wh)
    assert got == {
        f"c{i}": ({"k": str(i), "odd": "1"} if i % 2 else {"k": str(i)}) for i in range(n)
    }
