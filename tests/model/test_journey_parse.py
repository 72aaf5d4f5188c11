"""The journey file: parsing, and every validation rule with its message, line and column."""

from __future__ import annotations

import textwrap
from datetime import date
from pathlib import Path

import pytest

from kundresa.model import (
    Condition,
    Journey,
    JourneyError,
    Problem,
    load_journey,
    parse_journey,
    validate_file,
)

TODAY = date(2026, 6, 1)

# The README's example ("The journey file"), completed so that it is valid.
DESIGN_EXAMPLE = """\
kundresa: 1
name: Webbshop B2C
language: sv
circular: true
review_by: 2027-05-01
stages:
  - id: awareness
    label: {sv: Medvetenhet, en: Awareness}
    funnel: tofu
    goal: Bli hittad när kunden googlar sitt problem
    kpis: [{metric: conversion_from_previous, target: 0.5}]
  - id: consideration
    label: {sv: Övervägande, en: Consideration}
    funnel: mofu
  - id: decision
    label: Beslut
    funnel: bofu
    kpis: [{metric: conversion_from_previous, target: 0.2, label: Köp}]
  - id: retention
    label: {sv: Lojalitet, da: Fastholdelse, en: Retention}
    kpis: [{metric: median_days_in_stage, target: 30, direction: at_most}]
personas:
  - {id: anna, name: "Anna, 34", needs: [Snabb leverans], challenges: [Ont om tid],
     match: {property: segment, equals: private}}
channels:
  - {id: email, online: true, ownership: owned}
  - {id: web, online: true, ownership: owned}
touchpoints:                 # an event maps to the FIRST touchpoint whose match fits
  - id: repeat_purchase
    stage: retention
    match: {event: purchase, nth: 2}         # the customer's 2nd and later purchases
  - id: first_purchase
    stage: decision
    match: {event: purchase}
  - id: pricing_page
    stage: consideration
    channel: web
    match: {event: [page_view], where: {path: {regex: "^/pricing"}}}
  - id: ad_click
    stage: awareness
    match: {event: ad_click}
lanes:
  activities: {awareness: ["Googlar sitt problem"]}
  emotions: {anna: {awareness: 1, consideration: -1}}     # -2..2
  pain_points: {decision: Krånglig kassa}
  opportunities: {decision: [Färre steg i kassan]}
  backstage: {retention: [Kundservice]}
  content: {awareness: [Guider, Blogg]}
"""


def parse(text: str) -> tuple[Journey | None, list[Problem]]:
    return parse_journey(textwrap.dedent(text), "j.yaml", today=TODAY)


def only(problems: list[Problem], fragment: str) -> Problem:
    """The one problem whose message contains ``fragment``."""
    found = [p for p in problems if fragment in p.message]
    assert len(found) == 1, (fragment, [str(p) for p in problems])
    return found[0]


def where(p: Problem) -> tuple[str, int | None, int | None, str]:
    return p.severity, p.line, p.column, p.path


def test_design_example_parses() -> None:
    journey, problems = parse(DESIGN_EXAMPLE)
    assert problems == []
    assert journey is not None
    assert journey.name == "Webbshop B2C"
    assert journey.language == "sv" and journey.circular
    assert journey.review_by == date(2027, 5, 1)
    assert journey.template is None
    assert journey.stage_ids == ("awareness", "consideration", "decision", "retention")
    assert journey.stage_index("decision") == 3
    assert journey.decision_stage == "decision"
    # A plain-text label is in the journey's language; labels fall back lang -> en -> id.
    assert journey.stage("decision").label == {"sv": "Beslut"}
    assert journey.stage_label("decision", "en") == "Beslut"
    assert journey.stage_label("consideration", "da") == "Consideration"
    assert journey.stage_label("retention", "da") == "Fastholdelse"
    aware = journey.stage("awareness")
    assert aware.goal == "Bli hittad när kunden googlar sitt problem"
    assert aware.kpis[0].metric == "conversion_from_previous" and aware.kpis[0].target == 0.5
    kpi = journey.stage("retention").kpis[0]
    assert (kpi.direction, kpi.target) == ("at_most", 30.0)
    anna = journey.personas[0]
    assert anna.name == "Anna, 34" and anna.needs == ("Snabb leverans",)
    assert anna.match is not None and anna.match.condition == Condition(equals="private")
    assert [t.id for t in journey.touchpoints] == [
        "repeat_purchase",
        "first_purchase",
        "pricing_page",
        "ad_click",
    ]
    rp = journey.touchpoint("repeat_purchase")
    assert rp.match.events == ("purchase",) and rp.match.nth == 2
    pp = journey.touchpoint("pricing_page")
    assert pp.channel == "web" and pp.match.where == {"path": Condition(regex="^/pricing")}
    assert journey.lanes["emotions"] == {"anna": {"awareness": 1.0, "consideration": -1.0}}
    assert journey.lanes["pain_points"] == {"decision": ["Krånglig kassa"]}
    assert journey.lane("emotions", "consideration", "anna") == -1.0
    assert journey.lane("activities", "awareness") == ["Googlar sitt problem"]
    assert journey.source == "j.yaml"


