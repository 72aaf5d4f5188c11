"""The DuckDB fast path gives exactly what the portable Ibis path gives, on random data."""

from __future__ import annotations

from typing import Any

import pandas as pd
import pandas.testing as pdt
import pytest
from fastpath_cases import event_rows
from fastpath_cases import events_table as _table
from fastpath_cases import funnel_specs as funnels
from hypothesis import given, settings
from hypothesis import strategies as st

from kundresa.analytics import _fast
from kundresa.analytics._fast import fast_path, portable
from kundresa.analytics.funnel import event_funnel, funnel_customers, funnel_report

row_st = event_rows()


def _both(fn: Any, *args: Any, **kwargs: Any) -> tuple[Any, Any]:
    fast = fn(*args, **kwargs)
    with portable():
        slow = fn(*args, **kwargs)
    return fast, slow


def _sorted(df: pd.DataFrame) -> pd.DataFrame:
    return df.sort_values(list(df.columns)).reset_index(drop=True)


@settings(max_examples=60, deadline=None)
@given(st.lists(row_st, max_size=25), funnels())
def test_fast_funnel_equals_portable(rows: list[tuple[Any, ...]], f: dict[str, Any]) -> None:
    t = _table(rows)
    assert fast_path(t)
    fast, slow = _both(funnel_report, t, period="day", **f)
    for key in ("funnel", "time_to_convert", "trend"):
        pdt.assert_frame_equal(fast[key], slow[key], check_dtype=key != "trend")
    kwargs = {k: v for k, v in f.items()}
    fast_f, slow_f = _both(lambda: event_funnel(t, **kwargs))
    pdt.assert_frame_equal(fast_f, slow_f)
    fast_c, slow_c = _both(lambda: funnel_customers(t, **kwargs).to_pandas())
    pdt.assert_frame_equal(_sorted(fast_c), _sorted(slow_c))


def test_switch_turns_the_fast_path_off(monkeypatch: pytest.MonkeyPatch) -> None:
    t = _table([("p", 0, "v", None, None, None)])
    assert fast_path(t)
    with portable():
        assert not fast_path(t)
    assert fast_path(t)
    monkeypatch.setenv("KUNDRESA_FAST_PATH", "0")
    assert not _fast.fast_path(t)


def test_customers_with_many_attempts() -> None:
    # One customer with many step-1 events and a few conversions: the best attempt is the
    # earliest one reaching the highest level.
    rows = [("p", 60 * i, "v" if i % 3 else "c", None, None, f"{i:03d}") for i in range(300)]
    rows.append(("p", 60 * 299 + 1, "b", None, None, "zzz"))
    t = _table(rows)
    fast, slow = _both(lambda: funnel_customers(t, ["v", "c", "b"], window=600).to_pandas())
    pdt.assert_frame_equal(fast, slow)
    assert fast["level"].tolist() == [3]


def test_rows_at_one_instant_that_only_the_full_tie_rule_orders() -> None:
    # "c" fills both "v|c" and "c": at one instant with a "v", the cheap order cannot tell
    # the rows apart (same first step, different steps filled), so the full rule decides.
    rows = [
        ("p", 0, "c", None, None, "2"),
        ("p", 0, "v", None, None, "1"),
        ("q", 0, "v", None, None, "1"),
        ("q", 60, "c", None, None, "2"),
    ]
    t = _table(rows)
    for order in ("ordered", "strict"):
        fast, slow = _both(
            lambda o=order: (
                funnel_customers(t, ["v|c", "c", "v|c"], window=600, order=o)
                .to_pandas()
                .sort_values("customer_id")
                .reset_index(drop=True)
            )
        )
        pdt.assert_frame_equal(fast, slow)


@settings(max_examples=50, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 4), st.integers(0, 3), st.integers(0, 1)), min_size=1, max_size=40
    )
)
def test_customer_order_groups_and_sorts(rows: list[tuple[int, int, int]]) -> None:
    import numpy as np

    from kundresa.analytics._kernels import customer_order

    codes = np.array([r[0] for r in rows], np.int64)
    key = np.array([r[1] for r in rows], np.int64)
    payload = np.array([r[2] for r in rows], np.int64)
    perm, bounds, ambiguous = customer_order(codes, 5, key, payload)
    assert sorted(perm.tolist()) == list(range(len(rows)))
    for c in range(5):
        part = perm[bounds[c] : bounds[c + 1]]
        assert all(codes[part] == c)
        assert sorted(key[part].tolist()) == key[part].tolist()
    clash = any(a[0] == b[0] and a[1] == b[1] and a[2] != b[2] for a in rows for b in rows)
    assert ambiguous == clash


