"""Live events: the Segment-shaped HTTP collector, its durable log and the loader.

:mod:`kundresa.live.collector` answers Segment's HTTP Tracking API under ``/v1`` when
``kundresa serve`` has a write key; each accepted request is appended to
:mod:`kundresa.live.log` (fsynced before the answer) and :mod:`kundresa.live.loader` moves the
log into the warehouse in transactions that also record how far it has loaded (see
docs/collector.md). :mod:`kundresa.live.state` keeps each customer's live state and the
stage-entered feed up to date as events arrive, and :mod:`kundresa.live.webhooks` posts that
feed (docs/live-state.md).
"""

from __future__ import annotations

from kundresa.live.log import LogError, WriteAheadLog

__all__ = ["LogError", "WriteAheadLog"]
