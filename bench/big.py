"""100M events on this machine: generation, the funnel and the stage analysis, with peak memory.

Every step runs once in a child process of its own; its peak memory is the child's peak
resident set size (``os.wait4`` → ``ru_maxrss``: exact, not sampled), and the bytes DuckDB
spilled are sampled from its temp directory every half second. Steps:

- ``generate``: the 100M-row Parquet file (skipped, and reported as cached, when it exists);
- ``funnel``: our ordered 3-step funnel (7d), and ``funnel-chdb``: ClickHouse's windowFunnel on
  the same file (the counts must agree, as in funnel_vs_chdb.py);
- ``stages``: our full stage analysis, and ``orderby``: the plain DuckDB sort of
  stages_vs_orderby.py;

our steps once with DuckDB's default memory limit (80% of RAM) and once with each
``--limits`` value (default ``6GB``, what the project warehouse sets), so the report says
whether a limit is needed to stay under 8 GiB and whether the analyses still finish when
DuckDB spills. Results go to ``bench/results_big.json``; ``run_all.py`` puts them in RESULTS.md.

``--steps funnel,stages`` runs only those steps and puts them into the existing report in
place of their earlier runs (the other steps' figures are kept, with their own dates).

Usage: ``python bench/big.py [--size 100M] [--limits 6GB] [--skip-default] [--steps ...]``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from contextlib import suppress
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (
    BENCH,
    FUNNEL_STEPS,
    emit,
    load_average,
    machine,
    read_results,
)
from generate import generate, parse_size, path_for

GIB = 2**30
LIMIT_GIB = 8
TMP = BENCH / "data" / "duckdb_tmp"
OUT = BENCH / "results_big.json"


# -- the steps, run in the child -------------------------------------------------------------


def child(step: str, size: str, memory_limit: str | None) -> None:
    rows = parse_size(size)
    started = time.perf_counter()
    result: dict = {"step": step, "memory_limit": memory_limit}
    if step == "generate":
        cached = path_for(rows).exists()
        generate(rows)
        result["cached"] = cached
    else:
        path = path_for(rows)
        if step == "funnel":
            from funnel_vs_chdb import ours

            result["counts"] = ours(path, memory_limit)()
        elif step == "funnel-chdb":
            from funnel_vs_chdb import peer

            result["counts"] = peer(path)()
        elif step == "stages":
            from stages_vs_orderby import ours as stages

            res = stages(path, memory_limit, str(TMP))()
            f = res["funnel"]
            result["reached"] = {k: int(v) for k, v in zip(f["stage"], f["reached"], strict=False)}
        elif step == "orderby":
            from stages_vs_orderby import peer as orderby

            result["rows"] = orderby(path, memory_limit, str(TMP))()
        else:
            raise SystemExit(f"unknown step {step}")
    result["seconds"] = time.perf_counter() - started
    emit(result)


# -- the parent: one child per step, peak memory and spill ------------------------------------


def _dir_bytes(path: Path) -> int:
    total = 0
    for root, _, files in os.walk(path):
        for f in files:
            with suppress(OSError):  # a spill file removed while walking
                total += os.path.getsize(os.path.join(root, f))
    return total


def run_step(step: str, size: str, memory_limit: str | None) -> dict:
    cmd = [sys.executable, __file__, "--child", step, "--size", size]
    if memory_limit:
        cmd += ["--memory-limit", memory_limit]
    shutil.rmtree(TMP, ignore_errors=True)
    TMP.mkdir(parents=True, exist_ok=True)
    label = f"{step} (memory_limit {memory_limit or 'default'})"
    print(f"-- {label}", flush=True)
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, cwd=str(TMP))
    spill = [0]
    done = threading.Event()

    def sample() -> None:
        while not done.wait(0.5):
            spill[0] = max(spill[0], _dir_bytes(TMP))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    out = proc.stdout.read() if proc.stdout else ""
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    done.set()
    sampler.join()
    wall = time.perf_counter() - started
    results = read_results(out)
    r = results[-1] if results else {"step": step, "memory_limit": memory_limit}
    r.update(
        ok=proc.returncode == 0 and bool(results),
        returncode=proc.returncode,
        wall_s=wall,
        peak_rss_gib=usage.ru_maxrss * 1024 / GIB,
        spilled_gib=spill[0] / GIB,
    )
    r["under_8gib"] = r["peak_rss_gib"] < LIMIT_GIB
    print(
        f"   {'ok' if r['ok'] else 'FAILED'} in {wall:.0f} s, peak {r['peak_rss_gib']:.2f} GiB, "
        f"spilled {r['spilled_gib']:.2f} GiB",
        flush=True,
    )
    shutil.rmtree(TMP, ignore_errors=True)
    return r


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="100M events: time and peak memory per step")
    ap.add_argument("--size", default="100M")
    ap.add_argument("--limits", default="6GB", help="comma-separated DuckDB memory limits")
    ap.add_argument("--skip-default", action="store_true", help="no run at DuckDB's default")
    ap.add_argument("--steps", default="", help="comma-separated steps to run again only")
    ap.add_argument("--child", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--memory-limit", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        child(args.child, args.size, args.memory_limit)
        return 0

    limits: list[str | None] = [] if args.skip_default else [None]
    limits += [x for x in args.limits.split(",") if x]
    # The bounded runs first (they are the ones a user gets from the project warehouse), the
    # peers next, DuckDB's default limit last. The report is rewritten after every step, so
    # an interrupted run still leaves what it measured.
    plan = [("generate", None)]
    for limit in reversed(limits):
        plan += [("funnel", limit), ("stages", limit)]
        if limit == limits[-1]:
            plan += [("funnel-chdb", None), ("orderby", limit)]
    kept: list[dict] = []
    if args.steps:
        only = {x for x in args.steps.split(",") if x}
        plan = [(s, lim) for s, lim in plan if s in only]
        if OUT.exists():
            earlier = json.loads(OUT.read_text())
            if earlier.get("size") == args.size:
                kept = [s for s in earlier["steps"] if (s["step"], s["memory_limit"]) not in plan]
                for s in kept:  # measured in the earlier run: its date and load
                    s.setdefault("date", earlier.get("date"))
                    s.setdefault("load", earlier.get("load_after"))
    load_before = load_average()
    report: dict = {}
    steps: list[dict] = []
    for step, limit in plan:
        result = run_step(step, args.size, limit)
        result["date"] = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
        result["load"] = load_average()
        steps.append(result)
        every = kept + steps
        counts = {tuple(s.get("counts") or ()) for s in every if s["step"].startswith("funnel")}
        counts.discard(())
        report = {
            "size": args.size,
            "rows": _rows(args.size),
            "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
            "machine": machine(),
            "load_before": load_before,
            "load_after": load_average(),
            "funnel_steps": list(FUNNEL_STEPS),
            "funnel_counts_equal": len(counts) <= 1,
            "complete": len(steps) == len(plan),
            "steps": every,
        }
        OUT.write_text(json.dumps(report, indent=2, default=str) + "\n")
    print(f"wrote {OUT}")
    return 0 if all(s["ok"] for s in steps) and report.get("funnel_counts_equal") else 1


def _rows(size: str) -> int:
    import pyarrow.parquet as pq

    path = path_for(parse_size(size))
    return pq.read_metadata(path).num_rows if path.exists() else 0


if __name__ == "__main__":
    sys.exit(main())
