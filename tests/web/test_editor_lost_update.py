"""Optimistic concurrency for the journey file: a save made from a page or an ETag that no
longer describes the file (changed in another tab or by the command line) is refused and loses
nothing; a save without a precondition replaces the file as before."""

from __future__ import annotations

import hashlib
import html as htmllib
import re
from pathlib import Path
from typing import Any

import pytest
from test_editor_form_language import form_fields

YAML = {"Content-Type": "application/yaml"}


def hidden(page: str, form_id: str, name: str) -> str:
    form = page[page.index(f'id="{form_id}"') :]
    form = form[: form.index("</form>")]
    m = re.search(rf'<input type="hidden" name="{name}" value="([^"]*)"', form)
    assert m, (form_id, name)
    return htmllib.unescape(m[1])


def elsewhere(path: Path, old: str, new: str) -> str:
    """Change the journey file as another tab or the CLI would; returns its new text."""
    text = path.read_text(encoding="utf-8").replace(old, new, 1)
    path.write_text(text, encoding="utf-8")
    return text


def test_api_put_honours_if_match(make_client: Any, demo_copy: Path) -> None:
    c = make_client(demo_copy)
    path = demo_copy / "journey.yaml"
    got = c.get("/api/journey")
    assert got.status_code == 200 and got.text == path.read_text(encoding="utf-8")
    assert got.headers["content-type"].startswith("application/yaml")
    etag = got.headers["etag"]
    assert etag == f'"{hashlib.sha256(path.read_bytes()).hexdigest()}"'
    assert c.get("/api/editor").headers["etag"] == etag
    mine = got.text.replace("name: Nordljus Hem", "name: Mine", 1)
    other = elsewhere(path, "name: Nordljus Hem", "name: Theirs")
    stale = c.put("/api/journey", content=mine.encode(), headers={**YAML, "If-Match": etag})
    assert stale.status_code == 412, stale.text
    detail = stale.json()["detail"]
    assert isinstance(detail, str) and "\n" not in detail and "changed" in detail
    now = f'"{hashlib.sha256(other.encode()).hexdigest()}"'
    assert stale.headers["etag"] == now and now in detail
    assert path.read_text(encoding="utf-8") == other  # nothing lost
    assert not (demo_copy / ".kundresa" / "journeys").exists()  # and nothing saved
    weak = c.put("/api/journey", content=mine.encode(), headers={**YAML, "If-Match": f"W/{now}"})
    assert weak.status_code == 412  # If-Match compares strongly (RFC 9110 13.1.1)
    ok = c.put("/api/journey", content=mine.encode(), headers={**YAML, "If-Match": f'"x", {now}'})
    assert ok.status_code == 200 and ok.json()["saved"], ok.text
    assert ok.headers["etag"] == f'"{hashlib.sha256(mine.encode()).hexdigest()}"'
    assert c.get("/api/map").json()["journey"]["name"] == "Mine"
    star = c.put("/api/journey", content=other.encode(), headers={**YAML, "If-Match": "*"})
    assert star.status_code == 200 and star.json()["saved"]
    # Without a precondition, as before: the file is replaced whatever it holds.
    elsewhere(path, "name: Theirs", "name: Third")
    plain = c.put("/api/journey", content=mine.encode(), headers=YAML)
    assert plain.status_code == 200 and path.read_text(encoding="utf-8") == mine
    # A stale ETag whose text the file already holds: nothing to lose, so it is no conflict.
    same = c.put("/api/journey", content=mine.encode(), headers={**YAML, "If-Match": etag})
    assert same.status_code == 200


def test_openapi_documents_the_precondition(make_client: Any, demo_copy: Path) -> None:
    spec = make_client(demo_copy).get("/openapi.json").json()
    put = spec["paths"]["/api/journey"]["put"]
    assert "412" in put["responses"]
    assert any(p["name"].lower() == "if-match" for p in put["parameters"])
    get = spec["paths"]["/api/journey"]["get"]
    assert "requestBody" not in get and "404" in get["responses"]


