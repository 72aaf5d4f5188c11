"""Durations written the way the command line takes them: ``90s``, ``30m``, ``12h``, ``7d``,
``2w`` or plain seconds."""

from __future__ import annotations

import math
import re

__all__ = ["parse_duration"]

_UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}
_PATTERN = re.compile(r"^\s*(\d+(?:\.\d*)?|\.\d+)\s*([smhdw]?)\s*$", re.IGNORECASE)


def parse_duration(text: str | int | float) -> float:
    """The number of seconds a duration stands for.

    Parameters
    ----------
    text
        ``90s``, ``30m``, ``12h``, ``7d``, ``2w`` (seconds, minutes, hours, days, weeks), a
        plain number of seconds such as ``3600`` or ``"3600"``, or a number.

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
    >>> parse_duration("1.5h")
    5400.0
    >>> parse_duration("7 days")
    Traceback (most recent call last):
    ...
    ValueError: window '7 days' is not a duration; write 90s, 30m, 12h, 7d, 2w or plain seconds
    """
    if isinstance(text, bool):
        raise ValueError(f"window {text!r} is not a duration")
    if isinstance(text, int | float):
        if not math.isfinite(text) or text < 0:
            raise ValueError(f"window {text!r} must be a finite, non-negative number of seconds")
        return float(text)
    match = _PATTERN.match(str(text))
    if match is None:
        raise ValueError(
            f"window {text!r} is not a duration; write 90s, 30m, 12h, 7d, 2w or plain seconds"
        )
    number, unit = match.groups()
    return float(number) * _UNITS[unit.lower() or "s"]
