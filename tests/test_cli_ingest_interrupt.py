"""Ctrl-C after an ingest committed its events: exit 130 and one line saying the events are
stored and what is left (never "nothing was changed"); Ctrl-C before the commit still says
nothing was changed."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from kundresa import Project
from kundresa.cli import main

EVENTS = "customer_id,timestamp,event\nc1,2025-01-01,visit\nc1,2025-01-02,purchase\n"


def run(*args: str) -> Result:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def _duckdb_interrupt() -> BaseException:
    exc = RuntimeError("Query interrupted")
    exc.__cause__ = KeyboardInterrupt()
    return exc


@pytest.fixture
def project(tmp_path: Path) -> Path:
    assert run("init", str(tmp_path / "p")).exit_code == 0
    (tmp_path / "e.csv").write_text(EVENTS)
    return tmp_path / "p"


def _loaded(project: Path) -> int:
    with Project.open(project, read_only=True) as p:
        return int(p.warehouse.con.execute("SELECT count(*) FROM events").fetchone()[0])


@pytest.mark.parametrize("interrupt", [KeyboardInterrupt, _duckdb_interrupt], ids=["py", "duckdb"])
def test_ctrl_c_in_the_live_state_catch_up_says_the_events_are_stored(
    project: Path, monkeypatch: pytest.MonkeyPatch, interrupt: object
) -> None:
    import kundresa.live.state as state

    def stop(*_: object, **__: object) -> None:
        raise interrupt()  # type: ignore[operator]

    monkeypatch.setattr(state, "catch_up", stop)
    r = run("ingest", str(project.parent / "e.csv"), "--project", str(project))
    assert r.exit_code == 130, r.output
    line = " ".join(r.output.split())
    assert line.startswith("interrupted after the events were stored: ingest 1 loaded 2 events")
    assert "live customer state was not brought up to date" in line
    assert "run `kundresa reorganise`" in line
    assert "nothing was changed" not in line and "not updated" not in line
    assert _loaded(project) == 2
    monkeypatch.undo()
    r = run("reorganise", "--project", str(project))  # finishes: the live state catches up
    assert r.exit_code == 0, r.output
    with Project.open(project, read_only=True) as p:
        states = p.warehouse.con.execute("SELECT count(*) FROM customer_state").fetchone()
    assert states is not None and states[0] == 1


def test_ctrl_c_while_printing_the_report_says_the_events_are_stored(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import kundresa.cli.data as data

    def stop(*_: object, **__: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(data, "_print_report", stop)
    r = run("ingest", str(project.parent / "e.csv"), "--project", str(project))
    assert r.exit_code == 130, r.output
    assert "interrupted after the events were stored" in r.output
    assert "nothing was changed" not in r.output
    assert _loaded(project) == 2


def test_ctrl_c_before_the_commit_still_changes_nothing(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from kundresa.store.warehouse import Warehouse

    def stop(*_: object, **__: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(Warehouse, "ingest", stop)
    r = run("ingest", str(project.parent / "e.csv"), "--project", str(project))
    assert r.exit_code == 130, r.output
    assert r.output.strip() == "interrupted; nothing was changed"
    monkeypatch.undo()
    assert _loaded(project) == 0
