"""The reference touchpoint matcher, checked against an even plainer brute force."""

from __future__ import annotations

import re
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from kundresa.model import (
    Condition,
    Journey,
    Match,
    Persona,
    PersonaMatch,
    Stage,
    Touchpoint,
    assign_touchpoints,
    parse_journey,
)
from kundresa.model.assign import stage_of

JOURNEY_TEXT = """\
kundresa: 1
template: kundresa-5
touchpoints:
  - {id: repeat, stage: retention, match: {event: purchase, nth: 2}}
  - {id: first, stage: decision, match: {event: purchase}}
  - {id: promoter, stage: advocacy, match: {event: nps, where: {score: {gte: 9}}}}
  - {id: pricing, stage: consideration, match: {event: view, where: {path: {regex: ^/pricing}}}}
  - {id: nordic, stage: consideration, match: {where: {country: {in: [se, dk]}}}}
  - {id: view, stage: awareness, match: {event: [view, ad_click]}}
"""


def journey() -> Journey:
    j, problems = parse_journey(JOURNEY_TEXT)
    assert j is not None, problems
    return j


def ev(customer: str, ts: Any, event: str, **props: str) -> dict[str, Any]:
    return {"customer_id": customer, "timestamp": ts, "event": event, "properties": props}


def test_first_fitting_touchpoint_wins() -> None:
    events = [
        ev("a", 1, "view", path="/pricing/pro", country="se"),
        ev("a", 2, "view", path="/blog", country="se"),
        ev("a", 3, "view", path="/blog"),
        ev("a", 4, "nps", score="10"),
        ev("a", 5, "nps", score="8"),
        ev("a", 6, "nps"),  # a missing property never fits
        ev("a", 7, "nps", score="ten"),  # not a number: a numeric bound does not fit
        ev("a", 8, "wave"),
    ]
    assert assign_touchpoints(journey(), events) == [
        "pricing",
        "nordic",
        "view",
        "promoter",
        None,
        None,
        None,
        None,
    ]


def test_nth_counts_per_customer_in_time_order() -> None:
    events = [
        ev("a", 30, "purchase"),
        ev("b", 5, "purchase"),
        ev("a", 10, "purchase"),
        ev("a", 20, "purchase"),
    ]
    assert assign_touchpoints(journey(), events) == ["repeat", "first", "first", "repeat"]


def test_nth_ties_are_taken_in_input_order() -> None:
    events = [ev("a", 1, "purchase"), ev("a", 1, "purchase"), ev("a", 0, "view")]
    assert assign_touchpoints(journey(), events) == ["first", "repeat", "view"]


def test_nth_counts_events_another_touchpoint_took() -> None:
    j, problems = parse_journey("""\
kundresa: 1
template: buyers-journey
touchpoints:
  - {id: pricing, stage: consideration, match: {event: view, where: {path: /pricing}}}
  - {id: third_view, stage: decision, match: {event: view, nth: 3}}
  - {id: view, stage: awareness, match: {event: view}}
""")
    assert j is not None, problems
    events = [ev("a", t, "view", path=p) for t, p in enumerate(["/pricing", "/", "/", "/pricing"])]
    # The first view went to `pricing` but still counts: the third view is the 3rd.
    assert assign_touchpoints(j, events) == ["pricing", "view", "third_view", "pricing"]


def test_no_touchpoints_and_no_events() -> None:
    j = journey()
    assert assign_touchpoints(j, []) == []
    bare = Journey("bare", j.stages)
    assert assign_touchpoints(bare, [ev("a", 1, "view")]) == [None]


def test_missing_properties_mapping() -> None:
    events = [{"customer_id": "a", "timestamp": 1, "event": "view", "properties": None}]
    assert assign_touchpoints(journey(), events) == ["view"]
    assert assign_touchpoints(journey(), [{"customer_id": "a", "timestamp": 1, "event": "x"}]) == [
        None
    ]


def test_stage_of() -> None:
    j = journey()
    assert stage_of(j, "repeat") == "retention"
    assert stage_of(j, None) is None


def test_persona_for_first_persona_in_file_order() -> None:
    j, problems = parse_journey("""\
kundresa: 1
template: buyers-journey
personas:
  - {id: vip, match: {property: orders, gte: 10}}
  - {id: private, match: {property: segment, equals: private}}
  - {id: nomatch}
""")
    assert j is not None, problems
    assert j.persona_for([{"segment": "private"}, {"orders": "12"}]) == "vip"
    assert j.persona_for([{"segment": "private"}, {"orders": "3"}]) == "private"
    assert j.persona_for([{"segment": "business"}]) is None
    assert j.persona_for([]) is None


# -- brute force ----------------------------------------------------------------------------------

VALUES = ["1", "5", "9", "10", "abc", "b", "/pricing", "/pricing/pro", "/blog"]
PROPS = ["path", "score"]
EVENTS = ["view", "buy", "click"]


