"""Measured NPS and CSAT per stage from survey answers (journey file ``surveys:``)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kundresa.analytics.surveys import SURVEY_COLUMNS, survey_scores
from kundresa.model.parse import parse_journey
from kundresa.project import Project

FIXTURES = Path(__file__).parent.parent / "fixtures" / "sources"

JOURNEY = """\
kundresa: 1
name: Kaffe
template: kundresa-5
touchpoints:
  - {id: checkout_nps, stage: decision, match: {event: nps_answer, where: {touchpoint: checkout}}}
  - {id: delivery_nps, stage: retention, match: {event: nps_answer, where: {touchpoint: delivery}}}
surveys:
  - {event: nps_answer, metric: nps}
  - {event: nps_answer, metric: nps, stage: advocacy, label: NPS overall}
  - {event: csat_answer, metric: csat, score: rating, stage: retention}
"""


def journey(text: str = JOURNEY):  # type: ignore[no-untyped-def]
    j, problems = parse_journey(text)
    assert j is not None, problems
    return j


@pytest.fixture(scope="module")
def scores() -> pd.DataFrame:
    # survey_nps.csv: anna 10 (delivery), bjorn 6 (checkout), cecilia 9 (delivery),
    # david 8 (checkout), eva "tio" (quarantined), frans 7 (support: no touchpoint).
    nps = Project.from_events(
        FIXTURES / "survey_nps.csv",
        journey=journey(),
        source="survey",
        source_options={"event": "nps_answer"},
    )
    csat = pd.DataFrame(
        {
            "customer_id": list("abcdefg"),
            "timestamp": ["2025-06-01"] * 7,
            "event": ["csat_answer"] * 7,
            # 6 is off the 1-5 scale and "x" no number: neither counts.
            "rating": ["5", "4", "3", "5", "1", "6", "x"],
        }
    )
    events = pd.concat([nps.events.to_pandas(), Project.from_events(csat).events.to_pandas()])
    both = Project.from_events(events, journey=journey())
    return survey_scores(both)


def test_nps_per_stage_from_touchpoint_tagging(scores: pd.DataFrame) -> None:
    rows = scores[scores.survey == "nps_answer"]
    got = [
        (r.stage, r.responses, r.promoters, r.passives, r.detractors, r.nps, r.mean)
        for r in rows.itertuples()
    ]
    assert got == [
        # checkout: 6 and 8 → one detractor, one passive: (0 - 1) / 2 = -50
        ("decision", 2, 1 - 1, 1, 1, -50.0, 7.0),
        # delivery: 10 and 9 → two promoters: 100
        ("retention", 2, 2, 0, 0, 100.0, 9.5),
        # frans's 7 lands on no touchpoint: kept on a row without a stage
        (None, 1, 0, 1, 0, 0.0, 7.0),
    ]


def test_nps_on_the_survey_stage(scores: pd.DataFrame) -> None:
    ((_, r),) = scores[scores.survey == "NPS overall"].iterrows()
    # 10, 6, 9, 8, 7: promoters 2, detractors 1 of 5 → 20; mean 40 / 5 = 8
    assert (r.stage, r.label, r.responses, r.nps, r["mean"]) == (
        "advocacy",
        "Advocacy",
        5,
        20.0,
        8.0,
    )


def test_csat_mean_and_satisfied_share(scores: pd.DataFrame) -> None:
    ((_, r),) = scores[scores.survey == "csat_answer"].iterrows()
    # 5, 4, 3, 5, 1 → mean 18 / 5 = 3.6; 4 or 5: three of five
    assert (r.stage, r.responses, r["mean"], r.satisfied) == ("retention", 5, 3.6, 0.6)
    assert r.nps is None and r.promoters is None
    assert list(scores.columns) == list(SURVEY_COLUMNS)


def test_no_surveys_no_rows() -> None:
    p = Project.from_events(
        pd.DataFrame({"customer_id": ["a"], "timestamp": ["2025-01-01"], "event": ["x"]}),
        journey=journey("kundresa: 1\nname: x\ntemplate: kundresa-5\n"),
    )
    assert survey_scores(p).empty


@settings(max_examples=25, deadline=None)
@given(st.lists(st.integers(0, 10), min_size=1, max_size=30))
def test_nps_matches_its_definition(answers: list[int]) -> None:
    j = journey(
        "kundresa: 1\nname: x\ntemplate: kundresa-5\n"
        "surveys: [{event: nps_answer, metric: nps, stage: advocacy}]\n"
    )
    events = pd.DataFrame(
        {
            "customer_id": [f"c{i}" for i in range(len(answers))],
            "timestamp": ["2025-01-01"] * len(answers),
            "event": ["nps_answer"] * len(answers),
            "score": [str(a) for a in answers],
        }
    )
    (row,) = survey_scores(Project.from_events(events, journey=j)).itertuples()
    promoters = sum(a >= 9 for a in answers) / len(answers)
    detractors = sum(a <= 6 for a in answers) / len(answers)
    assert row.nps == pytest.approx(100 * (promoters - detractors))
    assert row.responses == len(answers)


def test_an_nps_answer_is_a_whole_number_from_0_to_10() -> None:
    # A review's repro: 6.5 counted as a detractor. NPS asks on an 11-point scale, so only
    # 0, 1, ..., 10 are answers (10.0 and 1e1 are 10); 6.5, NaN and infinities count nowhere.
    j = journey(
        "kundresa: 1\nname: x\ntemplate: kundresa-5\n"
        "surveys: [{event: nps_answer, metric: nps, stage: advocacy}]\n"
    )
    scores = ["10", "10.0", "1e1", "3", "6.5", "9.99", "-0.5", "nan", "inf", "-inf", "1e999"]
    events = pd.DataFrame(
        {
            "customer_id": [f"c{i}" for i in range(len(scores))],
            "timestamp": ["2025-01-01"] * len(scores),
            "event": ["nps_answer"] * len(scores),
            "score": scores,
        }
    )
    (row,) = survey_scores(Project.from_events(events, journey=j)).itertuples()
    assert (row.responses, row.promoters, row.passives, row.detractors) == (4, 3, 0, 1)
    assert row.nps == pytest.approx(50.0)
    assert row.mean == pytest.approx(33 / 4)


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ("{event: a, metric: ces}", "surveys[0].metric must be one of nps, csat"),
        ("{metric: nps}", "surveys[0] needs event"),
        ("{event: a, metric: nps, stage: nope}", "unknown stage 'nope' in surveys[0].stage"),
        ("{event: a, metric: nps, scale: [0, 5]}", "NPS answers are always 0-10"),
        ("{event: a, metric: csat, scale: [5, 1]}", "lowest score must be below the highest"),
        ("{event: a, metric: csat, scale: [1]}", "must be [lowest, highest]"),
    ],
)
def test_survey_entries_are_checked(entry: str, message: str) -> None:
    j, problems = parse_journey(f"kundresa: 1\nname: x\ntemplate: kundresa-5\nsurveys: [{entry}]\n")
    assert j is None
    assert any(message in p.message for p in problems), problems


def test_survey_warnings() -> None:
    j, problems = parse_journey(
        "kundresa: 1\nname: x\ntemplate: kundresa-5\nsurveys: [{event: a, metric: nps}]\n"
    )
    assert j is not None and j.surveys[0].score == "score"
    assert any("count for no stage" in p.message for p in problems)


def test_survey_unknown_key_is_an_error() -> None:
    # A misspelt key (e.g. `stag:` for `stage:`) would change what the survey counts for.
    j, problems = parse_journey(
        "kundresa: 1\nname: x\ntemplate: kundresa-5\n"
        "surveys: [{event: a, metric: nps, colour: red}]\n"
    )
    assert j is None
    assert any("unknown key 'colour'" in p.message for p in problems)


NTH_JOURNEY = """\
kundresa: 1
name: Enkät
template: kundresa-5
timezone: Europe/Stockholm
touchpoints:
  - {id: answer_again, stage: retention, match: {event: [nps_answer, csat_answer], nth: 2}}
  - {id: first_answer, stage: decision, match: {event: nps_answer}}