BASE = """\
kundresa: 1
name: T
template: buyers-journey
channels:
  - {id: web, online: true, ownership: owned}
touchpoints:
  - {id: ad, stage: awareness, channel: web, match: {event: ad_click}}
  - {id: price, stage: consideration, match: {event: page_view, where: {path: /pricing}}}
  - {id: buy, stage: decision, match: {event: purchase}}
"""


def test_base_is_valid() -> None:
    journey, problems = parse(BASE)
    assert problems == [] and journey is not None
    assert journey.touchpoint("price").match.where == {"path": Condition(equals="/pricing")}


def test_a_refused_touchpoint_still_leads_to_its_stage() -> None:
    # Only its id is wrong (or its match): the errors say so, and no warning follows that no
    # touchpoint leads to its stage, which the file's reader can see one does.
    text = BASE.replace("{id: buy, stage: decision", "{id: ad, stage: decision")
    problems = parse(text)[1]
    assert [p.message for p in problems] == [
        "duplicate touchpoint id 'ad' (first defined on line 7)"
    ]
    text = BASE.replace("match: {event: purchase}", "match: {evnt: purchase}")
    problems = parse(text)[1]
    assert problems and not [p for p in problems if "no touchpoint leads" in p.message]


# (file text, message fragment, severity, line, column, field path)
RULES = [
    pytest.param(
        BASE.replace("kundresa: 1\n", ""),
        "missing `kundresa: 1`",
        ("error", 1, 1, "kundresa"),
        id="version-missing",
    ),
    pytest.param(
        BASE.replace("name: T", "nmae: T"),
        "unknown key 'nmae'; did you mean 'name'? (known: kundresa, name, description,",
        ("error", 2, 1, "nmae"),
        id="unknown-top-key",
    ),
    pytest.param(
        BASE + "cirular: true\n",
        "unknown key 'cirular'; did you mean 'circular'?",
        ("error", 10, 1, "cirular"),
        id="unknown-top-key-that-changes-cycles",
    ),
    pytest.param(
        BASE + "lanes:\n  activites: {awareness: x}\n",
        "unknown key 'activites' in lanes; did you mean 'activities'?",
        ("warning", 11, 3, "lanes.activites"),
        id="unknown-lane",
    ),
    # A misspelt key in a match drops the rule: the touchpoint would match every event.
    pytest.param(
        BASE.replace("{event: purchase}", "{evnt: purchase}"),
        "unknown key 'evnt' in touchpoints[2].match; did you mean 'event'? "
        "(known: event, where, nth)",
        ("error", 9, 40, "touchpoints[2].match.evnt"),
        id="unknown-match-key",
    ),
    pytest.param(
        BASE.replace("where: {path: /pricing}", "where: {path: {regx: ^/pricing}}"),
        "unknown key 'regx' in touchpoints[1].match.where.path; did you mean 'regex'? "
        "(known: equals, in, regex, gte, lte)",
        ("error", 8, 80, "touchpoints[1].match.where.path.regx"),
        id="unknown-condition-key",
    ),
    pytest.param(
        BASE.replace("channel: web, match", "chanel: web, match"),
        "unknown key 'chanel' in touchpoints[0]; did you mean 'channel'?",
        ("error", 7, 32, "touchpoints[0].chanel"),
        id="unknown-touchpoint-key",
    ),
    pytest.param(
        BASE + "personas:\n  - {id: b2b, match: {property: segment, equls: business}}\n",
        "unknown key 'equls' in personas[0].match; did you mean 'equals'? "
        "(known: property, equals, in, regex, gte, lte)",
        ("error", 11, 42, "personas[0].match.equls"),
        id="unknown-persona-match-key",
    ),
    pytest.param(
        BASE + "personas:\n  - {id: b2b, mtch: {property: segment, equals: business}}\n",
        "unknown key 'mtch' in personas[0]; did you mean 'match'?",
        ("error", 11, 15, "personas[0].mtch"),
        id="unknown-persona-key",
    ),
    pytest.param(
        BASE.replace("template: buyers-journey\n", "")
        + "stages:\n  - id: a\n    kpis: [{metric: reached, target: 5, directon: at_most}]\n",
        "unknown key 'directon' in stages[0].kpis[0]; did you mean 'direction'?",
        ("error", 11, 41, "stages[0].kpis[0].directon"),
        id="unknown-kpi-key",
    ),
    pytest.param(
        BASE.replace("{id: web, online: true", "{id: web, onlin: true"),
        "unknown key 'onlin' in channels[0]; did you mean 'online'?",
        ("error", 5, 15, "channels[0].onlin"),
        id="unknown-channel-key",
    ),
    pytest.param(
        BASE.replace("stage: decision", "stage: decison"),
        "unknown stage 'decison' in touchpoints[2].stage; did you mean 'decision'? "
        "(known: awareness, consideration, decision)",
        ("error", 9, 22, "touchpoints[2].stage"),
        id="unknown-stage",
    ),
    pytest.param(
        BASE.replace("channel: web", "channel: tv"),
        "unknown channel 'tv' in touchpoints[0].channel (known: web)",
        ("error", 7, 41, "touchpoints[0].channel"),
        id="unknown-channel",
    ),
    pytest.param(
        BASE.replace("id: buy", "id: ad"),
        "duplicate touchpoint id 'ad' (first defined on line 7)",
        ("error", 9, 10, "touchpoints[2].id"),
        id="duplicate-touchpoint",
    ),
    pytest.param(
        BASE.replace("  - {id: web", "  - {id: web, online: true}\n  - {id: web"),
        "duplicate channel id 'web' (first defined on line 5)",
        ("error", 6, 10, "channels[1].id"),
        id="duplicate-channel",
    ),
    pytest.param(
        BASE + "personas:\n  - {id: anna, name: A}\n  - {id: anna, name: B}\n",
        "duplicate persona id 'anna' (first defined on line 11)",
        ("error", 12, 10, "personas[1].id"),
        id="duplicate-persona",
    ),
    pytest.param(
        BASE.replace("{id: buy, stage: decision, ", "{id: buy, "),
        "touchpoints[2] needs stage",
        ("error", 9, 5, "touchpoints[2]"),
        id="touchpoint-needs-stage",
    ),
    pytest.param(
        BASE.replace("{id: buy, ", "{"),
        "touchpoints[2] needs id",
        ("error", 9, 5, "touchpoints[2]"),
        id="touchpoint-needs-id",
    ),
    pytest.param(
        BASE.replace("{event: purchase}", "{event: purchase, nth: two}"),
        "nth must be a whole number >= 1, not 'two'",
        ("error", 9, 62, "touchpoints[2].match.nth"),
        id="nth-not-a-number",
    ),
    pytest.param(
        BASE.replace("{event: purchase}", "{event: purchase, nth: 0}"),
        "nth must be a whole number >= 1, not '0'",
        ("error", 9, 62, "touchpoints[2].match.nth"),
        id="nth-below-one",
    ),
    pytest.param(
        BASE.replace("online: true", "online: maybe"),
        "channels[0].online must be true or false, not 'maybe'",
        ("error", 5, 23, "channels[0].online"),
        id="online-not-a-boolean",
    ),
    pytest.param(
        BASE.replace("ownership: owned", "ownership: rented"),
        "channels[0].ownership must be one of owned, paid, earned, not 'rented'",
        ("error", 5, 40, "channels[0].ownership"),
        id="ownership",
    ),
    pytest.param(
        BASE.replace("path: /pricing", "path: {regex: '(/pricing'}"),
        "invalid regex '(/pricing': missing ), unterminated subpattern at position 0",
        ("error", 8, 87, "touchpoints[1].match.where.path.regex"),
        id="invalid-regex",
    ),
    pytest.param(
        BASE.replace("path: /pricing", "path: {regex: '^/(?!blog)'}"),
        "regex '^/(?!blog)' uses look-around or a back-reference, which DuckDB (RE2) cannot run",
        ("error", 8, 87, "touchpoints[1].match.where.path.regex"),
        id="regex-not-re2",
    ),
    pytest.param(
        BASE.replace("path: /pricing", "path: {regex: '/pricing\\Z'}"),
        "regex '/pricing\\\\Z' is not RE2 syntax, which DuckDB runs",
        ("error", 8, 87, "touchpoints[1].match.where.path.regex"),
        id="regex-python-only",
    ),
    pytest.param(
        BASE.replace("path: /pricing", "path: {gte: [1]}"),
        "touchpoints[1].match.where.path.gte must be a number or text",
        ("error", 8, 85, "touchpoints[1].match.where.path.gte"),
        id="bound-not-a-number",
    ),
    pytest.param(
        BASE.replace("path: /pricing", "path: {}"),
        "touchpoints[1].match.where.path needs one of equals, in, regex, gte, lte",
        ("error", 8, 79, "touchpoints[1].match.where.path"),
        id="empty-condition",
    ),
    pytest.param(
        BASE + "lanes:\n  emotions: {awareness: 3}\n",
        "emotion 3 is outside -2..2",
        ("error", 11, 25, "lanes.emotions.awareness"),
        id="emotion-out-of-range",
    ),
    pytest.param(
        BASE + "lanes:\n  emotions: {awareness: happy}\n",
        "an emotion must be a number from -2 to 2, not 'happy'",
        ("error", 11, 25, "lanes.emotions.awareness"),
        id="emotion-not-a-number",
    ),
    pytest.param(
        BASE + "personas: [{id: anna}]\nlanes:\n  emotions: {anna: {awarenes: 1}}\n",
        "unknown stage 'awarenes' in lanes.emotions.anna; did you mean 'awareness'?",
        ("error", 12, 21, "lanes.emotions.anna"),
        id="lane-unknown-stage-per-persona",
    ),
    pytest.param(
        BASE + "lanes:\n  needs: {ana: {awareness: x}}\n",
        "unknown stage or persona 'ana' in lanes.needs (stages: awareness, consideration, "
        "decision)",
        ("error", 11, 11, "lanes.needs"),
        id="lane-unknown-persona",
    ),
    pytest.param(
        BASE + "lanes:\n  thoughts: {decision: {a: b}}\n",
        "lanes.thoughts.decision must be a text or a list of texts",
        ("error", 11, 24, "lanes.thoughts.decision"),
        id="lane-cell-type",
    ),
    pytest.param(
        BASE.replace("template: buyers-journey\n", "")
        + "stages:\n  - {id: awareness, kpis: [{metric: conversion_from_start, target: 60}]}\n",
        "stages[0].kpis[0].target 60 is outside 0-1: a conversion is a fraction (write 60% as 0.6)",
        ("warning", 10, 68, "stages[0].kpis[0].target"),
        id="kpi-conversion-target-a-percent",
    ),
    # Not finite: a KPI that no actual meets or misses (shown as missed, without a target), a
    # survey scale of no width, a bound no value fits.
    pytest.param(
        BASE.replace("template: buyers-journey\n", "")
        + "stages:\n  - {id: awareness, kpis: [{metric: reached, target: .nan}]}\n",
        "stages[0].kpis[0].target must be a finite number, not '.nan'",
        ("error", 10, 54, "stages[0].kpis[0].target"),
        id="kpi-target-nan",
    ),
    pytest.param(
        BASE + "surveys: [{event: csat, metric: csat, scale: [1, .inf]}]\n",
        "surveys[0].scale[1] must be a finite number, not '.inf'",
        ("error", 10, 50, "surveys[0].scale[1]"),
        id="survey-scale-inf",
    ),
    pytest.param(
        BASE.replace("path: /pricing", "path: {gte: -.inf}"),
        "touchpoints[1].match.where.path.gte must be a finite number, not '-.inf'",
        ("error", 8, 85, "touchpoints[1].match.where.path.gte"),
        id="bound-not-finite",
    ),
    pytest.param(
        BASE.replace("template: buyers-journey\n", "")
        + "stages:\n  - {id: awareness, kpis: [{metric: revenue, target: 5}]}\n",
        "stages[0].kpis[0].metric must be one of reached, entered, conversion_from_previous, "
        "conversion_from_start, dropped, median_days_in_stage, not 'revenue'",
        ("error", 10, 37, "stages[0].kpis[0].metric"),
        id="kpi-metric",
    ),
    pytest.param(
        BASE.replace("template: buyers-journey\n", "")
        + "stages:\n  - {id: awareness, kpis: [{metric: reached}]}\n",
        "stages[0].kpis[0] needs a metric and a target",
        ("error", 10, 28, "stages[0].kpis[0]"),
        id="kpi-needs-target",
    ),
    pytest.param(
        BASE.replace("template: buyers-journey\n", "")
        + "stages:\n  - {id: awareness, funnel: top}\n",
        "stages[0].funnel must be one of tofu, mofu, bofu, not 'top'",
        ("error", 10, 29, "stages[0].funnel"),
        id="funnel",
    ),
    pytest.param(
        BASE.replace("template: buyers-journey\n", "") + "stages:\n  - {label: Medvetenhet}\n",
        "stages[0] needs an id",
        ("error", 10, 5, "stages[0]"),
        id="stage-needs-id",
    ),
    pytest.param(
        BASE.replace("template: buyers-journey\n", "")
        + "stages:\n  - {id: awareness}\n  - {id: awareness}\n",
        "duplicate stage id 'awareness' (first defined on line 10)",
        ("error", 11, 10, "stages[1].id"),
        id="duplicate-stage",
    ),
    pytest.param(
        BASE.replace("template: buyers-journey\n", "") + "stages:\n  - {id: 'a b'}\n",
        "stages[0].id 'a b' must be a simple id",
        ("error", 10, 10, "stages[0].id"),
        id="stage-id-not-simple",
    ),
    pytest.param(
        BASE + "stages:\n  - {id: awareness}\n",
        "give either `template:` or a `stages:` list, not both",
        ("error", 3, 1, "template"),
        id="template-and-stages",
    ),
    pytest.param(
        BASE.replace("buyers-journey", "kundresa5"),
        "unknown template 'kundresa5'; did you mean 'kundresa-5'?",
        ("error", 3, 11, "template"),
        id="unknown-template",
    ),
    pytest.param(
        BASE.replace("template: buyers-journey\n", ""),
        "no stages",
        ("error", 1, 1, "stages"),
        id="no-stages",
    ),
    pytest.param(
        BASE + "review_by: 2026-05-31\n",
        "the map was due for review on 2026-05-31",
        ("warning", 10, 12, "review_by"),
        id="review-expired",
    ),
    pytest.param(
        BASE + "review_by: soon\n",
        "review_by must be a date YYYY-MM-DD, not 'soon'",
        ("error", 10, 12, "review_by"),
        id="review-not-a-date",
    ),
    pytest.param(
        BASE + "language: fi\n",
        "language must be one of sv, da, en, not 'fi'",
        ("error", 10, 11, "language"),
        id="language",
    ),
    pytest.param(
        BASE.replace("stage: consideration", "stage: awareness"),
        "no touchpoint leads to stage 'consideration': no customer can enter it",
        ("warning", 6, 1, "touchpoints"),
        id="stage-without-touchpoint",
    ),
    pytest.param(
        BASE + "personas:\n  - {id: anna, match: {equals: private}}\n",
        "personas[0].match needs a property",
        ("error", 11, 23, "personas[0].match"),
        id="persona-match-needs-property",
    ),
    pytest.param(
        BASE + "personas:\n  - {id: anna, needs: {a: b}}\n",
        "personas[0].needs must be a text or a list of texts",
        ("error", 11, 23, "personas[0].needs"),
        id="persona-needs-type",
    ),
    pytest.param(
        BASE.replace("name: T", "name: T\nname: U"),
        "key 'name' appears twice",
        ("error", 3, 1, ""),
        id="duplicate-key",
    ),
    pytest.param(
        BASE.replace("touchpoints:\n", "touchpoints: {a: 1}\n").split("  - {id: ad")[0],
        "touchpoints must be a list",
        ("error", 6, 14, "touchpoints"),
        id="touchpoints-not-a-list",
    ),
]


