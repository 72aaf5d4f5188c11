"""The analysis pages in Swedish and Danish hold no English UI words: every heading, label,
option, placeholder and note comes through web/i18n.py (data values aside: stage labels,
event names and the like are the project's own)."""

from __future__ import annotations

import html.parser
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kundresa.web import i18n

PAGES = [
    "/funnel",
    "/paths",
    "/retention",
    "/bottlenecks",
    "/compare?by=variant",
    "/attribution",
    "/customer?id=c000002",
]

#: Words the templates once wrote in English without a lookup (option labels, headings).
_ONCE_ENGLISH = {
    "ordered",
    "strict",
    "day",
    "week",
    "month",
    "first_event",
    "first_purchase",
    "time",
    "value",
    "properties",
    "touchpoint",
    "persona, channel, device…",
}


def _english(lang: str) -> set[str]:
    """Every English UI string whose translation into ``lang`` differs from it."""
    out = {w for w in _ONCE_ENGLISH}
    for key, words in i18n._TEXT.items():
        if i18n.translate(key, lang) != words[0]:
            out.add(words[0])
    return {w.strip().lower() for w in out if len(w.strip()) > 1}


class _Visible(html.parser.HTMLParser):
    """The UI text of a page: text outside scripts, data cells and text areas, and the
    attributes a person reads (placeholder, aria-label, title)."""

    SKIP = frozenset({"script", "style", "td", "textarea", "template"})

    def __init__(self) -> None:
        super().__init__()
        self.depth = 0
        self.texts: list[str] = []
        self.stack: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("br", "input", "meta", "link", "img", "hr"):
            self._attrs(attrs)
            return
        self.stack.append(tag)
        if tag in self.SKIP:
            self.depth += 1
        elif self.depth == 0:
            self._attrs(attrs)

    def _attrs(self, attrs: list[tuple[str, str | None]]) -> None:
        if self.depth:
            return
        for name, value in attrs:
            if name in ("placeholder", "aria-label", "title") and value:
                self.texts.append(value)

    def handle_endtag(self, tag: str) -> None:
        while self.stack:
            top = self.stack.pop()
            if top in self.SKIP:
                self.depth -= 1
            if top == tag:
                break

    def handle_data(self, data: str) -> None:
        if self.depth == 0 and data.strip():
            self.texts.append(data.strip())


def _visible(page: str) -> list[str]:
    parser = _Visible()
    parser.feed(page)
    return parser.texts


def _found(texts: list[str], english: set[str]) -> list[str]:
    """Texts that are, or start with, an English UI string (``Period: …``)."""
    hits = []
    for text in texts:
        low = text.lower()
        for word in english:
            if low == word or low.startswith(word + ":") or low.startswith(word + " ("):
                hits.append(f"{text!r} ({word!r})")
    return hits


def test_the_checks_find_english() -> None:
    english = _english("sv")
    assert "funnel" in english and "median time" in english
    texts = _visible(
        "<h1>Funnel</h1><table><tr><th>Median time</th><td>Funnel</td></tr></table>"
        '<input placeholder="any"><select><option>week</option></select>'
        '<script>var x = "Paths";</script>'
    )
    assert texts == ["Funnel", "Median time", "any", "week"]
    assert len(_found(texts, english)) == 4
    assert _found(["Tratt", "Mediantid", "valfri", "vecka"], english) == []


@pytest.fixture(scope="module")
def pages(client: Any) -> Iterator[Any]:
    yield client


@pytest.mark.parametrize("lang", ["sv", "da"])
def test_analysis_pages_have_no_english_ui_words(pages: Any, lang: str) -> None:
    english = _english(lang)
    found = []
    for path in PAGES:
        sep = "&" if "?" in path else "?"
        resp = pages.get(f"{path}{sep}lang={lang}")
        assert resp.status_code == 200, (path, resp.text[:300])
        found += [f"{path}: {hit}" for hit in _found(_visible(resp.text), english)]
    assert found == [], "\n".join(found)


def test_the_english_pages_still_say_it_in_english(pages: Any, tmp_path: Path) -> None:
    resp = pages.get("/funnel?lang=en")
    texts = _visible(resp.text)
    assert "Median time" in texts and "week" in texts
