"""kill -9 a real `kundresa serve` while a client sends: every acked event is loaded once."""

from __future__ import annotations

import base64
import http.client
import json
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import duckdb
import pytest

from kundresa.live.loader import loaded_position
from kundresa.live.log import pending_records, read_log_id

KEY = "crash-key"
AUTH = "Basic " + base64.b64encode(f"{KEY}:".encode()).decode()
KILLS = 20


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start(project: Path, port: int) -> subprocess.Popen[bytes]:
    exe = Path(sys.executable).with_name("kundresa")
    return subprocess.Popen(
        [str(exe), "serve", "--project", str(project), "--port", str(port), "--write-key", KEY],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def post(conn: http.client.HTTPConnection, body: dict[str, object]) -> int:
    conn.request(
        "POST",
        "/v1/batch",
        body=json.dumps(body),
        headers={"Authorization": AUTH, "Content-Type": "application/json"},
    )
    response = conn.getresponse()
    response.read()
    return response.status


def wait_up(port: int, proc: subprocess.Popen[bytes], seconds: float = 120) -> None:
    started = time.monotonic()
    while time.monotonic() - started < seconds:
        assert proc.poll() is None, "the server exited"
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            if post(conn, {"batch": []}) == 200:
                conn.close()
                return
        except OSError:
            time.sleep(0.05)
    raise AssertionError("the server did not start")


def send_until_killed(port: int, round_: int, acked: set[str]) -> int:
    """Send batches of 5 events until the connection breaks; the ids acked go to ``acked``."""
    sent = 0
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        while True:
            ids = [f"r{round_}-{sent + i}" for i in range(5)]
            batch = [
                {
                    "type": "track",
                    "event": "purchase",
                    "userId": f"u{n % 7}",
                    "messageId": m,
                    "timestamp": "2026-05-01T12:00:00Z",
                }
                for n, m in enumerate(ids)
            ]
            if post(conn, {"batch": batch}) != 200:
                raise AssertionError("refused")
            acked.update(ids)  # acked: on disk, must survive anything from now on
            sent += 5
    except (OSError, http.client.HTTPException):
        return sent
    finally:
        conn.close()


@pytest.mark.slow
def test_kill_9_at_random_moments_loses_and_repeats_no_acked_event(tmp_path: Path) -> None:
    project = tmp_path / "p"
    (project / ".kundresa").mkdir(parents=True)  # no journey: the server's warm-up is quick
    rng = random.Random(14)
    acked: set[str] = set()
    for round_ in range(KILLS):
        port = free_port()
        proc = start(project, port)
        try:
            wait_up(port, proc)
            # Kill at a random moment: mid-request, mid-fsync, mid-load, between loads.
            killer = threading.Timer(rng.uniform(0.05, 1.2), os.kill, (proc.pid, signal.SIGKILL))
            killer.start()
            send_until_killed(port, round_, acked)
            killer.join()
        finally:
            if proc.poll() is None:
                proc.kill()
            proc.wait()
    assert len(acked) > KILLS * 5  # the client did get acks in most rounds

    # Restart once more and wait until the loader has caught up with the log.
    port = free_port()
    proc = start(project, port)
    try:
        wait_up(port, proc)
        log_dir = project / ".kundresa" / "collector"
        deadline = time.monotonic() + 60
        while True:
            try:
                con = duckdb.connect(
                    str(project / ".kundresa" / "warehouse.duckdb"), read_only=True
                )
            except duckdb.IOException:  # a load holds the write lock for a moment
                time.sleep(0.1)
                continue
            try:
                if pending_records(log_dir, loaded_position(con, read_log_id(log_dir)))[0] == 0:
                    ids = [r[0] for r in con.execute("SELECT event_id FROM events").fetchall()]
                    duplicates = con.execute("SELECT sum(duplicates) FROM ingests").fetchone()
                    sources = con.execute("SELECT DISTINCT sources FROM ingests").fetchall()
                    break
            finally:
                con.close()
            assert time.monotonic() < deadline, "the loader did not catch up"
            time.sleep(0.2)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)
    assert len(ids) == len(set(ids)), "an event was loaded twice"
    missing = acked - set(ids)
    assert not missing, f"{len(missing)} acked events lost, e.g. {sorted(missing)[:5]}"
    # Loaded positions commit with the events: a restart never replays a loaded batch.
    assert duplicates is not None and duplicates[0] == 0
    assert sources == [(["collector"],)]


