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
