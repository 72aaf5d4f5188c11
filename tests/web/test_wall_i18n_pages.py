"""Swedish pages show labels and words, not ids and English: the paths page's tables and the
names its charts use, the compare page, the customer page's live state and the data page's
ingest times (the page data and /api keep the ids)."""

from __future__ import annotations

import html
import json
import re
from pathlib import Path
from typing import Any

from kundresa import Project


def _table(page: str, table_id: str) -> str:
    m = re.search(rf'<table id="{table_id}".*?</table>', page, re.S)
    assert m, table_id
    return html.unescape(m.group(0))


def _cells(page: str, table_id: str) -> list[str]:
    return [
        re.sub(r"<[^>]+>", "", c).strip()
        for c in re.findall(r"<td[^>]*>.*?</td>", _table(page, table_id), re.S)
    ]


def _page_text(page: str) -> dict[str, Any]:
    m = re.search(r'<script type="application/json" id="page-text">(.*?)</script>', page, re.S)
    assert m
    return dict(json.loads(m.group(1)))


def test_paths_page_shows_stage_labels_and_words(client: Any) -> None:
    page = client.get("/paths", params={"level": "stage", "lang": "sv"}).text
    paths = _cells(page, "paths")
    assert "Medvetenhet" in paths and "awareness" not in paths
    transitions = _cells(page, "transitions")
    assert "(start)" in transitions and "framåt" in transitions
    assert "forward" not in transitions and "awareness" not in transitions
    # Backward moves are still marked (on the id, not the word).
    assert 'class="backward"' in _table(page, "transitions")
    names = _page_text(page)["names"]
    assert names["stage"]["awareness"] == "Medvetenhet"
    assert names["ends"]["(end)"] == "(slut)"
    assert names["channel"]["paid_search"] == "Betald sökning"
    # The data keep the ids.
    api = client.get("/api/paths", params={"level": "stage", "lang": "sv"}).json()
    assert any(link["source"] == "awareness" for link in api["links"])


def test_paths_page_touchpoints_by_their_labels(client: Any) -> None:
    page = client.get("/paths", params={"level": "touchpoint", "lang": "sv"}).text
    names = _page_text(page)["names"]["touchpoint"]
    paths = _cells(page, "paths")
    assert names["ad_click"] != "ad_click" and names["ad_click"] in " ".join(paths)
    assert not any("ad_click" in p for p in paths)


def test_compare_page_stage_labels_and_correlation_words(client: Any) -> None:
    page = client.get("/compare", params={"lang": "sv"}).text
    comparison = _cells(page, "comparison")
    assert "Medvetenhet" in comparison and "Awareness" not in comparison
    correlation = _cells(page, "correlation")
    assert {"händelse", "mer sannolikt"} & set(correlation)
    assert not {"event", "property", "more likely", "less likely"} & set(correlation)
    names = _page_text(page)["names"]["persona"]
    assert names["private"] != "private"  # the chart's legend shows the persona's name


def test_data_page_ingest_time_is_formatted(client: Any) -> None:
    page = client.get("/data", params={"lang": "sv"}).text
    cells = _cells(page, "ingests")
    assert cells and not any(re.fullmatch(r"\d{4}-\d\d-\d\dT[\d:.]+", c) for c in cells)
    assert any(re.search(r"\d{4} \d\d:\d\d:\d\d", c) for c in cells)


def test_customer_live_state_in_the_page_language(demo_copy: Path, make_client: Any) -> None:
    with Project.open(demo_copy, read_only=True) as p:
        row = p.warehouse.con.execute(
            "SELECT customer_id FROM customer_state WHERE stage = 'consideration' "
            "ORDER BY customer_id LIMIT 1"
        ).fetchone()
        persona = p.journey.personas[0]
    assert row is not None
    page = make_client(demo_copy).get("/customer", params={"id": str(row[0]), "lang": "sv"})
    text = html.unescape(re.sub(r"\s+", " ", page.text))
    live = re.search(r'<section id="live-state">.*?</section>', text, re.S)
    assert page.status_code == 200 and live
    state = re.sub(r"<[^>]+>", " ", live.group(0))
    assert "Från " in state and not re.search(r"\d{4}-\d\d-\d\dT", state)
    assert "Nästa fas Handling/Beslut" in re.sub(r"\s+", " ", state)
    assert " decision " not in state and " consideration " not in state
    assert f"Persona {persona.name} " in re.sub(r"\s+", " ", state)  # the name, not the id
