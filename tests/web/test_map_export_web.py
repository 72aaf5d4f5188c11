"""The map for the wall from the map page: /export/map.{pdf,png,svg}, its link, and when the
map is due for review."""

from __future__ import annotations

import io
import re
from datetime import date
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

from pypdf import PdfReader

from kundresa.report.review import review


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []
        self.due: list[dict[str, str | None]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "a" and a.get("href"):
            self.hrefs.append(str(a["href"]))
        if a.get("id") == "review-due":
            self.due.append(a)


def test_export_route_serves_each_format_with_the_page_scope(client: Any) -> None:
    r = client.get("/export/map.pdf", params={"paper": "A4", "lang": "da"})
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/pdf"
    assert 'filename="journey-map-A4.pdf"' in r.headers["content-disposition"]
    reader = PdfReader(io.BytesIO(r.content))
    assert len(reader.pages) == 1
    page = reader.pages[0]
    assert float(page.mediabox.width) > float(page.mediabox.height)  # landscape
    assert "Kunderejsekort" in page.extract_text()
    png = client.get("/export/map.png", params={"paper": "A4", "dpi": 50})
    assert png.status_code == 200 and png.content.startswith(b"\x89PNG")
    svg = client.get("/export/map.svg", params={"persona": "private"})
    assert svg.status_code == 200 and svg.headers["content-type"].startswith("image/svg+xml")
    assert b"Sara" in svg.content


def test_export_route_errors_are_pages_with_the_status(client: Any) -> None:
    html = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}
    r = client.get("/export/map.pdf", params={"persona": "nobody"}, headers=html)
    assert r.status_code == 422 and "nobody" in r.text
    assert r.headers["content-type"].startswith("text/html")
    r = client.get("/export/map.pdf", params={"persona": "nobody"})
    assert r.status_code == 422 and "nobody" in r.json()["detail"]
    assert client.get("/export/map.pdf", params={"paper": "A5"}).status_code == 422
    # A bad parameter of the download link: a browser gets the error page too.
    for params in ({"paper": "A5"}, {"dpi": "9999"}):
        r = client.get("/export/map.pdf", params=params, headers=html)
        assert r.status_code == 422 and r.headers["content-type"].startswith("text/html")
        assert f"{next(iter(params))}: Input should be" in r.text
    assert client.get("/export/map.gif").status_code == 422
    r = client.get("/export/map.pdf", params={"since": "2040-01-01"})
    assert r.status_code == 409 and "has no events" in r.json()["detail"]


def test_map_page_links_the_export_with_its_scope_and_shows_the_review_date(
    client: Any,
) -> None:
    page = client.get("/", params={"persona": "private", "lang": "sv"})
    assert page.status_code == 200
    parser = _Links()
    parser.feed(page.text)
    exports = [h for h in parser.hrefs if h.startswith("/export/map.")]
    assert {h.split("?")[0] for h in exports} == {
        "/export/map.pdf",
        "/export/map.png",
        "/export/map.svg",
    }
    assert all("persona=private" in h and "paper=A3" in h for h in exports)
    # The link answers (the same handler's parameters as the page's).
    assert client.get(exports[0].replace("&amp;", "&")).status_code == 200
    # The demo's map is due for review on a date in the future: shown, not overdue.
    assert parser.due and "overdue" not in (parser.due[0].get("class") or "")
    assert "Granska senast 1 maj 2027" in re.sub(r"\s+", " ", page.text)


def test_an_overdue_review_is_red_and_a_review_moves_it(demo_copy: Path, make_client: Any) -> None:
    journey = demo_copy / "journey.yaml"
    text = journey.read_text(encoding="utf-8")
    journey.write_text(re.sub(r"(?m)^review_by:.*$", "review_by: 2020-01-01", text), "utf-8")
    client = make_client(demo_copy)
    parser = _Links()
    parser.feed(client.get("/", params={"lang": "en"}).text)
    assert parser.due and "overdue" in (parser.due[0].get("class") or "")
    assert client.get("/api/map").json()["journey"]["review_overdue"] is True
    review(client.app.state.project.project, today=date.today())  # the served project
    data = client.get("/api/map").json()["journey"]
    assert data["review_overdue"] is False
    assert data["last_review"] == date.today().isoformat()
    parser = _Links()
    parser.feed(client.get("/", params={"lang": "en"}).text)
    assert parser.due and "overdue" not in (parser.due[0].get("class") or "")


def test_an_empty_project_exports_the_journey_files_map(tmp_path: Path, make_client: Any) -> None:
    from kundresa import Project

    Project.init(tmp_path / "p").close()
    journey = tmp_path / "p" / "journey.yaml"
    journey.write_text(journey.read_text().replace("en: Awareness}", "en: Awareness 🚀}"))
    client = make_client(tmp_path / "p")
    html = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}
    r = client.get("/export/map.pdf", params={"lang": "en"}, headers=html)
    assert r.status_code == 200 and r.headers["content-type"] == "application/pdf"
    text = re.sub(r"\s+", " ", PdfReader(io.BytesIO(r.content)).pages[0].extract_text())
    assert "No events yet" in text and "Advocacy" in text
    page = client.get("/", params={"lang": "en"}).text
    note = re.search(r'<p class="note" id="map-export-note">(.*?)</p>', page)
    assert note and "Awareness 🚀" in note.group(1) and "U+1F680" in note.group(1)


def test_a_browser_gets_the_error_page_for_an_empty_period(client: Any) -> None:
    html = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}
    r = client.get("/export/map.pdf", params={"since": "2040-01-01"}, headers=html)
    assert r.status_code == 409 and r.headers["content-type"].startswith("text/html")
    assert "has no events" in r.text and "kundresa ingest" not in r.text
    page = client.get("/", params={"lang": "en"}).text
    assert 'id="map-export-note"' not in page  # the demo's text all prints
