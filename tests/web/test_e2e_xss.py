"""Hostile text in every user-controlled field runs no script, in Debian's headless Chromium.

The project gets markup in stage labels, persona names, lane text, touchpoint and channel
labels, event names, property values, a customer id and file names; every page is opened
and every chart hovered over a grid of points (which opens their tooltips). A script that
ran would set ``window.__xss`` or open a dialog; markup that was parsed would leave an
``<img src=x>`` or ``<svg>`` in the page, and the Content-Security-Policy would report the
blocked handler as a console error. None of that may happen, and the hostile text must still
be *shown* (as text) in a chart's tooltip.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
import yaml
from e2e_server import needs_chromium, serve

IMG = "<img src=x onerror=window.__xss=1>"
SCRIPT = '"><script>window.__xss=2</script>'
SVG = "'><svg onload=window.__xss=3>"
EVIL_EVENT = f"signup {IMG}"
EVIL_VALUE = f"vip {SCRIPT}"
EVIL_CUSTOMER = f"cx{SVG}"

pytestmark = needs_chromium


def _hostile_journey(path: Path) -> None:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    for i, stage in enumerate(data["stages"]):
        stage["label"] = {k: f"{v} {(IMG, SCRIPT, SVG)[i % 3]}" for k, v in stage["label"].items()}
        stage["goal"] = f"goal {SCRIPT}"
    for p in data["personas"]:
        p["name"] = f"{p['name']} {IMG}"
        p["needs"] = [f"need {SVG}"]
    for c in data["channels"]:
        c["label"] = f"{c.get('label', c['id'])} {SCRIPT}"
    for t in data["touchpoints"]:
        t["label"] = f"{t['id']} {IMG}"
    data["touchpoints"].insert(
        0, {"id": "evil_signup", "stage": "consideration", "match": {"event": EVIL_EVENT}}
    )
    for lane in ("activities", "pain_points", "content"):
        data["lanes"][lane] = {s["id"]: [f"{lane} {IMG}", SCRIPT] for s in data["stages"]}
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")


def _hostile_events(folder: Path) -> Path:
    """Events whose names, property values and customer id are markup (a file whose own
    name is markup, too)."""
    rows = ["customer_id,timestamp,event,plan,path"]
    for n in range(40):
        who = EVIL_CUSTOMER if n == 0 else f"x{n:03d}"
        day = 1 + n % 20
        plan = EVIL_VALUE if n % 2 else "basic"
        rows.append(
            f'{who},2025-05-{day:02d}T09:00:00,ad_click,"{plan.replace(chr(34), 2 * chr(34))}",/'
        )
        rows.append(f"{who},2025-05-{day:02d}T10:00:00,{EVIL_EVENT},x,/")
        if n % 3:
            rows.append(f"{who},2025-05-{day:02d}T11:00:00,purchase,x,/")
    target = folder / "evil <img src=x onerror=window.__xss=5>.csv"
    target.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return target


@pytest.fixture(scope="module")
def hostile_url(tmp_path_factory: pytest.TempPathFactory, demo_dir: Path) -> Iterator[str]:
    from kundresa.project import Project

    folder = tmp_path_factory.mktemp("xss") / "demo"
    shutil.copytree(demo_dir, folder)
    _hostile_journey(folder / "journey.yaml")
    events = _hostile_events(tmp_path_factory.mktemp("xss-files"))
    project = Project.open(folder)
    try:
        report = project.ingest([events])
        assert report.loaded > 0
    finally:
        project.close()
    with serve(folder) as server:
        yield server.url


PAGES = [
    "/",
    "/?view=circle",
    "/?persona=private",
    "/funnel",
    f"/funnel?steps=ad_click&steps={quote(EVIL_EVENT)}&steps=purchase&by=plan",
    "/paths",
    "/paths?level=event",
    "/paths?level=channel",
    "/retention",
    "/bottlenecks",
    "/compare?by=plan",
    "/attribution",
    "/attribution?level=touchpoint",
    f"/customer?id={quote(EVIL_CUSTOMER)}",
    "/customer?id=x001",
    "/editor",
    "/history",
    "/data",
]


# The tooltips shown while the mouse moves over a chart, read in the page itself: the text of
# every shown tooltip (a chart's absolutely placed div without an SVG) is checked whenever the
# page's markup changes and once more at the end, and the page counts the checks that found
# the hostile markup as text. (Reading them back after each move cost a round trip per point.)
_WATCH_TOOLTIPS = """() => {
  const shown = () => Array.from(document.querySelectorAll('[data-chart] > div'))
    .filter(d => d.style.display !== 'none' && d.style.position === 'absolute'
      && !d.querySelector('svg')).map(d => d.innerText).join('\\n');
  const hostile = t => t.includes('<img src=x') || t.includes('<script>')
    || t.includes('<svg onload');
  window.__tipsSeen = 0;
  window.__tipsCheck = () => { if (hostile(shown())) window.__tipsSeen += 1; };
  if (window.__tipsWatch) window.__tipsWatch.disconnect();
  window.__tipsWatch = new MutationObserver(window.__tipsCheck);
  window.__tipsWatch.observe(document.body,
    {subtree: true, childList: true, characterData: true, attributes: true});
}"""
_TOOLTIPS_SEEN = """() => {
  window.__tipsWatch.takeRecords();
  window.__tipsCheck();
  window.__tipsWatch.disconnect();
  return window.__tipsSeen;
}"""


def _no_script_ran(page: Any, where: str, dialogs: list[str]) -> None:
    assert page.evaluate("window.__xss === undefined"), where
    assert dialogs == [], (where, dialogs)
    parsed = page.evaluate(
        'document.querySelectorAll(\'img[src="x"], svg[onload], script:not([src]):not('
        '[type="application/json"])\').length'
    )
    assert parsed == 0, where


def test_hostile_text_runs_no_script_anywhere(
    browser: Any, hostile_url: str, tmp_path: Path
) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    errors: list[str] = []
    dialogs: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    tooltips_with_markup = 0
    for url in PAGES:
        page.goto(hostile_url + url)
        page.wait_for_load_state("networkidle")
        _no_script_ran(page, url, dialogs)
        charts = page.locator("[data-chart]")
        for i in range(charts.count()):
            chart = charts.nth(i)
            chart.scroll_into_view_if_needed()
            box = chart.bounding_box()
            if not box or box["width"] < 10:
                continue
            page.evaluate(_WATCH_TOOLTIPS)
            for fx in (0.1, 0.25, 0.4, 0.5, 0.6, 0.75, 0.9):
                for fy in (0.15, 0.35, 0.5, 0.65, 0.85):
                    page.mouse.move(box["x"] + fx * box["width"], box["y"] + fy * box["height"])
            tooltips_with_markup += page.evaluate(_TOOLTIPS_SEEN)
            _no_script_ran(page, f"{url} chart {i}", dialogs)
        assert errors == [], (url, errors)
    # The hostile text reached the tooltips, and was shown there as text.
    assert tooltips_with_markup > 0
    # A file whose name is markup, uploaded from the data page.
    upload = tmp_path / "up <img src=x onerror=window.__xss=6>.csv"
    upload.write_text(
        f"customer_id,timestamp,event\nz9,2025-06-01T10:00:00,{EVIL_EVENT}\n", encoding="utf-8"
    )
    page.goto(hostile_url + "/data")
    page.set_input_files("input[type=file]", str(upload))
    page.click("#upload-form button[type=submit]")
    page.locator("#upload-report").wait_for(timeout=60_000)
    _no_script_ran(page, "/data after upload", dialogs)
    assert errors == [], errors
    context.close()
