"""The in-place check's warm-up thread imports numba and the engine while the file is read:
no other thread may import one of those modules before the warm-up has finished it (two
threads importing one module at once can see it half initialised)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

_SCRIPT = r"""
import builtins, json, sys, threading, time
from importlib.util import resolve_name

events = []  # (thread, module, start, end) of every import statement in the window
real = builtins.__import__
window = [False]

def traced(name, globals=None, locals=None, fromlist=(), level=0):
    if not window[0]:
        return real(name, globals, locals, fromlist, level)
    try:
        package = (globals or {}).get("__package__")
        full = resolve_name("." * level + name, package) if level else name
    except Exception:
        full = name
    start = time.perf_counter()
    try:
        return real(name, globals, locals, fromlist, level)
    finally:
        events.append((threading.current_thread().name, full, start, time.perf_counter()))

builtins.__import__ = traced
from kundresa.project import Project
from kundresa.store._decoded import decoded_file

before = set(sys.modules)
window[0] = True
project = Project.from_events(sys.argv[1], in_place=True)
window[0] = False
print(json.dumps({"before": sorted(before), "events": events,
                  "decoded": decoded_file(project.warehouse.con) is not None}))
"""


@pytest.mark.parametrize("compiled", ["1", "0"])
def test_no_module_is_imported_by_two_threads_at_once(tmp_path: Path, compiled: str) -> None:
    n = 200
    table = pa.table(
        {
            "customer_id": [f"c{i % 7}" for i in range(n)],
            "timestamp": pa.array(
                [datetime(2025, 1, 1) + timedelta(minutes=i) for i in range(n)], pa.timestamp("us")
            ),
            "event": ["visit"] * n,
            "event_id": [f"e{i}" for i in range(n)],
        }
    )
    path = tmp_path / "events.parquet"
    pq.write_table(table, path)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["KUNDRESA_NATIVE"] = compiled  # the kernels' compiled code (built by make), or numba
    done = subprocess.run(
        [sys.executable, "-c", _SCRIPT, str(path)], capture_output=True, text=True, env=env
    )
    assert done.returncode == 0, done.stderr
    got = json.loads(done.stdout)
    assert got["decoded"]
    before = set(got["before"])
    # When each module, new in the window, was first finished by each thread.
    finished: dict[str, dict[str, float]] = {}
    for thread, module, _, end in got["events"]:
        if module in before:
            continue
        by = finished.setdefault(module, {})
        by[thread] = min(by.get(thread, end), end)
    firsts = first_importers(got["events"])
    clashes = []
    for thread, module, start, _ in got["events"]:
        if module in before:
            continue
        first = firsts[module]
        # This thread started importing the module before the first thread to import it had
        # finished it (after that, an import is a look-up in sys.modules: two threads may
        # look it up at once, as the check's two threads do with the distinct set's module).
        if thread != first and start < finished[module][first]:
            clashes.append((thread, first, module))
    # The warm-up loaded the kernels in the window: numba, or the compiled code's linker.
    assert ("numba" if compiled == "0" else "llvmlite.binding") in finished
    assert not clashes, sorted(set(clashes))[:20]


def first_importers(events: list[list[object]]) -> dict[object, object]:
    """For each module, the thread whose import of it started first (one pass: the window
    holds ~20,000 import statements, and a scan of them all per statement took minutes)."""
    first: dict[object, tuple[float, object]] = {}
    for thread, module, start, _ in events:
        assert isinstance(start, float)
        if module not in first or start < first[module][0]:
            first[module] = (start, thread)
    return {module: thread for module, (_, thread) in first.items()}
