"""Ctrl-C in every test (under ``tests/`` and the doctests of ``src/``) as a person's terminal
delivers it: Python's own SIGINT handler, which raises ``KeyboardInterrupt``.

A suite started in the background (``make test &``, nohup) inherits SIGINT ignored, and so
would every process the tests start (an ignored signal stays ignored across exec); a test that
starts a Spark session leaves Kundresa's handler for it behind in its worker (the session's
jobs cancelled, then the handler before: :func:`kundresa.store.engines.spark_session`), which
a later test's own handler would chain to. Either way the tests of Ctrl-C would test nothing,
or fail by where the scheduler put them.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator

import pytest


def _python_handler() -> None:
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, signal.default_int_handler)


_python_handler()  # before the processes the tests start inherit it


@pytest.fixture(autouse=True)
def _python_sigint_handler() -> Iterator[None]:
    _python_handler()
    yield
