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

from hypothesis import HealthCheck, settings

os.environ["KUNDRESA_CHECK_CACHE"] = "0"

settings.register_profile("kundresa", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("kundresa")
