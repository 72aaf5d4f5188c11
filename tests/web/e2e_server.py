"""What the browser (end-to-end) tests share: where Chromium is, and a uvicorn server in a
thread serving a project folder on a free loopback port.

The fixtures built on these (one Chromium per session, one server of the unchanged demo per
session) are in ``conftest.py``; a test module that changes its project's data, or needs a
project of its own (another journey, no events, hostile text), starts its own server with
:func:`serve`.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = os.environ.get("KUNDRESA_CHROMIUM", "/usr/bin/chromium")

#: Marks a browser test: skipped where there is no Chromium.
needs_chromium = pytest.mark.skipif(
    not Path(CHROMIUM).exists(),
    reason=f"no Chromium at {CHROMIUM} (make setup-test installs Debian's chromium)",
)


class Server:
    """``create_app(folder, **options)`` served by uvicorn in a daemon thread; ``url`` is
    its address and ``app`` the application (its project is ``app.state.project``)."""

    def __init__(self, folder: Path, **options: Any) -> None:
        import uvicorn

        from kundresa.web import create_app

        self.app = create_app(folder, **options)
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.server = uvicorn.Server(
            uvicorn.Config(self.app, host="127.0.0.1", port=port, log_level="error")
        )
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            assert time.monotonic() < deadline, "the server did not start"
            time.sleep(0.05)

    def stop(self) -> None:
        """Stop the server and close its project's warehouse."""
        self.server.should_exit = True
        self.thread.join(10)
        self.app.state.project.close()


@contextmanager
def serve(folder: Path, **options: Any) -> Iterator[Server]:
    """A :class:`Server` of ``folder`` for the ``with`` block."""
    server = Server(folder, **options)
    try:
        yield server
    finally:
        server.stop()
