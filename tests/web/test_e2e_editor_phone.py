"""The editor on a phone (390x844), its structured form open: the page never scrolls
sideways (the form's wide tables scroll in their own box) (Chromium)."""

from __future__ import annotations

from typing import Any

from e2e_server import needs_chromium

pytestmark = needs_chromium


def test_the_editor_fits_a_phone(browser: Any, demo_url: str) -> None:
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
    page.close()
