"""In a real browser: the map's numbers follow new events (refresh button and timer)."""

from __future__ import annotations

import json
import re
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


def test_the_live_state_labels_and_values_do_not_overlap_on_a_phone(
    browser: Any, served: tuple[str, Any], tmp_path: Path
) -> None:
    """A long value (three touchpoints' labels) wraps beside its label: before, the value
    column took the whole width at 390 px, the label's column shrank to nothing and the
    value was drawn over "Stage" and "Last touchpoints"."""
    base_url, app = served
    new = tmp_path / "live.csv"
    pd.DataFrame(
        {
            "customer_id": ["phone-1"] * 3,
            "timestamp": ["2025-12-31T12:00:00", "2025-12-31T12:05:00", "2025-12-31T12:10:00"],
            "event": ["ad_click", "page_view", "purchase"],
            "path": ["", "/pricing", ""],
        }
    ).to_csv(new, index=False)
    app.state.project.ingest(new)
    for width in (390, 1366):
        page = browser.new_page(viewport={"width": width, "height": 844})
        page.goto(base_url + "/customer?id=phone-1")
        page.wait_for_load_state("networkidle")
        boxes = page.evaluate(
            "() => [...document.querySelectorAll('#live-state dl.live > *')].map(e => {"
            "const range = document.createRange(); range.selectNodeContents(e);"
            "const r = range.getBoundingClientRect();"  # the text as drawn, not its box
            "return {text: e.innerText, left: r.left, right: r.right, top: r.top,"
            " bottom: r.bottom}; })"
        )
        assert len(boxes) == 8 and "," in boxes[7]["text"], boxes
        for dt, dd in zip(boxes[::2], boxes[1::2], strict=True):
            across = min(dt["right"], dd["right"]) - max(dt["left"], dd["left"])
            down = min(dt["bottom"], dd["bottom"]) - max(dt["top"], dd["top"])
            assert across <= 1 or down <= 1, (width, dt["text"], dd["text"])
        assert page.evaluate("document.documentElement.scrollWidth") <= width
        page.close()


def test_a_visit_axis_within_a_minute_reads_seconds(
    browser: Any, served: tuple[str, Any], tmp_path: Path
) -> None:
    """A customer whose stage visits fall within seconds (as live events do): the time
    axis' ticks carry their seconds, each tick read once (they all read "12:00 PM")."""
    base_url, app = served
    new = tmp_path / "quick.csv"
    pd.DataFrame(
        {
            "customer_id": ["quick"] * 4,
            "timestamp": [f"2025-12-31T12:00:{s:02d}" for s in (0, 20, 40, 50)],
            "event": ["ad_click", "checkout_start", "purchase", "purchase"],
        }
    ).to_csv(new, index=False)
    app.state.project.ingest(new)
    with urllib.request.urlopen(base_url + "/api/customer?id=quick") as r:
        visits = json.loads(r.read())["visits"]
    assert len({v["stage"] for v in visits}) >= 3
    page = browser.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(base_url + "/customer?id=quick")
    page.wait_for_load_state("networkidle")
    texts = page.eval_on_selector_all(
        "#visits-chart svg text", "els => els.map(e => e.textContent || '')"
    )
    stages = {v["label"] for v in visits}
    ticks = [t for t in texts if t.strip() and t not in stages]
    assert len(ticks) >= 2, texts
    assert len(ticks) == len(set(ticks)), ticks
    assert any(re.search(r"\d:\d\d:\d\d", t) for t in ticks), ticks
    assert errors == []
    page.close()
