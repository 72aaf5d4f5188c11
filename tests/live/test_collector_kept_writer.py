"""The loader keeps the write connection open across the cycles of a burst, the app reads
through it meanwhile, and other processes get the warehouse file back when it lets go."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from kundresa.project import STORE_DIR, WAREHOUSE_FILE

AUTH = ("test-write-key", "")  # conftest.WRITE_KEY


def _batch(first: int, n: int = 3) -> dict[str, Any]:
    return {
        "batch": [
            {
                "type": "track",
                "event": "purchase",
                "userId": f"u{i % 2}",
                "messageId": f"m{i}",
                "timestamp": "2026-03-01T10:00:00Z",
            }
            for i in range(first, first + n)
        ]
    }


def _other_process_can_read(folder: Path) -> bool:
    """Whether a second process can open the warehouse read-only now."""
    code = (
        "import duckdb, sys\n"
        "try:\n"
        f"    duckdb.connect({str(folder / STORE_DIR / WAREHOUSE_FILE)!r}, read_only=True)\n"
        "except duckdb.IOException:\n"
        "    sys.exit(3)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=60)
    assert done.returncode in (0, 3), done.stderr
    return done.returncode == 0


def _count(state: Any) -> int:
    with state.lock:
        return int(state.project.warehouse.event_count())


def test_cycles_of_a_burst_share_one_write_connection(
    project_dir: Path, make_collector: Any
) -> None:
    client = make_collector(project_dir)
    state, loader = client.app.state.project, client.app.state.collector.loader
    loader.stop()  # cycles run when this test asks
    assert client.post("/v1/batch", json=_batch(0), auth=AUTH).status_code == 200
    assert loader.load_once() is not None
    kept = state._kept
    assert kept is not None and not kept.read_only
    # The app reads through the write connection, committed rows included.
    assert state.project.warehouse.read_only and _count(state) == 3
    assert not _other_process_can_read(project_dir)
    generation = state.generation
    assert client.post("/v1/batch", json=_batch(3), auth=AUTH).status_code == 200
    assert loader.load_once() is not None
    assert state._kept is kept and state.generation == generation + 1
    assert _count(state) == 6
    assert client.get("/api/map").status_code == 200  # a page reads through it too
    loader.release_writer()
    assert state._kept is None
    assert _count(state) == 6
    assert _other_process_can_read(project_dir)


def test_the_writer_is_let_go_after_hold_seconds_and_after_a_failed_cycle(
    project_dir: Path, make_collector: Any
) -> None:
    fail = [False]

    def after_load(con: Any) -> None:
        if fail[0]:
            raise RuntimeError("live state not ready")

    client = make_collector(project_dir, after_load=after_load)
    state, loader = client.app.state.project, client.app.state.collector.loader
    loader.stop()
    loader.hold = 0.0  # kept for no time: each cycle lets go of it
    assert client.post("/v1/batch", json=_batch(0), auth=AUTH).status_code == 200
    assert loader.load_once() is not None
    assert state._kept is None and _count(state) == 3
    loader.hold = 60.0
    fail[0] = True
    assert client.post("/v1/batch", json=_batch(3), auth=AUTH).status_code == 200
    with pytest.raises(RuntimeError, match="live state not ready"):
        loader.load_once()
    assert state._kept is None and _count(state) == 3  # rolled back, file let go
    fail[0] = False
    assert loader.load_once() is not None and _count(state) == 6


def test_the_running_loader_lets_go_once_nothing_new_arrives(
    project_dir: Path, make_collector: Any
) -> None:
    client = make_collector(project_dir)
    state, loader = client.app.state.project, client.app.state.collector.loader
    assert client.post("/v1/batch", json=_batch(0), auth=AUTH).status_code == 200
    started = time.monotonic()
    while _count(state) < 3 or state._kept is not None or loader.pending():
        assert time.monotonic() - started < 30, "not loaded and let go within 30 s"
        time.sleep(0.05)
    assert _other_process_can_read(project_dir)
    assert client.post("/v1/batch", json=_batch(3), auth=AUTH).status_code == 200
    while _count(state) < 6:
        assert time.monotonic() - started < 60
        time.sleep(0.05)


_FUNNEL = {"steps": "page_view\nsignup\npurchase", "window": "7d"}


def _mixed(first: int, n: int = 3) -> dict[str, Any]:
    """Events of three kinds for five customers, a minute apart, each arriving out of order."""
    return {
        "batch": [
            {
                "type": "track",
                "event": ("page_view", "signup", "purchase")[i % 3],
                "userId": f"u{i % 5}",
                "messageId": f"m{i}",
                "timestamp": f"2026-03-01T10:{59 - i:02d}:00Z",
            }
            for i in range(first, first + n)
        ]
    }


def _layout(state: Any) -> dict[str, Any]:
    with state.lock:
        return dict(state.project.warehouse.layout())


def test_loads_leave_a_tail_that_the_idle_loader_puts_in_order(
    project_dir: Path, make_collector: Any
) -> None:
    client = make_collector(project_dir)
    state, loader = client.app.state.project, client.app.state.collector.loader
    loader.stop()
    assert client.post("/v1/batch", json=_mixed(0, 10), auth=AUTH).status_code == 200
    assert loader.load_once() is not None  # the first load is the main part
    assert not loader.settle()  # nothing to rewrite: no tail
    for first in (10, 13, 16):  # each load's rows over a tenth of the store, under half
        assert client.post("/v1/batch", json=_mixed(first), auth=AUTH).status_code == 200
        assert loader.load_once() is not None
    before = client.get("/api/funnel", params=_FUNNEL).json()
    assert [s["count"] for s in before["funnel"]] == [5, 5, 3]
    lay = _layout(state)
    assert (lay["ordered_rows"], lay["tail_rows"]) == (10, 9)  # no rewrite in the loads
    assert loader.unsettled
    assert loader.settle()  # the tail over a tenth: rewritten, in a transaction of its own
    lay = _layout(state)
    assert (lay["ordered_rows"], lay["tail_rows"], _count(state)) == (19, 0, 19)
    assert not loader.unsettled and not loader.settle()
    assert client.get("/api/funnel", params=_FUNNEL).json() == before
    loader.release_writer()


def test_the_running_loader_puts_the_store_in_order_between_bursts(
    project_dir: Path, make_collector: Any
) -> None:
    client = make_collector(project_dir)
    state = client.app.state.project
    started = time.monotonic()
    assert client.post("/v1/batch", json=_batch(0, 10), auth=AUTH).status_code == 200
    while _count(state) < 10:
        assert time.monotonic() - started < 30
        time.sleep(0.05)
    assert client.post("/v1/batch", json=_batch(10, 5), auth=AUTH).status_code == 200
    # One snapshot of the layout each time: the tail and the rows counted apart could fall on
    # either side of the second burst's load (tail 0 before it, 15 rows after it).
    while (lay := _layout(state))["tail_rows"] or lay["ordered_rows"] + lay["tail_rows"] < 15:
        assert time.monotonic() - started < 60, "the tail was not put in order within 60 s"
        time.sleep(0.05)
    assert _layout(state)["ordered_rows"] == 15


def test_a_load_cycle_runs_duckdb_on_one_thread_and_restores_it(
    project_dir: Path, make_collector: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A cycle leaves the other core to the acks (DuckDB's ``threads`` is 1 while it loads);
    afterwards the connection has its own setting again, also after a failed cycle."""
    from kundresa.store.warehouse import Warehouse

    client = make_collector(project_dir)
    state, loader = client.app.state.project, client.app.state.collector.loader
    loader.stop()
    seen: list[int] = []
    ingest = Warehouse.ingest_checked

    def spy(self: Warehouse, *args: Any, **kwargs: Any) -> Any:
        seen.append(int(self.con.execute(setting).fetchone()[0]))
        return ingest(self, *args, **kwargs)

    setting = "SELECT current_setting('threads')"
    with state.writer() as writer:
        before = int(writer.con.execute(setting).fetchone()[0])
    monkeypatch.setattr(Warehouse, "ingest_checked", spy)
    assert client.post("/v1/batch", json=_batch(0), auth=AUTH).status_code == 200
    assert loader.load_once() is not None
    assert seen == [1]
    loader.finish_follower()  # the live state follows on one thread as well
    assert int(state._kept.con.execute(setting).fetchone()[0]) == before

    def broken(self: Warehouse, *args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(Warehouse, "ingest_checked", broken)
    assert client.post("/v1/batch", json=_batch(3), auth=AUTH).status_code == 200
    with pytest.raises(RuntimeError):
        loader.load_once()
    with state.writer() as writer:
        assert int(writer.con.execute(setting).fetchone()[0]) == before


def test_loads_go_on_while_the_store_is_rewritten_beside_them(
    project_dir: Path, make_collector: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A load whose tail passes half the rows starts a rewrite beside the loads; the next load
    commits while it runs (no load rewrites the table), the write connection is not let go
    and DuckDB runs on one thread meanwhile, and afterwards the rewritten rows are the main
    part, the load's the tail."""
    from kundresa.store import layout

    client = make_collector(project_dir)
    state, loader = client.app.state.project, client.app.state.collector.loader
    loader.stop()
    inside, go_on = threading.Event(), threading.Event()
    real = layout.rewrite_beside_loads

    def held(con: Any, fraction: float = 0.1, before_commit: Any = None) -> int | None:
        def wait() -> None:
            inside.set()
            assert go_on.wait(60)

        return real(con, fraction, wait)

    monkeypatch.setattr(layout, "rewrite_beside_loads", held)
    setting = "SELECT current_setting('threads')"
    assert client.post("/v1/batch", json=_mixed(0, 10), auth=AUTH).status_code == 200
    assert loader.load_once() is not None  # the main part: 10 rows
    loader.finish_follower()
    threads = int(state._kept.con.execute(setting).fetchone()[0])
    assert client.post("/v1/batch", json=_mixed(10, 12), auth=AUTH).status_code == 200
    assert loader.load_once() is not None  # 12 of 22 rows in the tail: a rewrite starts
    assert inside.wait(60) and loader.rewriting
    assert client.post("/v1/batch", json=_mixed(22, 3), auth=AUTH).status_code == 200
    assert loader.load_once() is not None  # committed beside the rewrite
    assert _count(state) == 25
    assert int(state._kept.con.execute(setting).fetchone()[0]) == 1 < threads
    loader.release_writer()
    assert state._kept is not None  # kept while the rewrite runs
    go_on.set()
    started = time.monotonic()
    while loader.rewriting:
        assert time.monotonic() - started < 60
        time.sleep(0.02)
    lay = _layout(state)
    assert (lay["ordered_rows"], lay["tail_rows"], _count(state)) == (22, 3, 25)
    assert client.post("/v1/batch", json=_mixed(25, 1), auth=AUTH).status_code == 200
    assert loader.load_once() is not None  # sees the rewrite ended: threads as before
    loader.finish_follower()
    assert int(state._kept.con.execute(setting).fetchone()[0]) == threads
    before = client.get("/api/funnel", params=_FUNNEL).json()
    assert loader.settle()  # the rest, in a transaction of the loader's own
    assert (_layout(state)["ordered_rows"], _layout(state)["tail_rows"]) == (26, 0)
    assert client.get("/api/funnel", params=_FUNNEL).json() == before
    loader.release_writer()
    assert state._kept is None and _other_process_can_read(project_dir)


def test_a_cycle_that_lets_go_of_the_connection_starts_no_rewrite(
    project_dir: Path, make_collector: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Closing the write connection stops a rewrite beside the loads: a cycle that lets go of
    it (kept ``hold`` seconds) leaves the rewrite to the next cycle instead of starting one
    only to have it rolled back."""
    from kundresa.store import layout

    client = make_collector(project_dir)
    state, loader = client.app.state.project, client.app.state.collector.loader
    loader.stop()
    calls: list[int | None] = []
    real = layout.rewrite_beside_loads

    def counted(con: Any, fraction: float = 0.1, before_commit: Any = None) -> int | None:
        calls.append(real(con, fraction, before_commit))
        return calls[-1]

    monkeypatch.setattr(layout, "rewrite_beside_loads", counted)
    assert client.post("/v1/batch", json=_mixed(0, 10), auth=AUTH).status_code == 200
    assert loader.load_once() is not None
    loader.hold = 0.0  # every cycle lets go of the connection
    assert client.post("/v1/batch", json=_mixed(10, 12), auth=AUTH).status_code == 200
    assert loader.load_once() is not None
    assert calls == [] and state._kept is None and _layout(state)["tail_rows"] == 12
    loader.hold = 60.0
    assert client.post("/v1/batch", json=_mixed(22, 3), auth=AUTH).status_code == 200
    assert loader.load_once() is not None  # kept: the rewrite starts after this load
    started = time.monotonic()
    while loader.rewriting or not calls:
        assert time.monotonic() - started < 60
        time.sleep(0.02)
    assert calls == [25]
    assert (_layout(state)["ordered_rows"], _layout(state)["tail_rows"]) == (25, 0)
    loader.release_writer()
