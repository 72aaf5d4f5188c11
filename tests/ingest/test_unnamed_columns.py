"""Columns without a name (README, "Loading events"): Excel's trailing delimiter (an empty
name over empty cells) is left out; an unnamed column holding a value refuses the file in one
line naming its position; a JSON object with an empty key holding a value is quarantined.
"""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner, Result

from kundresa.cli import main
from kundresa.errors import IngestError
from kundresa.ingest.readers import text_batch
from kundresa.project import Project
from kundresa.store.warehouse import Warehouse


def _project(tmp_path: Path) -> Path:
    project = tmp_path / "p"
    assert CliRunner().invoke(main, ["init", str(project)]).exit_code == 0
    return project


def _ingest(project: Path, *args: str) -> Result:
    return CliRunner().invoke(main, ["ingest", *args, "--project", str(project)])


def _events(project: Path) -> int:
    return Project.open(project).warehouse.event_count()


def _one_line_error(r: Result) -> str:
    assert r.exit_code == 1, r.output
    assert r.exception is None or isinstance(r.exception, SystemExit), r.exception
    lines = r.output.strip().splitlines()
    assert len(lines) == 1, r.output
    assert "Traceback" not in r.output and "LINE 1" not in r.output
    return lines[0]


def test_excel_trailing_delimiter_is_left_out(tmp_path: Path) -> None:
    project = _project(tmp_path)
    f = tmp_path / "excel-trailing.csv"
    f.write_text("kund_id;tidpunkt;händelse;belopp;\nk1;2025-01-01 10:00;purchase;10,5;\n")
    r = _ingest(project, str(f))
    assert r.exit_code == 0, r.output
    assert "loaded 1" in r.output and "quarantined 0" in r.output
    (row,) = (
        Project.open(project)
        .warehouse.con.execute("SELECT customer_id, value, map_keys(properties) FROM events")
        .fetchall()
    )
    assert row == ("k1", 10.5, [])  # no property named ""


@pytest.mark.parametrize(
    "text",
    [
        "kund_id;tidpunkt;händelse;belopp;;;\nk1;2025-01-01 10:00;purchase;10,5;;;\n",
        "customer_id,,timestamp,event\nk1,,2025-01-01 10:00,purchase\n",
        'customer_id, ,timestamp,event\nk1,"",2025-01-01 10:00,purchase\n',
        "customer_id\ttimestamp\tevent\t\nk1\t2025-01-01 10:00\tpurchase\t\n",
    ],
    ids=["several-trailing", "middle", "spaces-quoted-empty", "tsv"],
)
def test_empty_unnamed_columns_are_left_out(tmp_path: Path, text: str) -> None:
    project = _project(tmp_path)
    f = tmp_path / ("e.tsv" if "\t" in text else "e.csv")
    f.write_text(text)
    r = _ingest(project, str(f))
    assert r.exit_code == 0, r.output
    assert "loaded 1" in r.output and "quarantined 0" in r.output


@pytest.mark.parametrize(
    ("text", "column", "value"),
    [
        (
            "customer_id,,timestamp,event\n"
            "k1,,2025-01-01 10:00,purchase\n"
            "k2,oops,2025-01-01 11:00,purchase\n",
            2,
            "oops",
        ),
        # Several columns without a name (Excel's trailing semicolons): the one with a value.
        (
            "kund_id;tidpunkt;händelse;belopp;;;\n"
            "k1;2025-01-01 10:00;purchase;10,5;;;\n"
            "k2;2025-01-01 10:00;purchase;10,5;;x;\n",
            6,
            "x",
        ),
    ],
)
def test_an_unnamed_column_with_values_refuses_the_file(
    tmp_path: Path, text: str, column: int, value: str
) -> None:
    project = _project(tmp_path)
    good = tmp_path / "good.csv"
    good.write_text("customer_id,timestamp,event\nk0,2025-01-01 09:00,signup\n")
    assert _ingest(project, str(good)).exit_code == 0
    f = tmp_path / "mid.csv"
    f.write_text(text)
    line = _one_line_error(_ingest(project, str(f)))
    assert line == (
        f"error: {f}: column {column} has no name, but line 3 holds a value in it "
        f"({value!r}); give the column a name, or delete it"
    )
    assert _events(project) == 1  # as it was


