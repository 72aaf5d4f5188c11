"""Where one load cycle of the live collector spends its CPU, phase by phase.

A new project is served in process (``create_app(..., write_key=...)``, the app of
``kundresa serve --write-key``), with its loader thread stopped so that cycles run only when
this script asks. Bench-like ``/v1/batch`` requests (the bodies of
``bench/collector_load.py``: 100 track events, each with an anonymousId→userId link) are
posted through the app, then one cycle loads them; this is repeated ``--rounds`` times after
a warm-up cycle. Each phase's time is the **process CPU time** (``time.process_time``: every
thread, DuckDB's workers included) spent inside it, without a profiler (cProfile inflates
Python-level costs several times over the DuckDB calls and misleads here).

Phases: opening the write and read-only connections, the ingest's parse-and-check SQL
(``Warehouse._stage``: the generic path's staging; the collector's lean path,
``Warehouse.ingest_checked``, has none, and its parsing SQL counts as "other"), the identity
links and id map, the journey-ordered store's
bookkeeping (``layout``), the live customer state (``catch_up``), closing the write
connection (DuckDB checkpoints then), and turning logged rows into columns (Python). The
rest of the cycle (the insert with its anti-join on stored keys, the ingest log row, the
quarantine counts) is printed as "other".

Usage::

    python bench/collector_loader_phases.py                 # 3 cycles of 5,000 events
    python bench/collector_loader_phases.py --requests 200  # cycles of 20,000 events

Each cycle waits for its posts, so the loader's write connection, kept at most 5 s
(:mod:`kundresa.live.loader`), is usually let go between cycles here, unlike in a burst.

Prints only (writes nothing); note the machine's load average beside the figures.
"""

from __future__ import annotations

import argparse
import base64
import collections
import functools
import importlib.util
import os
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
KEY = "bench-write-key"


def _bench_bodies() -> Callable[[int, int, int], bytes]:
    spec = importlib.util.spec_from_file_location("collector_load", BENCH / "collector_load.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    body: Callable[[int, int, int], bytes] = module._body
    return body


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=50, help="requests of 100 per cycle")
    parser.add_argument("--rounds", type=int, default=3, help="measured cycles")
    args = parser.parse_args()

    import kundresa.live.state as live_state
    from kundresa.ingest.sources import _records
    from kundresa.project import Project
    from kundresa.store import layout
    from kundresa.store import warehouse as wh
    from kundresa.web import create_app

    spent: dict[str, float] = collections.defaultdict(float)

    def timed(owner: Any, name: str, label: str) -> None:
        inner = getattr(owner, name)

        @functools.wraps(inner)
        def wrapper(*a: Any, **k: Any) -> Any:
            t = time.process_time()
            try:
                return inner(*a, **k)
            finally:
                spent[label] += time.process_time() - t

        setattr(owner, name, wrapper)

    timed(wh.Warehouse, "__init__", "open the write and read-only connections")
    timed(wh.Warehouse, "close", "close the write connection (checkpoint)")
    timed(wh.Warehouse, "_stage", "ingest: parse-and-check SQL (_stage)")
    timed(wh.Warehouse, "_store_identities", "ingest: identity links and id map")
    timed(layout, "assign_codes", "ingest: journey-ordered store (layout)")
    timed(layout, "settle", "ingest: journey-ordered store (layout)")
    timed(live_state, "catch_up", "live customer state (catch_up)")
    timed(_records.RecordSource, "rows_batch", "logged rows to columns (Python)")

    body = _bench_bodies()
    auth = "Basic " + base64.b64encode(f"{KEY}:".encode()).decode()
    headers = {"Authorization": auth, "Content-Type": "application/json"}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from fastapi.testclient import TestClient
    print(f"load average {os.getloadavg()[0]:.1f} (1 min) at the start")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "shop"
        Project.init(folder).close()
        app = create_app(folder, write_key=KEY)
        try:
            client = TestClient(app)
            loader = app.state.collector.loader
            loader.stop()  # cycles run only when asked below

            def post(first: int) -> None:
                for r in range(first, first + args.requests):
                    answer = client.post("/v1/batch", content=body(r % 8, r, 100), headers=headers)
                    assert answer.status_code == 200, answer.text

            post(0)
            loader.load_once()  # warm-up: imports, the first catch-up
            for n in range(1, args.rounds + 1):
                post(n * args.requests)
                spent.clear()
                t = time.process_time()
                report = loader.load_once()
                total = time.process_time() - t
                assert report is not None and report.loaded == args.requests * 100, report
                events = report.loaded
                print(
                    f"cycle {n}: {events:,} events, {total:.2f} s CPU = "
                    f"{total / events * 1e6:.0f} µs/event"
                )
                for label, seconds in sorted(spent.items(), key=lambda kv: -kv[1]):
                    print(f"  {seconds / total:4.0%}  {label}")
                print(f"  {1 - sum(spent.values()) / total:4.0%}  other (insert, ingest log, ...)")
        finally:
            app.state.project.close()
    print(f"load average {os.getloadavg()[0]:.1f} (1 min) at the end")


if __name__ == "__main__":
    main()
