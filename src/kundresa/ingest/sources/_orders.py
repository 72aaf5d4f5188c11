"""Shop order exports (Shopify, WooCommerce): one ``purchase`` event per order."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from kundresa.ingest.readers import RawBatch
from kundresa.ingest.sources._tabular import events_batch, reject, text

PURCHASE = "purchase"
CANONICAL = ["customer_id", "timestamp", "event", "event_id", "value"]


@dataclass(frozen=True)
class OrderColumns:
    """Where an order export keeps what a purchase event needs."""

    order: str
    time: str
    total: str | None
    emails: tuple[str, ...]
    customer_ids: tuple[str, ...]
    properties: dict[str, str]


class OrderCollapser:
    """Keeps the first row of every order: exports with one row per line item repeat the
    order on each of its rows, with the totals on the first. State spans the batches of
    one file."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.seen: set[str] = set()

    def transform(self, batch: RawBatch, cols: OrderColumns) -> RawBatch:
        orders = text(batch, cols.order).to_pylist()
        keep: list[int] = []
        missing: list[int] = []
        for i, order in enumerate(orders):
            if order is None:
                missing.append(i)
            elif order not in self.seen:
                self.seen.add(order)
                keep.append(i)
        rows = np.array(keep, dtype=np.int64)
        rejected = reject(
            batch, np.array(missing, dtype=np.int64), f"missing order id (column {cols.order!r})"
        )
        emails = [text(batch, c).to_pylist() for c in cols.emails]
        ids = [text(batch, c).to_pylist() for c in cols.customer_ids]

        def customer(r: int) -> str | None:
            # E-mail first (lower case: addresses are compared case-insensitively), so one
            # person is one customer across guest and account orders; else the shop's id.
            for col in emails:
                if col[r] is not None:
                    return col[r].lower()
            for col in ids:
                if col[r] is not None and col[r] not in ("0", "guest"):
                    return col[r]
            return None

        times = text(batch, cols.time).to_pylist()
        totals = text(batch, cols.total).to_pylist()
        canonical = {
            "customer_id": pa.array([customer(r) for r in rows], pa.string()),
            "timestamp": pa.array([times[r] for r in rows], pa.string()),
            "event": pa.array([PURCHASE] * len(rows), pa.string()),
            "event_id": pa.array([f"{self.source}:{orders[r]}" for r in rows], pa.string()),
            "value": pa.array([totals[r] for r in rows], pa.string()),
        }
        return events_batch(
            batch, rows, canonical, cols.properties, rejected, value_from=cols.total
        )
