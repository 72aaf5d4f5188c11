"""Accessibility of every page to WCAG 2.1 A and AA, checked by axe-core in headless Chromium.

axe-core (``tests/web/vendor/axe.min.js``, MPL-2.0, test-only) is injected into each page of
the end-to-end tour (:data:`test_e2e.PAGES`), into a page with an inline form error and into
the pages of a project without events; the test asserts no violations of the rules tagged
``wcag2a``, ``wcag2aa``, ``wcag21a`` and ``wcag21aa`` and prints each one readably.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from e2e_server import needs_chromium, serve

AXE = Path(__file__).parent / "vendor" / "axe.min.js"

pytestmark = needs_chromium

#: The demo's pages (as tests/web/test_e2e.py tours them) and states a person meets.
DEMO_PAGES = [
    "/",
    "/?view=circle",
    "/funnel",
    "/funnel?steps=nosuchevent&window=forever",  # an inline error, the form kept
    "/paths",
    "/retention",
    "/bottlenecks",
    "/compare?by=variant",
    "/compare?by=variant&a=A&b=Z",  # an inline error on another form
    "/attribution",
    "/customer?id=c000002",
    "/customer",
    "/editor",
    "/history",
    "/history?confirm={version}",  # what a restore changes, and its form
    "/data",
]
#: A project with a journey and no events: every page says what to do.
EMPTY_PAGES = ["/", "/funnel", "/paths", "/retention", "/compare", "/data", "/history"]

TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory, demo_dir: Path) -> Iterator[dict[str, str]]:
    """The demo and an empty project, each served by uvicorn in a thread."""
    from kundresa.project import Project
    from kundresa.store.history import save_journey

    root = tmp_path_factory.mktemp("axe")
    shutil.copytree(demo_dir, root / "demo")
    text = (root / "demo" / "journey.yaml").read_text(encoding="utf-8")
    kept = save_journey(root / "demo", text.replace("name: ", "name: Renamed ", 1))["previous"]
    Project.init(root / "empty").close()
    with serve(root / "demo") as demo, serve(root / "empty") as empty:
        yield {"demo": demo.url, "empty": empty.url, "version": kept}


def _readable(path: str, violations: list[dict[str, Any]]) -> str:
    lines = []
    for v in violations:
        lines.append(f"{path}: [{v['impact']}] {v['id']}: {v['help']} ({v['helpUrl']})")
        for node in v["nodes"][:5]:
            lines.append(f"    {' '.join(node['target'])}: {node['html'][:160]}")
            if node.get("failureSummary"):
                lines.append("      " + node["failureSummary"].replace("\n", "\n      "))
        if len(v["nodes"]) > 5:
            lines.append(f"    … and {len(v['nodes']) - 5} more")
    return "\n".join(lines)


def _audit(browser: Any, base: str, paths: list[str]) -> str:
    script = AXE.read_text(encoding="utf-8")
    # bypass_csp: the app's Content-Security-Policy (rightly) refuses inline scripts, and
    # axe-core is injected as one.
    context = browser.new_context(viewport={"width": 1280, "height": 900}, bypass_csp=True)
    page = context.new_page()
    found = []
    try:
        for path in paths:
            page.goto(base + path)
            page.wait_for_load_state("networkidle")
            page.add_script_tag(content=script)
            result = page.evaluate(
                "tags => axe.run(document, {runOnly: {type: 'tag', values: tags}})", TAGS
            )
            if result["violations"]:
                found.append(_readable(path, result["violations"]))
    finally:
        context.close()
    return "\n".join(found)


def test_demo_pages_meet_wcag21_aa(browser: Any, servers: dict[str, str]) -> None:
    pages = [p.format(version=servers["version"]) for p in DEMO_PAGES]
    found = _audit(browser, servers["demo"], pages)
    assert not found, "axe-core found WCAG 2.1 A/AA violations:\n" + found


def test_empty_project_pages_meet_wcag21_aa(browser: Any, servers: dict[str, str]) -> None:
    found = _audit(browser, servers["empty"], EMPTY_PAGES)
    assert not found, "axe-core found WCAG 2.1 A/AA violations:\n" + found


def test_keyboard_alone_reaches_content_and_a_funnel_steps_customers(
    browser: Any, servers: dict[str, str]
) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    try:
        page.goto(servers["demo"] + "/funnel")
        page.wait_for_load_state("networkidle")
        page.keyboard.press("Tab")  # the first stop is the skip link
        assert page.evaluate("document.activeElement.className") == "skip"
        page.keyboard.press("Enter")
        assert page.evaluate("location.hash") == "#main"
        # A step's customers, from the keyboard: focus the step's button and press Enter.
        button = page.locator("#event-funnel tbody tr button.step").first
        assert button.count() == 1
        for _ in range(200):
            page.keyboard.press("Tab")
            if page.evaluate("document.activeElement.classList.contains('step')"):
                break
        else:
            raise AssertionError("Tab never reached a funnel step's button")
        page.keyboard.press("Enter")
        box = page.locator("#step-customers")
        box.wait_for(state="visible", timeout=30_000)
        page.locator("#step-customers ul li a").first.wait_for(timeout=30_000)
        # Every chart has a text alternative beyond its name.
        for chart in page.locator("[data-chart]").all():
            described = chart.get_attribute("aria-describedby")
            assert described, chart.get_attribute("id")
            assert page.locator(f"#{described}").count() == 1
            assert page.locator(f"#{described}").inner_text().strip(), described
    finally:
        context.close()
