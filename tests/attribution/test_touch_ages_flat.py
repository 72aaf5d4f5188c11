"""touch_ages reads well-formed ages at once (numpy); the row-by-row reading is the reference
it is held to, and still names the row of bad ages."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kundresa.attribution import _paths
from kundresa.attribution._paths import encode, touch_ages

age = st.one_of(st.floats(0, 1e7), st.just(math.nan), st.integers(0, 10**6))
path = st.lists(st.sampled_from("abc"), min_size=1, max_size=5)


@st.composite
def frames(draw: st.DrawFn) -> pd.DataFrame:
    rows = draw(st.lists(path, min_size=1, max_size=12))
    ages = [tuple(draw(st.lists(age, min_size=len(p), max_size=len(p)))) for p in rows]
    return pd.DataFrame(
        {
            "path": [tuple(p) for p in rows],
            "conversions": 1.0,
            "value": 0.0,
            "nulls": 0.0,
            "ages": ages,
        }
    )


@settings(max_examples=60, deadline=None)
@given(frames())
def test_flat_reading_equals_row_by_row(frame: pd.DataFrame) -> None:
    enc = encode(frame)
    fast = _paths._flat_ages(enc)
    assert fast is not None
    original = _paths._flat_ages
    try:
        _paths._flat_ages = lambda enc: None  # type: ignore[assignment]
        slow = touch_ages(enc)
    finally:
        _paths._flat_ages = original
    np.testing.assert_array_equal(fast, slow)
    np.testing.assert_array_equal(touch_ages(enc), slow)


@pytest.mark.parametrize(
    ("ages", "message"),
    [((1.0,), "1 ages for a path of 2"), ((1.0, -1.0), "finite and >= 0"), (None, None)],
)
def test_bad_ages_still_name_the_row(ages: object, message: str | None) -> None:
    frame = pd.DataFrame(
        {"path": [("a",), ("a", "b")], "conversions": [1.0, 1.0], "ages": [(3.0,), ages]}
    )
    enc = encode(frame)
    if message is None:  # unknown ages: that path's touches are NaN
        out = touch_ages(enc)
        assert out[0] == 3.0 and np.isnan(out[1:]).all()
        return
    with pytest.raises(ValueError, match=rf"row 1: .*{message}"):
        touch_ages(enc)
