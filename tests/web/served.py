"""`kundresa serve` as a user starts it, for the tests that need the real process: a free
port, a project of one event, the server's process."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from kundresa.cli import main


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def one_event_project(tmp_path: Path) -> Path:
    """A project made by ``kundresa init`` in ``tmp_path / "shop"`` holding one event."""
    root = tmp_path / "shop"
    events = tmp_path / "events.csv"
    events.write_text("customer_id,timestamp,event\nc1,2025-01-01T00:00:00,visit\n")
    assert CliRunner().invoke(main, ["init", str(root)]).exit_code == 0
    assert CliRunner().invoke(main, ["ingest", str(events), "--project", str(root)]).exit_code == 0
    return root


def serve(root: Path, port: int, **popen: Any) -> subprocess.Popen[str]:
    """``kundresa serve --project root --port port`` started in a process of its own (text
    pipes; ``popen`` as :class:`subprocess.Popen`'s)."""
    command = [sys.executable, "-m", "kundresa", "serve", "--project", str(root)]
    return subprocess.Popen([*command, "--port", str(port)], text=True, **popen)
