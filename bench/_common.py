"""Helpers shared by the benchmark scripts: timing, memory, our DuckDB setup, result output."""

from __future__ import annotations

import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from importlib import metadata
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
RESULT_MARK = "BENCH-RESULT "
DUCKDB_TMP = BENCH / "data" / "duckdb_tmp"

# The demo journey's events: the funnel every script and RESULTS.md use.
FUNNEL_STEPS = ("ad_click", "checkout_start", "purchase")
WINDOW_DAYS = 7


def timed(fn: Callable[[], Any], reps: int, warmup: int = 1) -> tuple[list[float], Any]:
    """Run ``fn`` ``warmup`` times untimed, then ``reps`` times; the times and the last result."""
    result = None
    for _ in range(warmup):
        result = fn()
    times = []
    for _ in range(reps):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return times, result


def median(times: list[float]) -> float:
    return statistics.median(times)


def peak_rss_mb() -> float:
    """This process's peak resident memory so far (MiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def duckdb_events(path: Path, *, memory_limit: str | None = None, temp_dir: str | None = None):
    """Our input: ``ibis.duckdb.connect().read_parquet(path)``, what a library user writes.

    ``memory_limit`` is set on the connection when given (DuckDB's default otherwise: 80% of
    RAM). Spill files go to ``temp_dir`` (default ``bench/data/duckdb_tmp``; DuckDB's own
    default is ``.tmp`` under the working directory).
    """
    import ibis

    con = ibis.duckdb.connect()
    con.raw_sql("SET TimeZone = 'UTC'")
    if memory_limit:
        con.raw_sql(f"SET memory_limit = '{memory_limit}'")
    con.raw_sql(f"SET temp_directory = '{temp_dir or DUCKDB_TMP}'")
    return con, con.read_parquet(str(path), table_name="events")


def store_events(path: Path):
    """Our input from a project's warehouse: the Parquet file's rows in a warehouse file
    beside it (``<stem>.store.duckdb``, built once) in the journey-ordered layout
    (:mod:`kundresa.store.layout`), read as ``kundresa`` commands read a project
    (:func:`kundresa.store.engines.events_table`). The rows are copied with SQL rather than
    by ``Warehouse.ingest`` (whose parsing of every value as text is not what is measured),
    then put in the store order by :func:`kundresa.store.layout.reorganise`.
    """
    from kundresa.store import layout
    from kundresa.store.engines import events_table
    from kundresa.store.warehouse import Warehouse

    target = path.with_name(path.stem + ".store.duckdb")
    if not target.exists():
        building = target.with_name(target.name + ".building")
        building.unlink(missing_ok=True)
        wh = Warehouse(building)
        con = wh.con
        con.execute("BEGIN TRANSACTION")
        con.execute(
            "INSERT INTO events BY NAME SELECT *, (row_number() OVER ())::UHUGEINT AS _key, "
            f"1 AS _ingest FROM read_parquet('{path}')"
        )
        n = con.execute("SELECT count(*) FROM events").fetchone()[0]
        con.execute(
            "INSERT INTO ingests VALUES (1, now(), now(), [?], ?, ?, 0, 0, NULL)",
            [path.name, n, n],
        )
        layout.reorganise(con, 1)
        con.execute("COMMIT")
        wh.close()
        building.rename(target)
    wh = Warehouse(target, read_only=True)
    return wh, events_table("duckdb", wh)


def demo_journey():
    """The demo company's journey (kundresa-5 stages), which fits the generated events."""
    from kundresa.demo.generator import demo_journey_yaml
    from kundresa.model.parse import parse_journey

    journey, problems = parse_journey(demo_journey_yaml("en"))
    errors = [p for p in problems if getattr(p, "severity", "error") == "error"]
    if errors:
        raise SystemExit(f"demo journey has problems: {errors}")
    return journey


def emit(result: dict[str, Any]) -> None:
    """Print a result line that run_all.py reads (one JSON object)."""
    result.setdefault("peak_rss_mb", round(peak_rss_mb(), 1))
    print(RESULT_MARK + json.dumps(result, default=str), flush=True)


def read_results(stdout: str) -> list[dict[str, Any]]:
    return [
        json.loads(line[len(RESULT_MARK) :])
        for line in stdout.splitlines()
        if line.startswith(RESULT_MARK)
    ]


def version(pkg: str) -> str:
    try:
        return metadata.version(pkg)
    except metadata.PackageNotFoundError:
        return "not installed"


def machine() -> dict[str, Any]:
    """What the numbers were measured on."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_gib = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    try:
        rev = subprocess.run(
            ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        rev = "unknown"
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gib": round(mem_gib, 1),
        "os": f"{platform.system()} {platform.release()}",
        "python": sys.version.split()[0],
        "commit": rev,
        "versions": {
            p: version(p)
            for p in ("duckdb", "ibis-framework", "pyarrow", "pandas", "chdb", "chdb-core", "pm4py")
        },
    }


def load_average() -> tuple[float, float, float]:
    return os.getloadavg()
