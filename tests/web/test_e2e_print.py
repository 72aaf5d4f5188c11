"""Printing a page in Debian's headless Chromium: the print stylesheet leaves the content
only (no navigation, filter forms or buttons) and keeps table rows and the map's Channels
row whole."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from e2e_server import needs_chromium

pytestmark = needs_chromium

PAGES = ["/", "/funnel", "/paths", "/retention", "/compare?by=variant", "/editor", "/data"]


@pytest.fixture(scope="module")
def print_url(demo_url: str) -> str:
    """The session's server of the unchanged demo."""
    return demo_url


@pytest.fixture(scope="module")
def printer(browser: Any) -> Iterator[Any]:
    """One page (1280x900) for the module, in the session's Chromium."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    yield context.new_page()
    context.close()


def _visible(page: Any, selector: str) -> int:
    loc = page.locator(selector)
    return sum(1 for i in range(loc.count()) if loc.nth(i).is_visible())


def test_print_shows_no_navigation_forms_or_buttons(printer: Any, print_url: str) -> None:
    for path in PAGES:
        printer.emulate_media(media="screen")
        printer.goto(print_url + path)
        printer.wait_for_load_state("networkidle")
        assert _visible(printer, "header.top nav") == 1, path  # on screen, it is there
        printer.emulate_media(media="print")
        for selector in ("header.top nav", ".langs", "form.filters", "button", ".map-export"):
            assert _visible(printer, selector) == 0, (path, selector)
        assert _visible(printer, "main") == 1
    printer.emulate_media(media="screen")


def test_print_keeps_rows_and_the_channels_row_whole(printer: Any, print_url: str) -> None:
    printer.goto(print_url + "/")
    printer.wait_for_load_state("networkidle")
    printer.emulate_media(media="print")

    def style(selector: str, prop: str) -> str:
        return str(
            printer.eval_on_selector(
                selector, f"e => getComputedStyle(e).getPropertyValue('{prop}')"
            )
        )

    assert style("table.map tr.lane-channels", "break-inside") == "avoid"
    assert style("table.map tbody tr", "break-inside") == "avoid"
    assert style("table.map thead", "display") == "table-header-group"
    assert style("table.map th.lane", "position") == "static"
    # The whole map table is laid out within an A3 landscape sheet's width (no scrolling).
    pdf = printer.pdf(format="A3", landscape=True, print_background=True)
    assert pdf.startswith(b"%PDF")
    width = printer.eval_on_selector("table.map", "e => e.scrollWidth")
    wrap = printer.eval_on_selector(".map-wrap", "e => e.clientWidth")
    assert width <= wrap + 1
    printer.emulate_media(media="screen")
