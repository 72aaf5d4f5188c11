"""An upload that expands past the limits is refused while the server keeps answering.

A real uvicorn server on loopback: a small gzip file that expands to more rows than an upload
may hold is sent while another client keeps asking for a static file. The upload must be
refused (413) and the static file must keep coming meanwhile, about as fast as when the
server is idle (compared as a ratio with idle requests, never as an absolute time: the
machine may be busy). The server runs in a thread of the test process, so the test session's
heap is frozen out of the garbage collector while measuring: a full collection of a thousand
tests' objects paused every thread for most of a second in CI, a pause of the harness and not
of the server.
"""

from __future__ import annotations

import gc
import gzip
import http.client
import shutil
import statistics
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from e2e_server import serve

ROWS = 1_500_000  # limit in this test: 1,000,000 rows


@pytest.fixture
def served(tmp_path: Path, demo_dir: Path, monkeypatch: Any) -> Iterator[tuple[int, str]]:
    monkeypatch.setenv("KUNDRESA_UPLOAD_MAX_ROWS", "1000000")
    folder = tmp_path / "demo"
    shutil.copytree(demo_dir, folder)
    with serve(folder, token="t0ken") as server:
        port = server.port
        page = _request(port, "GET", "/login")[1].decode()
        static = (
            page.split('href="', 2)[2].split('"')[0] if "app.css" in page else "/static/app.css"
        )
        yield port, static


def _request(
    port: int, method: str, path: str, body: bytes | None = None, headers: Any = None
) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        r = conn.getresponse()
        return r.status, r.read()
    finally:
        conn.close()


def _timed_get(port: int, path: str) -> float:
    t0 = time.perf_counter()
    status, _ = _request(port, "GET", path)
    assert status == 200, status
    return time.perf_counter() - t0


def test_a_bomb_upload_does_not_stall_the_server(served: tuple[int, str]) -> None:
    port, static = served
    line = b"c1,2025-01-01T00:00:00,page_view,/a/long/path/to/make/the/file/bigger\n"
    bomb = gzip.compress(b"customer_id,timestamp,event,path\n" + line * ROWS, compresslevel=9)
    assert len(bomb) < 2_000_000
    boundary = uuid.uuid4().hex
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; '
            f'filename="bomb.csv.gz"\r\nContent-Type: application/gzip\r\n\r\n'
        ).encode()
        + bomb
        + f"\r\n--{boundary}--\r\n".encode()
    )
    headers = {
        "Content-Type": f"multipart/form-data; boundary={boundary}",
        "Authorization": "Bearer t0ken",
    }
    gc.collect()
    gc.freeze()
    try:
        idle = [_timed_get(port, static) for _ in range(15)]
    finally:
        gc.unfreeze()
    outcome: dict[str, Any] = {}

    def upload() -> None:
        t0 = time.perf_counter()
        outcome["status"], outcome["body"] = _request(
            port, "POST", "/api/data/upload", body, headers
        )
        outcome["seconds"] = time.perf_counter() - t0

    uploader = threading.Thread(target=upload)
    gc.collect()
    gc.freeze()
    try:
        uploader.start()
        busy: list[float] = []
        while uploader.is_alive():
            busy.append(_timed_get(port, static))
        uploader.join()
    finally:
        gc.unfreeze()
    assert outcome["status"] == 413, outcome["body"][:300]
    assert b"1,000,000 rows" in outcome["body"]
    # The static file kept coming while the upload was measured and refused: many answers,
    # each about as quick as on an idle server.
    assert len(busy) >= 5, (len(busy), outcome["seconds"])
    ratio = statistics.median(busy) / statistics.median(idle)
    assert ratio < 25, (ratio, statistics.median(busy), statistics.median(idle))
    assert max(busy) < outcome["seconds"] / 2 or max(busy) / statistics.median(idle) < 100
