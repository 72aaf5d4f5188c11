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

import os
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


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """With ``--dist loadfile`` (make test), every test whose id names Spark runs on one
    worker, whatever its file: each worker that meets one starts its own Spark JVM, which
    takes most of a minute to start and warm up. The browser modules (tests/web/test_e2e*)
    run one after another on one worker too, so that they share one Chromium and one served
    demo with a warm cache (tests/web/conftest.py). The other tests stay grouped by file."""
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
            return scope

    return _Grouped(config, log)
