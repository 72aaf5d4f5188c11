"""Benchmark events: the demo company's journeys at 1M, 10M or 100M rows, as one Parquet file.

The demo generator (:func:`kundresa.demo.generator.generate_events`) makes realistic,
non-linear journeys (about 5.35 events per customer: ads, pricing pages, carts, purchases,
repeat cycles, NPS answers...). It builds a whole table in memory, so this script calls it
once per chunk of about a million events, with its own seed and a disjoint customer range
(customer, event and session ids get a chunk prefix), and appends each chunk to a Parquet
file: 100M rows never sit in memory at once (peak RSS 1.3 GiB, measured at 2M: it does
not grow with the size).

Ties: each customer's timestamps are made strictly increasing, in whole seconds, keeping the
generator's order (time, then event name): a tie or an out-of-order second moves the later
event forward by the fewest seconds needed (``t_i = max(t_i, t_{i-1} + 1)``). So no engine's
tie rule can change a count: DuckDB (ours), ClickHouse's ``windowFunnel`` and pm4py all see one
order per customer, and whole seconds read the same as ClickHouse ``DateTime``.

Files are cached under ``bench/data/`` (git-ignored) as ``events_<size>.parquet``; a file is
reused when its row count and the generator version in its metadata match.

Two synthetic shapes stress what the demo does not (``--shape``; files
``events_<shape>_<size>.parquet``):

- ``dense``: one customer per 10 events (1M customers at 10M), five event names with
  ``visit`` 40% of all events (``visit`` 40%, ``view`` 25%, ``signup`` 15%, ``support`` 10%,
  ``purchase`` 10%), times uniform over 90 days; the funnel is visit → signup → purchase.
- ``skewed``: the dense shape, except that 20 customers hold 100k events each (2M of 10M
  at 10M; a tenth of the rows at smaller sizes): a few very long sequences.

Both keep each customer's timestamps unique whole seconds, as the demo shape does.

Usage::

    python bench/generate.py 10M            # prints the path
    python bench/generate.py 10M --shape dense
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

DATA = Path(__file__).resolve().parent / "data"
EVENTS_PER_CUSTOMER = 5.355  # measured on the demo generator (1,017,439 events / 190,000)
CHUNK_EVENTS = 1_000_000
SHAPES = ("demo", "dense", "skewed")
SHAPE_STEPS = {
    "demo": ("ad_click", "checkout_start", "purchase"),
    "dense": ("visit", "signup", "purchase"),
    "skewed": ("visit", "signup", "purchase"),
}
DENSE_EVENTS = ("visit", "view", "signup", "support", "purchase")
DENSE_SHARES = (0.40, 0.25, 0.15, 0.10, 0.10)
DENSE_DAYS = 90
HEAVY_CUSTOMERS = 20
HEAVY_EVENTS = 100_000
VERSION = "1"  # bump when the data this script writes changes
_META_ROWS = b"kundresa.bench.rows"
_META_VERSION = b"kundresa.bench.version"


def parse_size(text: str) -> int:
    """``1M``, ``10M``, ``100M``, ``250k`` or a plain number of events."""
    t = text.strip().upper().replace("_", "")
    scale = {"K": 1_000, "M": 1_000_000, "G": 1_000_000_000}
    if t and t[-1] in scale:
        return int(float(t[:-1]) * scale[t[-1]])
    return int(t)


def size_label(rows: int) -> str:
    """The short name of a size: 1M, 10M, 100M, 250k."""
    if rows % 1_000_000 == 0:
        return f"{rows // 1_000_000}M"
    if rows % 1_000 == 0:
        return f"{rows // 1_000}k"
    return str(rows)


def path_for(rows: int, shape: str = "demo") -> Path:
    if shape == "demo":
        return DATA / f"events_{size_label(rows)}.parquet"
    return DATA / f"events_{shape}_{size_label(rows)}.parquet"


def _unique_seconds(codes: np.ndarray, secs: np.ndarray) -> np.ndarray:
    """Each customer's seconds (rows sorted by customer, then time) made strictly increasing:
    ``t_i = max(t_i, t_{i-1} + 1)``."""
    n = len(secs)
    new = np.diff(codes, prepend=-1) != 0
    starts = np.flatnonzero(new)
    group = np.cumsum(new) - 1
    idx = np.arange(n) - starts[group]
    big = np.int64(10**12)
    key = secs - idx + group * big
    return np.maximum.accumulate(key) - group * big + idx


def synthetic_table(index: int, customers: int, events: int, prefix: str) -> pa.Table:
    """One chunk of the dense shape: ``events`` events over ``customers`` customers."""
    rng = np.random.default_rng(20_000 + index)
    cust = np.sort(rng.integers(0, customers, events))
    secs = rng.integers(0, DENSE_DAYS * 86_400, events) + 1_735_689_600  # from 2025-01-01
    order = np.lexsort((secs, cust))
    cust, secs = cust[order], secs[order]
    secs = _unique_seconds(cust, secs)
    names = rng.choice(len(DENSE_EVENTS), size=events, p=DENSE_SHARES)
    dictionary = pa.array(DENSE_EVENTS)
    ids = pc.binary_join_element_wise(
        prefix, pc.cast(pa.array(cust + index * 10_000_000), pa.string()), ""
    )
    event_ids = pc.binary_join_element_wise(
        f"e{index:04d}-", pc.cast(pa.array(np.arange(events)), pa.string()), ""
    )
    n = events
    return pa.table(
        {
            "customer_id": ids,
            "timestamp": pa.array(secs * 1_000_000, pa.int64()).cast(pa.timestamp("us")),
            "event": pc.take(dictionary, pa.array(names)),
            "channel": pa.nulls(n, pa.string()),
            "value": pa.nulls(n, pa.float64()),
            "event_id": event_ids,
            "session_id": pa.nulls(n, pa.string()),
        }
    )


def _synthetic_chunks(rows: int, shape: str) -> list[tuple[int, int, str]]:
    """(events, customers, id prefix) per chunk of the dense or skewed shape."""
    heavy = 0
    if shape == "skewed":
        heavy = min(HEAVY_CUSTOMERS * HEAVY_EVENTS, rows // 10 if rows < 10_000_000 else rows)
        heavy = min(heavy, HEAVY_CUSTOMERS * HEAVY_EVENTS)
    rest = rows - heavy
    chunks = max(1, math.ceil(rest / CHUNK_EVENTS))
    out = [(rest // chunks, max(1, rest // chunks // 10), "d") for _ in range(chunks)]
    if heavy:
        out.append((heavy, HEAVY_CUSTOMERS, "h"))
    return out


def chunk_table(index: int, customers: int) -> pa.Table:
    """One chunk of demo events with ids prefixed by the chunk number and unique seconds."""
    from kundresa.demo.generator import generate_events

    t = generate_events(customers, seed=10_000 + index)
    prefix = f"k{index:04d}-"
    cust = t["customer_id"].combine_chunks()
    # The table is sorted by customer, then time and event: unique, increasing seconds.
    secs = pc.divide(t["timestamp"].cast(pa.int64()), 1_000_000).to_numpy()
    codes = pc.dictionary_encode(cust).indices.to_numpy().astype(np.int64)
    n = len(secs)
    starts = np.flatnonzero(np.diff(codes, prepend=-1) != 0)
    group = np.cumsum(np.diff(codes, prepend=-1) != 0) - 1
    idx = np.arange(n) - starts[group]
    big = np.int64(10**12)
    key = secs - idx + group * big  # per-customer running max, groups kept apart by `big`
    fixed = np.maximum.accumulate(key) - group * big + idx
    assert np.all((np.diff(fixed) > 0) | (np.diff(group) != 0)), "timestamps not increasing"
    ts = pa.array(fixed * 1_000_000, pa.int64()).cast(pa.timestamp("us"))

    def pre(col: str, p: str) -> pa.Array:
        return pc.binary_join_element_wise(p, t[col], "")

    return (
        t.set_column(0, "customer_id", pre("customer_id", prefix))
        .set_column(1, "timestamp", ts)
        .set_column(t.schema.get_field_index("event_id"), "event_id", pre("event_id", prefix))
        .set_column(t.schema.get_field_index("session_id"), "session_id", pre("session_id", prefix))
    )


def _cached(path: Path, rows: int) -> bool:
    if not path.exists():
        return False
    try:
        meta = pq.read_metadata(path).metadata or {}
    except Exception:
        return False
    return (
        meta.get(_META_ROWS) == str(rows).encode() and meta.get(_META_VERSION) == VERSION.encode()
    )


def generate(rows: int, *, force: bool = False, quiet: bool = False, shape: str = "demo") -> Path:
    """Write (or reuse) ``events_<size>.parquet`` with about ``rows`` events; its path.

    Chunks of ~1M events (``rows`` below that: one chunk of that size). The actual number of
    rows is within a fraction of a percent of ``rows`` (whole customers); it is in the file.
    """
    if shape not in SHAPES:
        raise SystemExit(f"unknown shape {shape!r}; use one of {', '.join(SHAPES)}")
    path = path_for(rows, shape)
    if not force and _cached(path, rows):
        return path
    DATA.mkdir(parents=True, exist_ok=True)
    chunks = max(1, math.ceil(rows / CHUNK_EVENTS))
    per_chunk = rows / chunks
    customers = max(1, round(per_chunk / EVENTS_PER_CUSTOMER))
    plan = _synthetic_chunks(rows, shape) if shape != "demo" else []
    if plan:
        chunks = len(plan)
    tmp = path.with_suffix(".parquet.tmp")
    writer: pq.ParquetWriter | None = None
    written = 0
    started = time.perf_counter()
    try:
        for i in range(chunks):
            if plan:
                events, people, letter = plan[i]
                t = synthetic_table(i, people, events, f"{letter}{i:04d}-")
            else:
                t = chunk_table(i, customers)
            if writer is None:
                schema = t.schema.with_metadata(
                    {_META_ROWS: str(rows).encode(), _META_VERSION: VERSION.encode()}
                )
                writer = pq.ParquetWriter(tmp, schema, compression="zstd")
            writer.write_table(t.replace_schema_metadata(writer.schema.metadata))
            written += t.num_rows
            if not quiet:
                took = time.perf_counter() - started
                print(
                    f"  chunk {i + 1}/{chunks}: {written:,} events, {took:.0f} s",
                    file=sys.stderr,
                    flush=True,
                )
    finally:
        if writer is not None:
            writer.close()
    os.replace(tmp, path)
    return path


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("size", help="number of events: 1M, 10M, 100M or a number")
    ap.add_argument("--force", action="store_true", help="regenerate even when cached")
    ap.add_argument("--shape", choices=SHAPES, default="demo", help="the data's shape")
    args = ap.parse_args(argv)
    rows = parse_size(args.size)
    path = generate(rows, force=args.force, shape=args.shape)
    meta = pq.read_metadata(path)
    print(f"{path} ({meta.num_rows:,} events, {path.stat().st_size / 1e6:.0f} MB)")


if __name__ == "__main__":
    main()
