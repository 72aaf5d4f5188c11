"""Segment comparison and funnel correlation: plain-Python recounts, golden cases, bad input,
empty data and Spark parity."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kundresa import Project
from kundresa.analytics._stats import odds_ratio, two_proportion_test, wilson_interval
from kundresa.analytics.compare import (
    COMPARE_COLUMNS,
    CORRELATION_COLUMNS,
    NO_SEGMENT,
    compare,
    correlation,
)
from kundresa.analytics.funnel import funnel_customers
from kundresa.model import Journey, assign_touchpoints, parse_journey
from kundresa.model.parse import load_journey

GOLDEN = Path(__file__).parent.parent / "golden" / "compare"
T0 = datetime(2025, 1, 1)

JOURNEY = """
kundresa: 1
name: Test
template: kundresa-5
personas:
  - {id: priv, name: Private, match: {property: segment, equals: private}}
  - {id: biz, name: Business, match: {property: segment, in: [business, public]}}
touchpoints:
  - {id: repeat, stage: retention, match: {event: buy, nth: 2}}
  - {id: first_buy, stage: decision, match: {event: buy}}
  - {id: promoter, stage: advocacy, match: {event: nps, where: {score: {gte: 9}}}}
  - {id: nps, stage: retention, match: {event: nps}}
  - {id: pricing, stage: consideration, match: {event: view, where: {path: {regex: "^/pri"}}}}
  - {id: ad, stage: awareness, match: {event: [ad, view]}}
