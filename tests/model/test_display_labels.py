"""Display labels of touchpoints and channels: the journey file's ``label:`` (text or one per
language), GA4's channel group names, and where they are shown."""

from __future__ import annotations

import pytest

from kundresa.ingest.channels import GA4_NAMES
from kundresa.model.journey import Journey
from kundresa.model.parse import parse_journey
from kundresa.model.render import _TOUCHPOINTS, TOUCHPOINT_LABELS, render_journey_yaml
from kundresa.model.templates import TEMPLATES
from kundresa.report.journey_map import map_rows
from kundresa.report.labels import CHANNEL_LABELS, channel_label, touchpoint_label

JOURNEY = """\
kundresa: 1
name: Shop
language: sv
stages:
  - {id: look, label: {sv: Titta, en: Look}}
  - {id: buy, label: Köp}
channels:
  - {id: search, label: {sv: Sökannonser, da: Søgeannoncer, en: Search ads}}
  - {id: web, label: Webbutik}
  - {id: store}
touchpoints:
  - {id: ad_click, stage: look, channel: search, match: {event: ad_click},
     label: {sv: Klick på annons, en: Ad click}}
  - {id: cart, stage: buy, channel: web, label: Varukorg, match: {event: add_to_cart}}
  - {id: visit, stage: buy, channel: store, match: {event: store_visit}}
"""


@pytest.fixture(scope="module")
def journey() -> Journey:
    j, problems = parse_journey(JOURNEY)
    assert [p for p in problems if p.severity == "error"] == []
    return j


def test_a_label_per_language_falls_back_to_english_then_the_journeys(journey: Journey) -> None:
    assert touchpoint_label(journey, "ad_click") == "Klick på annons"  # the journey's: sv
    assert touchpoint_label(journey, "ad_click", "en") == "Ad click"
    assert touchpoint_label(journey, "ad_click", "da") == "Ad click"  # no da: English
    assert touchpoint_label(journey, "cart", "en") == "Varukorg"  # text: the journey's language
    assert touchpoint_label(journey, "visit", "en") == "visit"  # no label: the id
    assert journey.touchpoint("ad_click").label == "Klick på annons"
    assert dict(journey.touchpoint("ad_click").labels) == {
        "sv": "Klick på annons",
        "en": "Ad click",
    }


def test_channel_labels_come_from_the_journey_then_ga4(journey: Journey) -> None:
    assert channel_label(journey, "search", "da") == "Søgeannoncer"
    assert channel_label(journey, "web", "en") == "Webbutik"
    assert channel_label(journey, "store", "en") == "store"  # a journey channel, no label
    assert channel_label(journey, "organic_search") == "Organisk sökning"  # GA4, journey's sv
    assert channel_label(journey, "organic_search", "en") == "Organic Search"
    assert channel_label(None, "somewhere") == "somewhere"


def test_ga4_channel_names_are_the_default_grouping_ones() -> None:
    assert set(CHANNEL_LABELS) == set(GA4_NAMES)
    assert {k: v[0] for k, v in CHANNEL_LABELS.items()} == GA4_NAMES


def test_a_label_in_no_known_language_is_warned_about() -> None:
    text = JOURNEY.replace("label: Varukorg", "label: {fi: Ostoskori}")
    _, problems = parse_journey(text)
    assert any(
        p.severity == "warning" and p.path == "touchpoints[1].label.fi" and p.line == 14
        for p in problems
    ), problems


@pytest.mark.parametrize("bad", ["[Varukorg]", "{sv: [a, b]}"])
def test_a_label_that_is_not_text_is_an_error_naming_the_field(bad: str) -> None:
    _, problems = parse_journey(JOURNEY.replace("label: Varukorg", f"label: {bad}"))
    errors = [p for p in problems if p.severity == "error"]
    assert errors and all(p.path.startswith("touchpoints[1].label") for p in errors), errors


def test_exports_show_labels_in_the_export_language(journey: Journey) -> None:
    rows = {r.lane: r.cells for r in map_rows(journey, "en")}
    assert rows["touchpoints"] == ["Ad click", "Varukorg\nvisit"]
    assert rows["channels"] == ["Search ads", "Webbutik\nstore"]


@pytest.mark.parametrize("lang", ["sv", "da", "en"])
def test_every_template_labels_its_touchpoints_in_every_language(lang: str) -> None:
    assert {tid for tps in _TOUCHPOINTS.values() for tid, _, _ in tps} <= set(TOUCHPOINT_LABELS)
    for name in TEMPLATES:
        journey, problems = parse_journey(render_journey_yaml(name, lang))
        assert [p for p in problems if p.severity == "error"] == []
        for t in journey.touchpoints:
            assert set(t.labels) == {"sv", "da", "en"}, (name, t.id)
            assert journey.touchpoint_label(t.id) == TOUCHPOINT_LABELS[t.id][lang]
        for c in journey.channels:
            assert journey.channel_label(c.id, "da"), (name, c.id)
