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
