"""The whole-process funnel: ``kundresa funnel --events FILE.parquet`` against a chDB process.

Each run is a fresh process, as a user at a shell starts it, on the same Parquet file:

- ours: ``kundresa funnel --events FILE --step visit --step signup --step purchase --window 7d
  --format json`` (start-up, reading the file in place after its set-wise check, or with
  ``--copy`` also ``KUNDRESA_IN_PLACE=0``: the ordinary ingest into an in-memory warehouse;
  the fast path; the table with counts, conversions and mean and median times), run twice:
  ``ours`` with the check cache in a folder of the bench's own (the file's event ids proven
  by the warm-up round, as for a person's second command on a file), ``ours_first`` with
  ``KUNDRESA_CHECK_CACHE=0`` (every run proves them, as a first command does);
- peer: ``python -c "import chdb; chdb.query(<windowFunnel SQL>)"`` (the query of
  ``funnel_vs_chdb.py``: counts per level only).

Runs are interleaved (peer, ours, ours first, [ours copying], peer, ...) so that the machine's
load hits them alike; the load average is recorded before and after. Each process's CPU
seconds (user + system, from the children's resource usage) are printed beside its wall time:
on a loaded machine they compare where wall times do not. Start-up is measured on its own:
``python -c pass``, ``kundresa --version``, ``kundresa funnel --help`` and ``import chdb``.
``PYTHONDONTWRITEBYTECODE`` is removed from the children's environment (this environment sets
it, which makes every import recompile its bytecode). Counts must be equal (exit 1 if not).

With ``--without-event-ids`` every run reads a copy of the file without its ``event_id``
column (the same row groups and codec): the rows' deduplication key is then every field, so
no check cache applies and ``ours`` is a first command too.

Usage: ``bench/.venv/bin/python bench/funnel_process.py 1M 10M --shape dense --reps 3``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import emit, load_average, median
from funnel_vs_chdb import chdb_sql
from generate import SHAPE_STEPS, SHAPES, generate, parse_size

BIN = Path(sys.executable).parent


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env.update(extra)
    return env


def _cpu() -> float:
    """CPU seconds (user + system) of this process's finished children so far."""
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    return used.ru_utime + used.ru_stime


def _run(cmd: list[str], env: dict[str, str]) -> tuple[float, str, float]:
    """Wall seconds, standard output and CPU seconds (user + system) of one process."""
    cpu = _cpu()
    start = time.perf_counter()
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    took = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(cmd[:3])}...: exit {done.returncode}\n{done.stderr[-2000:]}")
    return took, done.stdout, _cpu() - cpu


def ours_cmd(path: Path, steps: tuple[str, ...]) -> list[str]:
    cmd = [str(BIN / "kundresa"), "funnel", "--events", str(path)]
    for s in steps:
        cmd += ["--step", s]
    return [*cmd, "--window", "7d", "--format", "json"]


def ours_counts(stdout: str) -> list[int]:
    rows = json.loads(stdout)
    rows = rows.get("rows", rows) if isinstance(rows, dict) else rows
    return [int(r["count"]) for r in rows]


PEER = """
import sys, chdb
df = chdb.query(sys.argv[1], "DataFrame")
levels = dict(zip(df["level"].astype(int), df["customers"].astype(int)))
print([sum(n for lv, n in levels.items() if lv >= j) for j in range(1, int(sys.argv[2]) + 1)])
"""


def peer_cmd(path: Path, steps: tuple[str, ...]) -> list[str]:
    return [sys.executable, "-c", PEER, chdb_sql(path, steps), str(len(steps))]


_COMPILED = "from kundresa import native; print('loads' if native.kernels() else 'is not there')"


def startup(reps: int) -> dict[str, float]:
    cmds = {
        "python -c pass": [sys.executable, "-c", "pass"],
        "kundresa --version": [str(BIN / "kundresa"), "--version"],
        "kundresa funnel --help": [str(BIN / "kundresa"), "funnel", "--help"],
        "python -c 'import chdb'": [sys.executable, "-c", "import chdb"],
    }
    times: dict[str, list[float]] = {k: [] for k in cmds}
    for _ in range(reps + 1):  # the first round warms the file cache
        for k, cmd in cmds.items():
            times[k].append(_run(cmd, _env())[0])
    return {k: median(v[1:]) for k, v in times.items()}


