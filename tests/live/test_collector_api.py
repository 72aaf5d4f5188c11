"""The collector's HTTP API in process: auth, shapes, refusals, dedup, limits, live reads."""

from __future__ import annotations

import gzip
import json
import socket
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb
import pytest

from kundresa.live.collector import KINDS, SHORT_PATHS

WRITE_KEY = "test-write-key"  # as in conftest.py
AUTH = (WRITE_KEY, "")


def wait_for(check: Callable[[], bool], seconds: float = 30.0) -> float:
    """Poll ``check`` until it holds; the seconds it took (AssertionError after ``seconds``)."""
    started = time.monotonic()
    while not check():
        if time.monotonic() - started > seconds:
            raise AssertionError(f"not within {seconds} s")
        time.sleep(0.02)
    return time.monotonic() - started


def track(mid: str, event: str = "purchase", user: str = "u1", **extra: Any) -> dict[str, Any]:
    return {
        "type": "track",
        "event": event,
        "userId": user,
        "messageId": mid,
        "timestamp": "2026-03-01T10:00:00Z",
        **extra,
    }


def events_of(client: Any) -> list[tuple[Any, ...]]:
    state = client.app.state.project
    with state.lock:
        return state.project.warehouse.con.execute(
            "SELECT event_id, customer_id, event, value, _ingest FROM events ORDER BY event_id"
        ).fetchall()


def loaded(client: Any, n: int) -> bool:
    return len(events_of(client)) >= n


def _refused(client: Any, body: str) -> dict[str, Any]:
    """The answer to the raw batch ``body``: 400 with its first message accepted."""
    r = client.post(
        "/v1/batch", content=body, auth=AUTH, headers={"Content-Type": "application/json"}
    )
    assert r.status_code == 400, r.text
    answer = r.json()
    assert answer["accepted"] == 1
    return dict(answer)


def test_without_a_write_key_v1_is_not_there(project_dir: Path, make_collector: Any) -> None:
    client = make_collector(project_dir, write_key=None)
    assert client.post("/v1/batch", json={"batch": []}, auth=AUTH).status_code == 404
    assert not any(p.startswith("/v1/") for p in client.get("/openapi.json").json()["paths"])
    assert not (project_dir / ".kundresa" / "collector").exists()


def test_the_write_key_is_required(project_dir: Path, make_collector: Any) -> None:
    client = make_collector(project_dir)
    body = {"batch": [track("m1")]}
    assert client.post("/v1/batch", json=body).status_code == 401
    assert client.post("/v1/batch", json=body, auth=("wrong", "")).status_code == 401
    assert client.post("/v1/batch", json=body, auth=(WRITE_KEY, "pw")).status_code == 401
    bearer = client.post("/v1/batch", json=body, headers={"Authorization": f"Bearer {WRITE_KEY}"})
    assert bearer.status_code == 401
    # analytics.js puts the key in the body (a text/plain POST needs no CORS preflight).
    r = client.post(
        "/v1/batch",
        content=json.dumps({**body, "writeKey": WRITE_KEY}),
        headers={"Content-Type": "text/plain", "Origin": "https://shop.example"},
    )
    assert r.status_code == 200 and r.json() == {"success": True}
    assert r.headers["access-control-allow-origin"] == "*"


@pytest.mark.parametrize("kind", ["batch", "track"])
def test_a_missing_write_key_and_a_wrong_one_are_told_apart(
    project_dir: Path, make_collector: Any, kind: str
) -> None:
    client = make_collector(project_dir)
    message = {"batch": [track("m1")]} if kind == "batch" else track("m1")

    def refused(body: dict[str, Any], **kw: Any) -> str:
        r = client.post(f"/v1/{kind}", content=json.dumps(body), **kw)
        assert r.status_code == 401, r.text
        text = str(r.json()["message"])
        assert WRITE_KEY not in text  # the right key is never shown
        return text

    assert refused(message).startswith("write key required")
    assert refused({**message, "writeKey": ""}).startswith("write key required")
    for wrong in ("bad-key-123", WRITE_KEY + "x", WRITE_KEY[:-1], 42, ["k"], "\udc00"):
        text = refused({**message, "writeKey": wrong})
        assert text.startswith("wrong write key"), (wrong, text)
        assert str(wrong) not in text
    assert refused(message, auth=("wrong", "")).startswith("wrong write key")
    ok = client.post(f"/v1/{kind}", content=json.dumps({**message, "writeKey": WRITE_KEY}))
    assert ok.status_code == 200, ok.text


