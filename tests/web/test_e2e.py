"""End to end in Debian's headless Chromium: what a person sees and clicks on the demo.

Screenshots land in ``tests/web/screenshots/`` (git-ignored) for a person to look at.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from e2e_server import needs_chromium, serve

from kundresa.report.units import format_count

SHOTS = Path(__file__).parent / "screenshots"

pytestmark = needs_chromium

PAGES = [
    ("map", "/"),
    ("map-circle", "/?view=circle"),
    ("funnel", "/funnel"),
    ("paths", "/paths"),
    ("retention", "/retention"),
    ("bottlenecks", "/bottlenecks"),
    ("compare", "/compare?by=variant"),
    ("attribution", "/attribution"),
    ("customer", "/customer?id=c000002"),
    ("editor", "/editor"),
    ("history", "/history"),
    ("data", "/data"),
]


@pytest.fixture(scope="module")
def base_url(demo_url: str) -> str:
    """The session's server of the unchanged demo (the tests that change data use
    ``edit_url``)."""
    return demo_url


@pytest.fixture(scope="module")
def edit_url(tmp_path_factory: pytest.TempPathFactory, demo_dir: Path) -> Iterator[str]:
    """A server of this module's own copy of the demo, for the tests that save a journey
    or upload events."""
    folder = tmp_path_factory.mktemp("e2e") / "demo"
    shutil.copytree(demo_dir, folder)
    with serve(folder) as server:
        yield server.url


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    pg = context.new_page()
    pg.errors = []  # console errors and uncaught exceptions
    pg.on("console", lambda m: pg.errors.append(m.text) if m.type == "error" else None)
    pg.on("pageerror", lambda e: pg.errors.append(str(e)))
    yield pg
    context.close()


def api(base_url: str, path: str) -> Any:
    with urllib.request.urlopen(base_url + path) as r:
        return json.loads(r.read())


def shot(page: Any, name: str) -> None:
    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def test_every_page_opens_without_errors(page: Any, base_url: str) -> None:
    for name, path in PAGES:
        page.goto(base_url + path)
        page.wait_for_load_state("networkidle")
        assert page.errors == [], (path, page.errors)
        charts = page.locator("[data-chart]")
        for i in range(charts.count()):
            # Every chart drew something (ECharts renders SVG).
            assert charts.nth(i).locator("svg").count() == 1, (path, i)
        shot(page, name)


def test_map_numbers_equal_the_api(page: Any, base_url: str) -> None:
    data = api(base_url, "/api/map?persona=business")
    page.goto(base_url + "/?persona=business")
    for s in data["stages"]:
        cell = page.locator(f'tr.numbers td[data-stage="{s["stage"]}"]')
        assert cell.locator("dd.reached").get_attribute("data-value") == str(s["reached"])
        assert cell.locator("dd.entered").get_attribute("data-value") == str(s["entered"])
        shown = cell.locator("dd.reached").inner_text()
        assert shown == format_count(s["reached"], "en")  # the page's language: 1,234
        for tp in s["touchpoints"]:
            li = page.locator(f'li[data-touchpoint="{tp["id"]}"]')
            assert li.locator(".customers").get_attribute("data-value") == str(tp["customers"])
        for k in s["kpis"]:
            li = page.locator(f'td[data-stage="{s["stage"]}"] li[data-metric="{k["metric"]}"]')
            assert ("missed" in (li.get_attribute("class") or "")) == (k["met"] is False)
    loss = page.locator("td.loss")
    assert loss.count() == 1 and loss.get_attribute("data-stage") == data["biggest_loss"]
    # The persona switch changes the numbers.
    page.select_option("select[name=persona]", "")
    page.click("form.filters button")
    page.wait_for_load_state("networkidle")
    everyone = api(base_url, "/api/map")["stages"][0]["reached"]
    first = page.locator("tr.numbers td dd.reached").first.get_attribute("data-value")
    assert first == str(everyone) != str(data["stages"][0]["reached"])


def test_map_on_a_phone(browser: Any, base_url: str) -> None:
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)
    pg = context.new_page()
    pg.goto(base_url + "/")
    pg.wait_for_load_state("networkidle")
    # The page itself does not scroll sideways; the map scrolls inside its frame.
    width = pg.evaluate("document.documentElement.scrollWidth")
    assert width <= 390
    shot(pg, "map-phone")
    for name in ("funnel", "paths", "retention", "data"):
        pg.goto(f"{base_url}/{name}")
        pg.wait_for_load_state("networkidle")
        assert pg.evaluate("document.documentElement.scrollWidth") <= 390, name
        shot(pg, f"{name}-phone")
    context.close()


def test_funnel_numbers_and_step_customers(page: Any, base_url: str) -> None:
    page.goto(base_url + "/funnel")
    steps, wanted = (
        page.locator("#funnel-builder input[name=steps]"),
        ["page_view", "checkout_start", "purchase"],
    )
    for i in range(steps.count()):  # one step per field; the rest left empty
        steps.nth(i).fill(wanted[i] if i < len(wanted) else "")
    page.fill("input[name=window]", "14d")
    page.click("#funnel-builder button[type=submit]")
    page.wait_for_load_state("networkidle")
    q = "?steps=page_view&steps=checkout_start&steps=purchase&window=14d"
    data = api(base_url, "/api/funnel" + q)
    rows = page.locator("#event-funnel tbody tr")
    assert rows.count() == 3
    for i, want in enumerate(data["funnel"]):
        cell = rows.nth(i).locator("td").nth(2)
        assert cell.get_attribute("data-value") == str(want["count"])
    for want in data["stages"]:
        assert page.locator(f'#stage-funnel td[data-value="{want["reached"]}"]').count() >= 1
    rows.nth(1).click()
    box = page.locator("#step-customers")
    box.locator("li").first.wait_for()
    total = api(base_url, "/api/funnel/customers" + q + "&step=2")["total"]
    assert total == data["funnel"][1]["count"]
    assert box.locator(".total").inner_text().startswith(format_count(total, "en"))
    shot(page, "funnel-step-customers")
    box.locator("li a").first.click()
    page.wait_for_load_state("networkidle")
    assert "/customer?id=" in page.url and page.locator("#timeline tbody tr").count() > 0
    assert page.errors == []


def test_edit_and_save_the_journey(page: Any, edit_url: str) -> None:
    page.goto(edit_url + "/editor")
    text = page.input_value("#journey-text")
    page.fill("#journey-text", text.replace("name: Nordljus Hem", "name: Nordljus Hem Web", 1))
    page.click("#save")
    page.wait_for_load_state("networkidle")
    assert page.locator("#saved").is_visible()
    page.goto(edit_url + "/")
    assert "Nordljus Hem Web" in page.locator("header .brand").inner_text()
    page.goto(edit_url + "/history")
    assert page.locator("#diff .add", has_text="Nordljus Hem Web").count() == 1
    shot(page, "history-after-save")
    # A broken file is refused with its line and column.
    page.goto(edit_url + "/editor")
    page.fill("#journey-text", "kundresa: 1\nname: x\nstages: 3\n")
    page.click("#save")
    assert page.locator("#problems li.error code").first.inner_text().startswith("3:")
    shot(page, "editor-problems")
    assert api(edit_url, "/api/map")["journey"]["name"] == "Nordljus Hem Web"


def test_upload_a_file_and_see_it_counted(page: Any, edit_url: str, tmp_path: Path) -> None:
    csv = tmp_path / "web-upload.csv"
    csv.write_text(
        "customer_id,timestamp,event\n"
        "web1,2025-07-01T09:00:00,page_view\n"
        "web1,2025-07-01T09:03:00,purchase\n"
        "web2,2025-07-02T09:00:00,ad_click\n"
        "web2,sometime,ad_click\n",
        encoding="utf-8",
    )
    page.goto(edit_url + "/data")
    before = int(page.get_attribute("#event-count", "data-value"))
    page.set_input_files("input[type=file]", str(csv))
    page.click("#upload-form button[type=submit]")
    # The ingest runs as a job; the page follows its progress and then shows the report.
    page.locator("#upload-report").wait_for(timeout=60_000)
    page.wait_for_load_state("networkidle")
    assert page.locator("#upload-report").is_visible()
    assert int(page.get_attribute("#event-count", "data-value")) == before + 3
    assert api(edit_url, "/api/data")["summary"]["events"] == before + 3
    assert page.locator("#quarantine tbody tr", has_text="sometime").count() == 1
    shot(page, "data-after-upload")


def test_an_upload_shows_progress_and_can_be_cancelled(
    page: Any, edit_url: str, tmp_path: Path
) -> None:
    """An upload's job, cancelled while it runs, leaves the warehouse as it was and the data
    page says so. The cancel goes out as soon as the job is accepted, through the page's own
    session and the endpoint its cancel button calls (app.js), so the job is stopped while
    it measures or reads the file: a file of 300,000 rows is ample (the page itself cannot
    draw while an ingest holds the project, so the button is reachable only before that)."""
    from playwright.sync_api import Error as PlaywrightError

    rows = "".join(
        f"m{i % 50_000},2025-07-{1 + i % 28:02d}T09:{i % 60:02d}:00,page_view,/p{i}\n"
        for i in range(300_000)
    )
    body = ("customer_id,timestamp,event,path\n" + rows).encode()
    page.goto(edit_url + "/data")
    before = int(page.get_attribute("#event-count", "data-value"))
    csrf = {"X-Kundresa-CSRF": page.get_attribute('meta[name="csrf-token"]', "content")}
    # The page's own session sends the file (its cookie and anti-forgery token) and does not
    # wait for the ingest; the data page then follows the job.
    r = page.request.post(
        edit_url + "/api/data/upload?wait=false",
        multipart={"file": {"name": "many-rows.csv", "mimeType": "text/csv", "buffer": body}},
        headers=csrf,
    )
    assert r.status == 202, r.text()
    job = r.json()["job"]["id"]
    cancel = page.request.post(f"{edit_url}/api/jobs/{job}/cancel", headers=csrf)
    assert cancel.status == 200, cancel.text()
    page.goto(f"{edit_url}/data?job={job}")
    # Still loading: the job's box with its progress (read from one rendering of the page: the
    # page reloads itself as soon as the job ends, which may be between two look-ups).
    html = ""
    with contextlib.suppress(PlaywrightError):  # (navigating: the job has just ended)
        html = page.content()
    if 'id="upload-job"' in html:
        assert 'id="upload-progress"' in html.split('id="upload-job"', 1)[1].split("</div>")[0]
        # The picture for people only: the page reloads itself when the job ends, which may
        # fall in the middle of a screenshot ("Unable to capture screenshot").
        with contextlib.suppress(PlaywrightError):
            shot(page, "data-upload-progress")
        with contextlib.suppress(PlaywrightError):  # (the job may end as the button is hit)
            page.click("#cancel-job", timeout=10_000)
        page.locator("#upload-cancelled, #upload-report").first.wait_for(timeout=180_000)
    # The page reloads itself when the job ends; read it once the job is over (asked of the
    # API), opening the job's page again if the reload came before the job's end.
    outcome = "#upload-cancelled, #upload-report, #upload-problem"
    deadline = time.monotonic() + 180
    while not page.locator(outcome).count() and time.monotonic() < deadline:
        if api(edit_url, f"/api/jobs/{job}")["state"] in ("done", "failed", "cancelled"):
            page.goto(f"{edit_url}/data?job={job}")
        else:
            time.sleep(1)
    assert page.locator(outcome).count(), (api(edit_url, f"/api/jobs/{job}"), page.url)
    # Cancelled long before 300,000 rows could load: the page says so and counts as before.
    assert page.locator("#upload-cancelled").is_visible(), api(edit_url, f"/api/jobs/{job}")
    assert api(edit_url, f"/api/jobs/{job}")["state"] == "cancelled"
    assert int(page.get_attribute("#event-count", "data-value")) == before
    assert api(edit_url, "/api/data")["summary"]["events"] == before
    assert page.errors == []
