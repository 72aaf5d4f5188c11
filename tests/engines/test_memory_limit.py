"""KUNDRESA_MEMORY_LIMIT reaches every DuckDB connection the project opens (the project's
warehouse and the in-memory one of ``--events FILE``), each process spills to a folder of its
own that is removed at exit, and a bad value is a one-line error naming the variable."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from kundresa import Project
from kundresa.cli import main
from kundresa.errors import UsageError
from kundresa.store.resources import memory_limit, spill_folder
from kundresa.store.warehouse import Warehouse

EVENTS = (
    "customer_id,timestamp,event\n"
    "c1,2025-01-01T10:00:00Z,ad_click\n"
    "c1,2025-01-02T10:00:00Z,purchase\n"
)
JOURNEY = """\
kundresa: 1
name: Tiny
template: buyers-journey
touchpoints:
  - {id: ad, stage: awareness, match: {event: ad_click}}
  - {id: buy, stage: decision, match: {event: purchase}}
"""


def _setting(con: object, name: str) -> str:
    return str(con.execute(f"SELECT current_setting('{name}')").fetchone()[0])  # type: ignore[attr-defined]


def test_limit_reaches_the_warehouse(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("KUNDRESA_MEMORY_LIMIT", "512MB")
    wh = Warehouse(tmp_path / "w.duckdb")
    try:
        # DuckDB reports the limit in binary units: 512 MB = 488.2 MiB.
        assert _setting(wh.con, "memory_limit") == "488.2 MiB"
        assert Path(_setting(wh.con, "temp_directory")) == spill_folder()
    finally:
        wh.close()


def test_limit_reaches_an_events_file_project(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("KUNDRESA_MEMORY_LIMIT", "1GB")
    events = tmp_path / "events.csv"
    events.write_text(EVENTS)
    journey = tmp_path / "journey.yaml"
    journey.write_text(JOURNEY)
    p = Project.from_events(events, journey=journey)
    try:
        assert _setting(p.warehouse.con, "memory_limit") == "953.6 MiB"
        assert p.events.count().execute() == 2
    finally:
        p.close()


def test_default_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KUNDRESA_MEMORY_LIMIT", raising=False)
    assert memory_limit() == "6GB"


@pytest.mark.parametrize("bad", ["lots", "4", "-1GB", "4 parsecs"])
def test_bad_value_is_one_line(monkeypatch: pytest.MonkeyPatch, bad: str) -> None:
    monkeypatch.setenv("KUNDRESA_MEMORY_LIMIT", bad)
    with pytest.raises(UsageError, match=r"^KUNDRESA_MEMORY_LIMIT=.* is not a memory size"):
        Warehouse(None)


def test_bad_value_on_the_cli(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    events = tmp_path / "events.csv"
    events.write_text(EVENTS)
    journey = tmp_path / "journey.yaml"
    journey.write_text(JOURNEY)
    monkeypatch.setenv("KUNDRESA_MEMORY_LIMIT", "plenty")
    r = CliRunner().invoke(main, ["stages", "--events", str(events), "--journey", str(journey)])
    assert r.exit_code != 0
    assert "KUNDRESA_MEMORY_LIMIT='plenty' is not a memory size" in r.output
    assert "Traceback" not in r.output


def test_spill_folder_is_per_process_and_removed_at_exit(tmp_path: Path) -> None:
    code = (
        "from kundresa.store.warehouse import Warehouse\n"
        "from kundresa.store.resources import spill_folder\n"
        "wh = Warehouse(None)\n"
        "print(wh.con.execute(\"SELECT current_setting('temp_directory')\").fetchone()[0])\n"
        "wh.close()\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.strip()
    folder = Path(out)
    assert folder.name.startswith("kundresa-spill-")
    assert folder != spill_folder()
    assert not folder.exists(), "the spill folder outlived its process"