def test_each_endpoint_answers_success_and_the_event_is_analysed(
    project_dir: Path, make_collector: Any
) -> None:
    client = make_collector(project_dir)
    collector = client.app.state.collector
    wait_for(lambda: collector.loader.position is not None)  # the server is up and idle
    client.get("/api/map")  # a running server: the analyses' code is loaded and warm
    state = client.app.state.project
    r = client.post(
        "/v1/track", json={k: v for k, v in track("m1").items() if k != "type"}, auth=AUTH
    )
    assert r.status_code == 200 and r.json() == {"success": True}
    wait_for(lambda: loaded(client, 1))
    with state.lock:
        stages = state.project.run("stages").frame.set_index("stage")
    assert stages.loc["decision", "reached"] == 1  # (how soon: bench/collector_load.py)
    reached = {s["stage"]: s["reached"] for s in client.get("/api/map").json()["stages"]}
    assert reached["decision"] == 1
    for kind in KINDS:
        msg = {
            "userId": "u2",
            "messageId": f"k-{kind}",
            "event": "ad_click",
            "name": "Home",
            "previousId": "anon-9",
            "traits": {"plan": "pro"},
        }
        r = client.post(f"/v1/{kind}", json=msg, auth=AUTH)
        assert r.status_code == 200, (kind, r.text)


def test_page_and_identify_are_mapped_as_the_file_source_maps_them(
    project_dir: Path, make_collector: Any
) -> None:
    client = make_collector(project_dir)
    batch = [
        {
            "type": "page",
            "anonymousId": "anon-1",
            "messageId": "p1",
            "name": "Pricing",
            "timestamp": "2026-03-01T10:00:00Z",
            "context": {"page": {"path": "/pricing", "url": "https://x.se/pricing"}},
        },
        {
            "type": "identify",
            "anonymousId": "anon-1",
            "userId": "anna@example.com",
            "messageId": "i1",
            "timestamp": "2026-03-01T10:05:00Z",
            "traits": {"plan": "pro"},
        },
        {
            "type": "alias",
            "previousId": "anon-2",
            "userId": "anna@example.com",
            "messageId": "a1",
            "timestamp": "2026-03-01T10:06:00Z",
        },
        track("t1", user="anon-2", properties={"revenue": "99.5"}),
    ]
    assert client.post("/v1/batch", json={"batch": batch}, auth=AUTH).status_code == 200
    wait_for(lambda: loaded(client, 2))
    state = client.app.state.project
    with state.lock:
        wh = state.project.warehouse
        rows = wh.con.execute(
            "SELECT event, properties['path'], value FROM events ORDER BY event"
        ).fetchall()
        person = wh.identity("anon-2")
    assert rows == [("page_view", "/pricing", None), ("purchase", None, 99.5)]
    assert person["customer_id"] == "anna@example.com"
    assert {"anon-1", "anon-2"} <= {i["id"] for i in person["ids"]}
    with state.lock:
        stages = state.project.run("stages").frame.set_index("stage")
    # One person: the pricing page (consideration) and the purchase (decision).
    assert stages.loc["consideration", "entered"] == 1
    assert stages.loc["decision", "reached"] == 1


