"""The editor on a phone (390x844), its structured form open: the page never scrolls
sideways (the form's wide tables scroll in their own box) (Chromium)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from test_e2e_circle_labels import _serve
from test_e2e_map_geometry import CHROMIUM

pytestmark = pytest.mark.skipif(
    not Path(CHROMIUM).exists(),
    reason=f"no Chromium at {CHROMIUM} (make setup-test installs Debian's chromium)",
)


@pytest.fixture(scope="module")
def demo_url(tmp_path_factory: pytest.TempPathFactory, demo_dir: Path) -> Iterator[str]:
    folder = tmp_path_factory.mktemp("editor") / "demo"
    shutil.copytree(demo_dir, folder)
    yield from _serve(folder)


def test_the_editor_fits_a_phone(demo_url: str) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 390, "height": 844})
        for lang in ("sv", "da"):
            page.goto(f"{demo_url}/editor?lang={lang}")
            page.wait_for_load_state("networkidle")
            page.evaluate("() => document.querySelectorAll('details').forEach(d => d.open = true)")
            assert page.locator("#structured-form table").count() >= 3
            width = page.evaluate(
                "() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]"
            )
            assert width[0] <= width[1], (lang, width)
        browser.close()
