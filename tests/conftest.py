"""Settings for the whole suite.

Hypothesis' timing checks (``deadline``, the ``too_slow`` health check) measure wall-clock time,
which on a shared 2-core CI machine says more about the machine's load than about the code; the
suite never asserts wall-clock time, so they are off for every property test. Each test still
sets its own example counts.
"""

from __future__ import annotations

from hypothesis import HealthCheck, settings

settings.register_profile("kundresa", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("kundresa")
