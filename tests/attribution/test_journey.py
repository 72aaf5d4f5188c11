"""Paths from events and stage paths against a plain-Python reference."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kundresa import read_events
from kundresa.attribution.journey import (
    NO_TOUCH,
    conversion_paths,
    stage_attribution,
    stage_paths,
)
from kundresa.model import Journey, parse_journey

T0 = datetime(2025, 1, 1)
STAGE = {"ad": 1, "mail": 1, "demo": 2, "buy": 3, "nps": 4}


def journey() -> Journey:
    j, problems = parse_journey(
        """
kundresa: 1
name: Test
template: kundresa-5
touchpoints:
  - {id: t_ad, stage: awareness, match: {event: ad}}
  - {id: t_mail, stage: awareness, match: {event: mail}}
  - {id: t_demo, stage: consideration, match: {event: demo}}
  - {id: t_buy, stage: decision, match: {event: buy}}
  - {id: t_nps, stage: retention, match: {event: nps}}
"""
    )
    assert j is not None, problems
    return j


Row = tuple[str, int, str, str | None, float | None]
row_st = st.tuples(
    st.sampled_from(["a", "b", "c"]),
    st.integers(0, 60),  # days
    st.sampled_from(["ad", "mail", "demo", "buy", "nps", "x"]),
    st.sampled_from([None, "email", "search", "social"]),
    st.sampled_from([None, 10.0, 25.5]),
)


def table(rows: list[Row]):
    return read_events(
        pd.DataFrame(
            {
                "customer_id": [r[0] for r in rows],
                "timestamp": [T0 + timedelta(days=r[1]) for r in rows],
                "event": [r[2] for r in rows],
                "channel": [r[3] for r in rows],
                "value": [r[4] for r in rows],
                "event_id": [f"{i:04d}" for i in range(len(rows))],
            }
        )
    )


def ordered(rows: list[Row]) -> dict[str, list[tuple]]:
    out: dict[str, list[tuple]] = {}
    for i, r in enumerate(rows):
        out.setdefault(r[0], []).append((r[1], r[2], f"{i:04d}", r[3], r[4]))
    return {c: sorted(v, key=lambda e: (e[0], e[1], e[2])) for c, v in out.items()}


def node(e: tuple, level: str) -> str | None:
    return e[3] if level == "channel" else (f"t_{e[1]}" if e[1] in STAGE else None)


def reference_paths(rows: list[Row], conv: str, level: str, lookback: int | None) -> Counter:
    out: Counter = Counter()
    for evs in ordered(rows).values():
        entered = False
        pending: list[tuple] = []
        for e in evs:
            if conv == "stage:decision":
                is_conv = STAGE.get(e[1]) == 3 and not entered
                entered = entered or STAGE.get(e[1]) == 3
            else:
                is_conv = e[1] == conv
            if is_conv:
                kept = [p for p in pending if lookback is None or e[0] - p[0] <= lookback]
                path = tuple(node(p, level) for p in kept) or (NO_TOUCH,)
                out[(path, 1.0, e[4] or 0.0)] += 1
                pending = []
            elif node(e, level) is not None:
                pending.append(e)
        if pending:
            end = pending[-1][0]
            kept = [p for p in pending if lookback is None or end - p[0] <= lookback]
            out[(tuple(node(p, level) for p in kept), 0.0, 0.0)] += 1
    return out


@settings(max_examples=60, deadline=None)
@given(
    st.lists(row_st, max_size=30),
    st.sampled_from(["buy", "stage:decision"]),
    st.sampled_from(["channel", "touchpoint"]),
    st.sampled_from([None, 10]),
)
def test_conversion_paths_match_reference(rows, conv, level, lookback) -> None:
    got = conversion_paths(
        table(rows),
        conversion=conv,
        journey=journey(),
        level=level,
        lookback=None if lookback is None else f"{lookback}d",
    )
    have = Counter(
        (p, c, v) for p, c, v in zip(got["path"], got["conversions"], got["value"], strict=True)
    )
    assert have == reference_paths(rows, conv, level, lookback)
    assert (got["nulls"] == 1 - got["conversions"]).all()
    assert all(len(p) == len(a) for p, a in zip(got["path"], got["ages"], strict=True))


@settings(max_examples=60, deadline=None)
@given(st.lists(row_st, max_size=30), st.sampled_from(["awareness", "consideration"]))
def test_stage_paths_match_reference(rows, stage) -> None:
    k = {"awareness": 1, "consideration": 2}[stage]
    want: Counter = Counter()
    for evs in ordered(rows).values():
        start = next((e[0] for e in evs if STAGE.get(e[1]) == k), None)
        if start is None:
            continue
        after = [e for e in evs if e[0] >= start]
        out = next((e[0] for e in after if STAGE.get(e[1], 0) > k), None)
        end = out if out is not None else after[-1][0]
        touches = [
            e
            for e in after
            if e[3] is not None and (out is None or e[0] < out) and end - e[0] <= 30
        ]
        path = tuple(e[3] for e in touches) or (NO_TOUCH,)
        want[(path, 1.0 if out is not None else 0.0)] += 1
    got = stage_paths(table(rows), journey(), stage)
    assert Counter(zip(got["path"], got["conversions"], strict=True)) == want
    assert (got["nulls"] == 1 - got["conversions"]).all()


# -- stage attribution, hand-checked ----------------------------------------------------------
#
# awareness → consideration (4 customers entered awareness):
#   a: ad/search d0, mail/email d1, demo d2 → progresses; path search > email
#   b: ad/social d0, mail/email d3, demo d4 → progresses; path social > email
#   c: ad/search d0, mail/email d1          → stalls;     path search > email
#   d: ad/social d0                         → stalls;     path social
# Chain: (start)→search 2, →social 2; search→email 2; social→email 1, →(null) 1;
# email→(conversion) 2, →(null) 1. x_email = 2/3, x_search = 2/3, x_social = 1/3,
# P = 1/2. Without email: 0 (effect 1); without search: 1/2 · 1/3 = 1/6 (effect 2/3);
# without social: 1/2 · 2/3 = 1/3 (effect 1/3). Sum 2; 2 progressions → email 1,
# search 2/3, social 1/3.
#
# consideration → decision (a and b entered consideration, with demo/web):
#   a: demo/web d2, mail/email d3, buy d5 → progresses; path web > email
#   b: demo/web d4                        → stalls;     path web
# Chain: (start)→web 2; web→email 1, →(null) 1; email→(conversion) 1. P = 1/2; removing
# either channel leaves 0 (effect 1 each): web 1/2, email 1/2.
#
# decision → retention: only a entered decision (buy d5, no channel) and never progressed:
# one stalled customer without a touch, path (no touch); nothing to credit.
# retention → advocacy: nobody entered retention; no rows.
STAGE_CASE: list[Row] = [
    ("a", 0, "ad", "search", None),
    ("a", 1, "mail", "email", None),
    ("a", 2, "demo", "web", None),
    ("a", 3, "mail", "email", None),
    ("a", 5, "buy", None, 80.0),
    ("b", 0, "ad", "social", None),
    ("b", 3, "mail", "email", None),
    ("b", 4, "demo", "web", None),
    ("c", 0, "ad", "search", None),
    ("c", 1, "mail", "email", None),
    ("d", 0, "ad", "social", None),
]


def test_stage_attribution_hand_checked() -> None:
    df = stage_attribution(table(STAGE_CASE), journey(), lang="en")
    assert list(df.columns) == [
        "from_stage",
        "to_stage",
        "label",
        "customers",
        "progressed",
        "channel",
        "conversions",
        "share",
        "removal_effect",
        "progressed_with",
        "stalled_with",
        "progression_rate_with",
    ]
    got = {
        (r.from_stage, r.channel): (
            r.conversions,
            r.removal_effect,
            r.progressed_with,
            r.stalled_with,
        )
        for r in df.itertuples()
    }
    want = {
        ("awareness", "email"): (1.0, 1.0, 2, 1),
        ("awareness", "search"): (2 / 3, 2 / 3, 1, 1),
        ("awareness", "social"): (1 / 3, 1 / 3, 1, 1),
        ("consideration", "web"): (0.5, 1.0, 1, 1),
        ("consideration", "email"): (0.5, 1.0, 1, 0),
        ("decision", NO_TOUCH): (0.0, 0.0, 0, 1),
    }
    assert got.keys() == want.keys()
    for key, (conversions, effect, progressed, stalled) in want.items():
        c, e, p, s = got[key]
        assert c == pytest.approx(conversions, abs=1e-12), key
        assert e == pytest.approx(effect, abs=1e-12), key
        assert (p, s) == (progressed, stalled), key
    per_stage = df.groupby("from_stage", sort=False).agg(
        to_stage=("to_stage", "first"),
        label=("label", "first"),
        customers=("customers", "first"),
        progressed=("progressed", "first"),
        credited=("conversions", "sum"),
    )
    assert per_stage.to_dict("index") == {
        "awareness": {
            "to_stage": "consideration",
            "label": "Awareness → Consideration",
            "customers": 4,
            "progressed": 2,
            "credited": pytest.approx(2.0),
        },
        "consideration": {
            "to_stage": "decision",
            "label": "Consideration → Action/Decision",
            "customers": 2,
            "progressed": 1,
            "credited": pytest.approx(1.0),
        },
        "decision": {
            "to_stage": "retention",
            "label": "Action/Decision → Retention",
            "customers": 1,
            "progressed": 0,
            "credited": 0.0,
        },
    }
    rates = {(r.from_stage, r.channel): r.progression_rate_with for r in df.itertuples()}
    assert rates[("awareness", "email")] == pytest.approx(2 / 3)
    assert rates[("consideration", "email")] == 1.0


def test_stage_attribution_touchpoint_level_and_higher_order() -> None:
    # At touchpoint level the nodes are the touchpoints (t_ad, t_mail, t_demo): the same
    # walks with other names, so the same credits.
    by_channel = stage_attribution(table(STAGE_CASE), journey())
    by_touchpoint = stage_attribution(table(STAGE_CASE), journey(), level="touchpoint")
    aware = by_touchpoint[by_touchpoint["from_stage"] == "awareness"].set_index("channel")
    assert aware.loc["t_mail", "conversions"] == pytest.approx(1.0)
    assert aware.loc["t_ad", "conversions"] == pytest.approx(1.0)  # search 2/3 + social 1/3
    # Order 2 on the same paths: states (search,email), (social,email), (social).
    second = stage_attribution(table(STAGE_CASE), journey(), order=2)
    first_order = by_channel[by_channel["from_stage"] == "awareness"]
    assert second[second["from_stage"] == "awareness"]["conversions"].sum() == pytest.approx(
        first_order["conversions"].sum()
    )


def test_stage_attribution_lookback_and_empty() -> None:
    # A 1-day lookback keeps only the touches within a day of progressing (or of the last
    # event): a's awareness path is just email (d1, progressing at d2).
    paths = stage_paths(table(STAGE_CASE), journey(), "awareness", lookback="1d")
    assert Counter(zip(paths["path"], paths["conversions"], strict=True)) == Counter(
        {
            (("email",), 1.0): 2,  # a: email d1 (search d0 is 2 days before d2); b: email d3
            (("search", "email"), 0.0): 1,  # c: ends d1
            (("social",), 0.0): 1,
        }
    )
    nobody = stage_attribution(table([("a", 0, "x", "email", None)]), journey())
    assert nobody.empty


def test_bad_options() -> None:
    t = table([("a", 0, "ad", "email", None)])
    with pytest.raises(ValueError, match="level 'page' is not one of"):
        conversion_paths(t, level="page")
    with pytest.raises(ValueError, match="need a journey"):
        conversion_paths(t, conversion="stage:decision")
    with pytest.raises(ValueError, match="no stage 'nowhere'"):
        conversion_paths(t, conversion="stage:nowhere", journey=journey())
    with pytest.raises(ValueError, match="lookback must be longer than zero"):
        conversion_paths(t, lookback=0)
    with pytest.raises(ValueError, match="is the last stage"):
        stage_paths(t, journey(), "advocacy")
    with pytest.raises(ValueError, match="'nowhere' is not a stage"):
        stage_paths(t, journey(), "nowhere")


@settings(max_examples=10, deadline=None)  # each example runs every transition's query
@given(st.lists(row_st, max_size=30), st.sampled_from(["channel", "touchpoint"]))
def test_stage_attribution_holders_match_paths(rows, level) -> None:
    """``progressed_with`` / ``stalled_with`` (counted at once from the encoded paths) are
    the customers whose stage path holds the node, counted path by path."""
    events, j = table(rows), journey()
    got = stage_attribution(events, j, level=level)
    for s in got["from_stage"].unique():
        holds: Counter = Counter()
        for path, conv in zip(
            *(stage_paths(events, j, s, level=level)[c] for c in ("path", "conversions")),
            strict=True,
        ):
            for node in set(path):
                holds[(node, conv > 0)] += 1
        mine = got[got["from_stage"] == s]
        assert {(r.channel, True): r.progressed_with for r in mine.itertuples()} | {
            (r.channel, False): r.stalled_with for r in mine.itertuples()
        } == {(c, moved): holds[(c, moved)] for c in mine["channel"] for moved in (True, False)}


@settings(max_examples=25, deadline=None)
@given(
    st.lists(row_st, max_size=30),
    st.sampled_from(["channel", "touchpoint"]),
    st.sampled_from([None, 10]),
)
def test_every_transition_at_once_equals_one_at_a_time(rows, level, lookback) -> None:
    """Stage attribution reads the touches of every transition in one query and encodes them
    straight from the rows: each transition's rows are those of its own query, and its
    encoding is the one of its paths frame."""
    from kundresa.analytics.touchpoints import tag_events
    from kundresa.attribution._paths import COLUMNS, encode
    from kundresa.attribution.journey import _encoded_of, _paths_of, _stage_rows

    tagged = tag_events(table(rows), journey())
    window = None if lookback is None else lookback * 86400.0
    for k, df, population in _stage_rows(tagged, [1, 2, 3, 4], level, window, None):
        [(_, alone, people)] = list(_stage_rows(tagged, [k], level, window, None))
        assert df.drop_columns(["_k"]).equals(alone.drop_columns(["_k"]))
        assert sorted(population.column("_who").to_pylist()) == sorted(
            people.column("_who").to_pylist()
        )
        got = _encoded_of(df, population)
        want = encode(_paths_of(df, population, ages=False)[COLUMNS])
        for field in ("channels", "codes", "starts", "lengths", "conversions", "value", "nulls"):
            mine, theirs = getattr(got, field), getattr(want, field)
            assert mine.dtype == theirs.dtype, field
            assert mine.tolist() == theirs.tolist(), field


@settings(max_examples=40, deadline=None)
@given(
    st.lists(row_st, max_size=30),
    st.sampled_from(["buy", "stage:decision"]),
    st.sampled_from(["channel", "touchpoint"]),
    st.sampled_from([None, 10]),
)
def test_encoded_conversion_paths_equal_the_encoded_frame(rows, conv, level, lookback) -> None:
    """The attribution page's paths, encoded straight from the rows, are the paths frame
    encoded: every array, every touch's age, and so every model's credit."""
    import numpy as np

    from kundresa.attribution._paths import encode, touch_ages
    from kundresa.attribution.journey import conversion_paths_encoded
    from kundresa.attribution.models import compare_models

    options = {
        "conversion": conv,
        "journey": journey(),
        "level": level,
        "lookback": None if lookback is None else f"{lookback}d",
    }
    events = table(rows)
    frame = conversion_paths(events, **options)
    got = conversion_paths_encoded(events, **options)
    want = encode(frame)
    for field in ("channels", "codes", "starts", "lengths", "conversions", "value", "nulls"):
        mine, theirs = getattr(got, field), getattr(want, field)
        assert mine.dtype == theirs.dtype, field
        assert mine.tolist() == theirs.tolist(), field
    np.testing.assert_array_equal(touch_ages(got), touch_ages(want))
    if len(frame):
        pd.testing.assert_frame_equal(compare_models(got), compare_models(frame))


def test_paths_without_a_touch_come_in_one_order() -> None:
    """CI found the encoded paths and the paths frame listing the conversions without a touch
    in different orders (their query was read unordered): every call lists them alike."""
    from kundresa.attribution._paths import encode
    from kundresa.attribution.journey import conversion_paths_encoded

    rows: list[Row] = [
        ("c", 49, "nps", "search", None), ("c", 52, "buy", None, None),
        ("a", 52, "demo", "search", 25.5), ("b", 31, "ad", None, 10.0),
        ("b", 6, "buy", "social", 10.0), ("a", 44, "buy", None, None),
        ("b", 14, "buy", "social", None), ("c", 51, "nps", "search", 10.0),
        ("b", 55, "nps", "email", 10.0), ("b", 45, "mail", None, 10.0),
        ("a", 13, "mail", "social", 10.0), ("b", 17, "x", None, None),
        ("c", 49, "demo", "email", None), ("c", 20, "buy", "social", 10.0),
        ("b", 24, "demo", "social", 25.5), ("b", 8, "mail", "social", 10.0),
        ("a", 44, "buy", "search", None), ("b", 25, "nps", "search", 25.5),
        ("c", 28, "demo", None, 10.0), ("b", 30, "demo", "social", 10.0),
        ("c", 25, "nps", None, None), ("c", 59, "nps", "email", None),
    ]  # fmt: skip
    options = {"conversion": "stage:decision", "journey": journey(), "level": "touchpoint"}
    events = table(rows)
    want = encode(conversion_paths(events, lookback="10d", **options))
    assert sorted(want.value.tolist()) == [0.0, 0.0, 0.0, 0.0, 10.0, 10.0]
    for _ in range(8):  # the unordered read differed about every other call
        got = conversion_paths_encoded(events, lookback="10d", **options)
        assert got.value.tolist() == want.value.tolist()
        again = encode(conversion_paths(events, lookback="10d", **options))
        assert again.value.tolist() == want.value.tolist()


@settings(max_examples=50, deadline=None)
@given(st.lists(st.integers(0, 40), max_size=60), st.booleans())
def test_distinct_keys_equal_numpy_unique(keys: list[int], marks: bool) -> None:
    """The (path, node) pairs of stage attribution's holders: marked in a boolean array, or
    numpy's unique when that array would be large; either way ``np.unique``."""
    import numpy as np

    from kundresa.attribution import journey as module

    values = np.asarray(keys, dtype=np.int64)
    limit = module._MARKS
    try:
        module._MARKS = limit if marks else 0
        got = module._distinct(values, 41)
    finally:
        module._MARKS = limit
    want = np.unique(values)
    assert got.dtype == want.dtype and got.tolist() == want.tolist()


