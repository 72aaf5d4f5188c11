"""WooCommerce order exports (order export plugins, or Analytics > Orders > Download).

WooCommerce has no built-in order CSV; the common export plugins name their columns after
the order's fields (``order_id``, ``order_number``, ``order_date``, ``billing_email``,
``customer_id``/``customer_user``, ``order_total``, ``order_currency``) or label them
(``Order ID``, ``Order Date``, ``Billing Email``, ``Order Total``); both are read, and so
is the Analytics download (``Order #``, ``Date``, ``Net Sales``, ``Customer``). Every order
becomes one ``purchase`` event:

- the order id (``order_id``, else ``order_number`` / ``Order #``) → event id
  ``woocommerce:<id>``; later rows of the same order (one row per line item) are dropped;
- the order date → timestamp; the order total → value; the currency and the other columns
  → properties in snake case, except line-item columns (``item_…``, ``line_item_…``);
- the customer is the billing e-mail in lower case, else the WooCommerce customer id (``0``
  means a guest: no id), else the Analytics export's ``Customer`` (a name).

See docs/sources.md.
"""

from __future__ import annotations

from kundresa.ingest.readers import RawBatch
from kundresa.ingest.sources._base import Sample, Source, SourceError, register
from kundresa.ingest.sources._orders import CANONICAL, OrderCollapser, OrderColumns
from kundresa.ingest.sources._tabular import find, output_columns, property_names, snake

ORDER = ("order_id", "Order ID", "order_number", "Order Number", "Order #", "Order No")
DATE = ("order_date", "Order Date", "date_created", "Date Created", "Order Created", "Date")
TOTAL = ("order_total", "Order Total", "Order Total Amount", "total", "Net Sales")
EMAIL = ("billing_email", "Billing Email", "Email (Billing)", "customer_email", "Customer Email")
CUSTOMER = ("customer_id", "Customer ID", "customer_user", "Customer User ID", "user_id")


def _layout(header: list[str]) -> OrderColumns:
    order, time, total = find(header, *ORDER), find(header, *DATE), find(header, *TOTAL)
    if order is None or time is None or total is None:
        raise SourceError(
            "not a WooCommerce order export: needs an order id (order_id, Order ID, Order #), "
            "an order date (order_date, Order Date, Date) and a total (order_total, "
            "Order Total, Net Sales)"
        )
    emails = tuple(c for n in EMAIL if (c := find(header, n)) is not None)
    ids = tuple(c for n in CUSTOMER if (c := find(header, n)) is not None)
    if not ids and (name := find(header, "Customer")) is not None:
        ids = (name,)
    if not emails and not ids:
        raise SourceError(
            "WooCommerce order export without a billing e-mail or customer id column: "
            "no customer to give the purchases to"
        )
    used = {order, time, total, *emails, *ids}
    # Line-item columns describe one item of the order, not the order: dropped.
    props = property_names(
        WooCommerceSource.name,
        [c for c in header if c not in used and not snake(c).startswith(("item_", "line_item"))],
    )
    return OrderColumns(order, time, total, emails, ids, props)


@register
class WooCommerceSource(Source):
    """A WooCommerce orders export: one ``purchase`` per order."""

    name = "woocommerce"
    title = "WooCommerce orders"

    def __init__(self, **options: str | None) -> None:
        super().__init__(**options)
        self._orders = OrderCollapser(self.name)

    def detect(self, sample: Sample) -> int:
        if find(sample.header, "event", "event_name") is not None:
            return 0  # an events file that happens to carry order columns
        try:
            _layout(sample.header)
        except SourceError:
            return 0
        return 60

    def columns(self, header: list[str]) -> list[str]:
        return output_columns(CANONICAL, _layout(header).properties)

    def transform(self, batch: RawBatch) -> RawBatch:
        return self._orders.transform(batch, _layout(list(batch.columns)))