def test_a_bad_message_is_refused_by_field_and_the_rest_kept(
    project_dir: Path, make_collector: Any
) -> None:
    client = make_collector(project_dir)
    batch = [
        track("good-1"),
        {"type": "track", "userId": "u1", "messageId": "no-event"},
        track("bad-time", timestamp="next tuesday"),
        track("bad-value", properties={"revenue": "lots"}),
        {"type": "track", "event": "x", "messageId": "no-id"},
        {"type": "shout", "userId": "u1"},
        "not an object",
        track("good-2"),
    ]
    r = client.post("/v1/batch", json={"batch": batch}, auth=AUTH)
    assert r.status_code == 400
    answer = r.json()
    assert answer["success"] is False and answer["accepted"] == 2
    fields = [(e["index"], e["field"]) for e in answer["errors"]]
    assert fields == [
        (1, "event"),
        (2, "timestamp"),
        (3, "properties.revenue"),
        (4, "userId"),
        (5, "type"),
        (6, "message"),
    ]
    assert answer["message"].startswith("message 1: event:")
    wait_for(lambda: loaded(client, 2))
    assert [e[0] for e in events_of(client)] == ["good-1", "good-2"]
    assert client.post("/v1/batch", content=b"{nope", auth=AUTH).status_code == 400
    assert (
        client.post("/v1/batch", json={"batch": 3}, auth=AUTH)
        .json()["message"]
        .startswith("batch:")
    )


def test_text_that_is_not_unicode_is_refused_by_field_and_the_rest_kept(
    project_dir: Path, make_collector: Any
) -> None:
    """A lone UTF-16 surrogate (a ``\\udc00`` escape) cannot be stored as UTF-8: that message
    is refused naming the field, not the whole request with a 500."""
    client = make_collector(project_dir)
    good = json.dumps(track("good-1"))
    body = (
        '{"batch": [' + good + ","
        '{"type": "track", "event": "x", "userId": "\\udc00", "messageId": "lone-user"},'
        '{"type": "track", "event": "x", "userId": "u2", "messageId": "m\\ud800",'
        ' "properties": {"note": "a\\udfffb"}},'
        '{"type": "track", "event": "x", "userId": "u3", "properties": {"k\\udc00": 1}}'
        "]}"
    )
    answer = _refused(client, body)
    assert [(e["index"], e["field"]) for e in answer["errors"]] == [
        (1, "userId"),
        (2, "messageId"),
        (3, "properties.k?"),
    ]
    assert all(e["messageId"] in ("lone-user", None) for e in answer["errors"])
    assert "not Unicode" in answer["message"]
    single = '{"event": "x", "userId": "\\udc00"}'
    r = client.post("/v1/track", content=single, auth=AUTH)
    assert r.status_code == 400 and r.json()["errors"][0]["field"] == "userId"
    r = client.post("/v1/batch", content='{"batch": [], "writeKey": "\\udc00"}')
    assert r.status_code == 401
    wait_for(lambda: loaded(client, 1))
    assert [e[0] for e in events_of(client)] == ["good-1"]


def test_fields_of_the_wrong_type_are_refused_not_stored_as_text(
    project_dir: Path, make_collector: Any
) -> None:
    client = make_collector(project_dir)
    batch = [
        track("good-1", user=7),  # a numeric id is an id (Segment allows it)
        track("obj-user", user={"a": 1}),
        track("obj-event", event={"x": 1}),
        track({"a": 1}),
        track("inf", properties={"revenue": float("inf")}),
        track("true", properties={"revenue": True}),
        track("list", properties={"total": [1]}),
        track("nan-text", properties={"value": "NaN"}),
        track("bool-anon", user=None, anonymousId=False),
        track("obj-time", timestamp={"t": 1}),
        track("good-2", properties={"revenue": "9.50"}),
    ]
    text = json.dumps({"batch": batch})  # Infinity, as a JSON parser that allows it reads
    r = client.post(
        "/v1/batch", content=text, auth=AUTH, headers={"Content-Type": "application/json"}
    )
    assert r.status_code == 400, r.text
    answer = r.json()
    assert answer["accepted"] == 2
    assert [(e["index"], e["field"]) for e in answer["errors"]] == [
        (1, "userId"),
        (2, "event"),
        (3, "messageId"),
        (4, "properties.revenue"),
        (5, "properties.revenue"),
        (6, "properties.total"),
        (7, "properties.value"),
        (8, "anonymousId"),
        (9, "timestamp"),
    ]
    assert answer["errors"][2]["messageId"] is None
    huge = text.replace("Infinity", "1e400")
    assert client.post("/v1/batch", content=huge, auth=AUTH).json()["errors"][3]["field"] == (
        "properties.revenue"
    )
    wait_for(lambda: loaded(client, 2))
    rows = events_of(client)
    assert [(e[0], e[1], e[3]) for e in rows] == [("good-1", "7", None), ("good-2", "u1", 9.5)]