def test_stage_paths_without_a_touch_come_in_one_order() -> None:
    """The paths of a stage list the customers without a touch in customer order, on every
    call (their population was read without an order, like the conversions of
    ``conversion_paths``, whose order CI found changing between calls)."""
    # Twelve customers enter consideration; the even ones progress to decision. Only some
    # have a channel on an event in the span: the rest get ("(no touch)",).
    rows: list[Row] = []
    for i in range(12):
        who = f"c{i:02d}"
        rows.append((who, 0, "demo", "web" if i % 3 == 0 else None, None))
        rows.append((who, 1, "mail", None, None))
        if i % 2 == 0:
            rows.append((who, 2 + i, "buy", None, 10.0))
    events = table(rows)
    first = stage_paths(events, journey(), "consideration", lookback=None)
    assert list(first["path"]).count(("(no touch)",)) == 8
    bare = first[first["path"] == ("(no touch)",)]
    # In customer order: c01, c02, c04, c05, c07, c08, c10, c11 (the even ones progress).
    assert bare["conversions"].tolist() == [0.0, 1.0, 1.0, 0.0, 0.0, 1.0, 1.0, 0.0]
    for _ in range(8):
        again = stage_paths(events, journey(), "consideration", lookback=None)
        pd.testing.assert_frame_equal(again, first)
