"""The full stage analysis against a plain DuckDB sort of the same events.

Ours: ``kundresa.analytics.journeys.stage_analysis(project)`` on the demo journey (kundresa-5
stages, 15 touchpoints), with the project's events ``ibis.duckdb.connect().read_parquet(file)``.
That is stage assignment (``tag_events``, done once and cached) + the stage funnel
(``stage_funnel``: reached, entered, conversion per stage, with personas) + the transition
matrix (``transition_matrix``) + time in stage, as one call; ``kundresa stages`` /
``kundresa transitions`` run the same pieces one by one.

Peer: plain DuckDB on a fresh connection with the same settings materialising the events
in customer order, the least any per-customer sequence analysis must do::

    CREATE OR REPLACE TEMP TABLE sorted AS
        SELECT * FROM read_parquet(file) ORDER BY customer_id, timestamp

(all eight columns, properties map included, into DuckDB's own in-memory table). The target
(issue 12) is ours <= 1.5x this.

Peer and ours run interleaved (peer, ours, peer, ours...) so that the machine's load hits both
alike; ``--portable`` also times the portable Ibis path (``KUNDRESA_FAST_PATH=0``) in the same
rounds, and checks that its three tables equal the fast path's.

``--store``: ours reads a project's warehouse in the journey-ordered layout (the Parquet
file's rows copied once into ``<stem>.store.duckdb`` beside it, see
``_common.store_events``), as ``kundresa stages`` reads a project; the peer's ``ORDER BY``
still reads the same rows from the Parquet file (DuckDB's fastest source for them).

``--shape dense|skewed`` (``generate.py``): the synthetic shapes, with a journey of their
five events (:data:`SHAPE_JOURNEY`: every event fits a touchpoint, ``purchase`` twice
with ``nth: 2``) instead of the demo journey.

Usage: ``python bench/stages_vs_orderby.py 10M --reps 3 [--store] [--shape dense]
[--portable]``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (
    DUCKDB_TMP,
    demo_journey,
    duckdb_events,
    emit,
    load_average,
    median,
    store_events,
    timed,
)
from generate import SHAPES, generate, parse_size

SHAPE_JOURNEY = """
kundresa: 1
name: Synthetic shapes
template: kundresa-5
touchpoints:
  - {id: visit, stage: awareness, match: {event: visit}}
  - {id: view, stage: consideration, match: {event: view}}
  - {id: signup, stage: consideration, match: {event: signup}}
  - {id: repeat, stage: retention, match: {event: purchase, nth: 2}}
  - {id: purchase, stage: decision, match: {event: purchase}}
  - {id: support, stage: advocacy, match: {event: support}}
"""


def journey_for(shape: str):
    """The journey the stage analysis maps: the demo's, or :data:`SHAPE_JOURNEY`."""
    if shape == "demo":
        return demo_journey()
    from kundresa.model.parse import parse_journey

    journey, _ = parse_journey(SHAPE_JOURNEY)
    return journey


def ours(
    path: Path,
    memory_limit: str | None = None,
    temp_dir: str | None = None,
    *,
    fast: bool = True,
    store: bool = False,
    shape: str = "demo",
):
    from kundresa.analytics._fast import portable
    from kundresa.analytics.journeys import stage_analysis

    if store:  # a project's warehouse in the journey-ordered layout
        _, events = store_events(path)
    else:
        _, events = duckdb_events(path, memory_limit=memory_limit, temp_dir=temp_dir)
    project = SimpleNamespace(journey=journey_for(shape), events=events)

    def run():
        if fast:
            return stage_analysis(project)
        with portable():
            return stage_analysis(project)

    return run


def peer(path: Path, memory_limit: str | None = None, temp_dir: str | None = None):
    import duckdb

    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    if memory_limit:
        con.execute(f"SET memory_limit = '{memory_limit}'")
    con.execute(f"SET temp_directory = '{temp_dir or DUCKDB_TMP}'")
    sql = (
        "CREATE OR REPLACE TEMP TABLE sorted AS "
        f"SELECT * FROM read_parquet('{path}') ORDER BY customer_id, timestamp"
    )

    def run() -> int:
        con.execute(sql)
        n = con.execute("SELECT count(*) FROM sorted").fetchone()
        return int(n[0]) if n else 0

    return run


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="stage_analysis vs a plain DuckDB ORDER BY")
    ap.add_argument("size", help="events: 1M, 10M, 100M")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--memory-limit", default=None, help="DuckDB memory_limit for both")
    ap.add_argument("--portable", action="store_true", help="also time the portable path")
    ap.add_argument("--store", action="store_true", help="ours reads a journey-ordered warehouse")
    ap.add_argument("--shape", choices=SHAPES, default="demo", help="the data's shape")
    args = ap.parse_args(argv)
    rows = parse_size(args.size)
    path = generate(rows, shape=args.shape)
    load_before = load_average()

    mine = {"store": args.store, "shape": args.shape}
    runs = {"peer": peer(path, args.memory_limit), "ours": ours(path, args.memory_limit, **mine)}
    if args.portable:
        runs["portable"] = ours(path, args.memory_limit, fast=False, **mine)
    times: dict[str, list[float]] = {k: [] for k in runs}
    last: dict[str, Any] = {}
    for _ in range(args.warmup):
        last = {k: run() for k, run in runs.items()}
    for _ in range(args.reps):
        for k, run in runs.items():
            t, last[k] = timed(run, 1, 0)
            times[k] += t
    t_peer, t_ours, n, res = times["peer"], times["ours"], last["peer"], last["ours"]
    ratio = median(t_ours) / median(t_peer)
    equal = None
    if args.portable:
        equal = all(_same(res[k], last["portable"][k]) for k in ("funnel", "transitions"))
        equal = equal and _same(res["time_in_stage"], last["portable"]["time_in_stage"])
    funnel = res["funnel"]
    reached = dict(zip(funnel["stage"], funnel["reached"], strict=False))
    moves = int(res["transitions"]["count"].sum())
    source = "journey-ordered store" if args.store else "Parquet file"
    print(f"stage analysis, {args.size} {args.shape} events from the {source} ({n:,} sorted)")
    print(f"  reached {reached}; {moves:,} transition rows counted")
    print(f"  ours     median {median(t_ours):.2f} s  {[round(t, 2) for t in t_ours]}")
    print(f"  order by median {median(t_peer):.2f} s  {[round(t, 2) for t in t_peer]}")
    if args.portable:
        t_port = times["portable"]
        print(f"  portable median {median(t_port):.2f} s  {[round(t, 2) for t in t_port]}")
        print(f"  fast path tables equal to the portable path's: {equal}")
    print(f"  ratio ours/order-by {ratio:.2f} (target <= 1.5)")
    load_after = load_average()
    print(f"  load average {load_before} -> {load_after}")
    emit(
        {
            "bench": "stages",
            "size": args.size,
            "shape": args.shape,
            "store": args.store,
            "rows": n,
            "reached": {k: int(v) for k, v in reached.items()},
            "moves": moves,
            "ours_s": t_ours,
            "peer_s": t_peer,
            "portable_s": times.get("portable"),
            "equal_portable": equal,
            "ratio": ratio,
            "memory_limit": args.memory_limit,
            "load": [load_before, load_after],
        }
    )
    return 0


def _same(a: Any, b: Any) -> bool:
    import pandas as pd

    try:
        pd.testing.assert_frame_equal(a, b, check_exact=False, rtol=1e-12, check_dtype=False)
    except AssertionError:
        return False
    return True


if __name__ == "__main__":
    sys.exit(main())
