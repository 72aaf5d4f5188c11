"""Webhooks against a real HTTP receiver on the loopback interface."""

from __future__ import annotations

import base64
import contextlib
import json
import logging
import re
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pyarrow as pa
import pytest
from click.testing import CliRunner

from kundresa.errors import UsageError
from kundresa.live.state import catch_up, stage_events_since
from kundresa.live.webhooks import WebhookDispatcher, check_webhook_url
from kundresa.model.parse import parse_journey
from kundresa.store.warehouse import Warehouse

JOURNEY = """\
kundresa: 1
name: Hooks
template: buyers-journey
touchpoints:
  - {id: ad, stage: awareness, match: {event: ad}}
  - {id: price, stage: consideration, match: {event: price}}
"""


class Receiver:
    """A loopback HTTP server that records JSON bodies; the first ``fail`` requests get 503."""

    def __init__(self, fail: int = 0, redirect: int = 0) -> None:
        self.bodies: list[dict[str, Any]] = []
        self.requests = 0
        self.gets = 0
        self.auth: list[str | None] = []
        self.fail = fail
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                outer.gets += 1
                self.send_response(200)
                self.end_headers()

            def do_POST(self) -> None:
                length = int(self.headers["Content-Length"])
                body = json.loads(self.rfile.read(length))
                outer.requests += 1
                outer.auth.append(self.headers["Authorization"])
                if redirect:
                    self.send_response(redirect)
                    self.send_header("Location", "/elsewhere")
                elif outer.requests <= outer.fail:
                    self.send_response(503)
                else:
                    outer.bodies.append(body)
                    self.send_response(204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def warehouse() -> Any:
    journey, _ = parse_journey(JOURNEY)
    wh = Warehouse(None)
    lock = threading.Lock()

    def load(rows: list[tuple[str, str, str]]) -> None:
        cols = list(zip(*rows, strict=True))
        table = pa.table({"customer_id": cols[0], "timestamp": cols[1], "event": cols[2]})
        with lock:
            wh.ingest_arrow(table)
            catch_up(wh.con, journey)

    def read(since: int, limit: int) -> list[dict[str, Any]]:
        with lock:
            return [e.as_dict() for e in stage_events_since(wh.con, since, limit)]

    yield load, read
    wh.close()


def test_stage_events_are_posted_in_order(warehouse: Any) -> None:
    load, read = warehouse
    load([("a", "2025-01-01", "ad")])  # before the dispatcher starts: not posted
    receiver = Receiver()
    hooks = WebhookDispatcher([receiver.url], read, start_after=1, poll=0.05).start()
    try:
        load([("a", "2025-01-02", "price"), ("b", "2025-01-03", "ad")])
        assert _until(lambda: len(receiver.bodies) == 2)
    finally:
        hooks.stop()
        receiver.close()
    assert receiver.bodies == [
        {
            "seq": 2,
            "customer_id": "a",
            "from_stage": "awareness",
            "to_stage": "consideration",
            "at": "2025-01-02T00:00:00Z",
        },
        {
            "seq": 3,
            "customer_id": "b",
            "from_stage": None,
            "to_stage": "awareness",
            "at": "2025-01-03T00:00:00Z",
        },
    ]


def test_a_receiver_that_is_down_gets_the_event_later(warehouse: Any) -> None:
    load, read = warehouse
    receiver = Receiver(fail=2)
    hooks = WebhookDispatcher([receiver.url], read, poll=0.05, backoff=0.05).start()
    try:
        load([("a", "2025-01-01", "ad")])  # ingest returns at once: the post is not waited for
        assert _until(lambda: len(receiver.bodies) == 1)
    finally:
        hooks.stop()
        receiver.close()
    assert receiver.requests == 3 and hooks.delivered[receiver.url] == 1


def test_an_unreachable_receiver_is_given_up_on(
    warehouse: Any, caplog: pytest.LogCaptureFixture
) -> None:
    load, read = warehouse
    gone = Receiver()
    url = gone.url
    gone.close()  # nothing listens there any more
    alive = Receiver()
    hooks = WebhookDispatcher([url, alive.url], read, poll=0.05, backoff=0.01, attempts=3)
    with caplog.at_level(logging.WARNING, logger="kundresa.webhooks"):
        hooks.start()
        try:
            load([("a", "2025-01-01", "ad"), ("b", "2025-01-01", "ad")])
            assert _until(lambda: hooks.dropped[url] == 2 and len(alive.bodies) == 2)
        finally:
            hooks.stop()
            alive.close()
    assert "dropped after 3 tries" in caplog.text and "since=0" in caplog.text


class Garbage:
    """A receiver that answers with something that is not HTTP, or a body cut short."""

    def __init__(self, answer: bytes) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}/hook"
        self.requests = 0
        self.answer = answer
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                conn.recv(65536)
                self.requests += 1
                conn.sendall(self.answer)

    def close(self) -> None:
        self.sock.close()


