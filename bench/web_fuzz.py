"""Fuzz the web app's HTTP API from its OpenAPI description: ten thousand cases or more.

Schemathesis (in process, against the ASGI app) makes requests for every operation, both
ones that fit the description and ones that do not, on a small demo project served with an
access token. A case fails when the answer is 5xx or a status its operation does not list.
The figures go to ``bench/WEB_FUZZ.md`` and the "Web hardening" section of RESULTS.md.

Usage::

    python bench/web_fuzz.py                 # >= 10,000 cases (about 15-30 minutes)
    python bench/web_fuzz.py --cases 500     # a quick run
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
import warnings
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
OUT = BENCH / "WEB_FUZZ.md"
SEED = 20261130


def fuzz_round(app: Any, token: str, examples: int, seed: int, stats: dict[str, Any]) -> None:
    """One pass over every operation, ``examples`` cases each for valid and invalid data."""
    import schemathesis
    from hypothesis import HealthCheck, Phase, given, settings
    from hypothesis import seed as hseed
    from hypothesis.errors import Unsatisfiable
    from schemathesis import GenerationMode

    auth = {"Authorization": f"Bearer {token}"}
    schema = schemathesis.openapi.from_asgi("/openapi.json", app, headers=auth)
    raw = schema.raw_schema
    for result in schema.get_all_operations():
        op = result.ok()
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @hseed(seed)
            @settings(
                max_examples=examples,
                database=None,
                deadline=None,
                suppress_health_check=list(HealthCheck),
                phases=[Phase.generate],
            )
            @given(case=op.as_strategy(generation_mode=mode))
            def run(case: Any) -> None:
                # Some cases without the token: 401 is an answer the API lists too.
                headers = auth if stats["cases"] % 10 else {}
                response = case.call(headers=headers)
                stats["cases"] += 1
                stats["statuses"][response.status_code] += 1
                where = case.operation
                documented = set(raw["paths"][where.path][where.method.lower()]["responses"])
                code = str(response.status_code)
                stats["operations"][f"{where.method.upper()} {where.path}"] += 1
                if response.status_code >= 500:
                    stats["server_errors"].append((where.method, where.path, case.query))
                if code not in documented and "default" not in documented:
                    stats["undocumented"].append((where.method, where.path, response.status_code))

            try:
                run()
            except Unsatisfiable:
                continue  # an operation without parameters has nothing to get wrong


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=10_000, help="at least this many cases")
    parser.add_argument("--customers", type=int, default=150, help="demo project size")
    args = parser.parse_args()
    warnings.simplefilter("ignore")

    from kundresa.demo.project import build_demo
    from kundresa.web import create_app

    load = os.getloadavg()
    started = time.perf_counter()
    stats: dict[str, Any] = {
        "cases": 0,
        "statuses": Counter(),
        "operations": Counter(),
        "server_errors": [],
        "undocumented": [],
    }
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "demo"
        build_demo(folder, customers=args.customers, seed=3).close()
        app = create_app(folder, token="fuzz-token", upload_limit=500_000)
        seed, rounds = SEED, 0
        try:
            while stats["cases"] < args.cases:
                left = args.cases - stats["cases"]
                examples = max(5, min(150, left // 36 + 1))
                fuzz_round(app, "fuzz-token", examples, seed, stats)
                rounds += 1
                seed += 1
                print(
                    f"round {rounds}: {stats['cases']:,} cases, "
                    f"{len(stats['server_errors'])} 5xx, "
                    f"{len(stats['undocumented'])} undocumented",
                    flush=True,
                )
        finally:
            app.state.jobs.shutdown()
            app.state.project.close()
    elapsed = time.perf_counter() - started
    after = os.getloadavg()
    statuses = ", ".join(f"{code}: {n:,}" for code, n in sorted(stats["statuses"].items()))
    lines = [
        "### Fuzzing the HTTP API (`bench/web_fuzz.py`)",
        "",
        f"Schemathesis {_version('schemathesis')} against the ASGI app in process, on a demo "
        f"project of {args.customers} customers served with an access token; "
        f"{len(stats['operations'])} operations, valid and invalid data for each, seeds "
        f"{SEED}–{seed - 1}; {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, Python "
        f"{platform.python_version()}, {os.cpu_count()} cores.",
        "",
        "| cases | 5xx | undocumented statuses | time (s) |",
        "|---:|---:|---:|---:|",
        f"| {stats['cases']:,} | {len(stats['server_errors'])} | {len(stats['undocumented'])} "
        f"| {elapsed:.0f} |",
        "",
        f"Statuses: {statuses}. The machine is shared with other engineers' test runs (load "
        f"average {load[0]:.1f}/{load[1]:.1f}/{load[2]:.1f} before, "
        f"{after[0]:.1f}/{after[1]:.1f}/{after[2]:.1f} after), so the time is noisy; the "
        "counts are not.",
        "",
    ]
    if stats["server_errors"] or stats["undocumented"]:
        lines += ["First problems:", ""]
        for item in (stats["server_errors"] + stats["undocumented"])[:10]:
            lines.append(f"- `{item}`")
        lines.append("")
    OUT.write_text("\n".join(lines), encoding="utf-8")
    sys.path.insert(0, str(BENCH))
    from web_load import write_section

    write_section()
    print(f"wrote {OUT} and the Web hardening section of RESULTS.md")
    sys.exit(1 if stats["server_errors"] or stats["undocumented"] else 0)


def _version(name: str) -> str:
    from importlib.metadata import version

    return version(name)


if __name__ == "__main__":
    main()
