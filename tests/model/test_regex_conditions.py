"""A journey's regex condition fits a value in Python exactly when DuckDB's
``regexp_matches`` says so: both run RE2 (Python's ``re`` differs, e.g. ``x$`` fits
``"x\\n"`` there), so touchpoints assigned in Python (assign, predict, personas) agree
with the tagging query."""

from __future__ import annotations

import duckdb
from hypothesis import given, settings
from hypothesis import strategies as st

from kundresa.model.journey import Condition

PATTERNS = [
    "^/pricing",
    "x$",
    "^a.c$",
    "(a+)+$",
    "(?i)PRO",
    r"\bplan\b",
    "^$",
    "[åäö]",
    r"\d{2,}",
    "a|b$",
    ".",
]
VALUES = st.text(alphabet=st.sampled_from("ax\ncb/pricngPRO åä1 2lt"), max_size=12)


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(PATTERNS), st.lists(VALUES, min_size=1, max_size=8))
def test_a_regex_condition_fits_as_duckdb_matches(pattern: str, values: list[str]) -> None:
    con = duckdb.connect()
    want = [
        bool(con.execute("SELECT regexp_matches(?, ?)", [v, pattern]).fetchone()[0]) for v in values
    ]
    assert [Condition(regex=pattern).matches(v) for v in values] == want


def test_a_trailing_newline_does_not_end_the_value() -> None:
    """The case where Python's ``re`` and RE2 part: ``$`` before a final newline."""
    assert not Condition(regex="x$").matches("x\n")
    assert Condition(regex="x$").matches("x")


NUMBER_TEXTS = [
    "1000", "500", "499.5", "1e3", "-1", "1_000", "5_", "\uff11\uff10\uff10\uff10", "\u0661\u0662",
    "abc", "", "1,000", "0x10",
]  # fmt: skip


def test_a_bound_condition_fits_the_same_texts_in_python_and_in_a_query() -> None:
    # A review's repro: "1_000" fitted gte 500 in DuckDB and not in Python; full-width digits
    # the other way round.
    import ibis

    from kundresa.analytics.touchpoints import condition_expr

    for cond in (Condition(gte=500), Condition(lte=500)):
        t = ibis.memtable({"v": NUMBER_TEXTS})
        fits = t.select(fits=condition_expr(t.v, cond)).to_pandas()["fits"].tolist()
        assert [cond.matches(v) for v in NUMBER_TEXTS] == fits, cond


PLAIN_TEXTS = [
    "12", " 12 ", "\t12\n", "\u00a012", "12\u00a0", "1_000", "5_", "\uff11\uff12", "\u0661\u0662",
    "1e400", "-1e400", "nan", "inf", "Infinity", "+5", "abc", "", "0x10", "1e3", ".5", "5.",
    "1.5e-3", "-0",
]  # fmt: skip


def test_one_number_rule_for_the_load_the_queries_the_matcher_and_the_collector() -> None:
    """The one rule (``plain_number``) against the three places that apply it in their own
    language: the load's SQL (texts without thousands separators), a journey condition's
    query, and the live collector's refusal of a revenue the load would not read."""
    import math

    import duckdb
    import ibis

    from kundresa.analytics.touchpoints import condition_expr
    from kundresa.live.collector import _finite_number
    from kundresa.model.events import plain_number
    from kundresa.store.warehouse import _number_sql

    con = duckdb.connect()
    sql = f"SELECT {_number_sql('v', '.')} FROM (SELECT ? AS v)"
    for text in PLAIN_TEXTS:
        mine = plain_number(text)
        loaded = con.execute(sql, [text]).fetchone()[0]  # type: ignore[index]
        assert (mine is None) == (loaded is None), text
        assert mine is None or loaded == mine or (math.isnan(mine) and math.isnan(loaded)), text
        assert _finite_number(text) == (mine is not None and math.isfinite(mine)), text
    for cond in (Condition(gte=1), Condition(lte=1e9)):
        t = ibis.memtable({"v": PLAIN_TEXTS})
        fits = t.select(fits=condition_expr(t.v, cond)).to_pandas()["fits"].tolist()
        assert [cond.matches(v) for v in PLAIN_TEXTS] == fits, cond
    assert plain_number(10**400) == math.inf and plain_number(-(10**400)) == -math.inf
    assert plain_number(True) is None and plain_number(None) is None and plain_number([1]) is None


NON_FINITE_TEXTS = ["inf", "-inf", "Infinity", "-Infinity", "1e999", "-1e999", "nan", "10", "-10"]


def test_a_numeric_bound_fits_no_infinite_value_in_python_or_in_a_query() -> None:
    # A review's repro: a property "inf" (or "1e999", read as infinity) fitted `gte: 9`, so
    # an answer no survey tool gives landed on the promoters' touchpoint.
    import ibis

    from kundresa.analytics.touchpoints import condition_expr

    want = {
        Condition(gte=9): [False] * 7 + [True, False],
        Condition(lte=9): [False] * 7 + [False, True],
        Condition(gte=-1e9, lte=1e9): [False] * 7 + [True, True],
    }
    for cond, fits in want.items():
        assert [cond.matches(v) for v in NON_FINITE_TEXTS] == fits, cond
        t = ibis.memtable({"v": NON_FINITE_TEXTS})
        got = t.select(fits=condition_expr(t.v, cond)).to_pandas()["fits"].tolist()
        assert got == fits, cond
