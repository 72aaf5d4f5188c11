"""JSON Lines and JSON array files: what is read as a record and what is quarantined."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from kundresa.cli import main
from kundresa.ingest.readers import ReadError, iter_raw_batches, read_header


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


@pytest.mark.parametrize(
    ("body", "key"),
    [
        ('"meta":{"k":1,"k":2}', "k"),  # the parse would keep 2 and drop 1 silently
        ('"properties":{"plan":"free","plan":"pro"}', "plan"),
        ('"x":[{"a":{"b":1,"b":1}}]', "b"),
    ],
)
def test_a_key_repeated_inside_a_nested_object_is_quarantined(
    tmp_path: Path, body: str, key: str
) -> None:
    why = f"the key {key!r} appears more than once in an object nested in it"
    line = '{"customer_id":"c1","timestamp":"2025-01-01","event":"a",' + body + "}"
    f = tmp_path / "e.jsonl"
    f.write_text(line + "\n" + line.replace(body, '"meta":{"k":1}') + "\n", encoding="utf-8")
    rows, bad = read(f)
    assert len(rows) == 1 and bad == [(1, why)]
    array = tmp_path / "e.json"
    array.write_text("[" + line + "]", encoding="utf-8")
    assert read(array) == ([], [(1, why)])


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


# -- JSON arrays --------------------------------------------------------------------------


def event(i: int) -> dict[str, object]:
    return {"customer_id": f"c{i}", "timestamp": "2025-01-01", "event": "e", "n": i}


@pytest.mark.parametrize("indent", [None, 2, "\t"])
def test_a_json_array_is_read_as_records(tmp_path: Path, indent: int | str | None) -> None:
    f = tmp_path / "e.json"
    f.write_text(json.dumps([event(1), event(2), event(3)], indent=indent), encoding="utf-8")
    rows, bad = read(f)
    assert [r["customer_id"] for r in rows] == ["c1", "c2", "c3"]
    assert bad == []
    if indent is not None:  # numbered by the line each object starts on
        assert [r["_line"] for r in rows] == [2, 8, 14]


def test_array_elements_that_are_not_objects_are_quarantined(tmp_path: Path) -> None:
    f = tmp_path / "e.json"
    f.write_text(
        '[\n{"customer_id":"c1","timestamp":"t","event":"e"},\n3,\n[1]\n,null,\n"x"]', "utf-8"
    )
    rows, bad = read(f)
    assert [r["customer_id"] for r in rows] == ["c1"]
    assert bad == [
        (3, "expected a JSON object, found a number"),
        (4, "expected a JSON object, found an array"),
        (5, "expected a JSON object, found null"),
        (6, "expected a JSON object, found a string"),
    ]


@pytest.mark.parametrize(
    "text",
    [
        '[\n{"customer_id":"c1","timestamp":"t","event":"e"},\n{"customer_id": "c2",\n',
        '[{"customer_id":"c1","timestamp":"t","event":"e"} {"customer_id":"c2"}]',
        '[{"customer_id":"c1","timestamp":"t","event":"e"}] trailing',
        '[{"customer_id":"c1","timestamp":"t","event":"e"},',
    ],
)
def test_a_broken_array_loads_nothing(tmp_path: Path, text: str) -> None:
    f = tmp_path / "e.json"
    f.write_text(text, encoding="utf-8")
    with pytest.raises(ReadError, match=r"e\.json:\d+: .*nothing of it was loaded"):
        read(f)
    runner = CliRunner()
    assert runner.invoke(main, ["init", str(tmp_path / "p")]).exit_code == 0
    r = runner.invoke(main, ["ingest", str(f), "--project", str(tmp_path / "p")])
    assert r.exit_code == 1 and "nothing of it was loaded" in r.output
    assert r.output.count("\n") == 1


def test_a_large_gzipped_array_streams_across_pieces(tmp_path: Path) -> None:
    f = tmp_path / "e.json.gz"
    with gzip.open(f, "wt", encoding="utf-8") as out:
        json.dump([event(i) for i in range(30_000)], out, indent=1)  # several MiB
    assert read_header(f) == ["customer_id", "timestamp", "event", "n"]
    rows, bad = read(f)
    assert bad == [] and [r["n"] for r in rows] == [str(i) for i in range(30_000)]
    assert rows[1]["_line"] == 2 + 6


def test_an_empty_array_holds_no_rows(tmp_path: Path) -> None:
    f = tmp_path / "e.json"
    f.write_text(" [ ] \n", encoding="utf-8")
    assert read(f) == ([], [])


def test_a_repeated_key_in_an_array_element_is_quarantined(tmp_path: Path) -> None:
    f = tmp_path / "e.json"
    f.write_text('[{"customer_id":"c4","timestamp":"t","event":"e","customer_id":"c5"}]', "utf-8")
    rows, bad = read(f)
    assert rows == [] and bad == [(1, "the key 'customer_id' appears more than once in the object")]


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.dictionaries(st.sampled_from(["a", "b", "c"]), st.integers() | st.text(max_size=4)),
        max_size=8,
    ),
    st.sampled_from([None, 0, 1, 4]),
)
def test_any_array_of_objects_reads_back(
    tmp_path_factory: pytest.TempPathFactory, objs: list[dict[str, object]], indent: int | None
) -> None:
    records = [{"customer_id": "c", **o} for o in objs]
    f = tmp_path_factory.mktemp("a") / "e.json"
    f.write_text(json.dumps(records, indent=indent, ensure_ascii=False), encoding="utf-8")
    rows, bad = read(f)
    assert bad == []
    assert [{k: v for k, v in r.items() if v is not None and k != "_line"} for r in rows] == [
        {k: v if isinstance(v, str) else repr(v) for k, v in r.items()} for r in records
    ]


@pytest.mark.parametrize(
    ("name", "text"),
    [
        (
            "d.jsonl",
            '{"customer_id":"c4","timestamp":"2025-01-01","event":"a","customer_id":"c5"}\n',
        ),
        (
            "d.json",
            '[{"customer_id":"c4","timestamp":"2025-01-01","event":"a","customer_id":"c5"}]',
        ),
    ],
)
def test_a_file_of_only_repeated_key_objects_ingests_to_quarantine(
    tmp_path: Path, name: str, text: str
) -> None:
    f = tmp_path / name
    f.write_text(text, encoding="utf-8")
    runner = CliRunner()
    assert runner.invoke(main, ["init", str(tmp_path / "p")]).exit_code == 0
    r = runner.invoke(main, ["ingest", str(f), "--project", str(tmp_path / "p")])
    assert r.exit_code == 0, r.output
    assert "loaded 0" in r.output and "quarantined 1" in r.output


def test_a_parquet_map_naming_a_key_twice_is_quarantined(tmp_path: Path) -> None:
    # A review's repro: a map [('k','v'), ('k','v2')] was loaded as {'k': 'v2'}, silently.
    import pyarrow as pa
    import pyarrow.parquet as pq

    from kundresa.store.warehouse import Warehouse

    maps = pa.array(
        [[("k", "v"), ("k", "v2")], [("k", "v"), ("j", "w")]], pa.map_(pa.string(), pa.string())
    )
    pq.write_table(
        pa.table(
            {
                "customer_id": ["c1", "c2"],
                "timestamp": ["2025-01-01T10:00:00Z"] * 2,
                "event": ["a", "a"],
                "properties": maps,
            }
        ),
        tmp_path / "m.parquet",
    )
    wh = Warehouse(None)
    wh.ingest([tmp_path / "m.parquet"])
    assert [r[0] for r in wh.con.execute("SELECT customer_id FROM events").fetchall()] == ["c2"]
    (bad,) = wh.quarantined()
    assert bad["reason"] == "column 'properties' has the key \"k\" more than once"


@pytest.mark.parametrize(
    ("name", "text", "why"),
    [
        (
            "e.jsonl",
            '{"customer_id": "c1", "event": "e"\n',
            "invalid JSON: Expecting ',' delimiter",
        ),
        ("e.jsonl", "customer_id,timestamp,event\nc1,t,e\n", "invalid JSON: Expecting value"),
        ("e.jsonl", '"c1"\n5\n', "expected a JSON object, found a string"),
        ("e.json", "[1, 2]", "expected a JSON object, found a number"),
    ],
)
def test_a_file_without_any_json_object_says_so(
    tmp_path: Path, name: str, text: str, why: str
) -> None:
    # It has no columns: the ingest said "no customer_id column ... (columns: none); name it
    # with --customer-col", and the web's upload asked for columns from an empty header.
    f = tmp_path / name
    f.write_text(text, encoding="utf-8")
    with pytest.raises(ReadError, match=r"is a JSON object: each (line|element) is one event"):
        read_header(f)
    runner = CliRunner()
    assert runner.invoke(main, ["init", str(tmp_path / "p")]).exit_code == 0
    r = runner.invoke(main, ["ingest", str(f), "--project", str(tmp_path / "p")])
    assert r.exit_code == 1
    assert r.output.startswith(f"error: {f}:1: {why}"), r.output
    assert "customer_id column" not in r.output and r.output.count("\n") == 1
