"""`kundresa customer ID` shows the live state on top of the timeline; `--live` alone."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from kundresa.cli import main
from kundresa.project import Project

JOURNEY = """\
kundresa: 1
name: Cli
template: buyers-journey
touchpoints:
  - {id: ad, stage: awareness, match: {event: ad}}
  - {id: price, stage: consideration, match: {event: price}}
lanes:
  content:
    consideration: [Price comparison page]
"""


def project(tmp_path: Path) -> Path:
    folder = tmp_path / "p"
    folder.mkdir()
    (folder / "journey.yaml").write_text(JOURNEY, encoding="utf-8")
    first, second = tmp_path / "1.csv", tmp_path / "2.csv"
    pd.DataFrame(
        {"customer_id": ["a", "b"], "timestamp": ["2025-01-01", "2025-01-01"], "event": ["ad"] * 2}
    ).to_csv(first, index=False)
    pd.DataFrame(
        {"customer_id": ["a"], "timestamp": ["2025-01-03T10:00:00"], "event": ["price"]}
    ).to_csv(second, index=False)
    with Project.open(folder) as p:
        p.ingest([first])
        p.ingest([second])
    return folder


def test_customer_live_json(tmp_path: Path) -> None:
    folder = project(tmp_path)
    result = CliRunner().invoke(
        main, ["customer", "a", "--project", str(folder), "--live", "--format", "json"]
    )
    assert result.exit_code == 0, result.output
    state = json.loads(result.stdout)
    assert state["stage"] == "consideration"
    assert state["stage_entered_at"] == "2025-01-03T10:00:00Z"
    assert state["p_next_stage"] is None and state["next_stage"] == "decision"
    assert state["recommended_content"][0]["item"] == "Price comparison page"
    assert "kundresa predict" in result.stderr


def test_customer_table_shows_the_live_state_then_the_timeline(tmp_path: Path) -> None:
    folder = project(tmp_path)
    result = CliRunner().invoke(main, ["customer", "a", "--project", str(folder)])
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert out.index("Now") < out.index("Stage visits of a")
    assert "consideration" in out and "2025-01-03T10:00:00Z" in out
    # JSON without --live keeps the timeline's array.
    result = CliRunner().invoke(
        main, ["customer", "a", "--project", str(folder), "--format", "json"]
    )
    assert isinstance(json.loads(result.stdout), list)


def test_customer_live_unknown(tmp_path: Path) -> None:
    folder = project(tmp_path)
    result = CliRunner().invoke(main, ["customer", "zz", "--project", str(folder), "--live"])
    assert result.exit_code != 0 and "no events for customer 'zz'" in result.output
    assert "Traceback" not in result.output


def test_serve_restarts_on_a_port_whose_old_connections_are_in_time_wait() -> None:
    """A server killed with open connections leaves them in TIME-WAIT for about a minute; a
    restart on the same port must not be refused then (only while something listens)."""
    from kundresa.web.cli import ServeError, check_port

    server = socket.socket()
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("127.0.0.1", 0))
    server.listen()
    port = server.getsockname()[1]
    client = socket.create_connection(("127.0.0.1", port))
    conn, _ = server.accept()
    with pytest.raises(ServeError, match=f"cannot listen on 127.0.0.1:{port}"):
        check_port("127.0.0.1", port)  # a server listens there
    conn.close()  # the server side closes first: its end of the connection is in TIME-WAIT
    server.close()
    client.close()
    if sys.platform.startswith("linux"):
        states = subprocess.run(
            ["ss", "-tan", f"sport = :{port}"], capture_output=True, text=True, check=False
        ).stdout
        assert "TIME-WAIT" in states or not states  # ss may be missing
    check_port("127.0.0.1", port)


@pytest.mark.parametrize(
    ("key", "words"),
    [("", "is empty"), ("   ", "is empty"), ("a:b", "with ':'"), ("a\tb", "control character")],
)
def test_serve_refuses_a_write_key_no_library_can_send(
    tmp_path: Path, key: str, words: str
) -> None:
    """Before, ``--write-key ""`` served without the collector (every /v1/ call 404, no
    word why) and a key with ':' served a collector that answered every SDK with 401."""
    result = CliRunner().invoke(
        main, ["serve", "--project", str(tmp_path / "none"), "--write-key", key]
    )
    assert result.exit_code == 2 and words in result.output, result.output
    assert "Traceback" not in result.output
