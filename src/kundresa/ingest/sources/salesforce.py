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

Record ids are read in their 18-character, case-insensitive form (see ``case_safe_id``):
a report export's 15-character ``003000000000001`` and a Data Loader export's
``003000000000001AAA`` are one record, so one customer and one event id. The event id is
``salesforce:<record id>:<event>``; every other column is a property in snake case
(``LeadSource`` → ``lead_source``). See docs/sources.md.
"""

from __future__ import annotations

import re
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

_SUFFIX_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"
_RECORD_ID = re.compile(r"[0-9A-Za-z]{15}(?:[0-9A-Za-z]{3})?")


def case_safe_id(value: str) -> str:
    """The 18-character form of a Salesforce record id; any other value unchanged.

    Salesforce record ids are 15 case-sensitive characters (0-9, a-z, A-Z), as report
    exports and the user interface show them; the API and Data Loader add a 3-character
    suffix that encodes the case of the first 15, so that the 18-character id can be
    compared without regard to case (Salesforce SOAP API Developer Guide, "Field Types",
    ID; the 18-character form is what the ``CASESAFEID()`` formula function returns).
    Each suffix character encodes one 5-character chunk: bit ``i`` (value ``2**i``) is set
    when character ``i`` of the chunk is an uppercase letter A-Z, and the 5-bit number
    indexes ``ABCDEFGHIJKLMNOPQRSTUVWXYZ012345``.

    ``value`` of 15 characters gets its suffix; of 18 characters, it is kept when its suffix
    is the one computed from its first 15 characters, ignoring case (the computed suffix is
    then used, so ``…aav`` reads as ``…AAV``). An 18-character value whose suffix does not
    fit its first 15 characters, and anything not 15 or 18 ASCII letters and digits, is
    returned as given: no two distinct values are merged on a guess.

    Examples
    --------
    Worked by hand: in ``00Q5g00000AbCdE`` the chunk ``00Q5g`` has one capital, at 2
    (4, ``E``); ``00000`` none (0, ``A``); ``AbCdE`` capitals at 0, 2 and 4 (1 + 4 + 16 =
    21, ``V``).

    >>> case_safe_id("00Q5g00000AbCdE")
    '00Q5g00000AbCdEEAV'
    >>> case_safe_id("003000000000001"), case_safe_id("00558000001N0Ke")
    ('003000000000001AAA', '00558000001N0KeAAK')

    A suffix in lower case reads as the computed one; one that does not fit (``AAV`` for
    ``EAV``), or a value that is no record id, stays as given:

    >>> case_safe_id("00Q5g00000AbCdEeav")
    '00Q5g00000AbCdEEAV'
    >>> case_safe_id("00Q5g00000AbCdEAAV"), case_safe_id("anna@example.se"), case_safe_id("")
    ('00Q5g00000AbCdEAAV', 'anna@example.se', '')
    """
    if _RECORD_ID.fullmatch(value) is None:
        return value
    head = value[:15]
    suffix = ""
    for start in (0, 5, 10):
        bits = sum(1 << i for i, c in enumerate(head[start : start + 5]) if "A" <= c <= "Z")
        suffix += _SUFFIX_CHARS[bits]
    if len(value) == 18 and value[15:].upper() != suffix:
        return value
    return head + suffix


def _is_id_column(name: str) -> bool:
    """Whether a column holds record ids: ``Id``, ``Lead ID``, ``ContactId``,
    ``ConvertedOpportunityId``, ``OwnerId``… (snake case ``id`` or ``…_id``)."""
    s = snake(name)
    return s == "id" or s.endswith("_id")


def _case_safe_ids(batch: RawBatch) -> RawBatch:
    """``batch`` with every value of its id columns in the 18-character form
    (``case_safe_id``, applied to the value without surrounding blanks); other columns and
    values that are not record ids unchanged."""
    columns = dict(batch.columns)
    for name, arr in batch.columns.items():
        if not _is_id_column(name):
            continue
        safe: list[str | None] = []
        for value in arr.cast(pa.string()).to_pylist():
            if value is not None:
                trimmed = value.strip()
                converted = case_safe_id(trimmed)
                if converted != trimmed:
                    value = converted
            safe.append(value)
        columns[name] = pa.array(safe, pa.string())
    return RawBatch(columns, batch.lines, batch.rejected, batch.numbers, batch.number_rows)


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
        as_read = batch
        batch = _case_safe_ids(batch)
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
                batch.numbers,
                batch.number_rows,
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
            as_read=as_read,
        )
