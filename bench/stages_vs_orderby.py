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

(all eight columns, properties map included, into DuckDB's own in-memory table). The target is
ours <= 3x this.

Usage: ``python bench/stages_vs_orderby.py 10M --reps 3``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from types import SimpleNamespace

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import DUCKDB_TMP, demo_journey, duckdb_events, emit, median, timed
from generate import generate, parse_size


def ours(path: Path, memory_limit: str | None = None, temp_dir: str | None = None):
    from kundresa.analytics.journeys import stage_analysis

    _, events = duckdb_events(path, memory_limit=memory_limit, temp_dir=temp_dir)
    project = SimpleNamespace(journey=demo_journey(), events=events)

    def run():
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
    args = ap.parse_args(argv)
    rows = parse_size(args.size)
    path = generate(rows)

    t_peer, n = timed(peer(path, args.memory_limit), args.reps, args.warmup)
    t_ours, res = timed(ours(path, args.memory_limit), args.reps, args.warmup)
    ratio = median(t_ours) / median(t_peer)
    funnel = res["funnel"]
    reached = dict(zip(funnel["stage"], funnel["reached"], strict=False))
    moves = int(res["transitions"]["count"].sum())
    print(f"stage analysis, {args.size} events ({n:,} sorted by the peer)")
    print(f"  reached {reached}; {moves:,} transition rows counted")
    print(f"  ours     median {median(t_ours):.2f} s  {[round(t, 2) for t in t_ours]}")
    print(f"  order by median {median(t_peer):.2f} s  {[round(t, 2) for t in t_peer]}")
    print(f"  ratio ours/order-by {ratio:.2f} (target <= 3)")
    emit(
        {
            "bench": "stages",
            "size": args.size,
            "rows": n,
            "reached": {k: int(v) for k, v in reached.items()},
            "moves": moves,
            "ours_s": t_ours,
            "peer_s": t_peer,
            "ratio": ratio,
            "memory_limit": args.memory_limit,
        }
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
