"""Our ordered 3-step funnel (7-day window) against ClickHouse's windowFunnel (chDB), same file.

Ours: ``kundresa.analytics.funnel.event_funnel(events, steps, window="7d", order="ordered")``
with ``events = ibis.duckdb.connect().read_parquet(file)``: what a user of the library runs on
a Parquet file (the CLI's ``kundresa funnel`` runs the same expression on the project's
DuckDB warehouse table instead). It computes the counts *and* the mean and median time to
convert of every step, which windowFunnel does not.

Peer: chDB (ClickHouse embedded, in this process) on the same Parquet file::

    SELECT level, count() FROM (
        SELECT customer_id,
               windowFunnel(604800)(toDateTime(timestamp), event = 's1', event = 's2',
                                    event = 's3') AS level
        FROM file(...) GROUP BY customer_id)
    GROUP BY level

then count(step j) = customers with level >= j. ClickHouse's default mode matches our
``ordered``: the chain starts at a step-1 event, later steps follow in time with
``t1 <= t2 <= t3 <= t1 + window`` (inclusive, like ours), other events may come between, the
result is the longest chain over all starts. Ties cannot matter: generate.py makes each
customer's timestamps unique whole seconds. The counts must be equal (exit 1 if not).

Usage: ``python bench/funnel_vs_chdb.py 10M --reps 3``; prints the times, the ratio
ours/chDB and a JSON line for run_all.py.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (
    FUNNEL_STEPS,
    WINDOW_DAYS,
    duckdb_events,
    emit,
    median,
    store_events,
    timed,
)
from generate import SHAPE_STEPS, SHAPES, generate, parse_size


def ours(
    path: Path,
    memory_limit: str | None = None,
    steps: tuple[str, ...] = FUNNEL_STEPS,
    store: bool = False,
):
    from kundresa.analytics.funnel import event_funnel

    if store:  # a project's warehouse in the journey-ordered layout
        _, events = store_events(path)
    else:
        _, events = duckdb_events(path, memory_limit=memory_limit)

    def run() -> list[int]:
        df = event_funnel(events, list(steps), window=f"{WINDOW_DAYS}d", order="ordered")
        return [int(c) for c in df["count"]]

    return run


def chdb_sql(path: Path, steps: tuple[str, ...] = FUNNEL_STEPS) -> str:
    conds = ", ".join(f"event = '{s}'" for s in steps)
    return f"""
        SELECT level, count() AS customers FROM (
            SELECT customer_id,
                   windowFunnel({WINDOW_DAYS * 86400})(toDateTime(timestamp), {conds}) AS level
            FROM file('{path}', Parquet)
            GROUP BY customer_id)
        GROUP BY level ORDER BY level
        SETTINGS session_timezone = 'UTC'
    """


def peer(path: Path, steps: tuple[str, ...] = FUNNEL_STEPS):
    import chdb

    sql = chdb_sql(path, steps)

    def run() -> list[int]:
        df = chdb.query(sql, "DataFrame")
        by_level = {int(lv): int(n) for lv, n in zip(df["level"], df["customers"], strict=True)}
        return [sum(n for lv, n in by_level.items() if lv >= j) for j in range(1, len(steps) + 1)]

    return run


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="event_funnel vs ClickHouse windowFunnel (chDB)")
    ap.add_argument("size", help="events: 1M, 10M, 100M")
    ap.add_argument("--reps", type=int, default=3, help="timed repetitions (after one warm-up)")
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--memory-limit", default=None, help="DuckDB memory_limit for ours")
    ap.add_argument("--shape", choices=SHAPES, default="demo", help="the data's shape")
    ap.add_argument("--store", action="store_true", help="ours reads a journey-ordered warehouse")
    args = ap.parse_args(argv)
    rows = parse_size(args.size)
    path = generate(rows, shape=args.shape)
    steps = SHAPE_STEPS[args.shape]

    # Interleaved (peer, ours, peer, ours...) so that the machine's load hits both alike.
    run_peer, run_ours = peer(path, steps), ours(path, args.memory_limit, steps, args.store)
    t_peer, t_ours = [], []
    c_peer = c_ours = None
    for _ in range(args.warmup):
        c_peer, c_ours = run_peer(), run_ours()
    for _ in range(args.reps):
        t, c_peer = timed(run_peer, 1, 0)
        t_peer += t
        t, c_ours = timed(run_ours, 1, 0)
        t_ours += t
    ratio = median(t_ours) / median(t_peer)
    equal = c_ours == c_peer
    source = "journey-ordered store" if args.store else "Parquet file"
    print(
        f"funnel {' > '.join(steps)} ({WINDOW_DAYS}d, ordered), {args.size} {args.shape} "
        f"events, ours from the {source}"
    )
    print(f"  counts   ours {c_ours}  chdb {c_peer}  {'EQUAL' if equal else 'DIFFERENT'}")
    print(f"  ours     median {median(t_ours):.2f} s  {[round(t, 2) for t in t_ours]}")
    print(f"  chdb     median {median(t_peer):.2f} s  {[round(t, 2) for t in t_peer]}")
    print(f"  ratio ours/chdb {ratio:.2f} (target <= 1.0 at 10M)")
    emit(
        {
            "bench": "funnel",
            "size": args.size,
            "shape": args.shape,
            "store": args.store,
            "steps": list(steps),
            "counts_ours": c_ours,
            "counts_peer": c_peer,
            "equal": equal,
            "ours_s": t_ours,
            "peer_s": t_peer,
            "ratio": ratio,
            "memory_limit": args.memory_limit,
        }
    )
    if not equal:
        print("ERROR: the funnel counts differ from ClickHouse's windowFunnel", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
