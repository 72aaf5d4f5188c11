"""Segment's own Python library sends to the collector of a served project."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from kundresa.project import Project

KEY = "sdk-write-key"


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, Any]]:
    """A project served by uvicorn on a free loopback port: (base URL, app)."""
    import uvicorn

    from kundresa.web import create_app

    Project.init(tmp_path / "shop").close()
    app = create_app(tmp_path / "shop", write_key=KEY)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.02)
    yield f"http://127.0.0.1:{port}", app
    server.should_exit = True
    thread.join()
    app.state.project.close()


@pytest.mark.parametrize("gzip", [False, True])
def test_segment_analytics_python_sends_and_the_analyses_see_it(
    served: tuple[str, Any], gzip: bool
) -> None:
    from segment.analytics import Client

    url, app = served
    errors: list[Any] = []
    client = Client(
        KEY, host=url, sync_mode=True, gzip=gzip, on_error=lambda e, b: errors.append(e)
    )
    when = datetime(2026, 4, 1, 9, 0, tzinfo=UTC)
    client.page(
        "anon-7", category="Docs", name="Pricing", timestamp=when, properties={"path": "/pricing"}
    )
    client.identify("anna", {"plan": "pro"}, timestamp=when, anonymous_id="anon-7")
    client.track("anna", "purchase", {"revenue": 120.0}, timestamp=when.replace(hour=10))
    client.alias("anon-8", "anna", timestamp=when)
    client.track("anon-8", "purchase", {"revenue": 80.0}, timestamp=when.replace(hour=11))
    client.flush()
    assert errors == []
    state = app.state.project
    deadline = time.monotonic() + 30
    while True:
        with state.lock:
            count = state.project.warehouse.event_count()
        if count == 3:
            break
        assert time.monotonic() < deadline, f"{count} of 3 events loaded"
        time.sleep(0.05)
    with state.lock:
        stages = state.project.run("stages").frame.set_index("stage")
        wh = state.project.warehouse
        person = wh.identity("anon-8")
        rows = wh.con.execute(
            "SELECT event, value, properties['path'], event_id IS NOT NULL FROM events "
            "ORDER BY timestamp"
        ).fetchall()
    assert rows == [
        ("page_view", None, "/pricing", True),
        ("purchase", 120.0, None, True),
        ("purchase", 80.0, None, True),
    ]
    assert person["customer_id"] == "anna"
    # One person: the pricing page, the first purchase and a repeat purchase.
    assert stages.loc["consideration", "entered"] == 1
    assert stages.loc["decision", "entered"] == 1
    assert stages.loc["retention", "reached"] == 1
