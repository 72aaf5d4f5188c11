"""Reviewing the map: the date of the next review, written into the journey file's text.

The guides say to review a journey map at least twice a year, so a review sets
``review_by`` six months ahead by default. The file is changed as text, one line, so its
comments, order and layout stay exactly as the author wrote them.

Examples
--------
>>> text = "kundresa: 1\\nname: Shop  # the shop\\nreview_by: 2026-01-01  # twice a year\\n"
>>> print(with_review_by(text, date(2026, 7, 1)), end="")
kundresa: 1
name: Shop  # the shop
review_by: 2026-07-01  # twice a year
>>> text = "kundresa: 1\\n# who\\nname: Shop\\nstages: []\\n"
>>> print(with_review_by(text, date(2027, 1, 31)), end="")
kundresa: 1
# who
name: Shop
review_by: 2027-01-31
stages: []
>>> six_months_after(date(2026, 8, 31))
datetime.date(2027, 2, 28)
"""

from __future__ import annotations

import re
from datetime import date

__all__ = ["ReviewDateError", "six_months_after", "with_review_by"]


class ReviewDateError(ValueError):
    """The journey file's text has no place for ``review_by`` that a one-line edit can
    reach (a file written as one flow-style mapping)."""


_REVIEW_BY = re.compile(r"^review_by\s*:[^\n#]*?(?P<rest>\s+#[^\n]*)?$", re.MULTILINE)
_TOP_KEY = re.compile(r"^(?P<key>[A-Za-z_][\w-]*)\s*:", re.MULTILINE)
# review_by goes after the first of these top-level keys the file has (the order of the
# journey file's documentation: kundresa, name, language, circular, timezone, review_by).
_AFTER = ("timezone", "circular", "language", "name", "kundresa")


def six_months_after(day: date) -> date:
    """``day`` six calendar months later (the 31st becomes the month's last day)."""
    month = day.month + 6
    year, month = day.year + (month - 1) // 12, (month - 1) % 12 + 1
    for d in (day.day, 30, 29, 28):
        try:
            return date(year, month, d)
        except ValueError:
            continue
    raise AssertionError("unreachable")  # pragma: no cover


def with_review_by(text: str, when: date) -> str:
    """The journey file ``text`` with ``review_by: when``: the existing top-level line's
    value replaced (its comment kept), else a new line after the file's name, language or
    format line.

    Raises
    ------
    ReviewDateError
        No top-level block mapping to put it in.
    """
    value = when.isoformat()
    found = _REVIEW_BY.search(text)
    if found:
        rest = found.group("rest") or ""
        return text[: found.start()] + f"review_by: {value}{rest}" + text[found.end() :]
    keys = {m.group("key"): m for m in _TOP_KEY.finditer(text)}
    for key in _AFTER:
        if key in keys:
            if not text.endswith("\n"):
                text += "\n"
            end = _end_of_entry(text, keys[key].start())
            return text[:end] + f"review_by: {value}\n" + text[end:]
    raise ReviewDateError(
        "the journey file has no top-level `name:` line to put `review_by:` after; add "
        f"`review_by: {value}` by hand"
    )


def _end_of_entry(text: str, start: int) -> int:
    """Where the top-level entry starting at ``start`` ends: the start of the next line that
    is neither indented, blank nor a comment attached below it."""
    pos = text.find("\n", start) + 1
    while pos < len(text):
        nl = text.find("\n", pos)
        line = text[pos : (nl if nl >= 0 else len(text))]
        if line[:1] in (" ", "\t"):
            pos = (nl + 1) if nl >= 0 else len(text)
            continue
        break
    return pos
