"""Display words of the wall exports in the chosen language: the map sheet's touchpoints,
channels and dates, one vocabulary for a stage's numbers, the workbook's value words and the
Mermaid diagram's escaping."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import openpyxl
import pytest

from kundresa import Project
from kundresa.demo.project import build_demo
from kundresa.model.journey import Journey
from kundresa.model.parse import parse_journey
from kundresa.report.export import mermaid_journey, workbook
from kundresa.report.labels import HEADINGS, STAGE_NUMBERS, heading, value_label
from kundresa.report.map_export import MapFigures, Text, layout_map
from kundresa.web.i18n import translate

JOURNEY = """
kundresa: 1
name: Shop
language: en
review_by: 2027-05-01
stages:
  - {id: look, label: {en: Look, sv: Titta}}
  - {id: buy, label: {en: Buy, sv: Köpa}}
channels:
  - {id: ads, label: {en: Search ads, sv: Sökannonser}}
  - {id: paid_search}
touchpoints:
  - {id: ad_click, stage: look, channel: ads, label: {en: Ad click, sv: Annonsklick},
     match: {event: ad_click}}
  - {id: cart, stage: buy, channel: paid_search, match: {event: purchase}}
personas: [{id: p, name: "<script>alert(3)</script>"}]
"""


def _journey() -> Journey:
    j, problems = parse_journey(JOURNEY)
    assert j is not None, problems
    return j


def _texts(figures: MapFigures) -> str:
    return " ".join(i.text for i in layout_map(figures, "A3").items if isinstance(i, Text))


def test_map_sheet_shows_touchpoints_and_channels_in_the_chosen_language() -> None:
    j = _journey()
    sv = MapFigures.from_journey(j, lang="sv")
    stage = sv.stages[0]
    assert [t[0] for t in stage.touchpoints] == ["Annonsklick"]
    assert [c[0] for c in stage.channels] == ["Sökannonser"]
    # A GA4 channel group without a journey channel: its name in the language.
    assert [c[0] for c in sv.stages[1].channels] == ["Betald sökning"]
    en = MapFigures.from_journey(j, lang="en")
    assert [t[0] for t in en.stages[0].touchpoints] == ["Ad click"]
    assert [c[0] for c in en.stages[0].channels] == ["Search ads"]
    text = _texts(sv)
    assert "Annonsklick" in text and "Ad click" not in text and "Search ads" not in text


def test_map_sheet_dates_are_written_in_the_language() -> None:
    j = _journey()
    sv = MapFigures.from_journey(j, lang="sv")
    sv = MapFigures(**{**sv.__dict__, "made": date(2026, 11, 30)})
    text = _texts(sv)
    assert "Granska senast 1 maj 2027" in text
    assert "30 nov. 2026" in text
    assert "2027-05-01" not in text and "2026-11-30" not in text


def test_stage_numbers_have_one_vocabulary_on_the_sheet_and_the_web() -> None:
    for key in ("reached", "entered", "dropped", "lost"):
        for i, lang in enumerate(("en", "sv", "da")):
            assert heading(key, lang) == STAGE_NUMBERS[key][i] == translate(key, lang)
    assert HEADINGS["reached"][1] == "Nått"
    j = _journey()
    text = _texts(MapFigures.from_journey(j, lang="sv", reached=[10, 4]))
    assert "Nått" in text and "Tappade" in text
    assert "Nådde" not in text and "Föll bort" not in text


def test_mermaid_writes_markup_in_names_as_entity_codes() -> None:
    text = mermaid_journey(_journey(), lang="sv")
    assert "<" not in text and ">" not in text
    assert "#60;script#62;alert(3)#60;/script#62;" in text
    assert "section Titta" in text and "Annonsklick: 3: " in text


@pytest.fixture(scope="module")
def small_demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Project]:
    folder = tmp_path_factory.mktemp("walli18n") / "demo"
    build_demo(folder, customers=300, seed=3, lang="sv").close()
    project = Project.open(folder, read_only=True)
    yield project
    project.close()


def _sheet_values(path: Path, sheet: str) -> set[object]:
    book = openpyxl.load_workbook(path, read_only=True)
    ws = next(ws for ws in book.worksheets if ws.title.startswith(sheet))
    return {v for row in ws.iter_rows(values_only=True) for v in row}


def test_workbook_cells_show_words_not_ids(small_demo: Project, tmp_path: Path) -> None:
    out = tmp_path / "wb.xlsx"
    workbook(small_demo, out, lang="sv")
    kpis = _sheet_values(out, "KPI")
    assert "minst" in kpis and "at_least" not in kpis
    assert "Nått" in kpis and "reached" not in kpis
    transitions = _sheet_values(out, "Övergångar")
    assert {"start", "framåt"} <= transitions and "forward" not in transitions
    journeys = _sheet_values(out, "Icke-linjära resor")
    assert {"Kunder", "Fasbyten"} <= journeys and "stage_changes" not in journeys
    bottlenecks = _sheet_values(out, "Flaskhalsar")
    assert "fas" in bottlenecks and "stage" not in bottlenecks
    touchpoints = _sheet_values(out, "Beröringspunkter")  # events that fit no touchpoint
    assert "(ingen)" in touchpoints and "(none)" not in touchpoints
    workbook(small_demo, tmp_path / "en.xlsx", lang="en")
    en = _sheet_values(tmp_path / "en.xlsx", "KPIs")
    assert "at least" in en and "Reached" in en


def test_value_words_keep_other_values() -> None:
    assert value_label("direction", "sideways", "sv") == "sideways"
    assert value_label("from_label", "Medvetenhet", "sv") == "Medvetenhet"
    assert value_label("measure", 3, "da") == 3
    assert value_label("kind", "step", "da") == "tragttrin"