def test_message_id_deduplicates_within_and_across_loads(
    project_dir: Path, make_collector: Any
) -> None:
    client = make_collector(project_dir)
    body = {"batch": [track("same"), track("same"), track("other")]}
    assert client.post("/v1/batch", json=body, auth=AUTH).status_code == 200
    wait_for(lambda: loaded(client, 2))
    # A retry after the first load (an SDK that missed the ack) adds nothing.
    assert client.post("/v1/batch", json=body, auth=AUTH).status_code == 200
    state = client.app.state.project
    wait_for(lambda: state.generation >= 2 and not client.app.state.collector.loader.pending())
    rows = events_of(client)
    assert sorted(r[0] for r in rows) == ["other", "same"]
    with state.lock:
        log = state.project.warehouse.ingest_log()
    assert all(entry["sources"] == ["collector"] for entry in log)
    assert {r[4] for r in rows} <= {entry["id"] for entry in log}
    assert sum(entry["duplicates"] for entry in log) == 4


def test_size_limits(project_dir: Path, make_collector: Any) -> None:
    client = make_collector(project_dir)
    huge = track("big", properties={"blob": "x" * 33_000})
    r = client.post("/v1/track", json=huge, auth=AUTH)
    assert r.status_code == 413 and "32,768" in r.json()["message"]
    # In a batch the oversized message is refused alone.
    r = client.post("/v1/batch", json={"batch": [huge, track("small")]}, auth=AUTH)
    assert r.status_code == 400 and r.json()["accepted"] == 1
    assert r.json()["errors"][0]["message"].startswith("message: larger than 32,768")
    many = {"batch": [track(f"m{i}", properties={"pad": "y" * 1000}) for i in range(600)]}
    r = client.post("/v1/batch", json=many, auth=AUTH)
    # Refused by the guard before the collector reads it, in the collector's shape.
    assert r.status_code == 413
    assert r.json() == {"success": False, "message": "body: larger than 512,000 bytes"}
    assert r.headers["access-control-allow-origin"] == "*"

    def chunks() -> Any:  # no Content-Length: counted while it arrives
        yield json.dumps(many).encode()

    r = client.post("/v1/batch", content=chunks(), auth=AUTH)
    assert r.status_code == 413 and r.json()["success"] is False, r.text
    # gzip bodies are read, and held to the limit once decompressed.
    small = gzip.compress(json.dumps({"batch": [track("gz")]}).encode())
    r = client.post(
        "/v1/batch",
        content=small,
        auth=AUTH,
        headers={"Content-Encoding": "gzip", "Content-Type": "application/json"},
    )
    assert r.status_code == 200, r.text
    bomb = gzip.compress(json.dumps({"batch": [], "pad": "z" * 2_000_000}).encode())
    assert len(bomb) < 500 * 1024
    r = client.post("/v1/batch", content=bomb, auth=AUTH, headers={"Content-Encoding": "gzip"})
    assert r.status_code == 413
    r = client.post(
        "/v1/batch", content=b"not gzip", auth=AUTH, headers={"Content-Encoding": "gzip"}
    )
    assert r.status_code == 400 and r.json()["field"] == "body"


def test_analytics_js_short_paths(project_dir: Path, make_collector: Any) -> None:
    """analytics.js posts text/plain to /v1/t, /v1/p… with the write key in the body."""
    client = make_collector(project_dir)
    client.headers.pop("X-Kundresa-CSRF", None)
    browser = {"Content-Type": "text/plain", "Origin": "https://shop.example"}
    page = {
        "type": "page",
        "anonymousId": "ajs-1",
        "messageId": "ajs-p",
        "writeKey": WRITE_KEY,
        "properties": {"path": "/pricing"},
        "timestamp": "2026-03-01T10:00:00.000Z",
    }
    assert client.post("/v1/p", content=json.dumps(page), headers=browser).status_code == 200
    batch = {
        "writeKey": WRITE_KEY,
        "sentAt": "2026-03-01T10:00:01.000Z",
        "batch": [track("ajs-t", user="ajs-1"), {**page, "messageId": "ajs-p2"}],
    }
    assert client.post("/v1/b", content=json.dumps(batch), headers=browser).status_code == 200
    wait_for(lambda: loaded(client, 3))
    assert {r[2] for r in events_of(client)} == {"page_view", "purchase"}


