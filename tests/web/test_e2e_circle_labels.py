"""The circle view of a journey with many stages and long names: no two texts meet, every
label stays inside the drawing and a name too long for its room ends in "…" (Chromium)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from e2e_server import needs_chromium, serve
from test_e2e_map_geometry import SIZES, TEXT_BOXES, overlaps

pytestmark = needs_chromium

LONG = (
    "Ett mycket mycket långt fasnamn som aldrig tar slut utan fortsätter och fortsätter "
    "Supercalifragilisticexpialidocious"
)
#: Four more stages (nine in all) after the demo's five, none reached: long names, a word
#: wider than any label, markup and right-to-left text.
EXTRA = [
    ("x0", "<script>alert(1)</script>&amp; Förhandlingsfasen"),
    ("x1", "Förhandling med en mycket lång beskrivning"),
    ("x2", "مرحلة التجديد العربية"),
    ("x3", LONG),
]


@pytest.fixture(scope="module")
def nine_stages(tmp_path_factory: pytest.TempPathFactory, demo_dir: Path) -> Iterator[str]:
    folder = tmp_path_factory.mktemp("circle") / "demo"
    shutil.copytree(demo_dir, folder)
    journey = folder / "journey.yaml"
    text = journey.read_text(encoding="utf-8")
    stages = "".join(
        f"- id: {sid}\n  label:\n"
        + "".join(f"    {lang}: '{label}'\n" for lang in ("sv", "da", "en"))
        for sid, label in EXTRA
    )
    head, sep, tail = text.partition("\npersonas:")
    assert sep, "the demo journey has personas after its stages"
    journey.write_text(head + "\n" + stages.rstrip("\n") + sep + tail, encoding="utf-8")
    with serve(folder) as server:
        yield server.url


@pytest.mark.parametrize("size", list(SIZES))
def test_nine_stages_with_long_names_do_not_overlap(
    browser: Any, nine_stages: str, size: str
) -> None:
    width, height = SIZES[size]
    page = browser.new_page(viewport={"width": width, "height": height})
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(f"{nine_stages}/?view=circle&lang=sv")
    page.wait_for_load_state("networkidle")
    assert errors == []
    boxes = page.evaluate(TEXT_BOXES, "#map-circle")
    box = page.locator("#map-circle").bounding_box()
    page.close()
    texts = " ".join(b["text"] for b in boxes)
    assert "Medvet" in texts and "…" in texts, texts  # the long name is cut, not dropped
    assert len([b for b in boxes if b["text"].endswith("0")]) >= 4  # every stage has its count
    assert overlaps(boxes) == [], size
    for b in boxes:
        assert box["x"] - 1 <= b["x"] and b["x"] + b["w"] <= box["x"] + box["width"] + 1, b
        assert box["y"] - 1 <= b["y"] and b["y"] + b["h"] <= box["y"] + box["height"] + 1, b