@pytest.mark.parametrize(("text", "fragment", "expected"), RULES)
def test_rule(text: str, fragment: str, expected: tuple[str, int, int, str]) -> None:
    journey, problems = parse(text)
    p = only(problems, fragment)
    assert where(p) == expected, str(p)
    assert p.source == "j.yaml"
    assert (journey is None) == any(q.severity == "error" for q in problems)


def test_unsupported_version_names_the_supported_one() -> None:
    journey, problems = parse(BASE.replace("kundresa: 1", "kundresa: 2"))
    assert journey is None
    p = only(problems, "format version 2 is not supported")
    assert "`kundresa: 1`" in p.message
    assert where(p) == ("error", 1, 11, "kundresa")


def test_shadowed_touchpoint() -> None:
    text = """\
    kundresa: 1
    template: kundresa-5
    touchpoints:
      - {id: any_buy, stage: decision, match: {event: [purchase, refund]}}
      - {id: ad, stage: awareness, match: {event: ad_click}}
      - id: repeat
        stage: retention
        match: {event: purchase, nth: 2}
      - {id: view, stage: consideration, match: {event: page_view}}
      - {id: pricing, stage: consideration, match: {event: page_view, where: {p: /pricing}}}
      - {id: everything, stage: advocacy, match: {}}
      - {id: late, stage: advocacy, match: {event: nps}}
    """
    journey, problems = parse(text)
    assert journey is None
    errors = [p for p in problems if p.severity == "error"]
    assert [(p.line, p.column, p.path) for p in errors] == [
        (6, 5, "touchpoints[2]"),
        (10, 5, "touchpoints[4]"),
        (12, 5, "touchpoints[6]"),
    ]
    assert errors[0].message.startswith(
        "touchpoint 'repeat' can never match: 'any_buy' (line 4) comes first and matches every "
        "event it would"
    )
    assert "'view' (line 9)" in errors[1].message
    assert "'everything' (line 11)" in errors[2].message


