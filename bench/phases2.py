"""Where one ``kundresa`` process spends its time: the command run in this process with chosen
functions wrapped as their modules load, each call printed on stderr at exit (start and end in
ms since the process started, wall, the thread's CPU, the process's CPU, the resident memory
at the end, the thread), and the process's CPU use sampled every 0.1 s (``util``: cores busy
in each tenth of a second).

Usage (the lean lane of bench/funnel_process.py; add names to ``WANT`` to see others)::

    bench/.venv/bin/python bench/phases.py funnel --events bench/data/events_dense_10M.parquet \\
        --step visit --step signup --step purchase --window 7d >/dev/null

Wrapping costs a few microseconds a call; the sampler thread wakes ten times a second.
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import importlib.abc
import itertools
import os
import sys
import threading
import time
from typing import Any

T0 = time.perf_counter()

#: The functions wrapped, by module.
WANT = {
    "kundresa.store._read_ahead": ["read_ahead", "take", "read", "read_file", "load_kernels"], "kundresa.store._pages": ["IdHashes"], "kundresa.store._proofs": ["digest_of"], "kundresa.native": ["kernels"], "pyarrow.parquet.core": [],
    "kundresa.store.in_place": [
        "_decode", "_hashed", "_unified", "_unified_by_hashes", "_suspects", "_tested",
        "read_in_place", "_warm_up", "_rows_distinct",
    ],
    "kundresa.analyses._lean": ["lean_fits", "run_lean"],
    "kundresa.analytics._funnel_core": [
        "decoded_funnel", "decoded_codes", "grouped_best_arrays", "_funnel_frame_steps",
        "_funnel_rows",
    ],
    "kundresa.store._distinct": [
        "all_distinct", "first_equal", "partition_count", "partition_fill", "partitions_distinct",
    ],
    "kundresa.analytics._kernels": ["in_threads"],
}  # fmt: skip

LOG: list[tuple[float, float, float, float, str, str, int]] = []
_PAGE = os.sysconf("SC_PAGE_SIZE")


def _rss_mb() -> int:
    """The process's resident memory (MiB)."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * _PAGE >> 20


UTIL: list[tuple[float, float]] = []


def _wrap(module: Any, name: str) -> None:
    f = getattr(module, name, None)
    if f is None:
        return
    label = f"{module.__name__.split('.')[-1]}.{name}"

    @functools.wraps(f)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        t, cpu, process = time.perf_counter(), time.thread_time(), time.process_time()
        try:
            return f(*args, **kwargs)
        finally:
            LOG.append(
                (
                    t - T0,
                    time.perf_counter() - T0,
                    time.thread_time() - cpu,
                    time.process_time() - process,
                    threading.current_thread().name[:12],
                    label,
                    _rss_mb(),
                )
            )

    setattr(module, name, wrapped)


class _Finder(importlib.abc.MetaPathFinder):
    """Wraps :data:`WANT`'s functions of a module when it has loaded."""

    def find_spec(self, fullname: str, path: Any, target: Any = None) -> Any:
        if fullname not in WANT:
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(fullname, path, target)
            if spec is None or spec.loader is None:
                continue
            run = spec.loader.exec_module

            def exec_module(module: Any, run: Any = run) -> None:
                run(module)
                for name in WANT[fullname]:
                    _wrap(module, name)

            spec.loader.exec_module = exec_module  # type: ignore[method-assign]
            return spec
        return None


def _sample() -> None:
    ticks = os.sysconf("SC_CLK_TCK")
    while True:
        with open("/proc/self/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        UTIL.append((time.perf_counter() - T0, (int(fields[11]) + int(fields[12])) / ticks))
        time.sleep(0.1)


def _report() -> None:
    busy = [
        f"{t * 1000:.0f}:{(c - c0) / (t - t0):.1f}" for (t0, c0), (t, c) in itertools.pairwise(UTIL)
    ]
    print("util", " ".join(busy), file=sys.stderr)
    for start, end, cpu, process, thread, name, rss in sorted(LOG):
        print(
            f"{start * 1000:7.0f} {end * 1000:7.0f} {(end - start) * 1000:6.0f}ms"
            f" cpu{cpu * 1000:6.0f} pcpu{process * 1000:6.0f} {rss:5d}MiB {thread:12} {name}",
            file=sys.stderr,
        )
    total = time.perf_counter() - T0
    print(
        f"end {total * 1000:.0f} ms; process cpu {time.process_time() * 1000:.0f} ms",
        file=sys.stderr,
    )


def main() -> None:
    sys.meta_path.insert(0, _Finder())
    threading.Thread(target=_sample, daemon=True).start()
    atexit.register(_report)
    sys.argv = ["kundresa", *sys.argv[1:]]
    from kundresa.cli import main as kundresa

    with contextlib.suppress(SystemExit):
        kundresa()


if __name__ == "__main__":
    main()
