"""The map's lane headers at a desktop width hold every word of their label whole: no word
of the lane names in Swedish or Danish is broken mid-word (Chromium)."""

from __future__ import annotations

from typing import Any

from e2e_server import needs_chromium

pytestmark = needs_chromium

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


def test_lane_words_are_never_broken_mid_word(browser: Any, demo_url: str) -> None:
    page = browser.new_page(viewport={"width": 1440, "height": 900})
    for lang in ("sv", "da", "en"):
        page.goto(f"{demo_url}/?lang={lang}")
        page.wait_for_load_state("networkidle")
        assert page.locator("#journey-map th.lane").count() > 3
        assert page.evaluate(TOO_WIDE) == [], lang
    page.close()