@pytest.mark.parametrize(
    ("earlier", "later"),
    [
        ("{event: purchase, nth: 2}", "{event: purchase}"),  # the later one takes the 1st
        ("{event: purchase, nth: 3}", "{event: purchase, nth: 2}"),
        ("{event: purchase}", "{event: [purchase, refund]}"),
        ("{event: purchase}", "{}"),
        ("{event: view, where: {p: /a}}", "{event: view}"),
        ("{event: view, where: {p: /a}}", "{event: view, where: {p: /b}}"),
        ("{event: view, where: {p: /a}}", "{event: view, where: {q: /a}}"),
    ],
)
def test_not_shadowed(earlier: str, later: str) -> None:
    text = f"""\
    kundresa: 1
    template: buyers-journey
    touchpoints:
      - {{id: three, stage: decision, match: {{event: zzz}}}}
      - {{id: one, stage: awareness, match: {earlier}}}
      - {{id: two, stage: consideration, match: {later}}}
    """
    _, problems = parse(text)
    assert problems == [], [str(p) for p in problems]


@pytest.mark.parametrize(
    ("earlier", "later"),
    [
        ("{event: purchase}", "{event: purchase, nth: 2}"),
        ("{event: purchase, nth: 1}", "{event: purchase}"),
        ("{event: purchase, nth: 2}", "{event: purchase, nth: 5}"),
        ("{event: [a, purchase]}", "{event: purchase}"),
        ("{}", "{event: purchase}"),
        ("{event: view, where: {p: /a}}", "{event: view, where: {p: {equals: /a}, q: x}}"),
        ("{where: {p: {regex: x}}}", "{event: view, where: {p: {regex: x}}, nth: 2}"),
    ],
)
def test_shadowed(earlier: str, later: str) -> None:
    text = f"""\
    kundresa: 1
    template: buyers-journey
    touchpoints:
      - {{id: three, stage: decision, match: {{event: zzz}}}}
      - {{id: one, stage: awareness, match: {earlier}}}
      - {{id: two, stage: consideration, match: {later}}}
    """
    _, problems = parse(text)
    p = only(problems, "can never match")
    assert where(p) == ("error", 6, 5, "touchpoints[2]")
    assert "'one' (line 5)" in p.message


