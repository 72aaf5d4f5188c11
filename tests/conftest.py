"""Settings for the whole suite.

Hypothesis' timing checks (``deadline``, the ``too_slow`` health check) measure wall-clock time,
which on a shared 2-core CI machine says more about the machine's load than about the code; the
suite never asserts wall-clock time, so they are off for every property test. Each test still
sets its own example counts.

The in-place check's cache (``KUNDRESA_CHECK_CACHE``, :mod:`kundresa.store._proofs`) is off
(also for the processes the tests start): every test of the check sees the check run, and none
writes to the user's cache; ``tests/ingest/test_check_cache.py`` turns it on in a folder of its
own.
"""

from __future__ import annotations

import functools
import os
import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings

os.environ["KUNDRESA_CHECK_CACHE"] = "0"

# The Spark tests run a few hundred small queries in one short-lived JVM, whose time goes to
# warming up rather than computing: the client compiler alone (no C2) and the serial
# collector about halve it (bottlenecks' Spark test: 97-148 s -> 68-70 s on a loaded
# machine). Only the JVM's settings, not Spark's: the queries and plans are the user's.
os.environ.setdefault(
    "PYSPARK_SUBMIT_ARGS",
    "--driver-java-options '-XX:TieredStopAtLevel=1 -XX:+UseSerialGC' pyspark-shell",
)

settings.register_profile("kundresa", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("kundresa")


_SHARED_FIXTURE = re.compile(r"@pytest\.fixture\(\s*scope\s*=")


@functools.cache
def _shares_fixtures(path: str) -> bool:
    """Whether the test file ``path`` (relative to the root) or a ``conftest.py`` between it
    and ``tests/`` defines a fixture of a wider scope than one test (module, class, session):
    its tests then run on one worker, which builds that fixture once."""
    file = Path(__file__).parent.parent / path
    folders = [p for p in file.parents if p.name and (p / "conftest.py").is_file()]
    shared = [file] + [f / "conftest.py" for f in folders if f != Path(__file__).parent]
    for candidate in shared:
        try:
            if _SHARED_FIXTURE.search(candidate.read_text(encoding="utf-8")):
                return True
        except OSError:
            continue
    return False


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """With ``--dist loadfile`` (make test) the work is split into units that a worker runs
    whole, the largest first (xdist sorts them by number of tests):

    - every test whose id names Spark, whatever its file: each worker that meets one starts
      its own Spark JVM, which takes most of a minute to start and warm up;
    - the browser modules (tests/web/test_e2e*), one after another, so that they share one
      Chromium and one served demo with a warm cache (tests/web/conftest.py);
    - a file whose tests share a fixture wider than one test (its own, or a ``conftest.py``
      of its folders: a demo project, a PostgreSQL cluster), so that it is built once;
    - every other test on its own. Files of a few slow property tests would otherwise come
      last (they are the smallest units) and leave one worker running them alone at the end
      of the run while the other waits."""
    if config.getvalue("dist") != "loadfile":
        return None
    from xdist.scheduler import LoadFileScheduling

    class _Grouped(LoadFileScheduling):  # type: ignore[misc]
        def _split_scope(self, nodeid: str) -> str:
            if "spark" in nodeid.lower():
                return "spark"
            if nodeid.startswith("tests/web/test_e2e"):
                return "browser"
            scope: str = super()._split_scope(nodeid)
            if not scope.startswith("tests/") or _shares_fixtures(scope):
                return scope
            return nodeid

    return _Grouped(config, log)
