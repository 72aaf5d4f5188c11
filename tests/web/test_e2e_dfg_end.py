"""The process map (directly-follows graph) on the paths page: "(end)" once per layer beside
the activities that end there, so edges into it are short and carry their counts, and no two
texts of the map overlap (Chromium)."""

from __future__ import annotations

import json
import urllib.request
from typing import Any

from e2e_server import needs_chromium
from test_e2e_map_geometry import TEXT_BOXES, overlaps

pytestmark = needs_chromium


def test_end_sits_beside_the_activities_that_end(browser: Any, demo_url: str) -> None:
    with urllib.request.urlopen(demo_url + "/api/paths") as r:
        dfg = json.loads(r.read())["dfg"]
    enders = {e["source"] for e in dfg if e["target"] == "(end)"}
    assert len(enders) > 2  # the demo's journeys end at several activities
    page = browser.new_page(viewport={"width": 1440, "height": 900})
    page.goto(demo_url + "/paths")
    page.wait_for_load_state("networkidle")
    boxes = page.evaluate(TEXT_BOXES, "#dfg-chart")
    page.close()
    ends = [b for b in boxes if b["text"] == "(end)"]
    assert len(ends) > 1, [b["text"] for b in boxes]  # one per layer, not one for all
    assert not any("\u2060" in b["text"] for b in boxes)
    assert overlaps(boxes) == []
