"""Printing a page in Debian's headless Chromium: the print stylesheet leaves the content
only (no navigation, filter forms or buttons) and keeps table rows and the map's Channels
row whole."""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = os.environ.get("KUNDRESA_CHROMIUM", "/usr/bin/chromium")

pytestmark = pytest.mark.skipif(
    not Path(CHROMIUM).exists(),
    reason=f"no Chromium at {CHROMIUM} (make setup-test installs Debian's chromium)",
)

PAGES = ["/", "/funnel", "/paths", "/retention", "/compare?by=variant", "/editor", "/data"]


@pytest.fixture(scope="module")
def print_url(tmp_path_factory: pytest.TempPathFactory, demo_dir: Path) -> Iterator[str]:
    """A uvicorn server in a thread, serving a copy of the demo on a free port."""
    import uvicorn

    from kundresa.web import create_app

    folder = tmp_path_factory.mktemp("print") / "demo"
    shutil.copytree(demo_dir, folder)
    app = create_app(folder)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline, "the server did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(10)
    app.state.project.close()


@pytest.fixture(scope="module")
def printer() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        yield context.new_page()
        browser.close()


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
