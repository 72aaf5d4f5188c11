"""The commented journey file written by `kundresa init`."""

from __future__ import annotations

from datetime import date

import pytest
import yaml

from kundresa.model import LANES, TEMPLATES, parse_journey, render_journey_yaml
from kundresa.model.templates import LANGUAGES

TODAY = date(2026, 3, 10)


@pytest.mark.parametrize("lang", LANGUAGES)
@pytest.mark.parametrize("tid", list(TEMPLATES))
def test_rendered_file_parses_without_problems(tid: str, lang: str) -> None:
    text = render_journey_yaml(tid, lang, today=TODAY)
    journey, problems = parse_journey(text, today=TODAY)
    assert problems == [], [str(p) for p in problems]
    assert journey is not None
    t = TEMPLATES[tid]
    assert journey.language == lang
    assert journey.name == t.title[lang]
    assert journey.circular is t.circular
    assert journey.review_by == date(2026, 9, 10)
    assert journey.stage_ids == t.stage_ids
    for st, js in zip(t.stages, journey.stages, strict=True):
        assert dict(js.label) == st.label
        assert js.funnel == st.funnel
        assert js.goal and len(js.kpis) == 1 and js.kpis[0].label
    # Every stage can be entered, and the example data vocabulary is there.
    assert {tp.stage for tp in journey.touchpoints} == set(t.stage_ids)
    assert len(journey.personas) == 2
    assert all(p.needs and p.challenges and p.goals and p.match for p in journey.personas)
    assert {c.id for c in journey.channels} == {
        "web",
        "email",
        "search",
        "social",
        "store",
        "sales_call",
    }
    assert {c.id for c in journey.channels if not c.online} == {"store", "sales_call"}
    for lane in ("activities", "needs", "thoughts", "pain_points", "opportunities"):
        assert set(journey.lanes[lane]) == set(t.stage_ids), lane
    for lane in ("backstage", "content"):
        assert set(journey.lanes[lane]) == set(t.stage_ids), lane
    assert set(journey.lanes["emotions"]) == {p.id for p in journey.personas}
    assert set(journey.lanes) <= set(LANES)


@pytest.mark.parametrize("lang", LANGUAGES)
def test_texts_are_in_the_chosen_language(lang: str) -> None:
    journey, _ = parse_journey(render_journey_yaml("kundresa-7", lang, today=TODAY))
    assert journey is not None
    first = journey.lanes["activities"]["awareness"][0]
    expected = {"sv": "Googlar", "da": "Googler", "en": "Searches"}[lang]
    assert first.startswith(expected)
    assert (
        journey.stage_label("purchase_decision")
        == {
            "sv": "Köpbeslut",
            "da": "Købsbeslutning",
            "en": "Purchase decision",
        }[lang]
    )


def test_specific_rules_come_first() -> None:
    journey, _ = parse_journey(render_journey_yaml("kundresa-5", "en", today=TODAY))
    assert journey is not None
    ids = [tp.id for tp in journey.touchpoints]
    assert ids.index("repeat_purchase") < ids.index("first_purchase")
    assert journey.touchpoint("repeat_purchase").match.nth == 2
    nps = journey.touchpoint("nps_promoter").match
    assert nps.fits("nps_answer", {"score": "10"}) and not nps.fits("nps_answer", {"score": "7"})
    assert journey.touchpoint("pricing_page").match.fits("page_view", {"path": "/pricing/pro"})


def test_it_is_commented_and_plain_yaml() -> None:
    text = render_journey_yaml("buyers-journey", "sv", name="Webbshop: B2C #1", today=TODAY)
    assert text.startswith("# Customer journey for Webbshop: B2C #1.")
    for section in ("stages", "personas", "channels", "touchpoints", "lanes"):
        i = text.index(f"\n{section}:")
        assert text[:i].rstrip().splitlines()[-1].startswith("#"), section
    data = yaml.safe_load(text)
    assert data["name"] == "Webbshop: B2C #1"
    assert data["kundresa"] == 1
    assert text.endswith("\n") and not text.endswith("\n\n")


@pytest.mark.parametrize(
    ("today", "review_by"),
    [
        (date(2026, 8, 31), date(2027, 2, 28)),
        (date(2027, 8, 31), date(2028, 2, 29)),
        (date(2026, 12, 31), date(2027, 6, 30)),
        (date(2026, 1, 15), date(2026, 7, 15)),
    ],
)
def test_review_by_is_six_months_ahead(today: date, review_by: date) -> None:
    journey, _ = parse_journey(render_journey_yaml("buyers-journey", today=today), today=today)
    assert journey is not None and journey.review_by == review_by


def test_defaults() -> None:
    journey, problems = parse_journey(render_journey_yaml())
    assert problems == [] and journey is not None
    assert journey.template is None  # the stages are written out
    assert journey.stage_ids == TEMPLATES["kundresa-5"].stage_ids
    assert journey.language == "en"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"template": "kundresa-6"}, "unknown template 'kundresa-6'; known: buyers-journey"),
        ({"lang": "no"}, "unknown language 'no'; use one of sv, da, en"),
    ],
)
def test_bad_arguments(kwargs: dict[str, str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        render_journey_yaml(**kwargs)
