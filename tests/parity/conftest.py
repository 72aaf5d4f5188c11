"""A throw-away PostgreSQL cluster for the parity tests: ``initdb`` in a temporary folder,
started on a free local port, stopped and removed at the end of the session.

``initdb`` refuses to run as root (as CI does): then the cluster belongs to the ``postgres``
(or ``nobody``) user and is run through ``runuser``. Tests that need it are skipped, with the
reason, only when the PostgreSQL binaries or the ``psycopg`` driver are missing.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

# The parity tests share their analyses and comparison (parity_cases.py, next to this file);
# pytest imports test modules by path, so the folder is put on the import path here.
sys.path.insert(0, str(Path(__file__).parent))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _binary(name: str) -> str | None:
    """``name`` on PATH, else in Debian's versioned folder (the newest version)."""
    found = shutil.which(name)
    if found:
        return found
    versions = sorted(
        Path("/usr/lib/postgresql").glob(f"*/bin/{name}"),
        key=lambda p: int(p.parts[-3]) if p.parts[-3].isdigit() else 0,
    )
    return str(versions[-1]) if versions else None


def _run_as() -> tuple[list[str], str | None]:
    if os.geteuid() != 0:
        return [], None
    for user in ("postgres", "nobody"):
        try:
            pwd.getpwnam(user)
        except KeyError:
            continue
        if shutil.which("runuser"):
            return ["runuser", "-u", user, "--"], user
    pytest.skip("running as root without a postgres/nobody user and runuser: initdb refuses root")


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """An Ibis URL of an empty PostgreSQL database that lives for the test session."""
    initdb, pg_ctl = _binary("initdb"), _binary("pg_ctl")
    if initdb is None or pg_ctl is None:
        pytest.skip(
            "PostgreSQL binaries (initdb, pg_ctl) not found on PATH or in "
            "/usr/lib/postgresql/*/bin: apt-get install postgresql"
        )
    pytest.importorskip("psycopg", reason="the postgres extra (psycopg) is not installed")
    prefix, user = _run_as()
    folder = tempfile.mkdtemp(prefix="kundresa-pg-")
    if user is not None:
        shutil.chown(folder, user)
    os.chmod(folder, 0o700)
    data = os.path.join(folder, "data")
    init = subprocess.run(
        [*prefix, initdb, "-D", data, "-A", "trust", "-U", "postgres", "-E", "UTF8", "--no-sync"],
        capture_output=True,
        text=True,
    )
    if init.returncode != 0:
        shutil.rmtree(folder, ignore_errors=True)
        pytest.fail(f"initdb failed: {init.stderr.strip()}")
    port = _free_port()
    options = f"-p {port} -k {folder} -c listen_addresses=127.0.0.1 -c fsync=off"
    options += " -c full_page_writes=off -c synchronous_commit=off -c shared_buffers=32MB"
    log = os.path.join(folder, "server.log")
    start = subprocess.run(
        [*prefix, pg_ctl, "-D", data, "-l", log, "-w", "-o", options, "start"],
        capture_output=True,
        text=True,
    )
    if start.returncode != 0:
        text = Path(log).read_text() if os.path.exists(log) else start.stderr
        shutil.rmtree(folder, ignore_errors=True)
        pytest.fail(f"pg_ctl start failed: {text.strip()}")
    try:
        yield f"postgres://postgres@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run(
            [*prefix, pg_ctl, "-D", data, "-m", "fast", "-w", "stop"], capture_output=True
        )
        shutil.rmtree(folder, ignore_errors=True)
