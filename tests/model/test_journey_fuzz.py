"""The parser never raises: any text, any YAML structure, any damaged file gives problems."""

from __future__ import annotations

from datetime import date
from typing import Any

import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from kundresa.model import Journey, Problem, parse_journey, render_journey_yaml

TODAY = date(2026, 1, 1)
VALID = render_journey_yaml("kundresa-7", "sv", today=TODAY)

KEYS = [
    "kundresa",
    "name",
    "language",
    "circular",
    "timezone",
    "review_by",
    "template",
    "stages",
    "personas",
    "channels",
    "touchpoints",
    "lanes",
    "id",
    "label",
    "funnel",
    "goal",
    "kpis",
    "metric",
    "target",
    "direction",
    "stage",
    "channel",
    "match",
    "event",
    "where",
    "nth",
    "equals",
    "in",
    "regex",
    "gte",
    "lte",
    "property",
    "online",
    "ownership",
    "emotions",
    "activities",
    "awareness",
    "decision",
    "anna",
    "sv",
    "en",
]
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-5, 5),
    st.floats(allow_nan=True),
    st.dates(),
    st.sampled_from(["kundresa-5", "awareness", "purchase", "(", "tofu", "owned", "sv", ""]),
    st.text(max_size=8),
)
STRUCTURES = st.recursive(
    SCALARS,
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=5), children, max_size=5)
    ),
    max_leaves=30,
)


def check(journey: Journey | None, problems: list[Problem]) -> None:
    assert (journey is None) == any(p.severity == "error" for p in problems)
    for p in problems:
        assert p.severity in ("error", "warning")
        assert p.message
        assert p.line is None or p.line >= 1
        assert p.column is None or p.column >= 1
        str(p)


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_any_text(text: str) -> None:
    check(*parse_journey(text, today=TODAY))


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.sampled_from(KEYS), STRUCTURES, max_size=8))
def test_any_structure(data: dict[str, Any]) -> None:
    check(*parse_journey(yaml.safe_dump(data, allow_unicode=True), today=TODAY))


@settings(max_examples=200, deadline=None)
@given(
    st.fixed_dictionaries(
        {"kundresa": st.just(1), "template": st.just("kundresa-5")},
        optional={k: STRUCTURES for k in ("personas", "channels", "touchpoints", "lanes")},
    )
)
def test_any_sections_of_a_real_journey(data: dict[str, Any]) -> None:
    check(*parse_journey(yaml.safe_dump(data, allow_unicode=True), today=TODAY))


@settings(max_examples=150, deadline=None)
@given(st.data())
def test_damaged_file(data: st.DataObject) -> None:
    lines = VALID.splitlines(keepends=True)
    for _ in range(data.draw(st.integers(1, 4))):
        i = data.draw(st.integers(0, len(lines) - 1))
        action = data.draw(st.sampled_from(["delete", "duplicate", "cut", "insert"]))
        if action == "delete":
            del lines[i]
        elif action == "duplicate":
            lines.insert(i, lines[i])
        elif action == "cut":
            lines[i] = lines[i][: data.draw(st.integers(0, len(lines[i])))]
        else:
            lines.insert(i, data.draw(st.text(max_size=20)) + "\n")
        if not lines:
            break
    check(*parse_journey("".join(lines), today=TODAY))


def test_valid_file_has_no_problems() -> None:
    assert parse_journey(VALID, today=TODAY)[1] == []


def test_hostile_yaml() -> None:
    for text in [
        "a: &x [*x]\n",
        "kundresa: 1\nstages: &s [*s]\n",
        "kundresa: 1\ntemplate: buyers-journey\nlanes: &l {activities: *l}\n",
        "kundresa: !!python/object:os.system x\n",
        "kundresa: 1\nname: !!binary zz\n",
        "kundresa: 1\nreview_by: 2026-02-30\n",
        "? [a, b]\n: c\n",
        "kundresa: 1\n" + "x: " + "[" * 2000 + "]" * 2000 + "\n",
        "--- a\n--- b\n",
        "\ufeffkundresa: 1\ntemplate: buyers-journey\n",
    ]:
        check(*parse_journey(text, today=TODAY))