def test_cors_lets_a_browser_on_another_site_send(project_dir: Path, make_collector: Any) -> None:
    client = make_collector(project_dir)
    pre = client.options(
        "/v1/batch",
        headers={
            "Origin": "https://shop.example",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization, content-type",
        },
    )
    assert pre.status_code == 204
    assert pre.headers["access-control-allow-origin"] == "*"
    assert "authorization" in pre.headers["access-control-allow-headers"].lower()
    # No anti-forgery token: the write key is the proof.
    client.headers.pop("X-Kundresa-CSRF", None)
    r = client.post(
        "/v1/batch",
        json={"batch": [track("c1")]},
        auth=AUTH,
        headers={"Origin": "https://shop.example"},
    )
    assert r.status_code == 200
    # The rest of the app still refuses a cross-site write.
    r = client.post(
        "/api/journey/validate", content="kundresa: 1", headers={"Origin": "https://shop.example"}
    )
    assert r.status_code == 403


def test_an_access_token_does_not_guard_the_collector(
    project_dir: Path, make_collector: Any
) -> None:
    client = make_collector(project_dir, token="sesame")
    assert client.get("/api/map").status_code == 401
    assert client.post("/v1/batch", json={"batch": [track("t")]}, auth=AUTH).status_code == 200
    assert client.post("/v1/batch", json={"batch": [track("t")]}).status_code == 401


def test_openapi_lists_every_collector_endpoint(project_dir: Path, make_collector: Any) -> None:
    spec = make_collector(project_dir).get("/openapi.json").json()
    for path in [*(f"/v1/{k}" for k in [*KINDS, *SHORT_PATHS]), "/v1/batch", "/v1/b"]:
        op = spec["paths"][path]["post"]
        assert {"200", "400", "401", "413"} <= set(op["responses"]), path
        assert "application/json" in op["requestBody"]["content"]
    assert (
        "batch"
        in spec["paths"]["/v1/batch"]["post"]["requestBody"]["content"]["application/json"][
            "schema"
        ]["properties"]
    )


def test_after_load_runs_inside_the_load_transaction(
    project_dir: Path, make_collector: Any
) -> None:
    seen: list[int] = []
    fail = [True]

    def after_load(con: duckdb.DuckDBPyConnection) -> None:
        row = con.execute("SELECT count(*) FROM events").fetchone()
        assert row is not None
        if fail[0]:
            fail[0] = False
            raise RuntimeError("live state not ready")
        seen.append(int(row[0]))

    client = make_collector(project_dir, after_load=after_load)
    assert client.post("/v1/batch", json={"batch": [track("a1")]}, auth=AUTH).status_code == 200
    # The first load fails in after_load and rolls back; the next cycle loads it again.
    collector = client.app.state.collector
    wait_for(lambda: bool(seen) and collector.loader.last_error is None)
    assert seen == [1]
    assert len(events_of(client)) == 1


def test_info_counts_pending_batches(project_dir: Path, make_collector: Any) -> None:
    from click.testing import CliRunner

    from kundresa.cli import main

    client = make_collector(project_dir)
    collector = client.app.state.collector
    collector.loader.stop()  # nothing is loaded from now on
    for i in range(3):
        assert (
            client.post("/v1/batch", json={"batch": [track(f"p{i}")]}, auth=AUTH).status_code == 200
        )
    state = client.app.state.project
    with state.lock:
        info = state.project.info()
    assert info["collector"]["pending_batches"] == 3
    state.project.close()  # the CLI opens the warehouse itself
    result = CliRunner().invoke(main, ["info", "--project", str(project_dir)])
    assert result.exit_code == 0, result.output
    assert "collector: 3 batches" in result.output
    state.project = type(state.project).open(project_dir, read_only=True)


