"""Durations written the way the command line takes them: ``90s``, ``30m``, ``12h``, ``7d``,
``2w`` or plain seconds.

The rules, as README and docs/analytics.md give them: a number in ASCII digits, with or
without a decimal point (``1.5h``, ``0.5d``, ``.5d``), then a unit ``s``, ``m`` (minutes),
``h``, ``d`` or ``w`` in either case (``7D`` is ``7d``; ``M`` is minutes too, never months),
a space between them allowed (``7 d``), or no unit for seconds (``3600``, ``1.5``). The
number is read exactly, as a decimal, and the duration must be a whole number of
microseconds, the resolution of event times: ``0.0000001s`` is refused, not rounded to
zero.
"""

from __future__ import annotations

import math
import re
from decimal import Decimal

from kundresa.errors import UsageError

__all__ = ["ACCEPTED", "DurationError", "is_off", "parse_duration", "quoted"]

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_PATTERN = re.compile(r"(\d+(?:\.\d*)?|\.\d+)\s*([smhdw]?)", re.IGNORECASE | re.ASCII)
ACCEPTED = "write 90s, 30m, 12h, 7d, 2w or plain seconds"
"""The forms a duration takes, as every message about a bad one says them."""
_OFF = ("none", "off")
_LONGEST = 40
"""Characters of the longest duration read: longer text is refused before the pattern runs
(and is shortened in the message)."""


class DurationError(UsageError):
    """Text that is not a duration; ``reason`` is what the message says after the quoted
    text (``is not a duration; write ...``), for a caller that names the option itself.
    A usage error (and so a ValueError): a bad duration is the caller's to fix."""

    def __init__(self, name: str, text: object, reason: str) -> None:
        self.reason = reason
        super().__init__(f"{name} {quoted(text)} {reason}")


def parse_duration(text: str | int | float, name: str = "window") -> float:
    """The number of seconds a duration stands for.

    Parameters
    ----------
    text
        ``90s``, ``30m``, ``12h``, ``7d``, ``2w`` (seconds, minutes, hours, days, weeks), a
        plain number of seconds such as ``3600`` or ``"3600"``, or a number.
    name
        What the duration is, for the message (``window``, ``lookback``, ``horizon``).

    Returns
    -------
    float
        Seconds, never negative.

    Raises
    ------
    ValueError
        When the text is not a duration (the message shows what is accepted).

    Examples
    --------
    >>> parse_duration("90s"), parse_duration("30m"), parse_duration("12h")
    (90.0, 1800.0, 43200.0)
    >>> parse_duration("7d"), parse_duration("2w"), parse_duration(3600)
    (604800.0, 1209600.0, 3600.0)
    >>> parse_duration("1.5h"), parse_duration("0.5d"), parse_duration("7 D")
    (5400.0, 43200.0, 604800.0)
    >>> parse_duration("1.1h")  # exactly, as a decimal: not 3960.0000000000005
    3960.0
    >>> parse_duration("7 days")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    kundresa.analytics._duration.DurationError: window '7 days' is not a duration; write 90s, ...
    >>> parse_duration("0.0000001s", "lookback")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    kundresa.analytics._duration.DurationError: lookback '0.0000001s' is not a whole number ...
    """
    if isinstance(text, bool):
        raise UsageError(f"{name} {text!r} is not a duration")
    if isinstance(text, int | float):
        if not math.isfinite(text) or text < 0:
            raise UsageError(f"{name} {text!r} must be a finite, non-negative number of seconds")
        return float(text)
    stripped = str(text).strip()
    match = _PATTERN.fullmatch(stripped) if len(stripped) <= _LONGEST else None
    if match is None:
        raise DurationError(name, text, f"is not a duration; {ACCEPTED}")
    number, unit = match.groups()
    seconds = Decimal(number) * _UNITS[unit.lower() or "s"]  # exact: a decimal times a whole
    if (seconds * 1_000_000) % 1:
        raise DurationError(
            name,
            text,
            "is not a whole number of microseconds (event times are kept to the microsecond)",
        )
    return float(seconds)


def is_off(value: object) -> bool:
    """Whether ``value`` is a word that switches a duration off (``none``, ``off``, any case),
    where a parameter can be switched off (a session gap). Zero is not among them: what zero
    means is the parameter's own rule.

    >>> is_off(" Off "), is_off("none"), is_off("0"), is_off(None)
    (True, True, False, False)
    """
    return isinstance(value, str) and value.strip().lower() in _OFF


def quoted(text: object) -> str:
    """``text`` quoted for a message, shortened past :data:`_LONGEST` characters.

    >>> quoted("7x"), quoted("1" * 50)
    ("'7x'", "'1111111111111111111111111111111111111111'...")
    """
    shown = str(text)
    return repr(text) if len(shown) <= _LONGEST else repr(shown[:_LONGEST]) + "..."
