"""The data page colours an upload by how it went and says what to do next."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import pytest

GOOD = (
    "customer_id,timestamp,event\nu1,2025-06-01T10:00:00,page_view\n"
    "u1,2025-06-01T10:05:00,purchase\n"
)
HALF = "customer_id,timestamp,event\nh1,2025-06-01T10:00:00,page_view\nh2,not a time,page_view\n"
NONE = "customer_id,timestamp,event\nb1,not a time,page_view\nb2,,page_view\n"


def upload(c: Any, name: str, body: str) -> str:
    """POST the file to the data page and follow its job until the report shows."""
    page = c.post("/data", files={"file": (name, body.encode(), "text/csv")})
    for _ in range(300):
        if 'id="upload-job"' not in page.text:
            break
        time.sleep(0.1)
        page = c.get(page.url)
    assert page.status_code == 200
    return str(page.text)


def report_box(html: str) -> tuple[str, str, str]:
    m = re.search(
        r'<div class="upload-report ([\w-]+)" role="(\w+)" id="upload-report" '
        r'data-outcome="(\w+)">',
        html,
    )
    assert m is not None, html[:2000]
    return m.group(1), m.group(2), m.group(3)


@pytest.mark.parametrize(
    ("body", "css", "role", "outcome", "says"),
    [
        (GOOD, "ok", "status", "all_loaded", "All rows loaded."),
        (HALF, "partly", "status", "partly_quarantined", "upload them again"),
        (NONE, "problem", "alert", "nothing_loaded", "Nothing was loaded."),
    ],
)
def test_upload_status_follows_the_outcome(
    make_client: Any, demo_copy: Path, body: str, css: str, role: str, outcome: str, says: str
) -> None:
    c = make_client(demo_copy, upload_limit=10_000)
    html = upload(c, "events.csv", body)
    assert report_box(html) == (css, role, outcome)
    assert says in html


def test_the_same_file_twice_is_nothing_new(make_client: Any, demo_copy: Path) -> None:
    c = make_client(demo_copy, upload_limit=10_000)
    upload(c, "events.csv", GOOD)
    html = upload(c, "again.csv", GOOD)
    assert report_box(html) == ("note-box", "status", "nothing_new")


def test_the_api_report_names_the_outcome(make_client: Any, demo_copy: Path) -> None:
    c = make_client(demo_copy, upload_limit=10_000)
    r = c.post("/api/data/upload", files={"file": ("x.csv", NONE.encode(), "text/csv")})
    assert r.status_code == 200 and r.json()["outcome"] == "nothing_loaded"


def test_a_properties_text_that_is_no_json_object_is_quarantined_on_upload(
    make_client: Any, demo_copy: Path
) -> None:
    """One row's ``properties`` that is plain text quarantines that row (it failed the whole
    upload with a DuckDB message)."""
    c = make_client(demo_copy, upload_limit=10_000)
    body = (
        "customer_id,timestamp,event,properties\n"
        "p1,2025-06-01T10:00:00,page_view,str\n"
        'p2,2025-06-01T10:00:00,page_view,"{""a"":1}"\n'
    )
    html = upload(c, "props.csv", body)
    assert report_box(html) == ("partly", "status", "partly_quarantined")
    assert "is not a JSON object" in html
