"""``kundresa demo --live``: the demo company's customers keep arriving, as Segment batches.

New customers are drawn with the demo generator (:func:`kundresa.demo.generator.generate_events`)
and their events are sent, in the order they happened, to a collector's ``/v1/batch`` (the
Segment HTTP Tracking API shape) stamped with the time they are sent: a month of each
customer's journey plays out in a few minutes, so the map's numbers move while one watches.
"""

from __future__ import annotations

import base64
import json
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from kundresa.demo.generator import generate_events

__all__ = ["live_messages", "post_batch", "stream_demo", "wait_and_stream"]

_FIELDS = ("customer_id", "timestamp", "event", "channel", "value", "event_id", "session_id")


def live_messages(
    customers: int = 200, *, seed: int = 1, prefix: str = "live1"
) -> Iterator[dict[str, Any]]:
    """Segment ``track`` messages of ``customers`` new demo customers, in the order their
    events happened (each message's ``timestamp`` is the generated one; the streamer
    replaces it with the time of sending).

    Customer ids are the generator's prefixed with ``prefix`` (``live1-c000007``), so they
    never meet the customers of the demo's history. The generated event's properties
    (``segment``, ``path``, ``campaign``, ...) are the message's ``properties``, so the
    journey's touchpoints and personas match the streamed events as they match the demo's
    history; the purchase value is sent as ``properties.revenue``; the channel as
    ``properties.channel``.

    Examples
    --------
    >>> first = next(live_messages(5, seed=2))
    >>> first["type"], first["userId"].startswith("live1-c"), "event" in first
    ('track', True, True)
    """
    table = generate_events(customers, seed=seed, days=30)
    rows = table.sort_by([("timestamp", "ascending"), ("customer_id", "ascending")]).to_pylist()
    for row in rows:
        props = dict(row.get("properties") or ())  # the generator's map: (key, value) pairs
        props.update(
            (k, v) for k, v in row.items() if k not in (*_FIELDS, "properties") and v is not None
        )
        if row.get("channel") is not None:
            props["channel"] = row["channel"]
        if row.get("value") is not None:
            props["revenue"] = row["value"]
        yield {
            "type": "track",
            "event": row["event"],
            "userId": f"{prefix}-{row['customer_id']}",
            "timestamp": row["timestamp"].isoformat(),
            "messageId": str(uuid.uuid4()),
            "properties": props,
        }


def post_batch(
    url: str, write_key: str, messages: list[dict[str, Any]], timeout: float = 10
) -> None:
    """POST ``{"batch": messages}`` to a collector with the write key (HTTP Basic auth, the
    key as user name, empty password); raises :class:`OSError` unless it answers 2xx."""
    auth = base64.b64encode(f"{write_key}:".encode()).decode("ascii")
    request = urllib.request.Request(
        url,
        data=json.dumps({"batch": messages}).encode("utf-8"),
        headers={"Content-Type": "application/json", "Authorization": f"Basic {auth}"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=timeout) as answer:
        answer.read()


def stream_demo(
    url: str,
    write_key: str,
    *,
    rate: float = 20.0,
    batch: int = 20,
    customers: int = 200,
    seed: int = 1,
    stop: threading.Event | None = None,
    limit: int | None = None,
    post: Callable[[str, str, list[dict[str, Any]]], None] = post_batch,
    say: Callable[[str], None] = print,
) -> int:
    """Send new demo customers' events to ``url`` until ``stop`` is set (or ``limit`` events
    were sent); how many were sent.

    Every batch of ``batch`` events is stamped with the time it is sent (a microsecond apart,
    in the order the events happened) and sent about ``batch / rate`` seconds after the
    previous one. When one round of ``customers`` is sent, the next is drawn (a new seed and
    id prefix). While the collector does not answer (the server is starting, or stopped)
    the same batch is tried again every second; messages keep their ``messageId``, so a
    batch sent twice is stored once.
    """
    stop = stop or threading.Event()
    sent = 0
    round_ = 0
    failures = 0
    while not stop.is_set():
        round_ += 1
        messages = live_messages(customers, seed=seed + round_ - 1, prefix=f"live{round_}")
        while not stop.is_set():
            chunk = [m for _, m in zip(range(batch), messages, strict=False)]
            if not chunk:
                break
            if limit is not None:
                chunk = chunk[: limit - sent]
            now = datetime.now(UTC).replace(tzinfo=None)
            for i, m in enumerate(chunk):
                m["timestamp"] = (now + timedelta(microseconds=i)).isoformat() + "Z"
            while not stop.is_set():
                try:
                    post(url, write_key, chunk)
                    failures = 0
                    break
                except (OSError, urllib.error.URLError) as exc:
                    failures += 1
                    if failures == 5:
                        say(
                            f"demo --live: the collector at {url} does not answer ({exc}); retrying"
                        )
                    stop.wait(1.0)
            sent += len(chunk)
            if limit is not None and sent >= limit:
                return sent
            stop.wait(batch / rate)
    return sent


def wait_and_stream(url: str, write_key: str, stop: threading.Event, **options: Any) -> None:
    """:func:`stream_demo` in a thread, after a short pause for the server to start."""
    time.sleep(0.5)
    stream_demo(url, write_key, stop=stop, **options)
