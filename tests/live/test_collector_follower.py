"""The live state follows the collector's loads beside them (the loader's follower), and a
process that finds the warehouse kept by the loader gets it by asking (the handover)."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from kundresa.live import state as live
from kundresa.project import STORE_DIR, WAREHOUSE_FILE
from kundresa.store.warehouse import handover_asked

AUTH = ("test-write-key", "")  # conftest.WRITE_KEY

JOURNEY = """\
kundresa: 1
name: Live
template: buyers-journey
touchpoints:
  - {id: ad, stage: awareness, match: {event: ad}}
  - {id: price, stage: consideration, match: {event: price}}
  - {id: buy, stage: decision, match: {event: buy}}
"""


def _batch(first: int, events: list[tuple[str, str, int]]) -> dict[str, Any]:
    """(user, event, minute) messages, ``messageId`` numbered from ``first``."""
    return {
        "batch": [
            {
                "type": "track",
                "event": event,
                "userId": user,
                "messageId": f"m{first + i}",
                "timestamp": f"2026-03-01T10:{minute:02d}:00Z",
            }
            for i, (user, event, minute) in enumerate(events)
        ]
    }


@pytest.fixture
def journey_dir(project_dir: Path) -> Path:
    (project_dir / "journey.yaml").write_text(JOURNEY, encoding="utf-8")
    return project_dir


@pytest.fixture
def held_catch_up(monkeypatch: pytest.MonkeyPatch) -> tuple[threading.Event, threading.Event]:
    """``catch_up`` waits for the first event to be set once it has been entered (the
    second is set then)."""
    real = live.catch_up
    gate, entered = threading.Event(), threading.Event()

    def held(*args: Any, **kwargs: Any) -> Any:
        entered.set()
        assert gate.wait(60)
        return real(*args, **kwargs)

    monkeypatch.setattr(live, "catch_up", held)
    return gate, entered


def _count(state: Any) -> int:
    with state.lock:
        return int(state.project.warehouse.event_count())


def _stopped(make_collector: Any, folder: Path) -> tuple[Any, Any, Any]:
    """A client of a collector whose cycles run only when the test asks; its project state
    and loader."""
    client = make_collector(folder)
    state, loader = client.app.state.project, client.app.state.collector.loader
    loader.stop()
    return client, state, loader


def test_a_load_is_in_the_warehouse_before_the_live_state_follows_it(
    journey_dir: Path, make_collector: Any, held_catch_up: Any
) -> None:
    gate, entered = held_catch_up
    client, state, loader = _stopped(make_collector, journey_dir)
    sent = _batch(0, [("ann", "ad", 0), ("ann", "price", 5), ("bo", "ad", 1)])
    assert client.post("/v1/batch", json=sent, auth=AUTH).status_code == 200
    assert loader.load_once() is not None  # committed; the follower waits at the gate
    assert entered.wait(60)
    assert _count(state) == 3  # every analysis sees the events now
    ann = client.get("/api/customers/ann").json()
    assert (ann["stage"], ann["events"]) == ("consideration", 2)  # computed from her events
    assert client.get("/api/stage-events", params={"since": 0}).json()["events"] == []
    gate.set()
    loader.finish_follower()
    moves = client.get("/api/stage-events", params={"since": 0}).json()["events"]
    assert sorted((m["customer_id"], m["to_stage"]) for m in moves) == [
        ("ann", "awareness"),
        ("ann", "consideration"),
        ("bo", "awareness"),
    ]
    assert client.get("/api/customers/ann").json() == ann  # now from the stored row


def test_loads_that_commit_while_the_follower_runs_are_caught_up_by_its_next_round(
    journey_dir: Path, make_collector: Any, held_catch_up: Any
) -> None:
    gate, entered = held_catch_up
    client, state, loader = _stopped(make_collector, journey_dir)
    assert (
        client.post("/v1/batch", json=_batch(0, [("ann", "ad", 0)]), auth=AUTH).status_code == 200
    )
    assert loader.load_once() is not None
    assert entered.wait(60)
    # Two more loads commit while the first round waits: neither waits for it.
    for first, event in ((1, "price"), (2, "buy")):
        sent = _batch(first, [("ann", event, first)])
        assert client.post("/v1/batch", json=sent, auth=AUTH).status_code == 200
        assert loader.load_once() is not None
    assert _count(state) == 3
    gate.set()
    loader.finish_follower()
    with state.lock:
        con = state.project.warehouse.con
        assert live._is_current(con, live._Rules(state.project.journey))
    assert client.get("/api/customers/ann").json()["stage"] == "decision"


def test_a_failed_catch_up_is_reported_and_the_next_round_does_the_work(
    journey_dir: Path,
    make_collector: Any,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    real = live.catch_up
    fail = [True]

    def flaky(*args: Any, **kwargs: Any) -> Any:
        if fail[0]:
            raise RuntimeError("disk full")
        return real(*args, **kwargs)

    monkeypatch.setattr(live, "catch_up", flaky)
    client, state, loader = _stopped(make_collector, journey_dir)
    assert (
        client.post("/v1/batch", json=_batch(0, [("ann", "ad", 0)]), auth=AUTH).status_code == 200
    )
    assert loader.load_once() is not None
    loader.finish_follower()
    assert "live state behind: RuntimeError: disk full" in capsys.readouterr().err
    assert loader.follow_error is not None
    assert _count(state) == 1  # the load stands
    assert client.get("/api/customers/ann").json()["stage"] == "awareness"  # computed
    fail[0] = False
    assert client.post("/v1/batch", json=_batch(1, [("bo", "ad", 1)]), auth=AUTH).status_code == 200
    assert loader.load_once() is not None
    loader.finish_follower()
    assert loader.follow_error is None
    moves = client.get("/api/stage-events", params={"since": 0}).json()["events"]
    assert sorted(m["customer_id"] for m in moves) == ["ann", "bo"]


def _open_in_another_process(
    folder: Path, wait: float | str, read_only: bool = True
) -> subprocess.CompletedProcess[str]:
    code = (
        "import sys\n"
        "from kundresa.store.warehouse import IngestError, Warehouse\n"
        "try:\n"
        f"    wh = Warehouse({str(folder / STORE_DIR / WAREHOUSE_FILE)!r}, "
        f"read_only={read_only})\n"
        "except IngestError as exc:\n"
        "    print(exc)\n"
        "    sys.exit(3)\n"
        "print(wh.event_count())\n"
    )
    env = {**os.environ, "KUNDRESA_LOCK_WAIT": str(wait)}
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=env
    )


def _kept_after_one_batch(
    make_collector: Any, folder: Path, for_good: pytest.MonkeyPatch | None = None
) -> tuple[Any, Any, float]:
    """A running collector that keeps the warehouse after loading one batch: its client, its
    project state, and when the batch was sent (``time.monotonic``). It lets go when another
    process asks, or at an idle cycle (0.5 s): ``for_good`` (the test's monkeypatch, undone
    before the collector is closed) keeps it past idle cycles, for a test whose other process
    never asks and must find it kept however long it takes to start (on a loaded machine,
    longer than an idle cycle)."""
    client = make_collector(folder)
    state = client.app.state.project
    if for_good is not None:
        loader = client.app.state.collector.loader
        for_good.setattr(loader, "release_writer", lambda **kwargs: None)
    sent = _batch(0, [("ann", "ad", 0)])
    assert client.post("/v1/batch", json=sent, auth=AUTH).status_code == 200
    started = time.monotonic()
    while state._kept is None or _count(state) < 1:  # the running loader keeps it
        assert time.monotonic() - started < 60
        time.sleep(0.02)
    return client, state, started


def test_another_process_gets_the_warehouse_the_loader_keeps_by_asking(
    journey_dir: Path, make_collector: Any
) -> None:
    client, state, started = _kept_after_one_batch(make_collector, journey_dir)
    store = journey_dir / STORE_DIR / WAREHOUSE_FILE
    assert (store.parent / f"{WAREHOUSE_FILE}.listening").read_text() == str(os.getpid())
    done = _open_in_another_process(journey_dir, wait=60)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.strip() == "1"
    assert not list(store.parent.glob(f"{WAREHOUSE_FILE}.want.*"))  # its request removed
    # The loader takes the file back for the next batch.
    sent = _batch(1, [("bo", "ad", 1)])
    assert client.post("/v1/batch", json=sent, auth=AUTH).status_code == 200
    while _count(state) < 2:
        assert time.monotonic() - started < 60
        time.sleep(0.02)


@pytest.mark.parametrize("wait", ["abc", "-1", "nan", "inf"])
def test_a_lock_wait_that_is_not_a_number_of_seconds_is_one_line_naming_it(
    journey_dir: Path, make_collector: Any, monkeypatch: pytest.MonkeyPatch, wait: str
) -> None:
    _kept_after_one_batch(make_collector, journey_dir, monkeypatch)
    done = _open_in_another_process(journey_dir, wait=wait)
    assert done.returncode == 3, done.stdout + done.stderr  # an IngestError, no traceback
    assert done.stdout.strip().startswith(f"KUNDRESA_LOCK_WAIT={wait!r}: expected a number")
    store = journey_dir / STORE_DIR / WAREHOUSE_FILE
    assert not list(store.parent.glob(f"{WAREHOUSE_FILE}.want.*"))


def test_a_process_that_would_write_is_not_handed_the_warehouse(
    journey_dir: Path, make_collector: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An ingest (or a notebook's Project.open) while the server collects is refused at once:
    handed the file, it kept the server from reopening it, and the API answered 500."""
    client, state, started = _kept_after_one_batch(make_collector, journey_dir, monkeypatch)
    # A wait longer than the subprocess's timeout: it would fail the test if it waited.
    done = _open_in_another_process(journey_dir, wait=600, read_only=False)
    assert done.returncode == 3, done.stdout + done.stderr
    assert "cannot open the warehouse for writing: a collecting `kundresa serve`" in done.stdout
    store = journey_dir / STORE_DIR / WAREHOUSE_FILE
    assert not list(store.parent.glob(f"{WAREHOUSE_FILE}.want.*"))
    assert client.get("/api/customers/ann").status_code == 200
    sent = _batch(1, [("bo", "ad", 1)])
    assert client.post("/v1/batch", json=sent, auth=AUTH).status_code == 200
    while _count(state) < 2:
        assert time.monotonic() - started < 60
        time.sleep(0.02)