def test_review_by_today_or_later_is_fine() -> None:
    for day in ("2026-06-01", "2026-12-01"):
        journey, problems = parse(BASE + f"review_by: {day}\n")
        assert problems == [] and journey is not None
        assert journey.review_by == date.fromisoformat(day)


def test_warnings_keep_the_journey() -> None:
    # Unknown keys that only name display text (a lane, a label's language) are warnings.
    journey, problems = parse(
        BASE.replace("name: T", "name: T\ndescription: {en: x}")
        + "lanes:\n  colours: {awareness: blue}\nreview_by: 2020-01-01\n"
    )
    assert [p.severity for p in problems] == ["warning", "warning"], problems
    assert journey is not None and journey.review_by == date(2020, 1, 1)
    journey, problems = parse(
        BASE.replace("template: buyers-journey\n", "")
        + "stages:\n  - {id: awareness, label: {en: A, xx: B}}\n"
        + "  - {id: consideration}\n  - {id: decision}\n"
    )
    assert [p.severity for p in problems] == ["warning"], problems
    assert "unknown key 'xx' in stages[0].label" in problems[0].message
    assert journey is not None and journey.stages[0].label == {"en": "A"}


def test_a_misspelt_match_key_is_an_error_not_a_match_all() -> None:
    # `{evnt: purchase}` used to be a warning, and the touchpoint then took every event.
    journey, problems = parse(BASE.replace("{event: purchase}", "{evnt: purchase}"))
    assert journey is None
    assert [p.severity for p in problems] == ["error"]


