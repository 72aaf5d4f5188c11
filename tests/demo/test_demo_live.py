"""`kundresa demo --live`: the generator's events streamed as Segment batches, checked
against a stand-in receiver (the collector itself is tested with the collector)."""

from __future__ import annotations

import base64
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pyarrow.compute as pc
import pyarrow.parquet as pq
from click.testing import CliRunner

from kundresa.cli import main
from kundresa.demo.generator import demo_journey_yaml, generate_events
from kundresa.demo.live import stream_demo
from kundresa.project import Project

KEY = "demo-key"


class StandIn:
    """Answers /v1/batch like the collector: 401 without the write key, else records."""

    def __init__(self, fail: int = 0) -> None:
        self.batches: list[list[dict[str, Any]]] = []
        self.refused = 0
        self.fail = fail
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                auth = self.headers.get("Authorization", "")
                user = base64.b64decode(auth.removeprefix("Basic ")).decode() if auth else ""
                if self.path != "/v1/batch" or user != f"{KEY}:":
                    self.send_response(401)
                elif outer.fail > 0:
                    outer.fail -= 1
                    outer.refused += 1
                    self.send_response(503)
                else:
                    outer.batches.append(body["batch"])
                    self.send_response(200)
                self.end_headers()
                self.wfile.write(b'{"success": true}')

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1/batch"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_stream_sends_segment_batches_stamped_now() -> None:
    receiver = StandIn(fail=1)
    try:
        sent = stream_demo(
            receiver.url, KEY, rate=10_000, batch=20, customers=30, limit=45, say=lambda _: None
        )
    finally:
        receiver.close()
    assert sent == 45 and receiver.refused == 1  # a refused batch is sent again
    assert [len(b) for b in receiver.batches] == [20, 20, 5]
    messages = [m for b in receiver.batches for m in b]
    assert {m["type"] for m in messages} == {"track"}
    assert all(m["userId"].startswith("live1-c") for m in messages)
    assert len({m["messageId"] for m in messages}) == 45
    stamps = [m["timestamp"] for m in messages]
    assert stamps == sorted(stamps) and all(s.endswith("Z") for s in stamps)


def test_streamed_events_move_customers_through_the_demo_journey(tmp_path: Path) -> None:
    receiver = StandIn()
    try:
        stream_demo(receiver.url, KEY, rate=10_000, batch=50, customers=40, limit=150)
    finally:
        receiver.close()
    # What the collector stores from these batches: Segment messages, read by the same
    # mapping (the segment source); each batch an ingest, caught up like one.
    folder = tmp_path / "demo"
    folder.mkdir()
    (folder / "journey.yaml").write_text(demo_journey_yaml("en"), encoding="utf-8")
    with Project.open(folder) as project:
        for i, batch in enumerate(receiver.batches):
            part = tmp_path / f"batch{i}.jsonl"
            part.write_text("\n".join(json.dumps(m) for m in batch), encoding="utf-8")
            project.ingest([part], source="segment")
        feed = project.stage_events(0, 10_000)
        assert feed and {e["to_stage"] for e in feed} >= {"awareness"}
        who = feed[-1]["customer_id"]
        assert project.customer_state(who)["stage"] is not None
        assert project.info()["events"] == 150


def test_live_needs_the_server(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["demo", str(tmp_path / "d"), "--live", "--no-serve"])
    assert result.exit_code == 2 and "leave out --no-serve" in result.output


def test_streamed_events_match_touchpoints_and_personas_as_the_demo_history_does(
    tmp_path: Path,
) -> None:
    """The streamed customers are the generator's: ingested through the Segment mapping,
    they land on the same touchpoints and personas as the generator's own rows ingested as
    a file. Before, the generator's property map was sent as one property named
    ``properties``, so no ``path`` or ``segment`` was seen: page views matched no
    touchpoint (customers skipped consideration) and no customer had a persona."""
    receiver = StandIn()
    try:
        stream_demo(receiver.url, KEY, rate=10_000, batch=100, customers=60, limit=10_000)
    finally:
        receiver.close()
    messages = [m for b in receiver.batches for m in b if m["userId"].startswith("live1-")]
    streamed = tmp_path / "streamed.jsonl"
    streamed.write_text("\n".join(json.dumps(m) for m in messages), encoding="utf-8")
    table = generate_events(60, seed=1, days=30)
    ids = pc.binary_join_element_wise("live1-", table["customer_id"], "")
    history = tmp_path / "history.parquet"
    pq.write_table(table.set_column(0, "customer_id", ids), history)
    assert len(messages) == table.num_rows
    results = []
    for name, path, source in (("s", streamed, "segment"), ("h", history, "events")):
        folder = tmp_path / name
        folder.mkdir()
        (folder / "journey.yaml").write_text(demo_journey_yaml("en"), encoding="utf-8")
        with Project.open(folder) as project:
            project.ingest([path], source=source)
            touchpoints = project.run("touchpoints").frame
            personas = project.run("stages", by="persona").frame
        results.append(
            (
                sorted(zip(touchpoints["touchpoint"], touchpoints["events"], strict=True)),
                sorted(
                    zip(personas.iloc[:, 0], personas["stage"], personas["reached"], strict=True)
                ),
            )
        )
    assert results[0] == results[1]
    assert any(tp == "pricing_page" and n > 0 for tp, n in results[0][0])
