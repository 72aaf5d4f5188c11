"""`kundresa serve` starts on a project whose journey file has errors (with a one-line
warning naming the file and the problem), so the web editor can repair the file; it still
refuses what cannot be served at all."""

from __future__ import annotations

import json
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from click.testing import CliRunner
from served import free_port, one_event_project, serve

from kundresa.cli import main

BROKEN = "kundresa: 1\nname: Shop\nstages: [{id: a}, {id: a}]\n"
FIXED = "kundresa: 1\nname: Shop\nstages: [{id: a}, {id: b}]\n"


def ask(url: str, data: bytes | None = None) -> tuple[int, str]:
    method = "PUT" if data is not None else "GET"
    headers = {"Content-Type": "application/yaml"} if data is not None else {}
    request = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=120) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code, exc.read().decode()


def test_serve_starts_with_a_broken_journey_and_the_editor_repairs_it(tmp_path: Path) -> None:
    root = one_event_project(tmp_path)
    (root / "journey.yaml").write_text(BROKEN, encoding="utf-8")
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    proc = serve(root, port, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert proc.stdout is not None and proc.stderr is not None
        warning = proc.stderr.readline()
        assert warning.startswith(f"Warning: {root.resolve() / 'journey.yaml'}:3:"), warning
        assert "duplicate stage id" in warning and "serving anyway" in warning, warning
        assert f"{url}editor" in warning and warning.count("\n") == 1
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                status, body = ask(url + "api/map")
                break
            except OSError:
                time.sleep(0.2)
        assert status == 409 and "journey.yaml:3" in json.loads(body)["detail"], body
        assert ask(url + "editor")[0] == 200
        assert BROKEN in ask(url + "api/editor")[1].replace("\\n", "\n")
        status, body = ask(url + "api/journey", FIXED.encode())
        assert status == 200 and json.loads(body)["saved"], body
        status, body = ask(url + "api/map")
        assert status == 200 and json.loads(body)["journey"]["name"] == "Shop", body
    finally:
        proc.terminate()
        proc.communicate(timeout=60)
    assert (root / "journey.yaml").read_text(encoding="utf-8") == FIXED


def test_serve_still_refuses_what_cannot_be_served(tmp_path: Path) -> None:
    r = CliRunner().invoke(main, ["serve", "--project", str(tmp_path / "nowhere")])
    assert r.exit_code == 2 and "no such project folder" in r.output


def test_the_editor_opens_a_journey_that_is_not_utf8(make_client: Any, tmp_path: Path) -> None:
    """serve's warning sends the user to the editor; it must open such a file too."""
    root = tmp_path / "shop"
    assert CliRunner().invoke(main, ["init", str(root)]).exit_code == 0
    (root / "journey.yaml").write_bytes(b"kundresa: 1\nname: \xff\xfe bad\n")
    c = make_client(root)
    assert c.get("/api/map").status_code == 409
    page = c.get("/editor")
    assert page.status_code == 200 and "name: \ufffd\ufffd bad" in page.text
    etag = c.get("/api/journey").headers["etag"]
    saved = c.put(
        "/api/journey",
        content=FIXED.encode(),
        headers={"Content-Type": "application/yaml", "If-Match": etag},
    )
    assert saved.status_code == 200, saved.text
    assert c.get("/api/map").status_code == 200