"""


def journey() -> Journey:
    j, problems = parse_journey(JOURNEY)
    assert j is not None, problems
    return j


# Events: (customer, hour, event, path, score, segment, shows variant). A customer's variant is
# fixed (from the customer id) and shown on some of their events; the segment may change.
event_st = st.tuples(
    st.sampled_from(["a", "b", "c", "d", "e", "f"]),
    st.integers(0, 30),
    st.sampled_from(["ad", "view", "buy", "nps", "other", "demo"]),
    st.sampled_from([None, "/pricing", "/", "/prices"]),
    st.sampled_from([None, "3", "9", "10"]),
    st.sampled_from([None, "private", "business", "public"]),
    st.booleans(),
)
VARIANT = {"a": "A", "b": "B", "c": "A", "d": "B", "e": None, "f": "C"}


def variant_of(customer: str) -> str | None:
    if customer in VARIANT:
        return VARIANT[customer]
    return "AB"[sum(map(ord, customer)) % 2]


def frame(rows: list[tuple]) -> pd.DataFrame:
    rows = sorted(rows, key=lambda r: (r[0], r[1], r[2]))
    out = []
    for i, (c, h, e, path, score, seg, shows) in enumerate(rows):
        props = {k: v for k, v in (("path", path), ("score", score), ("segment", seg)) if v}
        if shows and variant_of(c) is not None:
            props["variant"] = str(variant_of(c))
        out.append(
            {
                "customer_id": c,
                "timestamp": T0 + timedelta(hours=h),
                "event": e,
                "event_id": f"{i:05d}",
                "properties": props,
            }
        )
    return pd.DataFrame(
        out, columns=["customer_id", "timestamp", "event", "event_id", "properties"]
    )


def project_of(df: pd.DataFrame, j: Journey | None = None) -> Project:
    flat = df.drop(columns=["properties"]).copy()
    flat["properties"] = [json.dumps(p) for p in df["properties"]]
    return Project.from_events(flat, journey=j or journey())


# -- the plain-Python reference ----------------------------------------------------------------


def _records(df: pd.DataFrame, since_h: int | None) -> list[dict[str, Any]]:
    recs = df.to_dict("records")
    if since_h is not None:
        recs = [r for r in recs if r["timestamp"] >= T0 + timedelta(hours=since_h)]
    return recs


def ref_segment(recs: list[dict[str, Any]], j: Journey, by: str) -> dict[str, str]:
    """Each customer's segment, from the rules in customer_segments' docstring."""
    out: dict[str, str] = {}
    for c in sorted({r["customer_id"] for r in recs}):
        mine = sorted(
            (r for r in recs if r["customer_id"] == c),
            key=lambda r: (r["timestamp"], r["event_id"]),
        )
        value: str | None = None
        if by == "persona":
            for p in j.personas:
                assert p.match is not None
                if any(
                    p.match.condition.matches(r["properties"].get(p.match.property)) for r in mine
                ):
                    value = p.id
                    break
        else:
            value = next((r["properties"][by] for r in mine if by in r["properties"]), None)
        out[c] = value if value is not None else NO_SEGMENT
    return out


def ref_highest(
    recs: list[dict[str, Any]], j: Journey, since: datetime | None = None
) -> dict[str, int]:
    """The highest stage of each customer with an event at or after ``since``, touchpoints
    tagged on the whole history (``recs`` is the whole history)."""
    tps = assign_touchpoints(j, recs)
    index = {s: i for i, s in enumerate(j.stage_ids, start=1)}
    out = {r["customer_id"]: 0 for r in recs if since is None or r["timestamp"] >= since}
    for r, tp in zip(recs, tps, strict=True):
        if (
            tp is not None
            and r["customer_id"] in out
            and (since is None or r["timestamp"] >= since)
        ):
            out[r["customer_id"]] = max(out[r["customer_id"]], index[j.touchpoint(tp).stage])
    return out


def count_by_hand(
    segment: dict[str, str], level: dict[str, int], side: str, k: int
) -> tuple[int, list[int]]:
    mine = [c for c, s in segment.items() if s == side]
    return len(mine), [sum(1 for c in mine if level.get(c, 0) >= i) for i in range(1, k + 1)]


def check_compare_row(row: pd.Series, n_a: int, x_a: int, n_b: int, x_b: int) -> None:
    assert (row["customers_a"], row["reached_a"]) == (n_a, x_a)
    assert (row["customers_b"], row["reached_b"]) == (n_b, x_b)
    test = two_proportion_test(x_a, n_a, x_b, n_b)
    for col, want in (
        ("ci_low_a", wilson_interval(x_a, n_a)[0]),
        ("ci_high_b", wilson_interval(x_b, n_b)[1]),
        ("difference", test.difference),
        ("z", test.z),
        ("p_value", test.p_value),
    ):
        got = row[col]
        assert (math.isnan(got) and math.isnan(want)) or got == pytest.approx(want), col
    assert bool(row["significant"]) == (test.p_value < 0.05)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(event_st, min_size=1, max_size=40),
    st.sampled_from(["persona", "variant"]),
    st.sampled_from([None, 5]),
)
def test_compare_counts_equal_a_recount(rows: list[tuple], by: str, since_h: int | None) -> None:
    df = frame(rows)
    j = journey()
    recs = _records(df, since_h)
    since = T0 + timedelta(hours=since_h) if since_h is not None else None
    # A period counts events, but who the customer is (segment, touchpoints) comes from
    # the whole history.
    whole = _records(df, None)
    present = {r["customer_id"] for r in recs}
    segment = {c: s for c, s in ref_segment(whole, j, by).items() if c in present}
    level = ref_highest(whole, j, since)
    a, b = ("priv", "biz") if by == "persona" else ("A", "B")
    with project_of(df) as p:
        if recs and (a not in segment.values() or b not in segment.values()):
            with pytest.raises(ValueError, match="is not a segment value"):
                compare(p, by=by, a=a, b=b, since=since)
            return
        got = compare(p, by=by, a=a, b=b, since=since)
    assert list(got["stage"]) == list(j.stage_ids)
    n_a, xs_a = count_by_hand(segment, level, a, 5)
    n_b, xs_b = count_by_hand(segment, level, b, 5)
    for i, row in got.iterrows():
        check_compare_row(row, n_a, xs_a[i], n_b, xs_b[i])


@settings(max_examples=40, deadline=None)
@given(st.lists(event_st, min_size=1, max_size=40), st.sampled_from(["ordered", "any"]))
def test_compare_on_funnel_steps_counts_funnel_levels(rows: list[tuple], order: str) -> None:
    df = frame(rows)
    j = journey()
    recs = _records(df, None)
    segment = ref_segment(recs, j, "variant")
    steps = ["ad|view", "stage:decision", "nps"]
    with project_of(df) as p:
        levels = funnel_customers(p.events, steps, window="12h", order=order, journey=j)
        level = {
            str(r["customer_id"]): int(r["level"]) for r in levels.to_pandas().to_dict("records")
        }
        if "A" not in segment.values() or "B" not in segment.values():
            return
        got = compare(p, by="variant", a="A", b="B", steps=steps, window="12h", order=order)
    assert list(got["step"]) == [1, 2, 3]
    assert list(got["event"]) == steps
    n_a, xs_a = count_by_hand(segment, level, "A", 3)
    n_b, xs_b = count_by_hand(segment, level, "B", 3)
    for i, row in got.iterrows():
        check_compare_row(row, n_a, xs_a[i], n_b, xs_b[i])


def ref_correlation(
    recs: list[dict[str, Any]], j: Journey, target: str, among: str | None, max_values: int = 50
) -> tuple[dict[tuple[str, str], list[int]], int, int]:
    """Candidate counts, success total and failure total, recounted from the rules."""
    tps = assign_touchpoints(j, recs)
    index = {s: i for i, s in enumerate(j.stage_ids, start=1)}
    events = [
        {**r, "tp": tp, "idx": index[j.touchpoint(tp).stage] if tp else 0}
        for r, tp in zip(recs, tps, strict=True)
    ]

    def reaches(step: str) -> Any:
        kind, _, name = step.partition(":") if ":" in step else ("event", "", step)
        names = name.split("|")
        if kind == "event":
            return lambda e: e["event"] in names
        if kind == "touchpoint":
            return lambda e: e["tp"] in names
        low = min(index[n] for n in names)
        return lambda e: e["idx"] >= low

    is_target = reaches(target)
    if among is None and target.startswith("stage:"):
        low = min(index[n] for n in target[6:].split("|"))
        among = f"stage:{j.stage_ids[low - 2]}" if low > 1 else "all"
    in_among = (lambda e: True) if among in (None, "all") else reaches(among)
    customers = sorted({e["customer_id"] for e in events})
    counted: list[tuple[bool, dict[str, Any]]] = []
    totals = [0, 0]
    for c in customers:
        mine = [e for e in events if e["customer_id"] == c]
        if among not in (None, "all") and not any(in_among(e) for e in mine):
            continue
        hits = [e["timestamp"] for e in mine if is_target(e)]
        success = bool(hits)
        totals[0 if success else 1] += 1
        for e in mine:
            if not success or e["timestamp"] < min(hits):
                counted.append((success, e))
    values: dict[str, set[str]] = {}
    for _, e in counted:
        for k, v in e["properties"].items():
            values.setdefault(k, set()).add(v)
    have: dict[tuple[str, str], set[tuple[str, bool]]] = {}
    for success, e in counted:
        who = (e["customer_id"], success)
        have.setdefault(("event", e["event"]), set()).add(who)
        for k, v in e["properties"].items():
            if len(values[k]) <= max_values:
                have.setdefault(("property", f"{k}={v}"), set()).add(who)
    counts = {
        key: [sum(1 for _, s in who if s), sum(1 for _, s in who if not s)]
        for key, who in have.items()
    }
    return counts, totals[0], totals[1]


TARGETS = [
    "buy",
    "nps|buy",
    "stage:decision",
    "stage:consideration",
    "stage:awareness",
    "touchpoint:pricing",
]


@settings(max_examples=80, deadline=None)
@given(
    st.lists(event_st, min_size=1, max_size=40),
    st.sampled_from(TARGETS),
    st.sampled_from([None, "all", "ad", "stage:consideration"]),
    st.sampled_from([2, 50]),
)
def test_correlation_counts_equal_a_recount(
    rows: list[tuple], target: str, among: str | None, max_values: int
) -> None:
    df = frame(rows)
    j = journey()
    want, s_total, f_total = ref_correlation(_records(df, None), j, target, among, max_values)
    with project_of(df) as p:
        got = correlation(p, target=target, among=among, min_customers=0, max_values=max_values)
    assert list(got.columns) == list(CORRELATION_COLUMNS)
    seen = {
        (r["kind"], r["name"]): [r["success_with"], r["failure_with"]]
        for r in got.to_dict("records")
    }
    assert seen == want
    assert set(got["success_total"]) <= {s_total}
    assert set(got["failure_total"]) <= {f_total}
    for r in got.to_dict("records"):
        s, f = r["success_with"], r["failure_with"]
        ratio = odds_ratio(s, f, s_total - s, f_total - f)
        if math.isnan(ratio.odds_ratio):
            assert math.isnan(r["odds_ratio"]) and r["direction"] is None
            continue
        assert r["odds_ratio"] == pytest.approx(ratio.odds_ratio)
        assert r["ci_low"] == pytest.approx(ratio.ci_low)
        assert r["p_value"] == pytest.approx(ratio.p_value)
        expected = {True: "more likely", False: "less likely"}.get(ratio.odds_ratio > 1)
        if ratio.odds_ratio != 1:
            assert r["direction"] == expected
    # Strongest first: |log odds ratio| never grows down the table (undefined ones last).
    strength = [abs(math.log(v)) if v == v else -1.0 for v in got["odds_ratio"]]
    assert strength == sorted(strength, reverse=True)


def test_correlation_keeps_no_copy_of_the_events(monkeypatch: pytest.MonkeyPatch) -> None:
    """The first targets are kept per customer and joined back: no kept table holds the
    events' properties (copying them cost most of the analysis on a million events), and
    the counts are the recount's (with ``among`` and a property target's customers)."""
    import kundresa.analytics.compare as module

    kept: list[list[str]] = []
    real = module.cached

    def spy(t: Any) -> Any:
        kept.append(list(t.columns))
        return real(t)

    monkeypatch.setattr(module, "cached", spy)
    rows = [
        ("a", 0, "ad", "/pricing", None, "private", True), ("a", 1, "view", "/", "9", None, False),
        ("a", 2, "buy", None, None, None, True), ("a", 5, "view", "/prices", "3", None, True),
        ("b", 0, "view", "/", None, "business", True), ("b", 3, "ad", "/", "10", None, False),
        ("c", 1, "buy", None, None, "public", False), ("c", 2, "view", "/", "9", None, True),
        ("d", 0, "ad", "/prices", None, "private", True), ("e", 4, "demo", None, "3", None, False),
    ]  # fmt: skip
    df = frame(rows)
    for among in (None, "ad"):
        want, s_total, f_total = ref_correlation(_records(df, None), journey(), "buy", among)
        with project_of(df) as p:
            got = correlation(p, target="buy", among=among, min_customers=0)
        seen = {
            (r["kind"], r["name"]): [r["success_with"], r["failure_with"]]
            for r in got.to_dict("records")
        }
        assert seen == want and len(want) > 2
        assert set(got["success_total"]) == {s_total} and set(got["failure_total"]) == {f_total}
    assert kept and all("properties" not in columns for columns in kept)


def test_correlation_min_customers_top_and_kinds() -> None:
    rows = [
        ("a", 0, "ad", None, None, "private", True),
        ("a", 1, "demo", None, None, None, False),
        ("a", 2, "buy", None, None, None, False),
        ("b", 0, "ad", None, None, "business", True),
        ("b", 1, "demo", None, None, None, False),
        ("c", 0, "ad", None, None, "private", True),
        ("d", 0, "other", None, None, None, False),
    ]
    with project_of(frame(rows)) as p:
        full = correlation(p, target="buy", min_customers=0)
        assert set(full["kind"]) == {"event", "property"}
        events_only = correlation(p, target="buy", kinds=["event"], min_customers=0)
        assert set(events_only["kind"]) == {"event"}
        props_only = correlation(p, target="buy", kinds="property", min_customers=0)
        assert set(props_only["kind"]) == {"property"}
        # ad: 3 customers, demo: 2, other: 1, segment=private: 2 ...
        some = correlation(p, target="buy", kinds=["event"], min_customers=2)
        assert sorted(some["name"]) == ["ad", "demo"]
        assert len(correlation(p, target="buy", min_customers=0, top=2)) == 2
        # variant has 2 values (A, B): with max_values=1 it is not tested.
        names = set(correlation(p, target="buy", min_customers=0, max_values=1)["name"])
        assert not any(n.startswith(("variant=", "segment=")) for n in names)


def test_correlation_names_that_read_alike_count_customers_once() -> None:
    """Property values are counted in one query per (property, value); two pairs that read as
    one candidate (``a=b`` = ``c`` and ``a`` = ``b=c``) count each customer once, as the
    recount does."""
    rows = [
        {"customer_id": "x", "properties": {"a=b": "c", "a": "b=c"}, "event": "ad"},
        {"customer_id": "y", "properties": {"a": "b=c"}, "event": "ad"},
        {"customer_id": "z", "properties": {"a=b": "c"}, "event": "ad"},
        {"customer_id": "x", "properties": {}, "event": "buy"},
    ]
    df = pd.DataFrame(
        [
            {**r, "timestamp": T0 + timedelta(hours=i), "event_id": f"{i:05d}"}
            for i, r in enumerate(rows)
        ],
        columns=["customer_id", "timestamp", "event", "event_id", "properties"],
    )
    want, _, _ = ref_correlation(_records(df, None), journey(), "buy", None)
    assert want[("property", "a=b=c")] == [1, 2]
    with project_of(df) as p:
        got = correlation(p, target="buy", kinds="property", min_customers=0)
    assert got[["name", "success_with", "failure_with"]].to_dict("records") == [
        {"name": "a=b=c", "success_with": 1, "failure_with": 2}
    ]


# -- golden cases ------------------------------------------------------------------------------


def golden_cases() -> list[Path]:
    return sorted(p for p in GOLDEN.iterdir() if (p / "params.json").exists())


@pytest.mark.parametrize("case", golden_cases(), ids=lambda p: p.name)
def test_golden(case: Path) -> None:
    params = json.loads((case / "params.json").read_text(encoding="utf-8"))
    analysis = params.pop("analysis")
    with Project.from_events(case / "events.csv", journey=GOLDEN / "journey.yaml") as project:
        got = {"compare": compare, "correlation": correlation}[analysis](project, **params)
    expected = pd.read_csv(case / "expected.csv", keep_default_na=False, na_values=[""])
    assert_like(got, expected)


def assert_like(got: pd.DataFrame, expected: pd.DataFrame) -> None:
    """Equal on expected's columns: floats to 1e-8 relative, the rest as text."""
    assert len(got) == len(expected), got.to_string()
    for col in expected.columns:
        g, e = got[col].reset_index(drop=True), expected[col]
        if e.dtype.kind == "f" or g.dtype.kind == "f":
            pd.testing.assert_series_equal(
                g.astype("float64"), e.astype("float64"), check_names=False, rtol=1e-8
            )
        else:
            want = ["" if pd.isna(v) else str(v) for v in e]
            have = ["" if v is None or pd.isna(v) else str(v) for v in g]
            assert have == want, f"{col}: {have} != {want}"


