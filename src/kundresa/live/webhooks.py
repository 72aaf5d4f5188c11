"""Webhooks: post every stage-entered event to receivers (``kundresa serve --webhook URL``).

A :class:`WebhookDispatcher` reads the stage-entered feed (``stage_events``, written by
:func:`kundresa.live.state.catch_up`) in a thread of its own, so an ingest never waits for a
receiver. Each receiver has its own queue and sender thread: one ``POST`` per stage event,
in feed order, with the JSON body ``{"seq", "customer_id", "from_stage", "to_stage", "at"}``.

When a receiver is down (a connection error, a timeout or a non-2xx answer) the event is
retried with exponential backoff (1 s, 2 s, 4 s … at most 60 s between tries) up to
``attempts`` tries; then it is dropped with a warning on the server's log and the next one is
sent. Each receiver reads the feed at its own pace, from a cursor of its own, at most
``queue_limit`` events ahead of what it has taken: a burst (a large upload) or a slow or
down receiver makes it fall behind, never lose events, and holds back no other receiver.
Nothing is lost for good: the feed keeps every event, and a receiver can catch up from
``GET /api/stage-events?since=SEQ`` (its last ``seq``). Only stage events recorded after the
server started are posted.
"""

from __future__ import annotations

import base64
import http.client
import json
import logging
import threading
import time
import urllib.error
import urllib.request
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit

from kundresa.errors import UsageError

__all__ = ["WebhookDispatcher", "check_webhook_url", "post_json", "shown_url"]

log = logging.getLogger("kundresa.webhooks")


def check_webhook_url(url: str) -> str:
    """The URL if it can receive webhooks (``http`` or ``https`` with a host).

    Raises
    ------
    UsageError
        Any other URL.

    Examples
    --------
    >>> check_webhook_url("https://crm.example.com/hooks/kundresa")
    'https://crm.example.com/hooks/kundresa'
    >>> check_webhook_url("ftp://example.com")
    Traceback (most recent call last):
    ...
    kundresa.errors.UsageError: --webhook 'ftp://example.com': expected an http:// or https:// URL
    >>> check_webhook_url("http://[::1/")
    Traceback (most recent call last):
    ...
    kundresa.errors.UsageError: --webhook 'http://[::1/': expected an http:// or https:// URL
    """
    bad = UsageError(f"--webhook {url!r}: expected an http:// or https:// URL")
    if not url.isprintable() or any(c.isspace() for c in url):
        raise bad  # a space or a control character: no request line can carry it
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 -- raises ValueError for a port that is not 0-65535
    except ValueError:  # "http://[::1/" (an unclosed IPv6 host), "http://h:99999/"
        raise bad from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise bad
    return url


