"""Durations (``--window``, ``--lookback``, ``--half-life``, ``--horizon``, ``--session-gap``)
as README and docs/analytics.md write them: a number in ASCII digits, a decimal point
allowed, then ``s``, ``m``, ``h``, ``d`` or ``w`` in either case (a space between allowed),
or no unit for seconds. The number is read exactly, and a duration finer than a microsecond
(the resolution of event times) is refused naming the option, never rounded to zero."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from kundresa.analytics._duration import parse_duration
from kundresa.cli import main


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("7 d", 604800.0),
        ("7D", 604800.0),
        ("1M", 60.0),  # minutes, in either case: never months
        ("0.5d", 43200.0),
        (".5d", 43200.0),
        ("1.5", 1.5),
        ("0.000001", 0.000001),
        ("1.1h", 3960.0),  # was 3960.0000000000005 (1.1 * 3600 in floats)
        ("0.1w", 60480.0),
        (" 2 w ", 1209600.0),
    ],
)
def test_documented_forms(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["0.0000001s", "1.0000001", "0.0000000001h", "1.23456789m"])
def test_finer_than_a_microsecond_is_refused(text: str) -> None:
    # Was read as a float and rounded where used: 0.0000001s a window of zero.
    with pytest.raises(ValueError, match=r"is not a whole number of microseconds"):
        parse_duration(text, "window")


@pytest.mark.parametrize("text", ["7 days", "1,5h", "1e3", "7dd", "d", "1.5.2h"])
def test_not_durations(text: str) -> None:
    with pytest.raises(ValueError, match="is not a duration; write 90s"):
        parse_duration(text)


def _cli(*args: str) -> tuple[int, str, str]:
    r = CliRunner().invoke(main, list(args))
    return r.exit_code, r.stdout, r.stderr if r.stderr_bytes is not None else r.output


def test_the_command_line_names_the_option(tmp_path: Path) -> None:
    events = tmp_path / "events.csv"
    events.write_text(
        "customer_id,timestamp,event\nc1,2025-03-01T10:00:00Z,view\nc1,2025-03-01T10:00:01.5Z,buy\n"
    )
    base = ("funnel", "--events", str(events), "--step", "view", "--step", "buy")
    code, _, err = _cli(*base, "--window", "1.0000001")
    assert code == 2
    assert "--window: '1.0000001' is not a whole number of microseconds" in err
    # A fractional window is exact: 1.5 s reaches the step 1.5 s later, 1.499999 s not.
    code, out, _ = _cli(*base, "--window", "1.5", "--format", "json")
    assert code == 0 and json.loads(out)[1]["count"] == 1
    code, out, _ = _cli(*base, "--window", "1.499999", "--format", "json")
    assert code == 0 and json.loads(out)[1]["count"] == 0


def test_a_zero_half_life_says_what_it_is_for(tmp_path: Path) -> None:
    """--half-life 0 is refused under any model (every option is checked before anything
    runs, as --position or --order are), and the message says whose half-life it is."""
    events = tmp_path / "events.csv"
    events.write_text("customer_id,timestamp,event,channel\nc1,2025-03-01,purchase,web\n")
    for model in ("markov", "time_decay"):
        code, _, err = _cli(
            "attribution", "--events", str(events), "--model", model, "--half-life", "0"
        )
        assert code == 2
        assert (
            "--half-life: '0' must be longer than zero (half-life of the time_decay model; "
            "checked whichever model runs)"
        ) in err
