"""Values written in their units, in the journey's language."""

from __future__ import annotations

import math

import pytest

from kundresa.report.units import format_value


def plain(text: str) -> str:
    return text.replace("\xa0", " ").replace("\u202f", " ")


@pytest.mark.parametrize(
    ("value", "unit", "lang", "expected"),
    [
        (20000, "count", "en", "20,000"),
        (20000, "count", "sv", "20 000"),
        (0.568, "rate", "en", "56.8%"),
        (0.568, "rate", "sv", "56,8 %"),
        (0.568, "rate", "da", "56,8 %"),
        (1.0, "rate", "en", "100.0%"),
        (0.0321, "pp", "en", "+3.2 pp"),
        (-0.0321, "pp", "sv", "-3,2 p.e."),
        (0.0321, "pp", "da", "+3,2 pct.-point"),
        ("2026-11-30T00:00:00", "time", "sv", "30 nov. 2026"),
        ("2026-11-30T00:00:00", "time", "da", "30. nov. 2026"),
        (0.0, "pp", "en", "0.0 pp"),
        (42, "seconds", "en", "42 s"),
        (720, "seconds", "en", "12 min"),
        (4 * 3600 + 12 * 60, "seconds", "en", "4 h 12 min"),
        (7200, "seconds", "en", "2 h"),
        (9.3 * 86400, "seconds", "sv", "9,3 d"),
        (9.25, "days", "en", "9.2 d"),
        (1234.5, "money", "en", "1,234.50"),
        (1234.5, "money", "sv", "1 234,50"),
        (0.0004, "p_value", "en", "<0.001"),
        (0.0321, "p_value", "en", "0.032"),
        (1.256, "number", "en", "1.26"),
        (None, "rate", "en", "–"),
        (math.nan, "count", "en", "–"),
        ("[bold]x", "label", "en", "[bold]x"),
        (True, "label", "en", "yes"),
    ],
)
def test_format_value(value: object, unit: str, lang: str, expected: str) -> None:
    assert plain(format_value(value, unit, lang)) == expected
