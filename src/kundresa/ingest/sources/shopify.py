"""Shopify order exports (Admin > Orders > Export, "CSV for Excel" or "Plain CSV").

Shopify writes one row per line item; the order's own fields (``Total``, ``Created at``,
``Financial Status``…) are filled on its first row (Shopify Help Center, "Exporting
orders"). Every order becomes one ``purchase`` event:

- ``Name`` (the order number, ``#1001``) identifies the order: the event id is
  ``shopify:#1001`` and later rows of the same order are its line items, not events;
- ``Created at`` (``2025-05-31 00:37:00 +0100``) → timestamp;
- ``Total`` → value; ``Currency`` and the other order columns → properties in snake case
  (``Financial Status`` → ``financial_status``); the ``Lineitem …`` columns are dropped;
- the customer is ``Email`` in lower case (the export has no customer id).

See docs/sources.md.
"""

from __future__ import annotations

from kundresa.ingest.readers import RawBatch
from kundresa.ingest.sources._base import Sample, Source, SourceError, register
from kundresa.ingest.sources._orders import CANONICAL, OrderCollapser, OrderColumns
from kundresa.ingest.sources._tabular import find, output_columns, property_names


def _layout(header: list[str]) -> OrderColumns:
    order = find(header, "Name")
    time = find(header, "Created at")
    email = find(header, "Email")
    if order is None or time is None or email is None or find(header, "Total") is None:
        raise SourceError(
            "not a Shopify order export: needs the columns Name, Email, Created at and Total"
        )
    total = find(header, "Total")
    used = {order, time, email, total}
    props = property_names(
        ShopifySource.name,
        [c for c in header if c not in used and not c.lower().startswith("lineitem ")],
    )
    return OrderColumns(order, time, total, (email,), (), props)


@register
class ShopifySource(Source):
    """A Shopify orders export: one ``purchase`` per order."""

    name = "shopify"
    title = "Shopify orders"

    def __init__(self, **options: str | None) -> None:
        super().__init__(**options)
        self._orders = OrderCollapser(self.name)

    def detect(self, sample: Sample) -> int:
        try:
            _layout(sample.header)
        except SourceError:
            return 0
        lineitems = sample.has("Lineitem name") or sample.has("Financial Status")
        return 90 if lineitems else 50

    def columns(self, header: list[str]) -> list[str]:
        return output_columns(CANONICAL, _layout(header).properties)

    def transform(self, batch: RawBatch) -> RawBatch:
        return self._orders.transform(batch, _layout(list(batch.columns)))
