"""Uploading analytics exports on the Data page: recognised like `kundresa ingest` does."""

from __future__ import annotations

import gzip
import io
import zipfile
from pathlib import Path
from typing import Any

FIXTURES = Path(__file__).parent.parent / "fixtures" / "sources"


def test_upload_an_amplitude_zip_and_a_ga4_file(make_client: Any, demo_copy: Path) -> None:
    c = make_client(demo_copy)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for i in (1, 2):
            data = gzip.compress((FIXTURES / f"amplitude_part{i}.jsonl").read_bytes())
            z.writestr(f"1/1_2025-05-31_{i}#0.json.gz", data)
    r = c.post("/api/data/upload", files={"file": ("export.zip", buf.getvalue(), "x/zip")})
    assert r.status_code == 200, r.text
    assert (r.json()["loaded"], r.json()["quarantined"]) == (4, 1)
    ga4 = (FIXTURES / "ga4_events.jsonl").read_bytes()
    r = c.post("/api/data/upload", files={"file": ("events_20250301.jsonl", ga4, "x/json")})
    assert r.status_code == 200, r.text
    assert (r.json()["loaded"], r.json()["quarantined"]) == (5, 2)
    assert c.get("/api/customer?id=cust-42").json()["events_total"] >= 1


def test_an_upload_that_cannot_be_written_leaves_no_partial_file(
    make_client: Any, demo_copy: Path, monkeypatch: Any
) -> None:
    """Before, a write or read error while the upload was copied into .kundresa/uploads
    (a full disk) was a 500 with a traceback and left the part copied so far."""
    from starlette.datastructures import UploadFile

    c = make_client(demo_copy)
    before = c.get("/api/info").json()["events"]
    real_read = UploadFile.read
    calls = {"n": 0}

    async def failing_read(self: Any, size: int = -1) -> bytes:
        calls["n"] += 1
        if calls["n"] > 1:
            raise OSError(28, "No space left on device")
        return await real_read(self, 100)

    monkeypatch.setattr(UploadFile, "read", failing_read)
    body = b"customer_id,timestamp,event\n" + b"u1,2025-03-01T10:00:00Z,ad_click\n" * 50
    for url in ("/api/data/upload", "/data"):
        calls["n"] = 0
        r = c.post(url, files={"file": ("full.csv", body, "text/csv")})
        assert r.status_code == 507, r.text
        assert "No space left on device" in r.text and "Traceback" not in r.text
    uploads = demo_copy / ".kundresa" / "uploads"
    assert not uploads.exists() or not any(uploads.iterdir())
    monkeypatch.undo()
    assert c.get("/api/info").json()["events"] == before