@pytest.mark.parametrize(
    "answer",
    [b"HELLO THERE\r\n\r\n", b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nabc"],
    ids=["not-http", "cut-short"],
)
def test_a_receiver_answering_garbage_is_retried_and_the_sender_lives_on(
    warehouse: Any, answer: bytes
) -> None:
    """Before, http.client's BadStatusLine or IncompleteRead (not OSError) ended the
    receiver's sender thread: that receiver never got another event."""
    load, read = warehouse
    bad = Garbage(answer)
    hooks = WebhookDispatcher([bad.url], read, poll=0.05, backoff=0.01, attempts=2).start()
    try:
        load([("a", "2025-01-01", "ad"), ("b", "2025-01-01", "ad")])
        assert _until(lambda: hooks.dropped[bad.url] == 2)
        assert bad.requests == 4  # each event tried twice, the second after the first failed
        assert all(t.is_alive() for t in hooks._threads)
    finally:
        hooks.stop()
        bad.close()


@pytest.mark.parametrize(
    "url", ["http://[::1/", "http://127.0.0.1:99999/hook", "http://crm example.com/", "http://h/\n"]
)
def test_a_webhook_url_no_request_can_reach_is_refused(url: str) -> None:
    """Before, an unclosed IPv6 host was a ValueError (a traceback from `kundresa serve`)
    and a port past 65535 or a space in the host was taken, to fail on every post."""
    with pytest.raises(UsageError, match="expected an http:// or https:// URL"):
        check_webhook_url(url)


def test_serve_refuses_an_unclosed_ipv6_webhook_url_without_a_traceback(tmp_path: Any) -> None:
    from kundresa.web.cli import serve

    (tmp_path / "journey.yaml").write_text(JOURNEY, encoding="utf-8")
    result = CliRunner().invoke(
        serve, ["--project", str(tmp_path), "--port", "8799", "--webhook", "http://[::1/"]
    )
    assert result.exit_code == 2 and "expected an http:// or https:// URL" in result.output


def test_serve_refuses_a_bad_webhook_url(tmp_path: Any) -> None:
    from kundresa.web.cli import serve

    (tmp_path / "journey.yaml").write_text(JOURNEY, encoding="utf-8")
    result = CliRunner().invoke(
        serve, ["--project", str(tmp_path), "--port", "8799", "--webhook", "mailto:x@y"]
    )
    assert result.exit_code == 2 and "expected an http:// or https:// URL" in result.output


def _until(check: Any, timeout: float = 10.0) -> bool:
    import time

    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if check():
            return True
        time.sleep(0.02)
    return bool(check())


def test_two_readers_at_once_queue_each_event_once() -> None:
    """finish() reads the feed a last time while the read loop may be reading it too: the
    two take turns, so no event is queued (and posted) twice (a CI run under load posted
    40 of 60 stage events twice at a server's stop)."""
    feed = [{"seq": n} for n in range(1, 61)]
    both_in = threading.Barrier(2, timeout=1)

    def read_feed(since: int, limit: int) -> list[dict[str, Any]]:
        got = [e for e in feed if e["seq"] > since][:limit]
        if got:
            with contextlib.suppress(threading.BrokenBarrierError):
                both_in.wait()  # the two readers inside at once, if nothing stops them
        return got

    hooks = WebhookDispatcher(
        ["http://127.0.0.1:9/hook"], read_feed, post=lambda *a: None
    )  # fmt: skip
    readers = [threading.Thread(target=hooks.read_once) for _ in range(2)]
    for t in readers:
        t.start()
    for t in readers:
        t.join(5)
    queued = [e["seq"] for e in hooks.queues["http://127.0.0.1:9/hook"]]
    assert queued == list(range(1, 61))


@pytest.mark.parametrize("code", [301, 302, 303, 307, 308])
def test_a_redirect_is_a_failed_try_not_a_delivery(warehouse: Any, code: int) -> None:
    """Before, urllib followed 301, 302 and 303 with a GET without the body: the receiver
    got nothing and the stage event counted as delivered."""
    load, read = warehouse
    receiver = Receiver(redirect=code)
    hooks = WebhookDispatcher([receiver.url], read, poll=0.05, backoff=0.01, attempts=2).start()
    try:
        load([("a", "2025-01-01", "ad")])
        assert _until(lambda: hooks.dropped[receiver.url] == 1)
    finally:
        hooks.stop()
        receiver.close()
    assert hooks.delivered[receiver.url] == 0 and receiver.requests == 2 and receiver.gets == 0


def test_credentials_in_the_url_are_sent_as_basic_auth_and_never_logged(
    warehouse: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """Before, ``https://user:pass@host/`` was taken and then failed every post (the user
    name went to DNS as part of the host), and the log printed the password."""
    load, read = warehouse
    receiver = Receiver()
    port = receiver.url.split(":")[2].split("/")[0]
    url = f"http://bot:s%40cret@127.0.0.1:{port}/hook?token=t0ken"
    gone = Receiver()
    gone_url = gone.url.replace("http://", "http://bot:s3cret@") + "?token=t0ken"
    gone.close()
    hooks = WebhookDispatcher([url, gone_url], read, poll=0.05, backoff=0.01, attempts=2)
    with caplog.at_level(logging.DEBUG, logger="kundresa.webhooks"):
        hooks.start()
        try:
            load([("a", "2025-01-01", "ad")])
            assert _until(lambda: receiver.bodies and hooks.dropped[gone_url] == 1)
        finally:
            hooks.stop()
            receiver.close()
    assert receiver.auth == ["Basic " + base64.b64encode(b"bot:s@cret").decode()]
    assert "dropped after 2 tries" in caplog.text
    assert not {"s3cret", "t0ken", "bot"} & set(re.split(r"\W+", caplog.text))


def test_a_receiver_behind_a_burst_loses_nothing() -> None:
    """Before, one read of the feed queued everything new and a full queue dropped the
    oldest events: a healthy receiver slower than a 50,000-customer upload lost most of its
    stage events ("queue full, 1000 oldest stage events dropped", fifty times). Each
    receiver now reads the feed at its own pace, at most ``queue_limit`` events ahead."""
    feed = [{"seq": n} for n in range(1, 251)]
    got: list[int] = []

    def read_feed(since: int, limit: int) -> list[dict[str, Any]]:
        return [e for e in feed if e["seq"] > since][:limit]

    def post(url: str, body: dict[str, Any], timeout: float) -> None:
        if url.endswith("/down"):
            raise OSError("refused")
        got.append(body["seq"])

    urls = ["http://127.0.0.1:9/ok", "http://127.0.0.1:9/down"]
    hooks = WebhookDispatcher(
        urls, read_feed, poll=0.01, backoff=0.01, attempts=1, queue_limit=10, post=post
    )
    hooks.start()
    try:
        assert _until(lambda: len(got) == 250 and hooks.dropped[urls[1]] == 250)
    finally:
        hooks.stop()
    assert got == list(range(1, 251)) and hooks.dropped[urls[0]] == 0
    assert all(len(q) <= 10 for q in hooks.queues.values())


def test_an_event_cut_short_by_the_stop_is_not_reported_as_given_up(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Before, stopping the server while an event waited for its next try logged it as
    "dropped after 8 tries" after one, and the last warning's ``since`` skipped it."""
    feed = [{"seq": 7}, {"seq": 8}]
    tries: list[int] = []

    def post(url: str, body: dict[str, Any], timeout: float) -> None:
        tries.append(body["seq"])
        raise OSError("refused")

    hooks = WebhookDispatcher(
        ["http://127.0.0.1:9/hook"],
        lambda since, limit: [e for e in feed if e["seq"] > since][:limit],
        poll=0.01,
        backoff=30,
        post=post,
    )
    with caplog.at_level(logging.WARNING, logger="kundresa.webhooks"):
        hooks.start()
        assert _until(lambda: tries == [7])
        hooks.finish(timeout=0.1)
    assert "dropped" not in caplog.text and hooks.dropped["http://127.0.0.1:9/hook"] == 0
    assert "since=6 has them" in caplog.text


def test_a_receiver_answering_an_endless_body_does_not_hold_the_sender() -> None:
    """Before, the whole answer was read: a 200 with an endless body held the receiver's
    sender thread (and filled the memory) for as long as the receiver kept sending."""
    from kundresa.live.webhooks import post_json

    sock = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def serve() -> None:
        conn, _ = sock.accept()
        with conn:
            conn.recv(65536)
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 1000000000000\r\n\r\n")
            with contextlib.suppress(OSError):
                while not stop.is_set():
                    conn.sendall(b"x" * 65536)

    threading.Thread(target=serve, daemon=True).start()
    done = threading.Event()

    def send() -> None:
        with contextlib.suppress(OSError):
            post_json(f"http://127.0.0.1:{sock.getsockname()[1]}/hook", {"seq": 1})
        done.set()

    threading.Thread(target=send, daemon=True).start()
    try:
        assert done.wait(5)
    finally:
        stop.set()
        sock.close()
