"""Survey answers (NPS, CSAT, CES…) exported as a table: one event per answer.

A survey tool's export has one row per response: who answered, when, and the scores.
``kundresa ingest answers.csv --source survey --event nps_answer`` gives every row the
event ``nps_answer``; the respondent column (``customer_id``, ``user_id``, ``email``,
``respondent_id``…) is the customer (an e-mail address in lower case, as the shop sources
write it); the submission time (``timestamp``,
``submitted_at``, ``Submit Date (UTC)``, ``RecordedDate``…) the timestamp; score columns
(``score``, ``rating``, ``nps``, ``csat``, ``ces``…) stay properties of that name, written
as plain numbers (``9``, ``4.5``: a decimal comma is read too), and a score that is not a
number sends the row to quarantine, as does an NPS column's (``nps``, ``nps_score``,
``likelihood_to_recommend``) score that is not a whole number 0-10. Every other column is a
property in snake case. The journey file's ``surveys:`` section turns the scores into
measured NPS and CSAT per stage (README, "Surveys on the map"). See docs/sources.md.
"""

from __future__ import annotations

import re

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from kundresa.ingest.columns import MISSING_NUMBERS
from kundresa.ingest.readers import RawBatch
from kundresa.ingest.sources._base import Sample, Source, SourceError, register
from kundresa.ingest.sources._tabular import (
    find,
    output_columns,
    property_names,
    reject,
    snake,
    text,
)

CUSTOMER = (
    "customer_id",
    "user_id",
    "contact_id",
    "respondent_id",
    "email",
    "email_address",
    "respondent_email",
)
TIME = (
    "timestamp",
    "submitted_at",
    "submit_date_utc",
    "submit_date",
    "date_submitted",
    "response_date",
    "recorded_date",
    "end_date",
    "completed_at",
    "created_at",
    "date",
    "time",
)
SCORES = (
    "score",
    "rating",
    "nps",
    "nps_score",
    "csat",
    "csat_score",
    "ces",
    "ces_score",
    "likelihood_to_recommend",
)
NPS_SCORES = ("nps", "nps_score", "likelihood_to_recommend")
"""Score columns that by their name hold NPS answers: whole numbers 0-10 (the 11-point
"how likely are you to recommend us" scale); another number there sends the row to
quarantine."""
_MISSING = frozenset(MISSING_NUMBERS)
_NUMBER = re.compile(r"^[+-]?([0-9]+([.,][0-9]*)?|[.,][0-9]+)$")


def score_columns(header: list[str]) -> list[str]:
    """The columns of ``header`` holding scores (by snake-case name)."""
    return [c for c in header if snake(c) in SCORES]


@register
class SurveySource(Source):
    """Survey responses: every row becomes the event named by the ``event`` option."""

    name = "survey"
    title = "survey answers"
    option_names = ("event",)

    def _layout(self, header: list[str]) -> tuple[str, str, str | None, dict[str, str]]:
        customer = find(header, *CUSTOMER)
        time = find(header, *TIME)
        if customer is None or time is None:
            raise SourceError(
                "survey answers need a respondent column (" + ", ".join(CUSTOMER) + ") and "
                "a time column (" + ", ".join(TIME) + ")"
            )
        event_col = find(header, "event", "event_name")
        if self.options.get("event") is None and event_col is None:
            raise SourceError(
                "survey answers: name the event every row becomes with --event NAME "
                "(e.g. --event nps_answer)"
            )
        used = {customer, time} | ({event_col} if event_col else set())
        props = property_names(self.name, [c for c in header if c not in used])
        return customer, time, event_col, props

    def detect(self, sample: Sample) -> int:
        if not score_columns(sample.header):
            return 0
        if find(sample.header, *CUSTOMER) is None or find(sample.header, *TIME) is None:
            return 0
        # A file with its own event column reads as a plain events file unless --event
        # says which event its rows are.
        if find(sample.header, "event", "event_name") and self.options.get("event") is None:
            return 0
        return 70

    def columns(self, header: list[str]) -> list[str]:
        _, _, _, props = self._layout(header)
        return output_columns(["customer_id", "timestamp", "event"], props)

    def transform(self, batch: RawBatch) -> RawBatch:
        customer, time, event_col, props = self._layout(list(batch.columns))
        n = len(batch.lines)
        bad = np.zeros(n, dtype=bool)
        reasons: dict[int, str] = {}
        columns: dict[str, pa.Array] = {}
        for col in score_columns(list(batch.columns)):
            values = text(batch, col).to_pylist()
            nps = snake(col) in NPS_SCORES
            clean: list[str | None] = []
            for i, v in enumerate(values):
                if v is None or v.strip().lower() in _MISSING:  # NA, N/A, #N/A…: no answer
                    clean.append(None)
                elif _NUMBER.match(v):
                    number = float(v.replace(",", "."))
                    if nps and not (number.is_integer() and 0 <= number <= 10):
                        clean.append(None)
                        if not bad[i]:
                            reasons[i] = (
                                f"NPS score {v!r} is not a whole number from 0 to 10 "
                                f"(column {col!r})"
                            )
                        bad[i] = True
                        continue
                    clean.append(f"{number:g}")
                else:
                    clean.append(None)
                    if not bad[i]:
                        reasons[i] = f"score {v!r} is not a number (column {col!r})"
                    bad[i] = True
            columns[props[col]] = pa.array(clean, pa.string())
        event = self.options.get("event")
        respondent = text(batch, customer)
        if "email" in snake(customer):
            # E-mail addresses compare case-insensitively; shop sources lower-case them too.
            respondent = pc.utf8_lower(respondent)
        out: dict[str, pa.Array] = {
            "customer_id": respondent,
            "timestamp": text(batch, time),
            "event": pa.array([event] * n, pa.string()) if event else text(batch, event_col),
        }
        for src, name in props.items():
            out[name] = columns.get(name, batch.columns[src].cast(pa.string()))
        keep = pa.array(~bad)
        rejected = [
            r
            for i, reason in sorted(reasons.items())
            for r in reject(batch, np.array([i], dtype=np.int64), reason)
        ]
        return RawBatch(
            {k: v.filter(keep) for k, v in out.items()},
            batch.lines.filter(keep),
            [*batch.rejected, *rejected],
        )