def test_golden_folder_has_a_readme_and_the_journey_loads() -> None:
    assert (GOLDEN / "README.md").exists()
    assert load_journey(GOLDEN / "journey.yaml").stage_ids == (
        "awareness",
        "consideration",
        "decision",
    )


# -- choosing segments, bad input and empty data -----------------------------------------------

SMALL = [
    ("a", 0, "ad", None, None, "private", True),
    ("a", 1, "buy", None, None, None, False),
    ("b", 0, "ad", None, None, "business", True),
    ("c", 0, "view", "/pricing", None, "private", True),
    ("e", 0, "ad", None, None, None, False),
]


@pytest.fixture
def small() -> Iterator[Project]:
    with project_of(frame(SMALL)) as p:
        yield p


def test_segments_chosen_when_there_are_two(small: Project) -> None:
    df = compare(small, by="variant")  # A (a, c) and B (b); e has none and is left aside
    assert list(df.columns) == ["stage", "label", *COMPARE_COLUMNS]
    assert (df["segment_a"].iloc[0], df["segment_b"].iloc[0]) == ("A", "B")
    assert (df["customers_a"].iloc[0], df["customers_b"].iloc[0]) == (2, 1)
    swapped = compare(small, by="variant", b="A")
    assert (swapped["segment_a"].iloc[0], swapped["segment_b"].iloc[0]) == ("B", "A")
    none = compare(small, by="variant", a="(none)", b="B")
    assert none["customers_a"].iloc[0] == 1
    assert list(compare(small, by="persona", lang="sv")["label"])[:2] == [
        "Medvetenhet",
        "Övervägande",
    ]