def test_every_problem_at_once_in_line_order() -> None:
    text = """\
    kundresa: 1
    name: [not, text]
    language: sv
    template: buyers-journey
    channels:
      - {id: web, online: maybe, ownership: rented}
    personas:
      - {id: anna, match: {property: segment, regex: '[a-'}}
    touchpoints:
      - {id: a, stage: awareness, channel: tv, match: {event: x, nth: two}}
      - {id: b, stage: decison, match: {event: y}}
      - {id: c, stage: decision, match: {event: z, where: {p: {regex: '('}}}}
      - {id: c, stage: consideration, match: {event: w}}
    lanes:
      emotions: {anna: {awareness: 5}, decision: nope}
      pain_points: {nowhere: x}
    """
    journey, problems = parse(text)
    assert journey is None
    got = [(p.line, p.path) for p in problems if p.severity == "error"]
    assert got == [
        (2, "name"),
        (6, "channels[0].online"),
        (6, "channels[0].ownership"),
        (8, "personas[0].match.regex"),
        (10, "touchpoints[0].channel"),
        (10, "touchpoints[0].match.nth"),
        (11, "touchpoints[1].stage"),
        (12, "touchpoints[2].match.where.p.regex"),
        (13, "touchpoints[3].id"),
        (15, "lanes.emotions.anna.awareness"),
        (15, "lanes.emotions.decision"),
        (16, "lanes.pain_points"),
    ]
    assert problems == sorted(problems, key=lambda p: (p.line or 0, p.column or 0))


