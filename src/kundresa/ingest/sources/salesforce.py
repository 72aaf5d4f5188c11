"""Salesforce lead, contact and opportunity exports: one ``became_<stage>`` event per date.

Salesforce keeps no history of lifecycle stages on a record, but its standard date fields
(Salesforce Object Reference: Lead, Contact, Opportunity) mark the same steps. Exports
from Data Loader or Workbench use the API names (``Id``, ``CreatedDate``,
``ConvertedDate``); report exports use labels (``Lead ID``, ``Created Date``,
``Converted Date``); both are read. The object is told from its columns:

- **Lead** (``ConvertedDate`` / ``IsConverted`` / ``Lead Status``): ``CreatedDate`` →
  ``became_lead``; ``ConvertedDate`` → ``became_sales_qualified_lead`` (conversion is
  Salesforce's qualification step) and, when ``ConvertedOpportunityId`` is set, also
  ``became_opportunity``. The customer is ``ConvertedContactId`` once converted, and the
  lead ``Id`` is kept as ``anonymous_id`` (linking the lead's events to the contact);
  before conversion the customer is the lead ``Id``.
- **Opportunity** (``StageName`` / ``IsWon`` / ``CloseDate``): ``CreatedDate`` →
  ``became_opportunity``; ``CloseDate`` of a won opportunity (``IsWon`` true, or stage
  ``Closed Won``) → ``became_customer`` with ``Amount`` as its value. The customer is the
  opportunity's ``ContactId``, else its ``AccountId``.
- **Contact**: ``CreatedDate`` → ``became_lead``; the customer is the contact ``Id``.

The event id is ``salesforce:<record id>:<event>``; every other column is a property in
snake case (``LeadSource`` → ``lead_source``). See docs/sources.md.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pyarrow as pa

from kundresa.ingest.readers import RawBatch
from kundresa.ingest.sources._base import Sample, Source, SourceError, register
from kundresa.ingest.sources._crm import TRUE, StageDate, wide_to_events
from kundresa.ingest.sources._tabular import (
    find,
    output_columns,
    property_names,
    snake,
    text,
)

_CREATED = ("CreatedDate", "Created Date", "Create Date")
# Salesforce record ids start with a three-character key prefix naming the object.
_KEY_PREFIX = {"00Q": "lead", "003": "contact", "006": "opportunity"}


def _object(header: list[str], ids: list[str] | None = None) -> str | None:
    names = {snake(c) for c in header}
    if names & {"converted_date", "is_converted", "converted_contact_id", "lead_status"}:
        return "lead"
    if names & {"stage_name", "is_won", "close_date", "won"}:
        return "opportunity"
    if ids:
        kinds = {_KEY_PREFIX.get(i[:3]) for i in ids if len(i) in (15, 18)}
        if len(kinds) == 1 and None not in kinds:
            return kinds.pop()
    if names & {"contact_id", "account_id", "mailing_city", "reports_to_id"}:
        return "contact"
    return None


@dataclass(frozen=True)
class _Layout:
    kind: str
    record_id: str
    customer: list[str]
    anonymous: str | None
    stages: list[StageDate]
    properties: dict[str, str]
    value: dict[str, str] = field(default_factory=dict)
    won: str | None = None
    stage_name: str | None = None


def _layout(header: list[str], ids: list[str] | None = None) -> _Layout:
    kind = _object(header, ids)
    created = find(header, *_CREATED)
    if kind is None or created is None:
        raise SourceError(
            "not a Salesforce lead, contact or opportunity export: needs CreatedDate "
            "and, for leads, ConvertedDate or IsConverted; for opportunities StageName, "
            "IsWon or CloseDate"
        )
    id_names = {
        "lead": ("Id", "Lead ID"),
        "contact": ("Id", "Contact ID"),
        "opportunity": ("Id", "Opportunity ID"),
    }[kind]
    record_id = find(header, *id_names)
    if record_id is None:
        raise SourceError(f"Salesforce {kind} export without a record id ({id_names[0]})")
    used = {record_id, created}
    if kind == "lead":
        stages = [StageDate(created, "became_lead")]
        converted = find(header, "ConvertedDate", "Converted Date")
        contact = find(header, "ConvertedContactId", "Converted Contact ID")
        opportunity = find(header, "ConvertedOpportunityId", "Converted Opportunity ID")
        if converted is not None:
            stages.append(StageDate(converted, "became_sales_qualified_lead"))
            if opportunity is not None:
                stages.append(StageDate(converted, "became_opportunity", present=opportunity))
        used |= {c for c in (converted, contact) if c is not None}
        props = property_names(SalesforceSource.name, [c for c in header if c not in used])
        return _Layout(
            kind,
            record_id,
            [c for c in (contact, record_id) if c is not None],
            record_id if contact is not None else None,
            stages,
            props,
        )
    if kind == "opportunity":
        stages = [StageDate(created, "became_opportunity")]
        close = find(header, "CloseDate", "Close Date")
        won = find(header, "IsWon", "Won")
        stage_name = find(header, "StageName", "Stage")
        if close is not None and (won is not None or stage_name is not None):
            stages.append(StageDate(close, "became_customer", only_if=WON))
        contact = find(header, "ContactId", "Contact ID")
        account = find(header, "AccountId", "Account ID")
        customer = [c for c in (contact, account) if c is not None]
        if not customer:
            raise SourceError(
                "Salesforce opportunity export without ContactId or AccountId: no customer "
                "to give the events to"
            )
        amount = find(header, "Amount")
        value = {"became_customer": amount} if amount is not None else {}
        used |= {c for c in (close, amount) if c is not None}
        props = property_names(SalesforceSource.name, [c for c in header if c not in used])
        return _Layout(kind, record_id, customer, None, stages, props, value, won, stage_name)
    props = property_names(SalesforceSource.name, [c for c in header if c not in used])
    return _Layout(kind, record_id, [record_id], None, [StageDate(created, "became_lead")], props)


WON = "_won"
"""A column the opportunity transform adds: whether the opportunity was won."""


@register
class SalesforceSource(Source):
    """A Salesforce Lead, Contact or Opportunity export (Data Loader or report CSV)."""

    name = "salesforce"
    title = "Salesforce leads, contacts or opportunities"

    def detect(self, sample: Sample) -> int:
        try:
            _layout(sample.header, sample.values("Id"))
        except SourceError:
            return 0
        return 80

    def columns(self, header: list[str]) -> list[str]:
        layout = _layout(header)
        canonical = ["customer_id", "timestamp", "event", "event_id"]
        if layout.anonymous is not None:
            canonical.append("anonymous_id")
        if layout.value:
            canonical.append("value")
        return output_columns(canonical, layout.properties)

    def transform(self, batch: RawBatch) -> RawBatch:
        layout = _layout(list(batch.columns))
        if layout.kind == "opportunity":
            # Won: IsWon is true; without an IsWon column, the stage is "Closed Won".
            won = text(batch, layout.won).to_pylist()
            stage = text(batch, layout.stage_name).to_pylist()
            flags = [
                "true"
                if (w is not None and w.lower() in TRUE)
                or (layout.won is None and s is not None and s.lower() == "closed won")
                else "false"
                for w, s in zip(won, stage, strict=True)
            ]
            batch = RawBatch(
                {**batch.columns, WON: pa.array(flags, pa.string())},
                batch.lines,
                batch.rejected,
            )
        return wide_to_events(
            batch,
            source=self.name,
            record_id=layout.record_id,
            customer=layout.customer,
            anonymous=layout.anonymous,
            stages=layout.stages,
            properties=layout.properties,
            value=layout.value,
            no_stage_reason=f"no {layout.kind} date (CreatedDate is empty)",
        )
