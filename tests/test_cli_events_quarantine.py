"""An analysis over ``--events`` says on stderr when rows of the file were quarantined (left
out of its numbers): how many, the commonest reasons with a first line, and how to see them
all; stdout stays clean for JSON and CSV."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from kundresa.cli import main


def run(*args: str) -> Result:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


@pytest.fixture
def events(tmp_path: Path) -> Path:
    path = tmp_path / "e.csv"
    path.write_text(
        "customer_id,timestamp,event\n"
        "c1,2025-01-01,v\n"
        "c1,2025-01-02,b\n"
        "c2,garbage,v\n"
        ",2025-01-01,v\n"
        "c3,zz,v\n"
    )
    return path


def test_funnel_json_notes_quarantined_rows_on_stderr(events: Path) -> None:
    r = run("funnel", "--events", str(events), "--step", "v", "--step", "b", "--format", "json")
    assert r.exit_code == 0, r.output
    rows = json.loads(r.stdout)  # stdout is the JSON and nothing else
    assert [row["count"] for row in rows] == [1, 1]
    note = " ".join(r.stderr.split())
    assert note.startswith(f"note: {events}: 3 rows quarantined and left out of the numbers")
    assert "unparseable timestamp (column 'timestamp'): 2, first at line 4" in note
    assert "missing customer id (column 'customer_id'): 1, first at line 5" in note
    assert f"`kundresa ingest {events}`" in note and "`kundresa quarantine`" in note


@pytest.mark.parametrize("command", [["stages"], ["retention"], ["paths"]])
def test_every_analysis_over_events_notes_them(
    events: Path, tmp_path: Path, command: list[str]
) -> None:
    assert run("init", str(tmp_path / "p")).exit_code == 0
    journey = str(tmp_path / "p" / "journey.yaml")
    r = run(*command, "--events", str(events), "--journey", journey, "--format", "csv")
    assert r.exit_code == 0, r.output
    assert "3 rows quarantined" in r.stderr
    assert "quarantined" not in r.stdout


def test_no_note_when_nothing_was_quarantined(tmp_path: Path) -> None:
    path = tmp_path / "ok.csv"
    path.write_text("customer_id,timestamp,event\nc1,2025-01-01,v\nc1,2025-01-02,b\n")
    r = run("funnel", "--events", str(path), "--step", "v", "--step", "b", "--format", "json")
    assert r.exit_code == 0, r.output
    assert r.stderr == ""