@pytest.mark.parametrize(
    ("text", "line", "column", "fragment"),
    [
        ("kundresa: 1\nname: [a, b\n", 3, 1, "expected ',' or ']'"),
        ("kundresa: 1\nname: a: b\n", 2, 8, "mapping values are not allowed here"),
        ("kundresa: 1\n\tname: x\n", 2, 1, "found character '\\t'"),
        ("kundresa: 1\nname: 'open\n", 3, 1, "found unexpected end of stream"),
        ("kundresa: 1\nname: x\x07\n", 2, 8, "unacceptable character #x0007"),
    ],
)
def test_yaml_syntax_error_position(text: str, line: int, column: int, fragment: str) -> None:
    journey, problems = parse_journey(text, "j.yaml")
    assert journey is None
    assert len(problems) == 1
    p = problems[0]
    assert (p.severity, p.line, p.column) == ("error", line, column), str(p)
    assert p.message.startswith("not valid YAML: ") and fragment in p.message, p.message


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "the file is empty"),
        ("# only a comment\n", "the file is empty"),
        ("- a\n- b\n", "the file must be a mapping of keys to values"),
        ("just text", "the file must be a mapping of keys to values"),
        ("[" * 3000, "the file nests deeper than 50 levels"),
    ],
)
def test_not_a_journey(text: str, message: str) -> None:
    journey, problems = parse_journey(text)
    assert journey is None
    assert [p.message for p in problems] == [message]


def test_problem_str() -> None:
    p = Problem("error", "unknown stage 'x'", "j.yaml", 14, 7, "touchpoints[2].stage")
    assert str(p) == "j.yaml:14:7: error: unknown stage 'x' (at touchpoints[2].stage)"
    p = Problem("warning", "in touchpoints[2].stage", "j.yaml", 14, 7, "touchpoints[2].stage")
    assert str(p) == "j.yaml:14:7: warning: in touchpoints[2].stage"
    assert str(Problem("error", "bad", "j.yaml")) == "j.yaml: error: bad"


def test_conditions_and_persona_match_forms() -> None:
    text = BASE.replace(
        "where: {path: /pricing}",
        "where: {path: {regex: ^/pricing, in: [/pricing, /pricing/pro]}, n: {gte: 1, lte: 5},"
        " d: {gte: 2026-01-01}, code: 7}",
    ) + (
        "personas:\n"
        "  - {id: big, match: {property: employees, gte: 100}}\n"
        "  - {id: nordic, match: {property: country, in: [se, dk]}}\n"
    )
    journey, problems = parse(text)
    assert problems == [] and journey is not None
    w = journey.touchpoint("price").match.where
    assert w["path"] == Condition(regex="^/pricing", in_=("/pricing", "/pricing/pro"))
    assert w["n"] == Condition(gte=1.0, lte=5.0)
    assert w["d"] == Condition(gte="2026-01-01")
    assert w["code"] == Condition(equals="7")
    big, nordic = journey.personas
    assert big.name == "big" and big.match is not None
    assert big.match.property == "employees" and big.match.condition == Condition(gte=100.0)
    assert nordic.match is not None and nordic.match.condition == Condition(in_=("se", "dk"))
    assert journey.persona_for([{"country": "dk"}, {"employees": "20"}]) == "nordic"
    assert journey.persona_for([{"country": "dk"}, {"employees": "250"}]) == "big"
    assert journey.persona_for([{"country": "fi"}]) is None