@pytest.mark.parametrize(
    ("lang", "words"),
    [
        ("en", "journey.yaml has changed since this page was opened"),
        ("sv", "journey.yaml har ändrats sedan sidan öppnades"),
        ("da", "journey.yaml er blevet ændret, siden siden blev åbnet"),
    ],
)
def test_yaml_form_refuses_a_stale_save_and_keeps_the_text(
    make_client: Any, demo_copy: Path, lang: str, words: str
) -> None:
    c = make_client(demo_copy)
    path = demo_copy / "journey.yaml"
    page = c.get(f"/editor?lang={lang}").text
    sha = hidden(page, "yaml-form", "sha256")
    assert sha == hashlib.sha256(path.read_bytes()).hexdigest()
    assert hidden(page, "structured-form", "sha256") == sha
    mine = path.read_text(encoding="utf-8").replace("name: Nordljus Hem", "name: Mine", 1)
    # A validation round trip keeps the hash of the file the page was opened on.
    checked = c.post(f"/editor?lang={lang}", data={"text": mine, "sha256": sha})
    assert checked.status_code == 200 and hidden(checked.text, "yaml-form", "sha256") == sha
    other = elsewhere(path, "name: Nordljus Hem", "name: Theirs")
    r = c.post(f"/editor?lang={lang}", data={"text": mine, "action": "save", "sha256": sha})
    assert r.status_code == 409, r.text[:2000]
    assert path.read_text(encoding="utf-8") == other  # the other change survives
    assert words in htmllib.unescape(r.text) and 'id="changed"' in r.text
    area = re.search(r'<textarea name="text"[^>]*>(.*?)</textarea>', r.text, re.S)
    assert area and htmllib.unescape(area[1]) == mine  # the edit survives
    shown = re.search(r'<pre class="diff" id="current-file"[^>]*>(.*?)</pre>', r.text, re.S)
    assert shown and htmllib.unescape(shown[1]) == other  # and the current file is shown
    assert "-name: Theirs" in htmllib.unescape(r.text) and "+name: Mine" in r.text
    # Having seen it, saving again replaces the file knowingly.
    again = hidden(r.text, "yaml-form", "sha256")
    assert again == hashlib.sha256(other.encode()).hexdigest()
    r = c.post(f"/editor?lang={lang}", data={"text": mine, "action": "save", "sha256": again})
    assert r.status_code == 200 and path.read_text(encoding="utf-8") == mine


def test_yaml_form_without_the_hash_saves_as_before(make_client: Any, demo_copy: Path) -> None:
    c = make_client(demo_copy)
    path = demo_copy / "journey.yaml"
    mine = path.read_text(encoding="utf-8").replace("name: Nordljus Hem", "name: Mine", 1)
    elsewhere(path, "name: Nordljus Hem", "name: Theirs")
    r = c.post("/editor", data={"text": mine, "action": "save"})
    assert r.status_code == 200 and path.read_text(encoding="utf-8") == mine


def test_structured_form_refuses_a_stale_save(make_client: Any, demo_copy: Path) -> None:
    c = make_client(demo_copy)
    path = demo_copy / "journey.yaml"
    fields = form_fields(c.get("/editor").text)
    assert fields["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    fields["stage.0.goal"] = "My goal"
    fields["action"] = "save"
    other = elsewhere(path, "name: Nordljus Hem", "name: Theirs")
    r = c.post("/editor/structured", data=fields)
    assert r.status_code == 409, r.text[:2000]
    assert path.read_text(encoding="utf-8") == other
    page = htmllib.unescape(r.text)
    assert 'id="changed"' in page and 'value="My goal"' in page  # the form keeps the edit
    area = re.search(r'<textarea name="text"[^>]*>(.*?)</textarea>', r.text, re.S)
    assert area and "My goal" in htmllib.unescape(area[1])
    again = form_fields(r.text)
    again["action"] = "save"
    r = c.post("/editor/structured", data=again)
    assert r.status_code == 200, r.text[:2000]
    assert "My goal" in path.read_text(encoding="utf-8")
