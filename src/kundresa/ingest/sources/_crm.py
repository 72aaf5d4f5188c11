"""Turning one wide CRM record into one event per stage date (HubSpot, Salesforce)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from kundresa.ingest.readers import RawBatch
from kundresa.ingest.sources._tabular import events_batch, number_marks, present, reject, text


@dataclass(frozen=True)
class StageDate:
    """A column holding the date a record reached a stage, and the event it becomes."""

    column: str
    event: str
    only_if: str | None = None
    """A column that must hold a true value (``true``, ``1``, ``yes``) for the event."""
    present: str | None = None
    """A column that must hold a value for the event."""


TRUE = {"true", "1", "yes", "y", "ja", "sant", "x"}


def wide_to_events(
    batch: RawBatch,
    *,
    source: str,
    record_id: str,
    customer: list[str],
    anonymous: str | None,
    stages: list[StageDate],
    properties: dict[str, str],
    value: dict[str, str] | None = None,
    no_stage_reason: str,
    as_read: RawBatch | None = None,
) -> RawBatch:
    """One event row per non-empty stage date of each record, in file order (a record's
    events in the order of ``stages``).

    ``customer`` lists the columns the customer id is taken from (first present wins);
    ``anonymous`` a column that becomes ``anonymous_id`` (linked to the customer);
    ``value`` maps an event name to the column its value comes from; the event id is
    ``{source}:{record id}:{event}``, so loading a newer export of the same records adds
    no duplicate. Records without any stage date go to quarantine with
    ``no_stage_reason``, as ``as_read`` holds them when given (the batch before a source
    rewrote values, as Salesforce's record ids are put in their 18-character form).
    """
    n = len(batch.lines)
    rows_parts: list[np.ndarray] = []
    stage_parts: list[np.ndarray] = []
    for k, st in enumerate(stages):
        mask = present(text(batch, st.column))
        if st.only_if is not None:
            flags = text(batch, st.only_if).to_pylist()
            mask &= np.array([str(f).strip().lower() in TRUE for f in flags], dtype=bool)
        if st.present is not None:
            mask &= present(text(batch, st.present))
        idx = np.nonzero(mask)[0]
        rows_parts.append(idx)
        stage_parts.append(np.full(len(idx), k))
    rows = np.concatenate(rows_parts) if rows_parts else np.array([], dtype=np.int64)
    which = np.concatenate(stage_parts) if stage_parts else np.array([], dtype=np.int64)
    order = np.lexsort((which, rows))
    rows, which = rows[order].astype(np.int64), which[order]
    none = np.setdiff1d(np.arange(n), rows)
    rejected = reject(batch if as_read is None else as_read, none, no_stage_reason)

    def pick(arrays: list[pa.Array]) -> list[str | None]:
        lists = [a.to_pylist() for a in arrays]
        return [lists[k][r] for r, k in zip(rows, which, strict=True)]

    times = pick([text(batch, st.column) for st in stages])
    events = [stages[k].event for k in which]
    ids = text(batch, record_id).to_pylist()
    cust_cols = [text(batch, c).to_pylist() for c in customer]
    cust = [next((col[r] for col in cust_cols if col[r] is not None), None) for r in rows]
    canonical: dict[str, pa.Array] = {
        "customer_id": pa.array(cust, pa.string()),
        "timestamp": pa.array(times, pa.string()),
        "event": pa.array(events, pa.string()),
        "event_id": pa.array(
            [
                None if ids[r] is None else f"{source}:{ids[r]}:{e}"
                for r, e in zip(rows, events, strict=True)
            ],
            pa.string(),
        ),
    }
    if anonymous is not None:
        anon = text(batch, anonymous).to_pylist()
        canonical["anonymous_id"] = pa.array([anon[r] for r in rows], pa.string())
    marks: dict[str, pa.Array | None] = {}
    if value:
        value_cols = {e: text(batch, c).to_pylist() for e, c in value.items()}
        canonical["value"] = pa.array(
            [
                value_cols[e][r] if e in value_cols else None
                for r, e in zip(rows, events, strict=True)
            ],
            pa.string(),
        )
        # A value that was a JSON number stays one (read as such, not with the mark).
        marks = {e: number_marks(batch, c) for e, c in value.items()}
    out = events_batch(batch, rows, canonical, properties, rejected)
    if any(m is not None for m in marks.values()):
        lists = {e: m.to_pylist() for e, m in marks.items() if m is not None}
        out.number_rows["value"] = pa.array(
            [bool(lists[e][r]) if e in lists else False for r, e in zip(rows, events, strict=True)]
        )
    return out