def test_match_without_event_takes_any_event() -> None:
    text = BASE.replace("{event: purchase}", "{where: {order_id: {regex: .}}}")
    journey, problems = parse(text)
    assert problems == [] and journey is not None
    m = journey.touchpoint("buy").match
    assert m.events is None
    assert m.fits("anything", {"order_id": "7"}) and not m.fits("anything", {})


def test_lanes_per_stage_and_per_persona() -> None:
    text = BASE + (
        "personas: [{id: anna}, {id: erik}]\n"
        "lanes:\n"
        "  needs: {anna: {awareness: [Snabbt]}, decision: Tryggt}\n"
        "  emotions: {anna: {awareness: -2, decision: 1.5}, erik: {decision: 2}, awareness: 0}\n"
        "  touchpoints: {awareness: Annons}\n"
        "  channels: {awareness: [Sociala medier]}\n"
    )
    journey, problems = parse(text)
    assert problems == [] and journey is not None
    assert journey.lane("needs", "awareness", "anna") == ["Snabbt"]
    assert journey.lane("needs", "decision") == ["Tryggt"]
    assert journey.lane("emotions", "decision", "anna") == 1.5
    assert journey.lane("emotions", "awareness") == 0.0
    assert journey.lane("touchpoints", "awareness") == ["Annons"]


def test_load_and_validate_file(tmp_path: Path) -> None:
    good = tmp_path / "journey.yaml"
    good.write_text(BASE, encoding="utf-8")
    assert load_journey(good).name == "T"
    assert validate_file(good) == []

    bad = tmp_path / "bad.yaml"
    bad.write_text(BASE.replace("stage: decision", "stage: decison"), encoding="utf-8")
    with pytest.raises(JourneyError) as exc:
        load_journey(bad)
    assert len(exc.value.problems) >= 1
    assert str(exc.value).startswith(f"{bad}:9:22: error: unknown stage 'decison'")
    assert [p.line for p in validate_file(bad) if p.severity == "error"] == [9]

    missing = tmp_path / "missing.yaml"
    assert "cannot read the file" in validate_file(missing)[0].message
    with pytest.raises(JourneyError, match="cannot read the file"):
        load_journey(missing)

    latin1 = tmp_path / "latin1.yaml"
    latin1.write_bytes("kundresa: 1\nname: Köp\n".encode("latin-1"))
    assert "cannot read the file" in validate_file(latin1)[0].message


def test_expired_review_is_checked_against_today_by_default(tmp_path: Path) -> None:
    f = tmp_path / "journey.yaml"
    f.write_text(BASE + "review_by: 2000-01-01\n", encoding="utf-8")
    assert [p.severity for p in validate_file(f)] == ["warning"]
    assert validate_file(f, today=date(1999, 1, 1)) == []


def test_empty_sections_are_empty() -> None:
    text = "kundresa: 1\ntemplate: buyers-journey\npersonas:\nchannels:\nlanes:\n  needs:\n"
    journey, problems = parse(text)
    assert problems == [] and journey is not None
    assert journey.personas == () and journey.channels == () and journey.lanes == {"needs": {}}
    journey, problems = parse(text + "touchpoints:\n")
    assert journey is not None and journey.touchpoints == ()
    assert [p.message for p in problems] == [
        f"no touchpoint leads to stage {s!r}: no customer can enter it"
        for s in ("awareness", "consideration", "decision")
    ]


def test_public_names() -> None:
    import kundresa.model as model

    for name in [
        "Journey",
        "Stage",
        "Persona",
        "Channel",
        "Touchpoint",
        "Match",
        "Condition",
        "Kpi",
        "PersonaMatch",
        "JourneyTemplate",
        "StageTemplate",
        "TEMPLATES",
        "get_template",
        "parse_journey",
        "load_journey",
        "validate_file",
        "Problem",
        "JourneyError",
        "render_journey_yaml",
        "assign_touchpoints",
        "LANES",
        "KPI_METRICS",
    ]:
        assert name in model.__all__ and hasattr(model, name), name
    # tests/test_public_api.py checks that __all__ is sorted (ruff's RUF022 order).
    assert set(model.KPI_METRICS) == {
        "reached",
        "entered",
        "conversion_from_previous",
        "conversion_from_start",
        "dropped",
        "median_days_in_stage",
    }
