"""HubSpot contact exports: one ``became_<stage>`` event per lifecycle stage date.

HubSpot records the date a contact entered each lifecycle stage in read-only properties
(HubSpot's knowledge base, "Understand lifecycle stage properties"; internal names
``hs_lifecyclestage_<stage>_date``). A contact export names these columns
``Became a Lead Date``, ``Became a Marketing Qualified Lead Date``… or, in accounts with
customised lifecycle stages, ``Date entered "Lead (Lifecycle Stage Pipeline)"``. Every
non-empty one becomes an event ``became_<stage>`` (the stage in snake case:
``became_lead``, ``became_marketing_qualified_lead``, ``became_sales_qualified_lead``,
``became_opportunity``, ``became_customer``, ``became_evangelist``, ``became_subscriber``,
``became_other``, and custom stages by their name). The customer is the record id
(``Record ID``, ``Contact ID``, ``hs_object_id``); every other column is a property in
snake case (``Lifecycle Stage`` → ``lifecycle_stage``). See docs/sources.md.
"""

from __future__ import annotations

import re

from kundresa.ingest.readers import RawBatch
from kundresa.ingest.sources._base import Sample, Source, SourceError, register
from kundresa.ingest.sources._crm import StageDate, wide_to_events
from kundresa.ingest.sources._tabular import find, output_columns, property_names, snake

ID_COLUMNS = ("Record ID", "Contact ID", "hs_object_id", "vid")
_BECAME = re.compile(r"^became an? (.+?) date$", re.IGNORECASE)
_ENTERED = re.compile(
    r"""^date entered ["'\u201c\u201d](.+?) \(lifecycle stage pipeline\)["'\u201c\u201d]$""",
    re.IGNORECASE,
)
_INTERNAL = re.compile(r"^hs_lifecyclestage_([a-z0-9]+)_date$")
# HubSpot's internal stage values, and label forms, mapped to the stage's words.
_STAGE_WORDS = {
    "marketingqualifiedlead": "marketing_qualified_lead",
    "salesqualifiedlead": "sales_qualified_lead",
    "other_lifecycle": "other",
    "other_lifecycle_stage": "other",
}


def stage_event(column: str) -> str | None:
    """The event a HubSpot lifecycle date column becomes, or None for other columns.

    Examples
    --------
    >>> stage_event("Became a Marketing Qualified Lead Date")
    'became_marketing_qualified_lead'
    >>> stage_event("Became an Other Lifecycle Date")
    'became_other'
    >>> stage_event('Date entered "Opportunity (Lifecycle Stage Pipeline)"')
    'became_opportunity'
    >>> stage_event("hs_lifecyclestage_salesqualifiedlead_date")
    'became_sales_qualified_lead'
    >>> stage_event("Create Date") is None
    True
    """
    name = column.strip()
    for pattern in (_BECAME, _ENTERED, _INTERNAL):
        m = pattern.match(name)
        if m:
            stage = snake(m.group(1))
            return f"became_{_STAGE_WORDS.get(stage, stage)}"
    return None


@register
class HubSpotSource(Source):
    """A HubSpot contact export (CSV or XLSX saved as CSV) with lifecycle stage dates."""

    name = "hubspot"
    title = "HubSpot contacts"

    def _layout(self, header: list[str]) -> tuple[str, list[StageDate], dict[str, str]]:
        record_id = find(header, *ID_COLUMNS)
        stages = [StageDate(c, e) for c in header if (e := stage_event(c)) is not None]
        if record_id is None or not stages:
            missing = (
                f"no record id column ({', '.join(ID_COLUMNS)})"
                if record_id is None
                else "no lifecycle stage date columns (Became a … Date)"
            )
            raise SourceError(f"not a HubSpot contact export: {missing}")
        # Several spellings of one stage (old and new export): the first column wins.
        unique: dict[str, StageDate] = {}
        for st in stages:
            unique.setdefault(st.event, st)
        stages = list(unique.values())
        stage_cols = {c for c in header if stage_event(c) is not None}
        props = property_names(
            self.name, [c for c in header if c != record_id and c not in stage_cols]
        )
        return record_id, stages, props

    def detect(self, sample: Sample) -> int:
        try:
            self._layout(sample.header)
        except SourceError:
            return 0
        return 90

    def columns(self, header: list[str]) -> list[str]:
        _, _, props = self._layout(header)
        return output_columns(["customer_id", "timestamp", "event", "event_id"], props)

    def transform(self, batch: RawBatch) -> RawBatch:
        record_id, stages, props = self._layout(list(batch.columns))
        return wide_to_events(
            batch,
            source=self.name,
            record_id=record_id,
            customer=[record_id],
            anonymous=None,
            stages=stages,
            properties=props,
            no_stage_reason="no lifecycle stage date (Became a … Date columns are empty)",
        )