def test_a_second_collector_on_the_project_is_a_clear_usage_error(project_dir: Path) -> None:
    from click.testing import CliRunner

    from kundresa.cli import main
    from kundresa.live import WriteAheadLog

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    log = WriteAheadLog(project_dir / ".kundresa" / "collector")
    try:
        result = CliRunner().invoke(
            main,
            ["serve", "--project", str(project_dir), "--port", str(port), "--write-key", "k"],
        )
    finally:
        log.close()
    assert result.exit_code == 2
    assert "another process is collecting into this project" in result.output
    assert "Traceback" not in result.output


def test_the_data_page_and_api_info_show_the_collector(
    project_dir: Path, make_collector: Any
) -> None:
    client = make_collector(project_dir)
    assert client.post("/v1/batch", json={"batch": [track("d1")]}, auth=AUTH).status_code == 200
    wait_for(lambda: loaded(client, 1))
    info = client.get("/api/info").json()
    assert info["collector"]["pending_batches"] == 0
    assert info["last_ingest"]["sources"] == ["collector"]
    assert client.get("/data").status_code == 200


def test_a_log_that_cannot_be_written_is_503_and_nothing_is_acked(
    project_dir: Path, make_collector: Any
) -> None:
    client = make_collector(project_dir)
    collector = client.app.state.collector
    collector.loader.stop()
    collector.log.close()  # as when the server stops, or the disk fails
    r = client.post("/v1/batch", json={"batch": [track("late")]}, auth=AUTH)
    assert r.status_code == 503 and r.json()["success"] is False


def test_a_placeholder_date_is_refused_by_field_and_the_rest_kept(
    project_dir: Path, make_collector: Any
) -> None:
    """0001-01-01, 9999-12-31 (with any offset) are placeholders, not times: refused as a
    file's row is quarantined, so one event cannot stretch every cohort over centuries.
    The write key of analytics.js is public, so this is anyone's to send."""
    client = make_collector(project_dir)
    batch = [
        track("good-1"),
        track("year-1", timestamp="0001-01-01T00:00:00Z"),
        track("year-1-offset", timestamp="0001-01-01T00:30:00+01:00"),
        track("year-9999", timestamp="9999-12-31T23:59:59Z"),
        track("excel-zero", timestamp="1899-12-30T00:00:00"),
        track("edge", timestamp="1900-01-01T00:00:00Z"),
    ]
    r = client.post("/v1/batch", json={"batch": batch}, auth=AUTH)
    assert r.status_code == 400
    answer = r.json()
    assert answer["accepted"] == 2
    assert [(e["index"], e["field"]) for e in answer["errors"]] == [
        (1, "timestamp"),
        (2, "timestamp"),
        (3, "timestamp"),
        (4, "timestamp"),
    ]
    assert "is not between 1900 and 2099" in answer["message"]
    wait_for(lambda: loaded(client, 2))
    assert [e[0] for e in events_of(client)] == ["edge", "good-1"]


def test_a_nul_character_is_refused_by_field_and_the_rest_kept(
    project_dir: Path, make_collector: Any
) -> None:
    """A NUL (``\\u0000``) in an id, an event name, a property or a property's name is refused
    naming the field, as a file holding one is refused as binary: PostgreSQL, one of the
    engines the events are pushed to, cannot store it."""
    client = make_collector(project_dir)
    body = (
        '{"batch": ['
        + json.dumps(track("good-1"))
        + ',{"type": "track", "event": "x", "userId": "a\\u0000b", "messageId": "nul-user"},'
        '{"type": "track", "event": "x\\u0000", "userId": "u2", "messageId": "nul-event"},'
        '{"type": "track", "event": "x", "userId": "u3", "messageId": "nul-prop",'
        ' "properties": {"note": "a\\u0000"}},'
        '{"type": "track", "event": "x", "userId": "u4", "properties": {"k\\u0000": 1}}'
        "]}"
    )
    answer = _refused(client, body)
    assert [(e["index"], e["field"]) for e in answer["errors"]] == [
        (1, "userId"),
        (2, "event"),
        (3, "properties.note"),
        (4, "properties.k\\u0000"),
    ]
    assert "NUL character" in answer["message"]
    wait_for(lambda: loaded(client, 1))
    assert [e[0] for e in events_of(client)] == ["good-1"]