surveys:
  - {event: nps_answer, metric: nps}
"""


def test_a_period_counts_answers_but_tags_them_on_the_whole_history() -> None:
    """``nth: 2`` is the customer's second fitting event ever (docs/analytics.md,
    "Periods"): a period must not make a second answer a first one, and the events of
    another name the touchpoint takes count towards ``nth`` too."""
    events = pd.DataFrame(
        {
            "customer_id": ["a", "a", "b", "c", "c"],
            "timestamp": [
                "2025-01-10T10:00:00Z",
                "2025-02-10T10:00:00Z",
                "2025-02-11T10:00:00Z",
                "2025-01-05T10:00:00Z",
                "2025-02-12T10:00:00Z",
            ],
            "event": ["nps_answer", "nps_answer", "nps_answer", "csat_answer", "nps_answer"],
            "score": ["10", "3", "9", None, "8"],
        }
    )
    project = Project.from_events(events, journey=journey(NTH_JOURNEY))

    def counts(frame: pd.DataFrame) -> dict[str, int]:
        return {str(r.stage): int(r.responses) for r in frame.itertuples()}

    # a's second answer and c's answer after a csat answer land on answer_again.
    whole = survey_scores(project)
    assert counts(whole) == {"decision": 2, "retention": 2}
    feb = survey_scores(project, since="2025-02-01")
    assert counts(feb) == {"decision": 1, "retention": 2}
    assert counts(project.run("surveys", since="2025-02-01").frame) == counts(feb)
    jan = project.run("surveys", until="2025-02-01").frame
    assert counts(jan) == {"decision": 1}
