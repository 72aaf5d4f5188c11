"""The any-order funnel on the DuckDB fast path gives exactly what the portable path gives."""

from __future__ import annotations

import functools
from datetime import timedelta
from typing import Any

import pandas as pd
import pandas.testing as pdt
import pytest
from fastpath_cases import T0, event_rows, funnel_specs
from fastpath_cases import events_table as _table
from hypothesis import given, settings
from hypothesis import strategies as st

from kundresa.analytics._fast import fast_path, portable
from kundresa.analytics.funnel import event_funnel, funnel_customers, funnel_report

row_st = event_rows(customers=("p", "q", "r"))
# Overlapping definitions (v|c with c) take the König bound over sets of definitions;
# disjoint ones the per-definition sum; repeated steps need several events.
any_funnels = functools.partial(funnel_specs, orders=("any",))


def _both(fn: Any) -> tuple[Any, Any]:
    fast = fn()
    with portable():
        slow = fn()
    return fast, slow


def _sorted(df: pd.DataFrame) -> pd.DataFrame:
    return df.sort_values(list(df.columns)).reset_index(drop=True)


@settings(max_examples=40, deadline=None)
@given(st.lists(row_st, max_size=25), any_funnels())
def test_fast_any_funnel_equals_portable(rows: list[tuple[Any, ...]], f: dict[str, Any]) -> None:
    t = _table(rows)
    assert fast_path(t)
    fast, slow = _both(lambda: funnel_report(t, period="day", **f))
    for key in ("funnel", "time_to_convert", "trend"):
        pdt.assert_frame_equal(fast[key], slow[key], check_dtype=key != "trend")
    fast_f, slow_f = _both(lambda: event_funnel(t, **f))
    pdt.assert_frame_equal(fast_f, slow_f)
    fast_c, slow_c = _both(lambda: funnel_customers(t, **f).to_pandas())
    pdt.assert_frame_equal(_sorted(fast_c), _sorted(slow_c))


@settings(max_examples=15, deadline=None)
@given(st.lists(row_st, max_size=25), any_funnels())
def test_fast_any_funnel_in_parts(rows: list[tuple[Any, ...]], f: dict[str, Any]) -> None:
    # Customers split into parts by a hash of their id give the same table as one pass.
    t = _table(rows)
    with pytest.MonkeyPatch.context() as m:
        m.setenv("KUNDRESA_FAST_PATH_ROWS", "3")
        fast, slow = _both(lambda: funnel_customers(t, **f).to_pandas())
    pdt.assert_frame_equal(_sorted(fast), _sorted(slow))


def test_hand_checked_any_funnel() -> None:
    # p: b at 0, v at 1 h, c at 2 h (window 3 h): all three steps from the b, reached at
    # 0, 1 h and 2 h. q: c then v a day apart: two attempts of level 1 (window 3 h), the
    # earliest (the c) is the best. r: v, v within the window for steps [v, v, b]: level 2.
    hour = 3600
    rows = [
        ("p", 0, "b", None, None, None),
        ("p", hour, "v", None, None, None),
        ("p", 2 * hour, "c", None, None, None),
        ("q", 0, "c", None, None, None),
        ("q", 24 * hour, "v", None, None, None),
        ("r", 0, "v", None, None, None),
        ("r", hour, "v", None, None, None),
    ]
    t = _table(rows)
    got = funnel_customers(t, ["v", "c", "b"], window=3 * hour, order="any").to_pandas()
    got = got.sort_values("customer_id").reset_index(drop=True)
    assert got["level"].tolist() == [3, 1, 1]
    assert got.loc[0, "t3"] == pd.Timestamp(T0 + timedelta(hours=2))
    assert got.loc[1, "t1"] == pd.Timestamp(T0)
    twice = funnel_customers(t, ["v", "v", "b"], window=3 * hour, order="any").to_pandas()
    assert dict(zip(twice["customer_id"], twice["level"], strict=True)) == {
        "p": 2,
        "q": 1,
        "r": 2,
    }
    # An exclusion between step 1 and step 3: p's x at 30 min is after its step 1 (0 h)
    # and before its step 3 (2 h), so p is left out.
    rows.append(("p", hour // 2, "x", None, None, None))
    out = funnel_customers(
        _table(rows), ["v", "c", "b"], window=3 * hour, order="any", exclusions=["x:1:3"]
    ).to_pandas()
    assert sorted(out["customer_id"]) == ["q", "r"]


def test_many_attempts_one_customer() -> None:
    rows = [("p", 60 * i, "v" if i % 3 else "c", None, None, f"{i:03d}") for i in range(300)]
    rows.append(("p", 60 * 299 + 1, "b", None, None, "zzz"))
    t = _table(rows)
    for steps in (["v", "c", "b"], ["v|c", "c", "b", "v"]):
        fast, slow = _both(
            lambda s=steps: funnel_customers(
                t, s, window=600, order="any", exclusions=["x:1:2"]
            ).to_pandas()
        )
        pdt.assert_frame_equal(fast, slow)
        assert fast["level"].tolist() == [len(steps)]


def test_too_many_overlapping_steps_same_message() -> None:
    t = _table([("p", 0, "v", None, None, None)])
    steps = [f"v|s{i}" for i in range(11)]
    with pytest.raises(ValueError, match="at most 10 different overlapping steps"):
        funnel_customers(t, steps, order="any").to_pandas()