def test_sigterm_loads_what_is_logged_and_lets_go_of_the_warehouse(tmp_path: Path) -> None:
    """`kill` (SIGTERM, as `docker stop` and systemd send) stops the server as Ctrl+C does:
    the last load runs and the warehouse is let go of (uvicorn raises the signal again after
    its shutdown, which used to end the process before the cleanup)."""
    project = tmp_path / "p"
    (project / ".kundresa").mkdir(parents=True)
    port = free_port()
    proc = start(project, port)
    ids: list[str] = []
    try:
        wait_up(port, proc)
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        for round_ in range(3):
            batch = [
                {
                    "type": "track",
                    "event": "purchase",
                    "userId": f"u{n}",
                    "messageId": f"t{round_}-{n}",
                }
                for n in range(5)
            ]
            assert post(conn, {"batch": batch}) == 200
            ids += [m["messageId"] for m in batch]
        conn.close()
        proc.send_signal(signal.SIGTERM)  # right after the acks: the loader has work or the lock
        assert proc.wait(60) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    store = project / ".kundresa"
    assert not (store / "warehouse.duckdb.listening").exists()
    log_dir = store / "collector"
    con = duckdb.connect(str(store / "warehouse.duckdb"), read_only=True)
    try:
        assert pending_records(log_dir, loaded_position(con, read_log_id(log_dir)))[0] == 0
        stored = [r[0] for r in con.execute("SELECT event_id FROM events").fetchall()]
    finally:
        con.close()
    assert sorted(stored) == sorted(ids)


def test_sigterm_posts_the_stage_events_of_the_last_loads_to_webhooks(tmp_path: Path) -> None:
    """Every stage change of the events acked while the server ran reaches the webhook
    receiver once, those of the loads just before the stop and of the last load included
    (the dispatcher used to stop before that load, and drop what it had queued)."""
    import http.server

    from kundresa.project import Project

    project = tmp_path / "p"
    Project.init(project).close()  # a project; its journey: three stages, one event each
    (project / "journey.yaml").write_text(
        "kundresa: 1\nname: Live\ntemplate: buyers-journey\ntouchpoints:\n"
        "  - {id: ad, stage: awareness, match: {event: ad}}\n"
        "  - {id: price, stage: consideration, match: {event: price}}\n"
        "  - {id: buy, stage: decision, match: {event: buy}}\n",
        encoding="utf-8",
    )
    received: list[int] = []

    class Receiver(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append(int(json.loads(body)["seq"]))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    receiver = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    port = free_port()
    exe = Path(sys.executable).with_name("kundresa")
    hook = f"http://127.0.0.1:{receiver.server_address[1]}/hook"
    proc = subprocess.Popen(
        [
            *(str(exe), "serve", "--project", str(project), "--port", str(port)),
            *("--write-key", KEY, "--webhook", hook),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_up(port, proc)
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        for round_, event in enumerate(["ad", "price", "buy"]):
            batch = [
                {"type": "track", "event": event, "userId": f"u{n}", "messageId": f"{event}{n}"}
                for n in range(20)
            ]
            assert post(conn, {"batch": batch}) == 200
            time.sleep(0.3 * (round_ < 2))  # loads of their own, the last one at the stop
        conn.close()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(60) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        receiver.shutdown()
        receiver.server_close()
    con = duckdb.connect(str(project / ".kundresa" / "warehouse.duckdb"), read_only=True)
    try:
        feed = [r[0] for r in con.execute("SELECT seq FROM stage_events ORDER BY seq").fetchall()]
    finally:
        con.close()
    assert len(feed) == 60  # 20 customers, each through the three stages
    assert sorted(received) == feed
