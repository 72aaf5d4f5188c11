"""In a real browser: the map's numbers follow new events (refresh button and timer)."""

from __future__ import annotations

import json
import shutil
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from e2e_server import needs_chromium, serve

pytestmark = needs_chromium


@pytest.fixture
def served(tmp_path: Path, demo_dir: Path) -> Iterator[tuple[str, Any]]:
    folder = tmp_path / "demo"
    shutil.copytree(demo_dir, folder)
    with serve(folder) as server:
        yield server.url, server.app


def test_map_numbers_move_without_reloading(
    browser: Any, served: tuple[str, Any], tmp_path: Path
) -> None:
    base_url, app = served
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
    page.close()
