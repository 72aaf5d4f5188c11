"""The journey map as a designer would hang it, measured in Debian's headless Chromium.

Loads the map (grid and circle, every persona) at a desktop (1440x900) and a phone (390x844)
size and checks its geometry: no two pieces of text of the map, the emotion curve or the circle
overlap; the emotion curve's points sit on the centres of the stage columns and every persona's
line can be seen; no page scrolls sideways on a phone. Screenshots land in
``tests/web/screenshots/`` (git-ignored) for a person to look at.
"""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from e2e_server import needs_chromium
from test_e2e import PAGES

SHOTS = Path(__file__).parent / "screenshots"
SIZES = {"desktop": (1440, 900), "phone": (390, 844)}

pytestmark = needs_chromium

#: The rectangles of every piece of visible text under the elements ``selector`` finds:
#: one per line box of each text node (HTML), one per SVG <text> (the charts).
TEXT_BOXES = """(selector) => {
  const out = [];
  let node = 0;
  const keep = (r, text, where, el) => {
    // What shows of the text: its box cut by every ancestor that hides what overflows it
    // (not by one that scrolls: the text is there to scroll to).
    let [x0, y0, x1, y1] = [r.left, r.top, r.right, r.bottom];
    const hides = (v) => v === "hidden" || v === "clip";
    for (let e = el; e && e.nodeType === 1 && e !== document.body; e = e.parentElement) {
      const s = getComputedStyle(e);
      if (hides(s.overflowX) || hides(s.overflowY)) {
        const c = e.getBoundingClientRect();
        [x0, y0, x1, y1] = [Math.max(x0, c.left), Math.max(y0, c.top), Math.min(x1, c.right),
                            Math.min(y1, c.bottom)];
      }
    }
    if (x1 - x0 < 1 || y1 - y0 < 1) return;
    out.push({x: x0, y: y0, w: x1 - x0, h: y1 - y0, text: text.trim().slice(0, 40), where,
              node});
  };
  const visible = (el) => {
    for (let e = el; e && e.nodeType === 1; e = e.parentElement) {
      const s = getComputedStyle(e);
      if (s.display === "none" || s.visibility === "hidden" || s.opacity === "0") return false;
    }
    return true;
  };
  document.querySelectorAll(selector).forEach((root) => {
    const clip = root.closest(".chart") || root;
    const box = clip.getBoundingClientRect();
    const inside = (r) => r.right > box.left + 1 && r.left < box.right - 1 &&
      r.bottom > box.top + 1 && r.top < box.bottom - 1;
    root.querySelectorAll("svg text").forEach((t) => {
      if (!t.textContent.trim() || !visible(t)) return;
      node += 1;
      keep(t.getBoundingClientRect(), t.textContent, "svg", null);
    });
    const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
    for (let n = walker.nextNode(); n; n = walker.nextNode()) {
      if (!n.textContent.trim() || n.parentElement.closest("svg, script, .sr")) continue;
      if (!visible(n.parentElement)) continue;
      const range = document.createRange();
      range.selectNodeContents(n);
      node += 1;
      for (const r of range.getClientRects()) {
        if (inside(r)) keep(r, n.textContent, "html", n.parentElement);
      }
    }
  });
  return out;
}"""


def overlaps(boxes: list[dict[str, Any]], slack: float = 1.0) -> list[tuple[str, str]]:
    """Pairs of text boxes that overlap by more than ``slack`` pixels both ways."""
    out = []
    for i, a in enumerate(boxes):
        for b in boxes[i + 1 :]:
            if a.get("node") is not None and a.get("node") == b.get("node"):
                continue  # the line boxes of one text
            dx = min(a["x"] + a["w"], b["x"] + b["w"]) - max(a["x"], b["x"])
            dy = min(a["y"] + a["h"], b["y"] + b["h"]) - max(a["y"], b["y"])
            if dx > slack and dy > slack:
                out.append((a["text"], b["text"]))
    return out


def test_overlaps_finds_overlapping_boxes() -> None:
    a = {"x": 0, "y": 0, "w": 50, "h": 10, "text": "a"}
    b = {"x": 40, "y": 5, "w": 50, "h": 10, "text": "b"}
    c = {"x": 0, "y": 10, "w": 50, "h": 10, "text": "c"}  # touches a's bottom edge only
    assert overlaps([a, b]) == [("a", "b")]
    assert overlaps([a, c]) == []


