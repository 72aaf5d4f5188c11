"""Segment batch envelopes, Mixpanel's shape check, the article of a refusal (docs/sources.md)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from kundresa.cli import main
from kundresa.project import Project

BATCH = {
    "batch": [
        {
            "type": "track",
            "messageId": "m1",
            "anonymousId": "a1",
            "event": "ad_click",
            "timestamp": "2025-03-01T10:00:00Z",
        },
        {
            "type": "track",
            "messageId": "m2",
            "userId": "u1",
            "anonymousId": "a1",
            "event": "purchase",
            "timestamp": "2025-03-01T11:00:00Z",
        },
    ]
}


def _ingest(tmp_path: Path, f: Path, *args: str) -> Result:
    project = tmp_path / "p"
    if not project.exists():
        assert CliRunner().invoke(main, ["init", str(project)]).exit_code == 0
    return CliRunner().invoke(main, ["ingest", str(f), *args, "--project", str(project)])


@pytest.mark.parametrize("args", [(), ("--source", "segment")], ids=["auto", "segment"])
def test_a_file_of_batch_envelopes(tmp_path: Path, args: tuple[str, ...]) -> None:
    f = tmp_path / "segment-batch.jsonl"
    f.write_text(json.dumps(BATCH) + "\n")
    r = _ingest(tmp_path, f, *args)
    assert r.exit_code == 0, r.output
    assert "read as segment" in r.output and "loaded 2" in r.output
    wh = Project.open(tmp_path / "p").warehouse
    got = wh.con.execute("SELECT event FROM events ORDER BY timestamp").fetchall()
    assert got == [("ad_click",), ("purchase",)]


@pytest.mark.parametrize("kind", ["track", "Other"])
def test_batch_lines_mixed_with_plain_messages(tmp_path: Path, kind: str) -> None:
    # A plain message of a type outside the spec is quarantined; the batch is read either way.
    plain = [
        {
            "type": kind,
            "messageId": f"x{i}",
            "userId": f"u{i}",
            "event": "view",
            "timestamp": "2025-03-02T10:00:00Z",
        }
        for i in range(10)
    ]
    f = tmp_path / "mixed.jsonl"
    f.write_text("".join(json.dumps(m) + "\n" for m in [BATCH, *plain]))
    r = _ingest(tmp_path, f)
    assert r.exit_code == 0, r.output
    assert "read as segment" in r.output
    wh = Project.open(tmp_path / "p").warehouse
    ids = {row[0] for row in wh.con.execute("SELECT event_id FROM events").fetchall()}
    assert {"m1", "m2"} <= ids
    assert len(ids) == (12 if kind == "track" else 2)
    lines = {q["line"] for q in wh.quarantined()}
    assert lines == (set() if kind == "track" else set(range(2, 12)))


def test_mixpanel_refuses_a_segment_file(tmp_path: Path) -> None:
    f = tmp_path / "segment.jsonl"
    messages = [
        {
            "type": "track",
            "messageId": f"m{i}",
            "userId": "u1",
            "event": "e",
            "properties": {"revenue": 1},
            "timestamp": "2025-03-01T10:00:00Z",
        }
        for i in range(6)
    ]
    f.write_text("".join(json.dumps(m) + "\n" for m in messages))
    r = _ingest(tmp_path, f, "--source", "mixpanel")
    assert r.exit_code == 1, r.output
    (line,) = r.output.strip().splitlines()
    assert line.startswith(
        f"error: {f}: not a Mixpanel raw export: no properties.distinct_id, properties.time"
    )
    assert Project.open(tmp_path / "p").warehouse.event_count() == 0


def test_mixpanel_still_reads_its_export(tmp_path: Path) -> None:
    f = tmp_path / "mixpanel.jsonl"
    rows = [
        {"event": "signup", "properties": {"distinct_id": "u1", "time": 1740823200}},
        {"event": "bad", "properties": {"distinct_id": "u1"}},
    ]
    f.write_text("".join(json.dumps(r) + "\n" for r in rows))
    r = _ingest(tmp_path, f, "--source", "mixpanel")
    assert r.exit_code == 0, r.output
    assert "loaded 1" in r.output and "quarantined 1" in r.output


def test_an_amplitude_refusal_reads_an(tmp_path: Path) -> None:
    f = tmp_path / "e.csv"
    f.write_text("customer_id,timestamp,event\nc1,2025-01-01,signup\n")
    r = _ingest(tmp_path, f, "--source", "amplitude")
    assert r.exit_code == 1
    assert "not an Amplitude export" in r.output
