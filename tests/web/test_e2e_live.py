"""In a real browser: the map's numbers follow new events (refresh button and timer)."""

from __future__ import annotations

import json
import os
import shutil
import socket
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

CHROMIUM = os.environ.get("KUNDRESA_CHROMIUM", "/usr/bin/chromium")

pytestmark = pytest.mark.skipif(
    not Path(CHROMIUM).exists(),
    reason=f"no Chromium at {CHROMIUM} (make setup-test installs Debian's chromium)",
)


@pytest.fixture
def served(tmp_path: Path, demo_dir: Path) -> Iterator[tuple[str, Any]]:
    import uvicorn

    from kundresa.web import create_app

    folder = tmp_path / "demo"
    shutil.copytree(demo_dir, folder)
    app = create_app(folder)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline, "the server did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}", app
    server.should_exit = True
    thread.join(10)
    app.state.project.close()


def test_map_numbers_move_without_reloading(served: tuple[str, Any], tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    base_url, app = served
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = browser.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(base_url + "/")
        page.wait_for_load_state("networkidle")
        cell = page.locator('tr.numbers td[data-stage="awareness"] dd.reached')
        before = int(cell.get_attribute("data-value") or 0)
        # Fifty new customers click an ad: an upload, as the collector's loads would be.
        new = tmp_path / "new.csv"
        pd.DataFrame(
            {
                "customer_id": [f"new{i}" for i in range(50)],
                "timestamp": ["2025-12-31T12:00:00"] * 50,
                "event": ["ad_click"] * 50,
            }
        ).to_csv(new, index=False)
        app.state.project.ingest(new)
        page.click("#refresh-map")
        page.wait_for_function(
            "n => document.querySelector('tr.numbers td[data-stage=awareness] dd.reached')"
            ".getAttribute('data-value') == String(n)",
            arg=before + 50,
        )
        with urllib.request.urlopen(base_url + "/api/map") as r:
            api = json.loads(r.read())
        assert cell.inner_text() == f"{api['stages'][0]['reached']:,}"
        assert page.locator("#map-refreshed").inner_text() != ""
        assert errors == []
        browser.close()
