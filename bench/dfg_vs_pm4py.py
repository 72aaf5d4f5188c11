"""Our directly-follows graph against pm4py's ``discover_dfg``, on the same events.

Ours: ``kundresa.analytics.paths.directly_follows(events, level="event")`` with ``events =
ibis.duckdb.connect().read_parquet(file)`` (one case per customer, no session split). It also
computes distinct customers and the median and mean seconds of every edge, which
``discover_dfg`` (frequencies only) does not.

Peer: ``pm4py.discover_dfg(df, case_id_key="customer_id", activity_key="event",
timestamp_key="timestamp")`` on a pandas DataFrame of the same file (customer_id, event,
timestamp, event_id), loaded before timing and sorted by customer and our event order
(timestamp, event, event_id), so that even a tie would be ordered as we order it; generate.py
makes each customer's timestamps unique anyway. pm4py sorts by case and timestamp itself, inside
the timed call. pm4py is AGPL: it is only in the ``bench`` extra and imported only here.

Compared: every edge count (our rows without ``(start)``/``(end)`` against pm4py's dfg dict),
start activities (our ``(start)`` rows) and end activities (our ``(end)`` rows). Any difference
exits 1.

Usage: ``python bench/dfg_vs_pm4py.py 1M --reps 3``.
"""

from __future__ import annotations

import argparse
import os
import sys
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import duckdb_events, emit, median, store_events, timed
from generate import SHAPES, generate, parse_size

START, END = "(start)", "(end)"


def ours(path: Path, store: bool = False):
    from kundresa.analytics.paths import directly_follows

    # --store: a project's warehouse in the journey-ordered layout; else the Parquet file.
    _, events = store_events(path) if store else duckdb_events(path)

    def run():
        return directly_follows(events, level="event")

    return run


def split(df) -> tuple[dict, dict, dict]:
    """Our DFG frame as pm4py's three dicts: edges, start and end activities."""
    edges, starts, ends = {}, {}, {}
    for s, t, n in zip(df["source"], df["target"], df["count"], strict=True):
        if s == START:
            starts[t] = int(n)
        elif t == END:
            ends[s] = int(n)
        else:
            edges[(s, t)] = int(n)
    return edges, starts, ends


def load_frame(path: Path):
    import pyarrow.parquet as pq

    t = pq.read_table(path, columns=["customer_id", "timestamp", "event", "event_id"])
    df = t.to_pandas()
    return df.sort_values(["customer_id", "timestamp", "event", "event_id"], kind="stable")


def peer(df):
    # pm4py prints a licence banner on import; keep the output readable.
    with open(os.devnull, "w") as null:
        stdout, sys.stdout = sys.stdout, null
        try:
            import pm4py
        finally:
            sys.stdout = stdout

    def run():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            dfg, start, end = pm4py.discover_dfg(
                df, case_id_key="customer_id", activity_key="event", timestamp_key="timestamp"
            )
        return (
            {k: int(v) for k, v in dfg.items()},
            {k: int(v) for k, v in start.items()},
            {k: int(v) for k, v in end.items()},
        )

    return run


def diff(a: dict, b: dict) -> list[str]:
    keys = sorted(set(a) | set(b), key=str)
    return [f"{k}: ours {a.get(k)} pm4py {b.get(k)}" for k in keys if a.get(k) != b.get(k)]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="directly_follows vs pm4py.discover_dfg")
    ap.add_argument("size", help="events: 1M, 10M")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--shape", choices=SHAPES, default="demo", help="the data's shape")
    ap.add_argument("--store", action="store_true", help="ours reads a journey-ordered warehouse")
    args = ap.parse_args(argv)
    rows = parse_size(args.size)
    path = generate(rows, shape=args.shape)

    # Interleaved (peer, ours, peer, ours...) so that the machine's load hits both alike.
    run_peer, run_ours = peer(load_frame(path)), ours(path, args.store)
    t_peer, t_ours = [], []
    r_peer = df = None
    for _ in range(args.warmup):
        r_peer, df = run_peer(), run_ours()
    for _ in range(args.reps):
        t, r_peer = timed(run_peer, 1, 0)
        t_peer += t
        t, df = timed(run_ours, 1, 0)
        t_ours += t
    r_ours = split(df)
    problems = []
    for name, a, b in zip(("edges", "start", "end"), r_ours, r_peer, strict=True):
        problems += [f"{name} {d}" for d in diff(a, b)]
    equal = not problems
    speedup = median(t_peer) / median(t_ours)
    source = "journey-ordered store" if args.store else "Parquet file"
    print(f"directly-follows graph, {args.size} {args.shape} events, ours from the {source}")
    print(
        f"  edges {len(r_ours[0])} (pm4py {len(r_peer[0])}), "
        f"{sum(r_ours[0].values()):,} pairs; {'EQUAL' if equal else 'DIFFERENT'}"
    )
    print(f"  ours     median {median(t_ours):.2f} s  {[round(t, 2) for t in t_ours]}")
    print(f"  pm4py    median {median(t_peer):.2f} s  {[round(t, 2) for t in t_peer]}")
    print(f"  speed-up pm4py/ours {speedup:.2f}x (target >= 3x at 1M and 10M)")
    emit(
        {
            "bench": "dfg",
            "size": args.size,
            "shape": args.shape,
            "store": args.store,
            "edges": len(r_ours[0]),
            "pairs": sum(r_ours[0].values()),
            "equal": equal,
            "differences": problems[:20],
            "ours_s": t_ours,
            "peer_s": t_peer,
            "ratio": median(t_ours) / median(t_peer),
            "speedup": speedup,
        }
    )
    if not equal:
        print("ERROR: the DFG differs from pm4py's:", *problems[:20], sep="\n  ", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