@settings(max_examples=40, deadline=None)
@given(
    st.lists(row_st, max_size=30),
    st.sampled_from(["event", "channel"]),
    st.sampled_from([None, "3h", "1d"]),
    st.sampled_from([(None, None), ("2025-03-02", None), (None, "2025-03-03")]),
)
def test_fast_directly_follows_equals_portable(
    rows: list[tuple[Any, ...]], level: str, gap: str | None, span: tuple[Any, Any]
) -> None:
    from kundresa.analytics.paths import directly_follows

    t = _table(rows)
    fast, slow = _both(
        directly_follows, t, level=level, session_gap=gap, since=span[0], until=span[1]
    )
    if slow.empty:
        assert fast.empty
        return
    pdt.assert_frame_equal(fast, slow)


@settings(max_examples=15, deadline=None)
@given(st.lists(row_st, max_size=25), funnels(), st.integers(1, 6))
def test_fast_funnel_in_parts_equals_portable(
    rows: list[tuple[Any, ...]], f: dict[str, Any], per_part: int
) -> None:
    # Large inputs are split by customer into parts of KUNDRESA_FAST_PATH_ROWS events.
    t = _table(rows)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("KUNDRESA_FAST_PATH_ROWS", str(per_part))
        fast = funnel_customers(t, **f).to_pandas()
    with portable():
        slow = funnel_customers(t, **f).to_pandas()
    pdt.assert_frame_equal(_sorted(fast), _sorted(slow))


def test_bad_part_size(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KUNDRESA_FAST_PATH_ROWS", "many")
    with pytest.raises(ValueError, match="KUNDRESA_FAST_PATH_ROWS must be a whole number"):
        funnel_customers(_table([("p", 0, "v", None, None, None)]), ["v", "c"])


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.integers(0, 10**13), min_size=1, max_size=40),
    st.sampled_from([None, "channel"]),
)
def test_funnel_means_are_exact_on_every_path(durations: list[int], by: str | None) -> None:
    # Whole microseconds to convert, of very different sizes (a float sum depends on its
    # order: numpy's pairwise sum, pandas', the engine's AVG): every path gives the true mean
    # rounded once, bit for bit.
    from fractions import Fraction

    rows = []
    for i, d in enumerate(durations):
        rows.append((f"c{i}", 0, "v", "ads" if i % 2 else "mail", None, f"v{i}"))
        rows.append((f"c{i}", d / 1_000_000, "b", None, None, f"b{i}"))
    t = _table(rows)
    fast, slow = _both(lambda: event_funnel(t, ["v", "b"], window="3650d", by=by))
    got_fast = fast[fast["step"] == 2].set_index("segment" if by else "step")
    got_slow = slow[slow["step"] == 2].set_index("segment" if by else "step")
    groups = {"ads": durations[1::2], "mail": durations[0::2]} if by else {2: durations}
    for key, part in groups.items():
        if not part:
            continue
        want = float(Fraction(sum(part), len(part) * 10**6))
        assert got_fast.loc[key, "mean_seconds_to_convert"] == want
        assert got_slow.loc[key, "mean_seconds_to_convert"] == want


@given(st.lists(st.integers(0, 2**52), max_size=60), st.randoms())
def test_mean_seconds_is_the_true_mean_in_any_order(us: list[int], rnd: Any) -> None:
    from fractions import Fraction

    import numpy as np

    from kundresa.analytics._means import mean_seconds

    want = float(Fraction(sum(us), len(us) * 10**6)) if us else None
    shuffled = list(us)
    rnd.shuffle(shuffled)
    assert mean_seconds(np.array(us, np.int64)) == want
    assert mean_seconds(np.array(shuffled, np.int64)) == want


@settings(max_examples=30, deadline=None)
@given(st.lists(st.integers(1, 10**13), min_size=1, max_size=40))
def test_directly_follows_means_are_exact_on_every_path(gaps: list[int]) -> None:
    # The gaps of one edge (v -> b), in whole microseconds of very different sizes, over
    # customers in any order: both paths give the true mean rounded once, bit for bit.
    from fractions import Fraction

    from kundresa.analytics.paths import directly_follows

    rows = []
    for i, d in enumerate(gaps):
        rows.append((f"c{len(gaps) - i}", 0, "v", None, None, f"v{i}"))
        rows.append((f"c{len(gaps) - i}", d / 1_000_000, "b", None, None, f"b{i}"))
    t = _table(rows)
    fast, slow = _both(directly_follows, t, level="event")
    want = float(Fraction(sum(gaps), len(gaps) * 10**6))
    for df in (fast, slow):
        edge = df[(df["source"] == "v") & (df["target"] == "b")]
        assert edge["mean_seconds"].tolist() == [want]