def test_bad_input_names_the_option(small: Project) -> None:
    with pytest.raises(ValueError, match=r"^a: 'Z' is not a segment value of by 'variant'"):
        compare(small, by="variant", a="Z", b="B")
    with pytest.raises(ValueError, match=r"^b: 'Z' is not a segment value.*found: \(none\), A, B"):
        compare(small, by="variant", a="A", b="Z")
    with pytest.raises(ValueError, match=r"^a and b: by 'channel' has 0 segment values.*\(none\)"):
        compare(small, by="channel")  # no channels: everyone is (none)
    with pytest.raises(ValueError, match="a and b: both are 'A'"):
        compare(small, by="variant", a="A", b="A")
    with pytest.raises(ValueError, match=r"^by must name"):
        compare(small, by="")
    with pytest.raises(ValueError, match="confidence"):
        compare(small, by="variant", confidence=1.5)
    with pytest.raises(ValueError, match="since 'yesterday' is not a date"):
        compare(small, by="variant", since="yesterday")
    with pytest.raises(ValueError, match="unknown order"):
        compare(small, by="variant", steps=["ad", "buy"], order="sideways")
    with pytest.raises(ValueError, match="target 'stage:nowhere': no stage 'nowhere'"):
        correlation(small, target="stage:nowhere")
    with pytest.raises(ValueError, match="among 'touchpoint:x': no touchpoint 'x'"):
        correlation(small, target="buy", among="touchpoint:x")
    with pytest.raises(ValueError, match=r"^kinds must be"):
        correlation(small, target="buy", kinds=["events"])
    with pytest.raises(ValueError, match=r"^min_customers"):
        correlation(small, target="buy", min_customers=-1)
    with pytest.raises(ValueError, match=r"^top"):
        correlation(small, target="buy", top=0)
    with pytest.raises(ValueError, match=r"^max_values"):
        correlation(small, target="buy", max_values=0)
    with pytest.raises(ValueError, match="until 'soon' is not a date"):
        correlation(small, target="buy", until="soon")


