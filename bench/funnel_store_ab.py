"""Same-load A/B of the funnel's two readers of the journey-ordered store, against chDB.

At 10M events from the store (``funnel_vs_chdb.py --store``'s warehouse files), interleaved
in one process (chDB, old, new; one warm-up round, then ``--reps`` rounds):

- new: ``event_funnel`` as shipped (no breakdown: the integer read, ``_ordered.ordered_codes``);
- old: the same call with ``ordered_codes`` switched off, so the funnel reads the store
  through ``_ordered.ordered_rows`` (step flags computed in SQL, customer ids fetched), the
  reader before session 8;
- chDB: ``windowFunnel`` on the Parquet file, as in ``funnel_vs_chdb.py``.

On a loaded machine the ratios new/old and old/chDB tell how far the quiet-machine figure of
the old reader carries over. Usage: ``python bench/funnel_store_ab.py --shape dense demo``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import emit, load_average
from funnel_vs_chdb import ours, peer
from generate import SHAPE_STEPS, SHAPES, generate, parse_size


def main(argv: list[str] | None = None) -> int:
    from kundresa.analytics import _ordered

    ap = argparse.ArgumentParser(description="the store's two funnel readers and chDB, A/B")
    ap.add_argument("--size", default="10M")
    ap.add_argument("--shape", nargs="+", choices=SHAPES, default=["dense"])
    ap.add_argument("--reps", type=int, default=3)
    args = ap.parse_args(argv)
    ok = True
    for shape in args.shape:
        path = generate(parse_size(args.size), shape=shape)
        steps = SHAPE_STEPS[shape]
        run_new, run_peer = ours(path, None, steps, True), peer(path, steps)
        real = _ordered.ordered_codes

        def run_old(run_new: Callable[[], list[int]] = run_new, real: Any = real) -> list[int]:
            _ordered.ordered_codes = lambda *a, **k: None
            try:
                return run_new()
            finally:
                _ordered.ordered_codes = real

        before = load_average()
        runs = {"chdb": run_peer, "old": run_old, "new": run_new}
        counts = {k: f() for k, f in runs.items()}  # warm-up
        times: dict[str, list[float]] = {k: [] for k in runs}
        for _ in range(args.reps):
            for k, f in runs.items():
                start = time.perf_counter()
                counts[k] = f()
                times[k].append(time.perf_counter() - start)
        after = load_average()
        m = {k: statistics.median(v) for k, v in times.items()}
        equal = counts["new"] == counts["old"] == counts["chdb"]
        ok = ok and equal
        print(
            f"{args.size} {shape}: load {before[0]:.1f} -> {after[0]:.1f}; "
            + ", ".join(f"{k} {v:.2f} s" for k, v in m.items())
            + f"; old/chdb {m['old'] / m['chdb']:.2f}, new/chdb {m['new'] / m['chdb']:.2f}, "
            f"new/old {m['new'] / m['old']:.2f}; counts {'EQUAL' if equal else 'DIFFERENT'}"
        )
        emit(
            {
                "bench": "funnel_store_ab",
                "size": args.size,
                "shape": shape,
                "times_s": times,
                "counts": counts,
                "equal": equal,
                "load_before": before,
                "load_after": after,
                "ratio_new_chdb": m["new"] / m["chdb"],
                "ratio_old_chdb": m["old"] / m["chdb"],
                "ratio_new_old": m["new"] / m["old"],
            }
        )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
