"""`kundresa identities` and `kundresa forget`, and Project.forget underneath."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from kundresa.cli import identity as cli_identity
from kundresa.cli import main
from kundresa.project import Project, ProjectError

EVENTS = """anonymous_id,user_id,timestamp,event,_kind,plan
anon-1,,2025-03-01 09:00,page_view,,
anon-1,u42,2025-03-01 09:05,sign_in,,
anon-1,u42,2025-03-01 09:06,,identify,pro
,u42,2025-03-01 09:30,purchase,,
anon-1,u7,2025-03-03 11:00,sign_in,,
anon-2,,2025-03-03 12:00,page_view,,
,u7,2025-03-04 12:00,purchase,,
anon-1,,not a time,page_view,,
anon-2,,not a time,page_view,,
"""


def run(*args: str, input: str | None = None) -> Result:
    return CliRunner().invoke(main, list(args), input=input)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    folder = tmp_path / "p"
    assert run("init", str(folder)).exit_code == 0
    f = tmp_path / "events.csv"
    f.write_text(EVENTS)
    result = run("ingest", str(f), "--project", str(folder))
    assert result.exit_code == 0, result.output
    assert "identity links 2" in result.output
    return folder


def snapshot(folder: Path) -> dict[str, Any]:
    with Project.open(folder, read_only=True) as p:
        con = p.warehouse.con
        return {
            t: con.sql(f"SELECT * FROM {t} ORDER BY ALL").fetchall()
            for t in ("events", "identity_links", "customer_traits", "id_map", "quarantine")
        }


def test_identities_summary_person_and_unknown(project: Path) -> None:
    result = run("identities", "--project", str(project))
    assert result.exit_code == 0, result.output
    assert "4 ids, 3 persons, 2 links; 1 person with several ids; 1 conflict" in result.output
    assert "anon-1" in result.output and "u42 (2025-03-01 09:05), u7" in result.output

    data = json.loads(run("identities", "--project", str(project), "--format", "json").output)
    assert data["conflicting_ids"][0]["customer_id"] == "u42"

    person = run("identities", "anon-1", "--project", str(project))
    assert person.exit_code == 0, person.output
    assert "customer u42: 3 events, 2 ids" in person.output
    one = run("identities", "u7", "--project", str(project))
    assert "customer u7: " in one.output and ", 1 id\n" in one.output, one.output
    assert "conflict: anon-1 is also linked to u7; it stays with u42" in person.output
    data = json.loads(
        run("identities", "u42", "--project", str(project), "--format", "json").output
    )
    assert [i["id"] for i in data["ids"]] == ["u42", "anon-1"]
    assert data["traits"][0]["key"] == "plan" and data["traits"][0]["value"] == "pro"

    missing = run("identities", "nobody", "--project", str(project))
    assert missing.exit_code == 1
    assert missing.output.strip().splitlines() == ["error: 'nobody': no such id in the warehouse"]


def test_identities_on_an_events_file(tmp_path: Path) -> None:
    f = tmp_path / "e.csv"
    f.write_text(EVENTS)
    result = run("identities", "anon-1", "--events", str(f), "--project", str(tmp_path))
    assert result.exit_code == 0, result.output
    assert "customer u42" in result.output


def test_forget_needs_confirmation(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    before = snapshot(project)
    result = run("forget", "u42", "--project", str(project))
    assert result.exit_code == 1 and "--yes" in result.output
    assert snapshot(project) == before

    monkeypatch.setattr(cli_identity, "_can_ask", lambda: True)
    result = run("forget", "u42", "--project", str(project), input="n\n")
    assert result.exit_code == 1 and "Forget customer u42 (u42, anon-1)" in result.output
    assert snapshot(project) == before
    result = run("forget", "u42", "--project", str(project), input="y\n")
    assert result.exit_code == 0 and "forgot customer u42" in result.output


def test_forget_removes_the_person_and_nothing_else(project: Path) -> None:
    uploads = project / ".kundresa" / "uploads"
    uploads.mkdir()
    (uploads / "1-mine.csv").write_text(
        "user_id,timestamp,event\nu42,2025-03-05,x\nu7,2025-03-05,y\n"
    )
    (uploads / "2-nested.jsonl").write_text(
        '{"user_id": "u9", "timestamp": "2025-03-05", "event": "x", "p": {"ref": "anon-1"}}\n'
    )
    (uploads / "3-other.csv").write_text("user_id,timestamp,event\nu7,2025-03-05,x\n")
    result = run("forget", "anon-1", "--project", str(project), "--yes", "--format", "json")
    assert result.exit_code == 0, result.output
    counts = json.loads(result.stdout)
    assert counts["file_rewritten"] is True  # the erased values are gone from the file too
    assert {
        k: v for k, v in counts.items() if k not in ("files", "file_rows", "file_rewritten")
    } == {
        "customer_id": "u42",
        "ids": 2,
        "events": 3,
        "links": 2,
        "traits": 1,
        "quarantined": 1,
        "live_states": 1,  # the live customer state and the stage-entered feed forget too
        "stage_events": 1,
    }
    assert sorted(Path(f).name for f in counts["files"]) == ["1-mine.csv", "2-nested.jsonl"]
    assert counts["file_rows"] == 2
    assert sorted(p.name for p in uploads.iterdir()) == [
        "1-mine.csv",
        "2-nested.jsonl",
        "3-other.csv",
    ]
    assert (uploads / "1-mine.csv").read_text() == "user_id,timestamp,event\nu7,2025-03-05,y\n"
    assert (uploads / "2-nested.jsonl").read_text() == ""
    assert (uploads / "3-other.csv").read_text() == "user_id,timestamp,event\nu7,2025-03-05,x\n"

    after = snapshot(project)
    text = json.dumps(after, default=str)
    assert "u42" not in text and "anon-1" not in text
    with Project.open(project, read_only=True) as p:
        events = p.events.order_by("timestamp").to_pandas()
        assert events[["customer_id", "event"]].values.tolist() == [
            ["u7", "sign_in"],
            ["anon-2", "page_view"],
            ["u7", "purchase"],
        ]
        assert p.identities()["conflicts"] == 0
        [left] = p.warehouse.quarantined()
        assert '"anon-2"' in left["record"]
    again = run("forget", "u42", "--project", str(project), "--yes")
    assert again.exit_code == 1 and "no such id" in again.output


def test_a_failed_forget_changes_nothing(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    before = snapshot(project)

    def broken(con: Any) -> int:
        raise RuntimeError("disk full")

    monkeypatch.setattr("kundresa.store.warehouse.materialise_id_map", broken)
    with Project.open(project) as p, pytest.raises(RuntimeError, match="disk full"):
        p.forget("u42")
    assert snapshot(project) == before

    # An upload that cannot be read stops the forget before anything changes.
    monkeypatch.undo()
    uploads = project / ".kundresa" / "uploads"
    uploads.mkdir()
    (uploads / "broken.parquet").write_text("not parquet")
    (uploads / "a.csv").write_text("user_id,timestamp,event\nu42,2025-03-05,x\n")
    with Project.open(project) as p, pytest.raises(ProjectError, match=r"broken\.parquet"):
        p.forget("u42")
    assert snapshot(project) == before
    assert sorted(f.name for f in uploads.iterdir()) == ["a.csv", "broken.parquet"]
    assert "u42" in (uploads / "a.csv").read_text()


def test_customer_accepts_any_of_a_persons_ids(project: Path) -> None:
    result = run("customer", "anon-1", "--project", str(project), "--events-list")
    assert result.exit_code == 0, result.output
    assert "u42" in result.output and "purchase" in result.output  # the person's events