def test_more_than_two_segments_need_a_and_b() -> None:
    rows = [*SMALL, ("f", 0, "ad", None, None, None, True)]  # f is in variant C
    with project_of(frame(rows)) as p:
        with pytest.raises(ValueError, match=r"has 3 segment values.*found: \(none\), A, B, C"):
            compare(p, by="variant")
        with pytest.raises(ValueError, match=r"^b: give the segment to compare with 'A'"):
            compare(p, by="variant", a="A")
        assert compare(p, by="variant", a="C", b="A")["customers_a"].iloc[0] == 1


def test_empty_data(small: Project) -> None:
    later = {"since": "2030-01-01"}
    df = compare(small, by="variant", a="A", b="B", **later)
    assert df["customers_a"].tolist() == [0] * 5
    assert df["rate_a"].isna().all() and df["p_value"].isna().all()
    assert not df["significant"].any()
    with pytest.raises(ValueError, match="found: none"):
        compare(small, by="variant", **later)
    steps = compare(small, by="variant", a="A", b="B", steps=["ad", "buy"], **later)
    assert steps["reached_b"].tolist() == [0, 0]
    corr = correlation(small, target="stage:decision", **later)
    assert corr.empty and list(corr.columns) == list(CORRELATION_COLUMNS)


# -- Spark -------------------------------------------------------------------------------------


