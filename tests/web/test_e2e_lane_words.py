"""The map's lane headers at a desktop width hold every word of their label whole: no word
of the lane names in Swedish or Danish is broken mid-word (Chromium)."""

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

#: Per lane header: the words wider than the room the header gives its text.
TOO_WIDE = """() => {
  const out = [];
  document.querySelectorAll("#journey-map th.lane").forEach((th) => {
    const s = getComputedStyle(th);
    const room = th.clientWidth - parseFloat(s.paddingLeft) - parseFloat(s.paddingRight);
    th.innerText.split(/\\s+/).filter(Boolean).forEach((word) => {
      const probe = document.createElement("span");
      probe.style.whiteSpace = "nowrap";
      probe.textContent = word;
      th.appendChild(probe);
      if (probe.getBoundingClientRect().width > room + 0.5) out.push(word);
      probe.remove();
    });
  });
  return out;
}"""


@pytest.fixture(scope="module")
def demo_url(tmp_path_factory: pytest.TempPathFactory, demo_dir: Path) -> Iterator[str]:
    folder = tmp_path_factory.mktemp("lanes") / "demo"
    shutil.copytree(demo_dir, folder)
    yield from _serve(folder)


def test_lane_words_are_never_broken_mid_word(demo_url: str) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1440, "height": 900})
        for lang in ("sv", "da", "en"):
            page.goto(f"{demo_url}/?lang={lang}")
            page.wait_for_load_state("networkidle")
            assert page.locator("#journey-map th.lane").count() > 3
            assert page.evaluate(TOO_WIDE) == [], lang
        browser.close()