def test_a_body_that_is_not_json_is_refused_saying_where(
    project_dir: Path, make_collector: Any
) -> None:
    """Before, every such body was ``body: not JSON``, also valid JSON nested too deeply or
    holding a 5,000-digit number: nothing said where to look."""
    client = make_collector(project_dir)
    deep = b'{"batch": [{"type": "track", "properties": ' + b"[" * 5000 + b"]" * 5000 + b"}]}"
    big = b'{"batch": [{"type": "track", "properties": {"n": ' + b"9" * 5000 + b"}}]}"
    for body, message in (
        (b'{"batch": [}', "body: not JSON: Expecting value at line 1, column 12"),
        (b'{"batch": [],\n "x": }', "body: not JSON: Expecting value at line 2, column 7"),
        (b'{"userId": "\xff"}', "body: not UTF-8 text (byte 12)"),
        (deep, "body: not JSON the collector reads: nested too deeply"),
        (big, "body: not JSON the collector reads: a number with more than 4,300 digits"),
    ):
        r = client.post("/v1/batch", content=body, auth=AUTH)
        assert r.status_code == 400, (body[:30], r.text)
        assert r.json() == {"success": False, "message": message, "field": "body"}


def test_a_batch_of_very_many_messages_is_checked_off_the_event_loop(
    project_dir: Path, make_collector: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A 500 KB body of ``{}`` is 170,000 messages, seconds of checking: before, all on the
    event loop, so every other request (acks, pages) waited. A usual batch stays inline
    (no thread hop on the ack path)."""
    import asyncio

    from kundresa.live import collector as module

    on_loop: list[bool] = []
    check = module.check_message

    def recording(*args: Any, **kwargs: Any) -> Any:
        try:
            asyncio.get_running_loop()
            on_loop.append(True)
        except RuntimeError:
            on_loop.append(False)
        return check(*args, **kwargs)

    monkeypatch.setattr(module, "check_message", recording)
    client = make_collector(project_dir)
    usual = [track(f"u-{i}") for i in range(100)]
    assert client.post("/v1/batch", json={"batch": usual}, auth=AUTH).status_code == 200
    assert set(on_loop) == {True}
    on_loop.clear()
    many = [{}] * 1500 + [track("last")]
    r = client.post("/v1/batch", json={"batch": many}, auth=AUTH)
    assert r.status_code == 400 and r.json()["accepted"] == 1
    assert len(r.json()["errors"]) == 100 and r.json()["errors"][0]["field"] == "type"
    assert set(on_loop) == {False} and len(on_loop) == 1501
    wait_for(lambda: loaded(client, 101))


def test_property_names_that_would_share_a_column_are_refused_by_field(
    project_dir: Path, make_collector: Any
) -> None:
    # Column names compare ignoring case: {"A": 1, "a": 2} was acked and stored as {"A": "2"},
    # and a property without a name holding a value was acked and dropped unseen.
    client = make_collector(project_dir)
    batch = [
        track("good-1", properties={"plan": "pro", "": None}),
        track("case", properties={"Plan": "pro", "plan": "free"}),
        track("empty", properties={"": "v"}),
        track("reserved", properties={"event": "a", "property.event": "b"}),
        {"type": "identify", "userId": "u1", "messageId": "trait", "traits": {"X": 1, "x": 2}},
        track("good-2", properties={"Plan": "pro"}),
    ]
    r = client.post("/v1/batch", json={"batch": batch}, auth=AUTH)
    assert r.status_code == 400, r.text
    answer = r.json()
    assert answer["accepted"] == 2
    assert [(e["index"], e["field"]) for e in answer["errors"]] == [
        (1, "properties"),
        (2, "properties"),
        (3, "properties"),
        (4, "traits"),
    ]
    assert answer["errors"][0]["message"] == (
        "properties: 'Plan' and 'plan' differ only in case (property names are compared "
        "ignoring case): which one is meant?"
    )
    assert "without a name" in answer["errors"][1]["message"]
    wait_for(lambda: loaded(client, 2))
    assert [e[0] for e in events_of(client)] == ["good-1", "good-2"]