@pytest.mark.filterwarnings(
    "ignore:The copy keyword is deprecated",
    "ignore::ResourceWarning",
    "ignore::pytest.PytestUnraisableExceptionWarning",
)
def test_spark_gives_the_same_comparisons_and_correlations(tmp_path: Path) -> None:
    pytest.importorskip("pyspark")
    import random

    import ibis
    import pyarrow.parquet as pq

    from kundresa.store.engines import spark_session

    rnd = random.Random(11)
    rows = [
        (
            f"c{rnd.randint(0, 50)}",
            rnd.randint(0, 60),
            rnd.choice(["ad", "view", "buy", "nps", "other", "demo"]),
            rnd.choice([None, "/pricing", "/"]),
            rnd.choice([None, "3", "10"]),
            rnd.choice([None] * 8 + ["private", "business"]),
            rnd.random() < 0.5,
        )
        for _ in range(200)
    ]
    with project_of(frame(rows)) as p:
        pq.write_table(p.events.to_pyarrow(), tmp_path / "events.parquet")
        session = spark_session("local[2]")
        spark = ibis.pyspark.connect(session).read_parquet(tmp_path / "events.parquet")
        for kw in (
            {"by": "persona", "a": "priv", "b": "biz"},
            {"by": "variant", "a": "A", "b": "B", "since": "2025-01-01 10:00"},
            {"by": "variant", "a": "A", "b": "B", "steps": ["ad|view", "buy"], "window": "12h"},
        ):
            pd.testing.assert_frame_equal(compare(p, **kw), compare(p, events=spark, **kw))
        for kw2 in (
            {"target": "stage:decision"},
            {"target": "buy", "among": "ad", "min_customers": 1},
        ):
            pd.testing.assert_frame_equal(
                correlation(p, **kw2), correlation(p, events=spark, **kw2)
            )