def _number(v: Any) -> float | None:
    try:
        return float(v)
    except (TypeError, ValueError):
        return None


def condition_holds(spec: dict[str, Any], value: str | None) -> bool:
    if value is None:
        return False
    if "equals" in spec and value != spec["equals"]:
        return False
    if "in" in spec and value not in spec["in"]:
        return False
    if "regex" in spec and not re.search(spec["regex"], value):
        return False
    for key in ("gte", "lte"):
        if key not in spec:
            continue
        bound = spec[key]
        if isinstance(bound, float):  # a number: compare as numbers; text never fits
            v = _number(value)
            if v is None:
                return False
            ok = v >= bound if key == "gte" else v <= bound
        else:
            ok = value >= bound if key == "gte" else value <= bound
        if not ok:
            return False
    return True


def spec_fits(spec: dict[str, Any], e: dict[str, Any]) -> bool:
    if spec["events"] is not None and e["event"] not in spec["events"]:
        return False
    props = e["properties"]
    return all(condition_holds(c, props.get(k)) for k, c in spec["where"].items())


def brute_force(specs: list[dict[str, Any]], events: list[dict[str, Any]]) -> list[str | None]:
    out: list[str | None] = []
    for i, e in enumerate(events):
        chosen = None
        for k, spec in enumerate(specs):
            if not spec_fits(spec, e):
                continue
            earlier_or_same = [
                j
                for j, f in enumerate(events)
                if f["customer_id"] == e["customer_id"]
                and (f["timestamp"], j) <= (e["timestamp"], i)
                and spec_fits(spec, f)
            ]
            if len(earlier_or_same) >= (spec["nth"] or 1):
                chosen = f"tp{k}"
                break
        out.append(chosen)
    return out


conditions = st.fixed_dictionaries(
    {},
    optional={
        "equals": st.sampled_from(VALUES),
        "in": st.lists(st.sampled_from(VALUES), min_size=1, max_size=3),
        "regex": st.sampled_from(["^/pricing", "o", "^[0-9]+$", "b$"]),
        "gte": st.sampled_from([5.0, 9.0, "b", "/p"]),
        "lte": st.sampled_from([5.0, 9.0, "b", "/p"]),
    },
)
specs = st.fixed_dictionaries(
    {
        "events": st.none() | st.lists(st.sampled_from(EVENTS), min_size=1, max_size=2),
        "where": st.dictionaries(st.sampled_from(PROPS), conditions, max_size=2),
        "nth": st.sampled_from([None, 1, 2, 3]),
    }
)
events_st = st.lists(
    st.fixed_dictionaries(
        {
            "customer_id": st.sampled_from(["a", "b"]),
            "timestamp": st.integers(0, 4),
            "event": st.sampled_from(EVENTS),
            "properties": st.dictionaries(st.sampled_from(PROPS), st.sampled_from(VALUES)),
        }
    ),
    max_size=12,
)


def to_condition(c: dict[str, Any]) -> Condition:
    return Condition(
        equals=c.get("equals"),
        in_=tuple(c["in"]) if "in" in c else None,
        regex=c.get("regex"),
        gte=c.get("gte"),
        lte=c.get("lte"),
    )


def to_touchpoint(k: int, spec: dict[str, Any]) -> Touchpoint:
    where = {prop: to_condition(c) for prop, c in spec["where"].items()}
    events = tuple(spec["events"]) if spec["events"] is not None else None
    return Touchpoint(f"tp{k}", "s", Match(events, where, spec["nth"]))


@settings(max_examples=300, deadline=None)
@given(st.lists(specs, max_size=4), events_st)
def test_matches_brute_force(tp_specs: list[dict[str, Any]], events: list[dict[str, Any]]) -> None:
    touchpoints = tuple(to_touchpoint(k, spec) for k, spec in enumerate(tp_specs))
    j = Journey("j", (Stage("s", {}),), touchpoints=touchpoints)
    assert assign_touchpoints(j, events) == brute_force(tp_specs, events)


@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.tuples(st.sampled_from(PROPS), conditions), max_size=3),
    st.lists(st.dictionaries(st.sampled_from(PROPS), st.sampled_from(VALUES)), max_size=4),
)
def test_persona_for_matches_brute_force(
    persona_specs: list[tuple[str, dict[str, Any]]], customer_events: list[dict[str, str]]
) -> None:
    personas = tuple(
        Persona(f"p{i}", f"p{i}", match=PersonaMatch(prop, to_condition(c)))
        for i, (prop, c) in enumerate(persona_specs)
    )
    j = Journey("j", (Stage("s", {}),), personas=personas)
    want = next(
        (
            f"p{i}"
            for i, (prop, c) in enumerate(persona_specs)
            if any(condition_holds(c, e.get(prop)) for e in customer_events)
        ),
        None,
    )
    assert j.persona_for(customer_events) == want
