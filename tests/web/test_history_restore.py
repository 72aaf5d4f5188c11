"""Restoring an earlier journey version from the history page (as ``kundresa restore``)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from kundresa.store.history import history


def _save_renamed(c: Any, demo_copy: Path, name: str) -> str:
    """Save the journey with another name; the version the save kept."""
    text = (demo_copy / "journey.yaml").read_text(encoding="utf-8")
    text = re.sub(r"(?m)^name: .*$", f"name: {name}", text, count=1)
    r = c.put("/api/journey", content=text.encode(), headers={"content-type": "application/yaml"})
    assert r.status_code == 200 and r.json()["saved"], r.text
    return str(r.json()["previous"])


def test_history_page_offers_restore_with_the_changes(make_client: Any, demo_copy: Path) -> None:
    c = make_client(demo_copy)
    old = _save_renamed(c, demo_copy, "Renamed shop")
    page = c.get("/history").text
    assert f'href="/history?confirm={old}"' in page
    confirm = c.get(f"/history?confirm={old}").text
    assert 'id="restore-form"' in confirm and 'method="post" action="/history/restore"' in confirm
    assert f'name="version" value="{old}"' in confirm and 'name="csrf_token"' in confirm
    # What changes: from the current file to the version restored.
    assert "-name: Renamed shop" in confirm and "+name: Nordljus Hem" in confirm
    assert f"kundresa restore {old}" in confirm


def test_restore_makes_the_version_current_and_keeps_the_replaced_file(
    make_client: Any, demo_copy: Path
) -> None:
    c = make_client(demo_copy)
    original = (demo_copy / "journey.yaml").read_text(encoding="utf-8")
    old = _save_renamed(c, demo_copy, "Renamed shop")
    assert c.get("/api/map").json()["journey"]["name"] == "Renamed shop"
    r = c.post("/history/restore", data={"version": old})
    assert r.status_code == 200 and 'id="restored"' in r.text
    assert (demo_copy / "journey.yaml").read_text(encoding="utf-8") == original
    assert c.get("/api/map").json()["journey"]["name"] == "Nordljus Hem"  # served at once
    kept = [v["version"] for v in history(demo_copy)]
    renamed = [v for v in kept[1:] if "Renamed shop" in c.get(f"/api/history?a={v}").text]
    assert renamed, "the replaced file is kept in history"


def test_restore_needs_the_anti_forgery_proof(make_client: Any, demo_copy: Path) -> None:
    c = make_client(demo_copy, csrf=False)
    old = _save_renamed(make_client(demo_copy), demo_copy, "Renamed shop")
    r = c.post("/history/restore", data={"version": old})
    assert r.status_code == 403
    assert "Renamed shop" in (demo_copy / "journey.yaml").read_text(encoding="utf-8")


def test_a_bad_version_changes_nothing_and_says_why(make_client: Any, demo_copy: Path) -> None:
    c = make_client(demo_copy)
    before = (demo_copy / "journey.yaml").read_text(encoding="utf-8")
    r = c.post("/history/restore", data={"version": "20200101T000000Z"})
    assert r.status_code == 404 and 'id="restore-problem"' in r.text and "no version" in r.text
    r = c.post("/history/restore", data={"version": "../journey"})
    assert r.status_code == 400 and "not a version name" in r.text
    broken = demo_copy / ".kundresa" / "journeys" / "20200101T000000Z.yaml"
    broken.parent.mkdir(parents=True, exist_ok=True)
    broken.write_text("kundresa: 1\nname: x\nstages: 3\n", encoding="utf-8")
    r = c.post("/history/restore", data={"version": "20200101T000000Z"})
    assert r.status_code == 400 and "is not restored" in r.text
    assert (demo_copy / "journey.yaml").read_text(encoding="utf-8") == before


def test_api_restore(make_client: Any, demo_copy: Path) -> None:
    c = make_client(demo_copy)
    old = _save_renamed(c, demo_copy, "Renamed shop")
    r = c.post(f"/api/history/restore?version={old}")
    assert r.status_code == 200 and r.json()["restored"] == old and r.json()["previous"]
    assert c.post("/api/history/restore?version=current").status_code == 400
