"""Time every page of the web app on the demo project: first load and second load.

The first load computes the analyses; the second is served from the app's cache (keyed by the
project's version and the page's parameters), which is what a marketer clicking around sees.
The target: every page under a second after the first load on the 1M-event demo.

Usage::

    kundresa demo /tmp/kundresa-demo-1m --customers 190000 --no-serve   # about 1M events
    python bench/web_pages.py /tmp/kundresa-demo-1m

Prints a table and writes ``bench/WEB_PAGES.md`` (a section for RESULTS.md).
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import socket
import sys
import threading
import time
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

PAGES = [
    ("Journey map", "/"),
    ("Journey map, one persona", "/?persona=business"),
    ("Journey map, a period", "/?since=2025-04-01&until=2025-07-01"),
    ("Funnel", "/funnel"),
    ("Funnel, own steps", "/funnel?steps=page_view%0Acheckout_start%0Apurchase&window=7d"),
    ("Paths", "/paths"),
    ("Retention", "/retention"),
    ("Bottlenecks", "/bottlenecks"),
    ("Compare", "/compare?by=variant"),
    ("Attribution", "/attribution"),
    ("Customer", "/customer?id=c000042"),
    ("Editor", "/editor"),
    ("History", "/history"),
    ("Data", "/data"),
]
OUT = Path(__file__).resolve().parent / "WEB_PAGES.md"


def cpu_seconds() -> float:
    """User + system CPU time of this process (the server and DuckDB's threads run in it):
    what a page costs, much less disturbed than wall-clock time by other work on a shared
    machine."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def fetch(url: str) -> float:
    started = time.perf_counter()
    with urllib.request.urlopen(url, timeout=600) as r:
        r.read()
        assert r.status == 200, (url, r.status)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("project", type=Path)
    args = parser.parse_args()

    import uvicorn

    from kundresa.web import create_app

    app = create_app(args.project)
    info = app.state.project.project.info()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error"))
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.05)
    base = f"http://127.0.0.1:{port}"
    rows = []
    for name, path in PAGES:
        cpu = cpu_seconds()
        first = fetch(base + path)
        cpu = cpu_seconds() - cpu
        second = fetch(base + path)
        api_path = "/api/map" + path[1:] if path.startswith("/?") or path == "/" else "/api" + path
        api = fetch(base + api_path) if not path.startswith(("/editor", "/history")) else None
        rows.append((name, path, first, cpu, second, api))
        print(
            f"{name:28} first {first:7.2f} s (CPU {cpu:6.2f} s)   second {second:6.3f} s",
            flush=True,
        )
    server.should_exit = True
    slowest = max(r[4] for r in rows)
    load = " / ".join(f"{x:.1f}" for x in os.getloadavg())
    lines = [
        "## Web app pages (1M-event demo)",
        "",
        f"`python bench/web_pages.py` on the demo project: {info['events']:,} events, "
        f"{info['customers']:,} customers; {os.cpu_count()} cores, Python "
        f"{platform.python_version()}, {datetime.now(UTC):%Y-%m-%d}, load average at the end "
        f"{load}. Times are wall-clock "
        "seconds for the whole HTTP response (analysis, template, transfer) from a server on "
        "this machine; *second* is the next load of the same page, served from the app's "
        "cache, and *API* is its JSON twin after that; *CPU* is the server process' CPU "
        "time during the first load (all threads).",
        "",
        "| Page | URL | First load (s) | CPU (s) | Second load (s) | API (s) |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for name, path, first, cpu, second, api in rows:
        shown = f"{api:.3f}" if api is not None else "–"
        lines.append(f"| {name} | `{path}` | {first:.2f} | {cpu:.2f} | {second:.3f} | {shown} |")
    verdict = "meets" if slowest < 1 else "misses"
    lines += [
        "",
        f"Slowest second load: {slowest:.3f} s — {verdict} the target of under a second "
        "after the first load. First loads are the analyses themselves (the funnel page "
        "runs the stage funnel and the event funnel, its histogram and its trend through "
        "Project.run, sharing the stage funnel with the map; the attribution page every "
        "model plus a Markov chain per stage transition; paths four analyses). Analyses run "
        "through Project.run tag the events with touchpoints once per data and journey "
        "version, so the first page visited pays for it; `kundresa serve` requests the main "
        "pages once as soon as it listens "
        "(`kundresa.web.cli.WARM_PAGES`), so a person's first visit usually finds them "
        "cached. A new upload or a saved journey starts a new version and the pages are "
        "computed again on their next visit.",
        "",
    ]
    OUT.write_text("\n".join(lines), encoding="utf-8")
    print(f"wrote {OUT}")
    app.state.project.close()
    sys.exit(0 if slowest < 1 else 1)


if __name__ == "__main__":
    main()
