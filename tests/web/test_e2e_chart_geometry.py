"""The analysis pages' charts in Debian's headless Chromium, on a laptop and on a phone: no two
labels of a chart overlap and no label is clipped outside its chart.

Screenshots land in ``tests/web/screenshots/`` (git-ignored) for a person to look at.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from e2e_server import needs_chromium

SHOTS = Path(__file__).parent / "screenshots"

pytestmark = needs_chromium

PAGES = [
    ("funnel", "/funnel"),
    ("funnel-by", "/funnel?by=persona"),
    ("funnel-incomplete", "/funnel?until=2025-11-01&lang=sv"),  # a dashed, grey tail
    ("paths", "/paths"),
    ("paths-event", "/paths?level=event"),
    ("paths-stage", "/paths?level=stage"),
    ("retention", "/retention"),
    ("bottlenecks", "/bottlenecks"),
    ("compare", "/compare?by=variant"),
    ("attribution", "/attribution"),
    ("customer", "/customer?id=c000002"),
    ("funnel-sv", "/funnel?lang=sv"),
    ("retention-da", "/retention?lang=da"),
]
VIEWPORTS = [("desktop", 1440, 900), ("phone", 390, 844)]

#: Every <text> of every chart: its box, and its SVG's box (in CSS pixels).
_BOXES = """
() => Array.from(document.querySelectorAll("[data-chart]")).map((el) => {
  const svg = el.querySelector("svg");
  if (!svg) return { chart: el.id, svg: null, texts: [] };
  const s = svg.getBoundingClientRect();
  const texts = Array.from(svg.querySelectorAll("text")).filter((t) => {
    const st = window.getComputedStyle(t);
    return t.textContent.trim() !== "" && st.display !== "none" && st.visibility !== "hidden"
      && Number(st.opacity) > 0 && Number(t.getAttribute("opacity") || 1) > 0;
  }).map((t) => {
    const r = t.getBoundingClientRect();
    return { text: t.textContent, x: r.left, y: r.top, w: r.width, h: r.height };
  }).filter((b) => b.w > 0 && b.h > 0);
  return { chart: el.id, svg: { x: s.left, y: s.top, w: s.width, h: s.height }, texts };
})
"""


@pytest.fixture(scope="module")
def base_url(demo_url: str) -> str:
    """The session's server of the unchanged demo."""
    return demo_url


def _overlap(a: dict[str, float], b: dict[str, float], slack: float = 1.0) -> bool:
    """Whether two boxes overlap by more than ``slack`` pixels each way."""
    return (
        min(a["x"] + a["w"], b["x"] + b["w"]) - max(a["x"], b["x"]) > slack
        and min(a["y"] + a["h"], b["y"] + b["h"]) - max(a["y"], b["y"]) > slack
    )


def _problems(charts: list[dict[str, Any]]) -> list[str]:
    out = []
    for c in charts:
        svg, texts = c["svg"], c["texts"]
        if svg is None:
            out.append(f"{c['chart']}: no SVG")
            continue
        for t in texts:
            inside = (
                t["x"] >= svg["x"] - 1
                and t["y"] >= svg["y"] - 1
                and t["x"] + t["w"] <= svg["x"] + svg["w"] + 1
                and t["y"] + t["h"] <= svg["y"] + svg["h"] + 1
            )
            if not inside:
                out.append(f"{c['chart']}: {t['text']!r} clipped")
        for i, a in enumerate(texts):
            for b in texts[i + 1 :]:
                if _overlap(a, b):
                    out.append(f"{c['chart']}: {a['text']!r} overlaps {b['text']!r}")
    return out


def test_two_helpers_see_overlap_and_clipping() -> None:
    """The checks themselves: a clipped label and two overlapping labels are found."""
    svg = {"x": 0, "y": 0, "w": 100, "h": 100}
    a = {"text": "a", "x": 10, "y": 10, "w": 30, "h": 12}
    b = {"text": "b", "x": 30, "y": 15, "w": 30, "h": 12}
    c = {"text": "c", "x": 90, "y": 50, "w": 30, "h": 12}
    found = _problems([{"chart": "x", "svg": svg, "texts": [a, b, c]}])
    assert found == ["x: 'c' clipped", "x: 'a' overlaps 'b'"]
    assert _problems([{"chart": "x", "svg": svg, "texts": [a]}]) == []


@pytest.mark.parametrize(("size", "width", "height"), VIEWPORTS)
def test_chart_labels_never_collide_or_clip(
    browser: Any, base_url: str, size: str, width: int, height: int
) -> None:
    context = browser.new_context(viewport={"width": width, "height": height})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    found: list[str] = []
    try:
        for name, path in PAGES:
            page.goto(base_url + path)
            page.wait_for_load_state("networkidle")
            SHOTS.mkdir(exist_ok=True)
            page.screenshot(path=str(SHOTS / f"geometry-{name}-{size}.png"), full_page=True)
            charts = page.evaluate(_BOXES)
            for c in charts:  # each chart on its own, to look at closely
                page.locator(f"#{c['chart']}").screenshot(
                    path=str(SHOTS / f"geometry-{name}-{size}-{c['chart']}.png")
                )
            found += [f"{path}: {p}" for p in _problems(charts)]
    finally:
        context.close()
    assert errors == []
    assert found == [], "\n".join(found)


@pytest.mark.parametrize("lang", ["en", "sv", "da"])
def test_chart_numbers_and_dates_as_the_tables_write_them(
    browser: Any, base_url: str, lang: str
) -> None:
    """Axis labels use the page's language, from the same place as the tables
    (kundresa.report.units): ``15.0%`` / ``15,0 %``, ``Dec 30, 2024`` / ``30 dec. 2024``."""
    from kundresa.report.units import format_count, format_date, format_rate

    context = browser.new_context(viewport={"width": 1440, "height": 900})
    page = context.new_page()
    try:
        page.goto(f"{base_url}/funnel?lang={lang}")
        page.wait_for_load_state("networkidle")
        texts = page.eval_on_selector_all(
            "#trend-chart svg text", "els => els.map(e => e.textContent)"
        )
        rates = [t for t in texts if "%" in t]
        assert rates and all(
            t == format_rate(float(t.strip("%\xa0 ").replace(",", ".")) / 100, lang) for t in rates
        ), rates
        data = page.evaluate("JSON.parse(document.getElementById('page-data').textContent)")
        first = format_date(data["trend"][0]["period"][:10], lang)
        assert first in texts, (first, texts)
        # The tooltip of a period gives its sample size (n), as the table under the chart.
        chart = page.locator("#trend-chart")
        chart.scroll_into_view_if_needed()
        box = chart.bounding_box()
        page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
        page.mouse.move(box["x"] + box["width"] / 2 + 2, box["y"] + box["height"] / 2)
        tip_box = page.locator("#trend-chart div", has_text="(n):").last
        tip_box.wait_for(state="visible", timeout=10_000)
        tip = tip_box.inner_text()
        shown = [r for r in data["trend"] if format_date(r["period"][:10], lang) in tip]
        assert len(shown) == 1, tip
        assert f"(n): {format_count(shown[0]['started'], lang)}" in tip, tip
    finally:
        context.close()
