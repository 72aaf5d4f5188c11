"""The process map (directly-follows graph) on the paths page: "(end)" once per layer beside
the activities that end there, so edges into it are short and carry their counts, and no two
texts of the map overlap (Chromium)."""

from __future__ import annotations

import json
import shutil
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from test_e2e_circle_labels import _serve
from test_e2e_map_geometry import CHROMIUM, TEXT_BOXES, overlaps

pytestmark = pytest.mark.skipif(
    not Path(CHROMIUM).exists(),
    reason=f"no Chromium at {CHROMIUM} (make setup-test installs Debian's chromium)",
)


@pytest.fixture(scope="module")
def demo_url(tmp_path_factory: pytest.TempPathFactory, demo_dir: Path) -> Iterator[str]:
    folder = tmp_path_factory.mktemp("dfg") / "demo"
    shutil.copytree(demo_dir, folder)
    yield from _serve(folder)


def test_end_sits_beside_the_activities_that_end(demo_url: str) -> None:
    from playwright.sync_api import sync_playwright

    with urllib.request.urlopen(demo_url + "/api/paths") as r:
        dfg = json.loads(r.read())["dfg"]
    enders = {e["source"] for e in dfg if e["target"] == "(end)"}
    assert len(enders) > 2  # the demo's journeys end at several activities
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1440, "height": 900})
        page.goto(demo_url + "/paths")
        page.wait_for_load_state("networkidle")
        boxes = page.evaluate(TEXT_BOXES, "#dfg-chart")
        browser.close()
    ends = [b for b in boxes if b["text"] == "(end)"]
    assert len(ends) > 1, [b["text"] for b in boxes]  # one per layer, not one for all
    assert not any("\u2060" in b["text"] for b in boxes)
    assert overlaps(boxes) == []
