"""Numbers as spreadsheets write them: decimal comma or point, thousands separators."""

from __future__ import annotations

import duckdb
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kundresa.store.warehouse import _number_sql

# (decimal mark, thousands separator) as locales write amounts.
STYLES = [
    (",", " "),  # sv-SE, fr-FR
    (",", "\u00a0"),  # Excel's no-break space
    (",", "\u202f"),  # narrow no-break space (fr-FR since CLDR 34)
    (",", "."),  # de-DE, da-DK
    (",", ""),
    (".", ","),  # en-US
    (".", " "),
    (".", ""),
]


def written(cents: int, decimal: str, thousands: str) -> str:
    """``cents`` as a locale writes it, e.g. -123456789 → ``-1 234 567,89``."""
    whole, frac = divmod(abs(cents), 100)
    digits = f"{whole:,}".replace(",", thousands)
    return f"{'-' if cents < 0 else ''}{digits}{decimal}{frac:02d}"


def parse(text: str, decimal: str) -> float | None:
    sql = f"SELECT {_number_sql('v', decimal)} FROM (SELECT ? AS v)"
    row = duckdb.execute(sql, [text]).fetchone()
    return None if row is None else row[0]


@pytest.mark.parametrize(
    ("text", "decimal", "expected"),
    [
        ("1 234,50", ",", 1234.5),
        ("1.234,50", ",", 1234.5),
        ("1\u00a0234,50", ",", 1234.5),
        ("1\u202f234\u202f567", ",", 1234567.0),
        ("1,234.50", ".", 1234.5),
        ("1 234.50", ".", 1234.5),
        ("-234,50", ",", -234.5),
        (",5", ",", 0.5),
        ("1234.50", ",", None),  # one mark per column: a point is no decimal comma
        ("0.125", ",", None),  # a group after a leading 0 is no thousands group
        ("0,125", ".", None),
        ("1,5", ".", None),  # not grouped by three: no number, never 15
        ("12,34,567", ".", None),
        ("1 23,4", ",", None),
        ("abc", ",", None),
        ("1_000", ".", None),  # a programming language's digit separator, no locale's
        ("1_000", ",", None),
        ("1_000,5", ",", None),
    ],
)
def test_hand_checked_amounts(text: str, decimal: str, expected: float | None) -> None:
    assert parse(text, decimal) == expected


@settings(max_examples=300, deadline=None)
@given(st.integers(-(10**12), 10**12), st.sampled_from(STYLES))
def test_every_locale_style_reads_back(cents: int, style: tuple[str, str]) -> None:
    decimal, thousands = style
    assert parse(written(cents, decimal, thousands), decimal) == pytest.approx(cents / 100)