def without_event_ids(path: Path) -> Path:
    """A copy of the events file ``path`` without its ``event_id`` column, beside it (made once,
    again when ``path`` is newer): its row groups of the same size, compressed alike."""
    import pyarrow.parquet as pq

    target = path.with_name(f"{path.stem}_without_ids.parquet")
    if target.exists() and target.stat().st_mtime >= path.stat().st_mtime:
        return target
    meta = pq.ParquetFile(path).metadata
    rows = meta.row_group(0).num_rows if meta.num_row_groups else None
    codec = meta.row_group(0).column(0).compression.lower() if meta.num_row_groups else "zstd"
    table = pq.read_table(path)
    tmp = target.with_suffix(".parquet.tmp")
    pq.write_table(table.drop_columns(["event_id"]), tmp, row_group_size=rows, compression=codec)
    tmp.replace(target)
    return target


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="kundresa funnel --events vs a chDB process")
    ap.add_argument("sizes", nargs="+", help="events: 1M, 10M")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--shape", choices=SHAPES, default="dense")
    ap.add_argument("--copy", action="store_true", help="also time KUNDRESA_IN_PLACE=0")
    ap.add_argument(
        "--numba", action="store_true", help="also time KUNDRESA_NATIVE=0 (numba's kernels)"
    )
    ap.add_argument(
        "--without-event-ids",
        action="store_true",
        help="read a copy of the file without its event_id column",
    )
    args = ap.parse_args(argv)
    failed = False
    load0 = load_average()
    boot = startup(args.reps)
    compiled = _run([str(BIN / "python"), "-c", _COMPILED], _env())[1].strip()
    print(f"ours: the kernels' ahead-of-time compiled code {compiled} (make bench-setup builds it)")
    for k, v in boot.items():
        print(f"start-up  {k:<26} median {v:.2f} s")
    for size in args.sizes:
        path = generate(parse_size(size), shape=args.shape)
        if args.without_event_ids:
            path = without_event_ids(path)
        steps = SHAPE_STEPS[args.shape]
        checks = tempfile.mkdtemp(prefix="kundresa-bench-checks-")
        runs = {
            "chdb": (peer_cmd(path, steps), _env(), lambda out: json.loads(out)),
            "ours": (ours_cmd(path, steps), _env(KUNDRESA_CHECK_CACHE=checks), ours_counts),
            "ours_first": (ours_cmd(path, steps), _env(KUNDRESA_CHECK_CACHE="0"), ours_counts),
        }
        if args.copy:
            runs["ours_copy"] = (ours_cmd(path, steps), _env(KUNDRESA_IN_PLACE="0"), ours_counts)
        if args.numba:
            runs["ours_numba"] = (ours_cmd(path, steps), _env(KUNDRESA_NATIVE="0"), ours_counts)
        times: dict[str, list[float]] = {k: [] for k in runs}
        cpu: dict[str, list[float]] = {k: [] for k in runs}
        counts: dict[str, list[int]] = {}
        before = load_average()
        for rep in range(args.reps + 1):  # rep 0 warms the file cache and numba's cache
            for name, (cmd, env, parse) in runs.items():
                took, out, used = _run(cmd, env)
                counts[name] = parse(out)
                if rep:
                    times[name].append(took)
                    cpu[name].append(round(used, 2))
        after = load_average()
        shutil.rmtree(checks, ignore_errors=True)
        equal = all(c == counts["chdb"] for c in counts.values())
        shape = f"{args.shape}{' without event ids' if args.without_event_ids else ''}"
        print(f"{size} {shape}: load {before[0]:.1f} -> {after[0]:.1f}; counts {counts}")
        for name, ts in times.items():
            ratio = median(ts) / median(times["chdb"])
            cpu_ratio = median(cpu[name]) / median(cpu["chdb"])
            print(
                f"  {name:<10} median {median(ts):6.2f} s  {[round(t, 2) for t in ts]}  "
                f"/chdb {ratio:.2f}; CPU {median(cpu[name]):.2f} s /chdb {cpu_ratio:.2f}"
            )
        emit(
            {
                "bench": "funnel_process",
                "size": size,
                "shape": args.shape,
                "event_ids": not args.without_event_ids,
                "startup_s": boot,
                "times_s": times,
                "cpu_s": cpu,
                "counts": counts,
                "equal": equal,
                "load_before_after": [before, after],
                "load_start": load0,
                "compiled_kernels": compiled == "loads",
            }
        )
        failed |= not equal
    if failed:
        print("ERROR: counts differ from chDB's windowFunnel", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