@pytest.fixture(scope="module")
def base_url(demo_url: str) -> str:
    """The session's server of the unchanged demo."""
    return demo_url


@pytest.fixture(scope="module", params=list(SIZES))
def page(request: pytest.FixtureRequest, browser: Any) -> Iterator[Any]:
    width, height = SIZES[request.param]
    context = browser.new_context(viewport={"width": width, "height": height})
    pg = context.new_page()
    pg.size = request.param
    pg.errors = []
    pg.on("console", lambda m: pg.errors.append(m.text) if m.type == "error" else None)
    pg.on("pageerror", lambda e: pg.errors.append(str(e)))
    yield pg
    context.close()


def api(base_url: str, path: str) -> Any:
    with urllib.request.urlopen(base_url + path) as r:
        return json.loads(r.read())


def open_page(page: Any, url: str, name: str) -> None:
    page.goto(url)
    page.wait_for_load_state("networkidle")
    assert page.errors == [], (url, page.errors)
    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SHOTS / f"geometry-{name}-{page.size}.png"), full_page=True)


def personas(base_url: str) -> list[str]:
    return ["", *(p["id"] for p in api(base_url, "/api/map")["personas"])]


@pytest.mark.parametrize("view", ["grid", "circle"])
def test_no_text_overlaps_on_the_map(page: Any, base_url: str, view: str) -> None:
    # Every persona in English, and all customers in Swedish and Danish (longer words); the
    # last load sets the language back to English (a ?lang= choice is kept in a cookie).
    loads = [(p, "en") for p in personas(base_url)] + [("", "sv"), ("", "da"), ("", "en")]
    for persona, lang in loads:
        open_page(
            page,
            f"{base_url}/?view={view}&persona={persona}&lang={lang}",
            f"{view}-{persona or 'all'}-{lang}",
        )
        for part in ("#journey-map", "#emotion-curve", "#map-circle", "header.top"):
            boxes = page.evaluate(TEXT_BOXES, part)
            if page.locator(part).count():  # what is on the page has text to measure
                assert boxes, (part, persona)
            assert (page.locator(part).count() == 1) == (part != "#map-circle" or view == "circle")
            assert overlaps(boxes) == [], (view, persona, part)
        if view == "circle":  # and every label is whole, inside the drawing
            box = page.locator("#map-circle").bounding_box()
            for b in page.evaluate(TEXT_BOXES, "#map-circle"):
                assert b["x"] >= box["x"] - 1 and b["x"] + b["w"] <= box["x"] + box["width"] + 1, b
                assert b["y"] >= box["y"] - 1 and b["y"] + b["h"] <= box["y"] + box["height"] + 1, b


def test_emotion_points_sit_on_the_stage_columns(page: Any, base_url: str) -> None:
    open_page(page, f"{base_url}/", "emotions")
    data = api(base_url, "/api/map")
    centres = page.evaluate(
        """() => [...document.querySelectorAll('#journey-map thead th[data-stage]')].map(
             (th) => { const r = th.getBoundingClientRect(); return r.left + r.width / 2; })"""
    )
    points = page.evaluate(
        """(n) => {
          const el = document.getElementById('emotion-curve');
          const chart = echarts.getInstanceByDom(el), left = el.getBoundingClientRect().left;
          return [...Array(n).keys()].map((i) => left + chart.convertToPixel({xAxisIndex: 0}, i));
        }""",
        len(data["stages"]),
    )
    assert points == pytest.approx(centres, abs=2)


def test_every_emotion_line_can_be_seen(page: Any, base_url: str) -> None:
    data = api(base_url, "/api/map")
    open_page(page, f"{base_url}/", "emotion-lines")
    series = page.evaluate(
        """() => echarts.getInstanceByDom(document.getElementById('emotion-curve'))
             .getOption().series.map((s) => ({name: s.name, data: s.data.map(
               (d) => d == null ? null : (typeof d === 'object' ? d.value : d))}))"""
    )
    names = {p["id"]: p["name"] for p in data["personas"]}
    drawn = {s["name"]: s["data"] for s in series}
    for pid in data["emotions"]:
        assert names.get(pid, pid) in drawn
    # No two lines lie on each other, even where two personas feel the same.
    lines = [tuple(d) for d in drawn.values()]
    assert len(set(lines)) == len(lines), drawn
    legend = page.evaluate(TEXT_BOXES, "#emotion-curve")
    for pid in data["emotions"]:
        assert any(b["text"] == names.get(pid, pid) for b in legend), pid
    for m in data["measured_emotions"]:
        assert m["name"] in drawn