def test_a_process_that_does_not_listen_is_not_asked(
    journey_dir: Path, make_collector: Any
) -> None:
    from kundresa.store.warehouse import Warehouse

    store = journey_dir / STORE_DIR / WAREHOUSE_FILE
    holder = Warehouse(store)  # held for writing, nothing listening
    try:
        # A wait longer than the subprocess's timeout: it would fail the test if it waited.
        done = _open_in_another_process(journey_dir, wait=600)
    finally:
        holder.close()
    assert done.returncode == 3, done.stdout + done.stderr
    assert f"another process (PID {os.getpid()}) has it open" in done.stdout
    assert not list(store.parent.glob(f"{WAREHOUSE_FILE}.want.*"))


def test_a_request_of_an_ended_process_is_dropped(tmp_path: Path) -> None:
    store = tmp_path / "warehouse.duckdb"
    ended = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    stale = tmp_path / f"warehouse.duckdb.want.{ended.stdout.strip()}"
    stale.write_bytes(b"")
    assert not handover_asked(store) and not stale.exists()
    (tmp_path / f"warehouse.duckdb.want.{os.getpid()}").write_bytes(b"")
    assert handover_asked(store)


def test_a_load_postponed_by_a_reading_process_says_so_once_and_loads_after(
    journey_dir: Path, make_collector: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    """The server's log says the batches wait for another process, not the command's advice
    to "stop that process", and the batches load once it lets go."""
    client = make_collector(journey_dir)
    state = client.app.state.project
    store = journey_dir / STORE_DIR / WAREHOUSE_FILE
    started = time.monotonic()
    while state._kept is not None or (store.parent / f"{WAREHOUSE_FILE}.listening").exists():
        assert time.monotonic() - started < 60  # the app reads it read-only, nothing kept
        time.sleep(0.02)
    # A command reading the project: holds it read-only. (It waits for the file as any
    # command does: under load the app may still hold it for a moment, seen once in CI.)
    opens = (
        "import duckdb, sys, time\n"
        "for _ in range(1200):\n"
        "    try:\n"
        f"        c = duckdb.connect({str(store)!r}, read_only=True)\n"
        "        break\n"
        "    except duckdb.IOException:\n"
        "        time.sleep(0.05)\n"
        "else:\n"
        "    sys.exit('never opened')\n"
        "print('open', flush=True)\n"
        "sys.stdin.read()\n"
    )
    reader = subprocess.Popen(
        [sys.executable, "-c", opens],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert reader.stdout is not None and reader.stdout.readline() == "open\n"
        for n in range(3):
            sent = _batch(n, [(f"u{n}", "ad", n)])
            assert client.post("/v1/batch", json=sent, auth=AUTH).status_code == 200
            time.sleep(0.6)  # a cycle each: postponed
        assert _count(state) == 0
    finally:
        reader.communicate("", timeout=60)
    while _count(state) < 3:
        assert time.monotonic() - started < 60
        time.sleep(0.05)
    err = capsys.readouterr().err
    assert err.count("load postponed") == 1, err
    assert "the batches wait in the log and are loaded once it lets go" in err
    assert "stop that process" not in err