def shown_url(url: str) -> str:
    """The URL as the server's log shows it: without a user name, password, query or
    fragment, which may hold a receiver's secret.

    Examples
    --------
    >>> shown_url("https://bot:s3cret@crm.example.com:8443/hooks?token=abc#x")
    'https://crm.example.com:8443/hooks?…'
    >>> shown_url("http://127.0.0.1:5000/stage-changed")
    'http://127.0.0.1:5000/stage-changed'
    """
    parts = urlsplit(url)
    host = parts.netloc.rpartition("@")[2]
    return f"{parts.scheme}://{host}{parts.path}{'?…' if parts.query else ''}"


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """A 3xx answer is a failed try: urllib would follow 301, 302 and 303 with a ``GET``
    without the body, and the stage event would count as delivered while no receiver got
    it."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


_OPENER = urllib.request.build_opener(_NoRedirects())

#: Bytes of a receiver's answer read: an endless body would hold the sender thread and fill
#: the memory.
_ANSWER_READ = 64 * 1024


def post_json(url: str, body: dict[str, Any], timeout: float = 5.0) -> None:
    """POST ``body`` as JSON; raises :class:`OSError` unless the receiver answers 2xx (an
    answer that is not HTTP, or cut short, or a redirect, too). A user name and password in
    the URL (``https://user:pass@host/``) are sent as HTTP Basic auth."""
    parts = urlsplit(url)
    headers = {"Content-Type": "application/json", "User-Agent": "kundresa-webhook/1"}
    if "@" in parts.netloc:
        userinfo, _, host = parts.netloc.rpartition("@")
        user, _, password = userinfo.partition(":")
        pair = f"{unquote(user)}:{unquote(password)}".encode()
        headers["Authorization"] = "Basic " + base64.b64encode(pair).decode("ascii")
        url = urlunsplit(parts._replace(netloc=host))
    request = urllib.request.Request(
        url, data=json.dumps(body).encode("utf-8"), headers=headers, method="POST"
    )
    try:
        with _OPENER.open(request, timeout=timeout) as answer:
            # The status is the answer: a short body is read whole (one cut short is a failed
            # try), a long or endless one only in part.
            if answer.length is not None and answer.length <= _ANSWER_READ:
                answer.read()
            else:
                answer.read(_ANSWER_READ)
            if not 200 <= answer.status < 300:
                raise OSError(f"answered {answer.status}")
    except http.client.HTTPException as exc:  # BadStatusLine, IncompleteRead, InvalidURL
        raise OSError(f"not an HTTP answer: {exc!r}") from exc


class WebhookDispatcher:
    """Posts the stage-entered feed to webhook receivers, from threads of its own.

    Parameters
    ----------
    urls
        The receivers.
    read_feed
        ``read_feed(since, limit)``: stage events with ``seq > since`` as dicts (as
        :meth:`kundresa.project.Project.stage_events` gives them).
    start_after
        The ``seq`` already seen: only later events are posted.
    poll
        Seconds between reads of the feed.
    attempts
        Tries per event and receiver before it is dropped.
    backoff, max_backoff
        Seconds before the first retry, doubled after every failure up to ``max_backoff``.
    queue_limit
        Events read ahead per receiver (the rest wait in the feed).
    timeout
        Seconds to wait for a receiver's answer.
    post
        How to send one event (:func:`post_json` by default; tests may pass another).
    """

    def __init__(
        self,
        urls: Sequence[str],
        read_feed: Callable[[int, int], list[dict[str, Any]]],
        *,
        start_after: int = 0,
        poll: float = 1.0,
        attempts: int = 8,
        backoff: float = 1.0,
        max_backoff: float = 60.0,
        queue_limit: int = 10_000,
        timeout: float = 5.0,
        post: Callable[[str, dict[str, Any], float], None] = post_json,
    ) -> None:
        self.urls = [check_webhook_url(u) for u in urls]
        self.read_feed = read_feed
        self.queue_limit = max(1, queue_limit)
        #: Per receiver: the ``seq`` of the last event read into its queue.
        self.cursors: dict[str, int] = dict.fromkeys(self.urls, start_after)
        self.poll = poll
        self.attempts = attempts
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.timeout = timeout
        self.post = post
        self.queues: dict[str, deque[dict[str, Any]]] = {u: deque() for u in self.urls}
        self.delivered: dict[str, int] = dict.fromkeys(self.urls, 0)
        self.dropped: dict[str, int] = dict.fromkeys(self.urls, 0)
        self._wake = {u: threading.Event() for u in self.urls}
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        # One reader at a time: finish() reads a last time while the read loop may be reading;
        # both from one cursor would queue the same events twice.
        self._reading = threading.Lock()

    def start(self) -> WebhookDispatcher:
        """Start reading the feed and sending (daemon threads); returns ``self``."""
        self._threads = [threading.Thread(target=self._read_loop, daemon=True, name="webhooks")]
        self._threads += [
            threading.Thread(
                target=self._send_loop, args=(u,), daemon=True, name=f"webhook {shown_url(u)}"
            )
            for u in self.urls
        ]
        for t in self._threads:
            t.start()
        return self

    def stop(self, wait: float = 5.0) -> None:
        """Stop reading and sending (events still queued are not sent)."""
        self._stop.set()
        for e in self._wake.values():
            e.set()
        for t in self._threads:
            t.join(wait)

    def finish(self, timeout: float = 5.0) -> None:
        """Stop after giving the receivers up to ``timeout`` seconds to take the feed to its
        end (what the server's last load recorded included); each receiver still missing
        events gets a warning naming the ``since`` that has them."""
        end = time.monotonic() + timeout
        while True:
            try:
                new = self.read_once()
            except Exception as exc:
                log.warning("webhooks: cannot read the stage-events feed: %s", exc)
                new = 0
            if (not new and not any(self.queues.values())) or time.monotonic() >= end:
                break
            time.sleep(0.02)
        self.stop()
        for url, queue in self.queues.items():
            if queue:
                log.warning(
                    "webhook %s: stage events from seq %d on not sent before the server "
                    "stopped (GET /api/stage-events?since=%d has them)",
                    shown_url(url),
                    int(queue[0]["seq"]),
                    int(queue[0]["seq"]) - 1,
                )

    def read_once(self) -> int:
        """Read new feed events into every receiver's queue; how many were new. Calls from
        several threads take turns (each reads after the other's cursor)."""
        with self._reading:
            return self._read_new()

    def _read_new(self) -> int:
        total = 0
        for url, queue in self.queues.items():
            while (room := self.queue_limit - len(queue)) > 0:
                events = self.read_feed(self.cursors[url], min(room, 1000))
                if not events:
                    break
                queue.extend(events)
                self._wake[url].set()
                self.cursors[url] = int(events[-1]["seq"])
                total += len(events)
        return total

    def _read_loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.read_once()
            except Exception as exc:  # a busy or reopened warehouse: try again next time
                log.warning("webhooks: cannot read the stage-events feed: %s", exc)
            self._stop.wait(self.poll)

    def _send_loop(self, url: str) -> None:
        queue, wake = self.queues[url], self._wake[url]
        while not self._stop.is_set():
            if not queue:
                wake.wait(self.poll)
                wake.clear()
                continue
            event = queue[0]
            if self._deliver(url, event):
                self.delivered[url] += 1
            elif self._stop.is_set():
                return  # cut short by the stop, not given up on: it stays for the last warning
            else:
                self.dropped[url] += 1
                log.warning(
                    "webhook %s: stage event %s dropped after %d tries (GET "
                    "/api/stage-events?since=%d has it)",
                    shown_url(url),
                    event["seq"],
                    self.attempts,
                    int(event["seq"]) - 1,
                )
            if queue and queue[0] is event:
                queue.popleft()

    def _deliver(self, url: str, event: dict[str, Any]) -> bool:
        delay = self.backoff
        for attempt in range(1, self.attempts + 1):
            try:
                self.post(url, event, self.timeout)
                return True
            except Exception as exc:  # any failure is a failed try: the thread must live on
                if attempt == self.attempts or self._stop.is_set():
                    log.debug("webhook %s: %s", shown_url(url), exc)
                    return False
                self._stop.wait(delay)
                delay = min(delay * 2, self.max_backoff)
        return False

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """Wait until every queue is empty (for tests and a clean stop); whether they are."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if not any(self.queues.values()):
                return True
            time.sleep(0.02)
        return not any(self.queues.values())