def test_empty_lanes_fold_into_an_add_hint(page: Any, base_url: str) -> None:
    open_page(page, f"{base_url}/", "lanes")
    data = api(base_url, "/api/map")
    for lane in ("needs", "challenges"):
        if any(s["lanes"].get(lane) for s in data["stages"]):
            continue
        assert page.locator(f"tr.lane-{lane}").count() == 0, lane
        hint = page.locator(f'.empty-lanes a[data-lane="{lane}"]')
        assert hint.count() == 1 and hint.get_attribute("href").startswith("/editor")


def test_no_page_scrolls_sideways_on_a_phone(page: Any, base_url: str) -> None:
    if page.size != "phone":
        pytest.skip("a desktop page may be wider than a phone")
    for name, path in PAGES:
        open_page(page, base_url + path, f"page-{name}")
        width = page.evaluate(
            "() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]"
        )
        assert width[0] <= width[1], (path, width)


def test_the_nav_is_compact_on_a_phone(page: Any, base_url: str) -> None:
    open_page(page, f"{base_url}/", "nav")
    height = page.evaluate("() => document.querySelector('header.top').offsetHeight")
    if page.size == "phone":
        assert height <= 844 / 8, height
        assert not page.locator("header.top nav.wide").is_visible()
        page.click("header.top details.menu summary")
        links = page.locator("header.top details.menu nav a")
        assert links.count() >= 10 and links.last.is_visible()
        # Open, the menu lies over the page; it does not push the page down or sideways.
        assert page.evaluate("() => document.querySelector('header.top').offsetHeight") == height
        scroll = (
            "() => document.documentElement.scrollWidth <= document.documentElement.clientWidth"
        )
        assert page.evaluate(scroll)
        SHOTS.mkdir(exist_ok=True)
        page.screenshot(path=str(SHOTS / "geometry-nav-open-phone.png"))
    else:
        assert page.locator("header.top nav.wide a").first.is_visible()
        assert not page.locator("header.top details.menu").is_visible()


def test_dates_are_written_in_the_page_language(page: Any, base_url: str) -> None:
    open_page(page, f"{base_url}/customer?id=c000002&lang=sv", "customer-sv")
    page.context.clear_cookies()  # back to the journey's language for the tests after
    first = page.locator("#timeline td.when").first
    iso = first.get_attribute("data-value")
    shown = first.inner_text()
    assert iso and "." not in shown.split(" ")[-1] and shown != iso
    month = {"01": "jan.", "11": "nov.", "12": "dec."}.get(iso[5:7])
    if month:
        assert month in shown


def test_timeline_channel_is_the_map_channel(page: Any, base_url: str) -> None:
    data = api(base_url, "/api/customer?id=c000002")
    tp_channels = {
        tp["id"]: tp["channel"]
        for s in api(base_url, "/api/map")["stages"]
        for tp in s["touchpoints"]
    }
    for e in data["events"]:
        if e["touchpoint"] and tp_channels.get(e["touchpoint"]):
            assert e["touchpoint_channel"] == tp_channels[e["touchpoint"]]
    open_page(page, f"{base_url}/customer?id=c000002", "timeline")
    rows = page.locator("#timeline tbody tr")
    for i in range(rows.count()):
        cells = rows.nth(i).locator("td")
        tp = cells.nth(2).get_attribute("data-touchpoint")
        if tp and tp_channels.get(tp):
            assert cells.nth(4).get_attribute("data-channel") == tp_channels[tp]
            assert "_" not in cells.nth(2).inner_text()  # a label, not an id


def test_a_short_visit_axis_reads_times_not_one_date_again(page: Any, base_url: str) -> None:
    """A customer whose stage visits fall within hours: the time axis' ticks read the day and
    then times of day, each once (they read the same date at every tick)."""
    short = "c000005"  # two stages 11.5 hours apart on one day in the seed-3 demo
    visits = api(base_url, f"/api/customer?id={short}")["visits"]
    assert len(visits) >= 2
    open_page(page, f"{base_url}/customer?id={short}", "customer-short")
    texts = page.eval_on_selector_all(
        "#visits-chart svg text", "els => els.map(e => e.textContent || '')"
    )
    stages = {v["label"] for v in visits}
    ticks = [t for t in texts if t.strip() and t not in stages]
    assert len(ticks) >= 2, texts
    assert len(ticks) == len(set(ticks)), ticks
    assert any(":" in t for t in ticks), ticks