def test_parquet_unnamed_columns(tmp_path: Path) -> None:
    project = _project(tmp_path)
    base = {
        "customer_id": ["p1", "p2"],
        "timestamp": ["2025-01-01 10:00", "2025-01-01 11:00"],
        "event": ["a", "b"],
    }
    empty = tmp_path / "empty.parquet"
    pq.write_table(pa.table({**base, "": pa.array([None, None], pa.string())}), empty)
    r = _ingest(project, str(empty))
    assert r.exit_code == 0, r.output
    assert "loaded 2" in r.output
    held = tmp_path / "held.parquet"
    pq.write_table(pa.table({**base, "": [None, 3]}), held)
    line = _one_line_error(_ingest(project, str(held)))
    assert line.endswith(
        f"{held}: column 4 has no name, but row 2 holds a value in it ('3'); "
        "give the column a name, or delete it"
    )
    assert _events(project) == 2


def test_a_dataframe_column_without_a_name(tmp_path: Path) -> None:
    wh = Warehouse(None)
    table = pa.table({"customer_id": ["c"], "timestamp": ["2025-01-01"], "event": ["e"], "": ["x"]})
    with pytest.raises(IngestError, match="column 4 has no name, but row 1 holds a value"):
        wh.ingest_arrow(table)
    empty = table.set_column(3, "", pa.array([""]))
    assert wh.ingest_arrow(empty).loaded == 1


@pytest.mark.parametrize("array", [False, True], ids=["jsonl", "json-array"])
def test_a_json_key_without_a_name(tmp_path: Path, array: bool) -> None:
    project = _project(tmp_path)
    rows = [
        {"customer_id": "k1", "timestamp": "2025-01-01 10:00", "event": "a"},
        {"customer_id": "k1", "timestamp": "2025-01-01 11:00", "event": "b", "": "x"},
        {"customer_id": "k1", "timestamp": "2025-01-01 12:00", "event": "c", "": None, " ": ""},
    ]
    f = tmp_path / ("e.json" if array else "e.jsonl")
    f.write_text(
        "[\n" + ",\n".join(map(json.dumps, rows)) + "\n]\n"
        if array
        else "".join(json.dumps(r) + "\n" for r in rows)
    )
    r = _ingest(project, str(f))
    assert r.exit_code == 0, r.output
    assert "loaded 2" in r.output and "quarantined 1" in r.output
    wh = Project.open(project).warehouse
    (q,) = wh.quarantined()
    assert q["line"] == (3 if array else 2)
    assert q["reason"] == "the key '' has no name but holds a value; name the field"
    keys = wh.con.execute("SELECT event, map_keys(properties) FROM events ORDER BY 1").fetchall()
    assert keys == [("a", []), ("c", [])]


def test_events_runs_say_nothing_of_a_warehouse(tmp_path: Path) -> None:
    f = tmp_path / "mid.csv"
    f.write_text("customer_id,,timestamp,event\nk1,x,2025-01-01 10:00,purchase\n")
    r = CliRunner().invoke(main, ["funnel", "--events", str(f), "--step", "a", "--step", "b"])
    line = _one_line_error(r)
    assert "warehouse" not in line
    assert "column 2 has no name" in line
    ok = tmp_path / "excel-trailing.csv"
    ok.write_text("kund_id;tidpunkt;händelse;belopp;\nk1;2025-01-01 10:00;purchase;10,5;\n")
    r = CliRunner().invoke(main, ["funnel", "--events", str(ok), "--step", "purchase"])
    assert "has no name" not in r.output and "Parser Error" not in r.output


def test_a_refused_write_in_memory_names_no_warehouse() -> None:
    def bad_sql(con: object, report: object) -> None:
        con.execute("SELECT * FROM no_such_table")  # type: ignore[attr-defined]

    wh = Warehouse(None)
    table = pa.table({"customer_id": ["c"], "timestamp": ["2025-01-01"], "event": ["e"]})
    batches = [text_batch(b, 1) for b in table.to_batches()]
    with pytest.raises(IngestError) as info:
        wh.ingest_checked("<dataframe>", iter(batches), before_commit=bad_sql)
    assert str(info.value) == (
        "ingest failed: Catalog Error: Table with name no_such_table does not exist!"
    )
