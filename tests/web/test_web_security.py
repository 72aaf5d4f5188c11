"""The web app's guard, in process: forged requests, sessions, headers, limits, jobs, paths."""

from __future__ import annotations

import gzip
import re
import time
from pathlib import Path
from typing import Any

import pytest

from kundresa.web.limits import MAX_FUNNEL_STEPS, MAX_WINDOW_DAYS

JOURNEY = "kundresa: 1\nname: Forged\ntemplate: kundresa-5\n"
EVENTS = b"customer_id,timestamp,event\nf1,2025-06-01T10:00:00,page_view\n"


def _token(page: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert found is not None
    return found.group(1)


# -- forgery ----------------------------------------------------------------------------------


def test_forged_writes_are_refused_on_loopback(make_client: Any, demo_copy: Path) -> None:
    c = make_client(demo_copy, csrf=False)
    journey = demo_copy / "journey.yaml"
    before = journey.read_text(encoding="utf-8")
    evil = {"Origin": "http://evil.example"}
    # The attack as reported: a cross-site form replaces the journey / loads rows.
    r = c.post("/editor", data={"action": "save", "text": JOURNEY}, headers=evil)
    assert r.status_code == 403 and "another site" in r.text
    r = c.post("/data", files={"file": ("x.csv", EVENTS, "text/csv")}, headers=evil)
    assert r.status_code == 403
    # Same site, but no token (a form from an old tab, a script without the header).
    assert c.post("/editor", data={"action": "save", "text": JOURNEY}).status_code == 403
    assert c.post("/api/data/upload", files={"file": ("x.csv", EVENTS)}).status_code == 403
    assert c.put("/api/journey", content=JOURNEY.encode()).status_code == 403
    plain = {"Content-Type": "text/plain"}
    assert c.put("/api/journey", content=JOURNEY.encode(), headers=plain).status_code == 403
    # A non-form content type from another site, or a wrong token.
    yaml_type = {"Content-Type": "application/yaml"}
    r = c.put("/api/journey", content=JOURNEY.encode(), headers={**yaml_type, **evil})
    assert r.status_code == 403
    r = c.put(
        "/api/journey", content=JOURNEY.encode(), headers={"Referer": "http://evil.example/x"}
    )
    assert r.status_code == 403
    r = c.post(
        "/api/data/upload", files={"file": ("x.csv", EVENTS)}, headers={"X-Kundresa-CSRF": "x"}
    )
    assert r.status_code == 403
    assert journey.read_text(encoding="utf-8") == before
    assert not (demo_copy / ".kundresa" / "uploads").exists()
    # The app's own page: the form's token (first field) and this site's Origin.
    token = _token(c.get("/editor").text)
    ok = c.post(
        "/editor",
        data={"csrf_token": token, "action": "validate", "text": JOURNEY},
        headers={"Origin": "http://testserver"},
    )
    assert ok.status_code == 200 and 'id="problems"' not in ok.text
    data = c.get("/data").text
    r = c.post(
        "/data",
        data={"csrf_token": _token(data)},
        files={"file": ("ok.csv", EVENTS, "text/csv")},
    )
    assert r.status_code == 200
    # JSON API writes with a JSON or YAML body need no token (a browser would ask first).
    assert c.post("/api/journey/validate", json={"text": JOURNEY}).json()["valid"] is True
    assert c.put("/api/journey", content=JOURNEY.encode(), headers=yaml_type).status_code == 200
    assert "name: Forged" in journey.read_text(encoding="utf-8")


def test_forged_writes_are_refused_with_a_token(make_client: Any, demo_copy: Path) -> None:
    c = make_client(demo_copy, token="s3cret")
    login = c.get("/login").text
    r = c.post(
        "/login",
        data={"token": "s3cret", "next": "/"},
        headers={"Origin": "http://evil.example"},
        follow_redirects=False,
    )
    assert r.status_code == 403  # login forgery
    assert c.post("/login", data={"token": "s3cret"}, follow_redirects=False).status_code == 403
    r = c.post(
        "/login", data={"csrf_token": _token(login), "token": "s3cret"}, follow_redirects=False
    )
    assert r.status_code == 303
    # Signed in: the cookie alone does not make a write.
    assert c.post("/editor", data={"action": "save", "text": JOURNEY}).status_code == 403
    evil = {"Origin": "http://evil.example"}
    r = c.post("/api/data/upload", files={"file": ("x.csv", EVENTS)}, headers=evil)
    assert r.status_code == 403
    # The bearer token is proof enough (a browser never adds it by itself)...
    bearer = {"Authorization": "Bearer s3cret"}
    r = c.post("/api/data/upload", files={"file": ("x.csv", EVENTS)}, headers=bearer)
    assert r.status_code == 200 and r.json()["loaded"] == 1
    # ... but not from another site's page.
    r = c.post("/api/data/upload", files={"file": ("x.csv", EVENTS)}, headers={**bearer, **evil})
    assert r.status_code == 403
    token = _token(c.get("/editor").text)
    ok = c.post("/editor", data={"csrf_token": token, "action": "validate", "text": JOURNEY})
    assert ok.status_code == 200


def test_sign_out_ends_the_session(make_client: Any, demo_dir: Path) -> None:
    c = make_client(demo_dir, token="s3cret")
    login = c.get("/login").text
    first_cookie = c.cookies.get("kundresa_session")
    c.post("/login", data={"csrf_token": _token(login), "token": "s3cret"}, follow_redirects=False)
    cookie = c.cookies.get("kundresa_session")
    assert cookie and cookie != first_cookie  # a new session on sign-in (no fixation)
    assert c.get("/funnel", follow_redirects=False).status_code == 200
    page = c.get("/").text
    assert 'action="/logout"' in page
    out = c.post("/logout", data={"csrf_token": _token(page)}, follow_redirects=False)
    assert out.status_code == 303
    # The old cookie, sent again, no longer signs in.
    c.cookies.set("kundresa_session", cookie)
    r = c.get("/funnel", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/login")
    assert c.get("/api/map").status_code == 401
    assert c.get("/logout", follow_redirects=False).status_code in (303, 405)  # not by a link


def test_sessions_are_bounded() -> None:
    from kundresa.web.security import SessionStore

    store = SessionStore(max_sessions=10)
    kept = store.new(signed_in=True)
    for _ in range(50):
        store.new()
    assert len(store) == 10 and store.get(kept.id) is kept  # signed-in ones kept longest
    store.end(kept.id)
    assert store.get(kept.id) is None


# -- headers and pages ------------------------------------------------------------------------


def test_every_answer_has_security_headers(client: Any) -> None:
    for url in ("/", "/funnel", "/api/map", "/static/app.css", "/nowhere"):
        r = client.get(url)
        csp = r.headers["content-security-policy"]
        script_src = re.search(r"script-src ([^;]+)", csp)
        assert script_src and "unsafe-inline" not in script_src.group(1), url
        assert "unsafe-eval" not in csp and "frame-ancestors 'none'" in csp
        assert r.headers["x-content-type-options"] == "nosniff"
        assert r.headers["x-frame-options"] == "DENY"


def test_pages_have_no_inline_script(client: Any) -> None:
    from test_api import PAGES

    for url in PAGES:
        page = client.get(url).text
        for tag in re.findall(r"<script\b[^>]*>", page):
            assert "src=" in tag or 'type="application/json"' in tag, (url, tag)
        assert not re.search(r"\son[a-z]+\s*=", page), url  # no inline event handlers
        assert 'name="csrf-token"' in page
        for form in re.findall(r'<form method="post"[^>]*>\s*(<input[^>]*>)', page):
            assert 'name="csrf_token"' in form, (url, form)  # the token is the first field


def test_static_assets_are_versioned_compressed_and_cached(client: Any) -> None:
    page = client.get("/").text
    urls = re.findall(r'(?:src|href)="(/static/[^"]+)"', page)
    assert {u.split("?")[0] for u in urls} >= {
        "/static/app.js",
        "/static/app.css",
        "/static/vendor/echarts.min.js",
    }
    for url in urls:
        assert re.search(r"\?v=[0-9a-f]{16}$", url), url
        r = client.get(url, headers={"Accept-Encoding": "gzip"})
        assert r.status_code == 200
        assert r.headers["cache-control"] == "public, max-age=31536000, immutable"
        assert r.headers["content-encoding"] == "gzip"
    lib = next(u for u in urls if "echarts" in u)
    raw = client.get(lib, headers={"Accept-Encoding": "identity"})
    packed = client.get(lib, headers={"Accept-Encoding": "gzip"})
    assert "content-encoding" not in raw.headers and len(raw.content) > 1_000_000
    assert int(packed.headers["content-length"]) < len(raw.content) / 2
    again = client.get(lib, headers={"If-None-Match": packed.headers["etag"]})
    assert again.status_code == 304
    # An old version's URL is cached briefly only; a file outside the folder is not served.
    assert "immutable" not in client.get("/static/app.js?v=0").headers["cache-control"]
    assert client.get("/static/../app.py").status_code == 404
    assert client.get("/static/%2e%2e/app.py").status_code == 404


def test_api_answers_are_compressed_pages_not(client: Any) -> None:
    r = client.get("/api/map", headers={"Accept-Encoding": "gzip"})
    assert r.headers.get("content-encoding") == "gzip"
    # Pages carry the anti-forgery token: never compressed (BREACH).
    page = client.get("/funnel", headers={"Accept-Encoding": "gzip"})
    assert "content-encoding" not in page.headers


# -- limits -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "field"),
    [
        ("/api/customer?id=c0%00", "id"),
        ("/api/paths?start=a%00", "start"),
        ("/api/attribution?conversion=purchase%00", "conversion"),
        ("/api/compare?target=x%00y", "target"),
        ("/api/map?persona=%1b[31m", "persona"),
        ("/api/funnel?by=a%0Ab", "by"),
        ("/api/funnel?window=99999999999999999999d", "window"),
        (f"/api/funnel?window={MAX_WINDOW_DAYS + 1}d", "window"),
        ("/api/attribution?lookback=" + "9" * 400 + "s", "lookback"),
        ("/api/paths?session_gap=99999999999w", "session_gap"),
        ("/api/map?persona=" + "p" * 1001, "persona"),
        ("/api/customer?id=" + "c" * 1001, "id"),
    ],
)
def test_bad_parameters_are_422_naming_the_field(client: Any, url: str, field: str) -> None:
    r = client.get(url)
    assert r.status_code == 422, (url, r.text[:300])
    assert field in str(r.json()["detail"]), r.text
    page = client.get(url.replace("/api", "", 1))
    assert page.status_code == 422 and field in page.text and 'role="alert"' in page.text


def test_funnel_steps_are_limited(client: Any) -> None:
    steps = "&".join(f"steps=e{i}" for i in range(MAX_FUNNEL_STEPS + 1))
    r = client.get(f"/api/funnel?{steps}")
    assert r.status_code == 422 and "steps" in r.text
    lines = "%0A".join(f"e{i}" for i in range(MAX_FUNNEL_STEPS + 1))
    assert client.get(f"/api/funnel?steps={lines}").status_code == 422
    ok = "&".join(f"steps=e{i}" for i in range(MAX_FUNNEL_STEPS))
    assert client.get(f"/api/funnel?{ok}").status_code == 200


def test_body_limits_are_enforced_while_streaming(make_client: Any, demo_copy: Path) -> None:
    c = make_client(demo_copy, upload_limit=50_000)
    yaml_type = {"Content-Type": "application/yaml"}
    # Content-Length past the limit: refused before the body is read.
    r = c.put("/api/journey", content=b"#" * (1024 * 1024 + 1), headers=yaml_type)
    assert r.status_code == 413 and "limit" in r.json()["detail"]

    big = b"customer_id,timestamp,event\n" + b"x,2025-01-01,e\n" * 10_000
    r = c.post("/api/data/upload", files={"file": ("big.csv", big, "text/csv")})
    assert r.status_code == 413
    assert not list((demo_copy / ".kundresa" / "uploads").glob("*big*"))


def test_a_body_without_length_is_counted_as_it_arrives() -> None:
    """Chunked: no Content-Length; the guard answers 413 at the limit and reads no more."""
    import asyncio

    from kundresa.web.security import Guard, SessionStore

    async def inner(scope: Any, receive: Any, send: Any) -> None:
        while (await receive()).get("more_body"):
            pass
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"read it all"})

    guard = Guard(inner, token=None, sessions=SessionStore(), upload_limit=10, body_limit=50_000)
    pulled, sent = 0, []

    async def receive() -> dict[str, Any]:
        nonlocal pulled
        pulled += 1
        return {"type": "http.request", "body": b"a" * 4096, "more_body": pulled < 400}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "method": "POST",
        "path": "/api/journey/validate",
        "query_string": b"",
        "headers": [(b"host", b"h"), (b"content-type", b"application/yaml")],
    }
    asyncio.run(guard(scope, receive, send))
    assert sent[0]["status"] == 413 and len(sent) == 2
    assert pulled == 50_000 // 4096 + 1  # not one chunk more than needed


def test_uploads_expanding_past_the_limits_are_refused(
    make_client: Any, demo_copy: Path, monkeypatch: Any
) -> None:
    monkeypatch.setenv("KUNDRESA_UPLOAD_MAX_ROWS", "1000")
    monkeypatch.setenv("KUNDRESA_UPLOAD_MAX_BYTES", "200000")
    c = make_client(demo_copy)
    rows = b"customer_id,timestamp,event\n" + b"b1,2025-01-01T00:00:00,e\n" * 1001
    bomb = gzip.compress(rows)
    assert len(bomb) < 1000
    r = c.post("/api/data/upload", files={"file": ("bomb.csv.gz", bomb)})
    assert r.status_code == 413 and "1,000 rows" in r.json()["detail"]
    wide = b"customer_id,timestamp,event\n" + b"w" * 300_000 + b",2025-01-01,e\n"
    r = c.post("/api/data/upload", files={"file": ("wide.csv.gz", gzip.compress(wide))})
    assert r.status_code == 413 and "200,000 bytes once decompressed" in r.json()["detail"]
    r = c.post("/api/data/upload", files={"file": ("broken.csv.gz", b"\x1f\x8bnot gzip")})
    assert r.status_code == 400
    assert list((demo_copy / ".kundresa" / "uploads").iterdir()) == []


def test_upload_file_names_are_made_safe(make_client: Any, demo_copy: Path) -> None:
    c = make_client(demo_copy)
    for name in ("x" * 300 + ".csv", "å" * 150 + ".csv", "../../evil\x00.csv"):
        body = EVENTS.replace(b"f1", name[:3].encode("utf-8", "replace"))
        r = c.post("/api/data/upload", files={"file": (name, body, "text/csv")})
        assert r.status_code in (200, 400), (name[:10], r.text)
    kept = [p.name for p in (demo_copy / ".kundresa" / "uploads").iterdir()]
    assert kept and all(len(n.encode()) < 120 and n.isascii() for n in kept)


def test_deep_nesting_is_a_4xx(make_client: Any, demo_copy: Path) -> None:
    c = make_client(demo_copy)
    deep = "[" * 900
    # The text editor shows the parser's one-line problem (too deeply nested) like any other.
    r = c.post("/editor", data={"text": deep, "action": "validate"})
    assert r.status_code == 200 and 'id="problems"' in r.text and "nest" in r.text
    r = c.post("/editor/structured", data={"base": deep, "action": "validate"})
    assert 400 <= r.status_code < 500
    r = c.post("/api/journey/validate", json={"text": deep})
    assert 400 <= r.status_code < 500 or r.json()["valid"] is False
    assert c.post("/editor", data={"text": "x\x00", "action": "validate"}).status_code == 422


def test_a_json_body_without_the_journey_text_says_what_to_send(
    make_client: Any, demo_copy: Path
) -> None:
    """JSON that is not ``{"text": "..."}`` (or a JSON string) is a 400 saying what to send,
    not that the body is not UTF-8 text; the journey file is left as it was."""
    c = make_client(demo_copy)
    journey = demo_copy / "journey.yaml"
    before = journey.read_bytes()
    for body in ({"batch": 1}, {"text": 5}, [1], 3):
        for method, path in (("POST", "/api/journey/validate"), ("PUT", "/api/journey")):
            r = c.request(method, path, json=body)
            assert r.status_code == 400, (method, path, body)
            assert r.json()["detail"].startswith("body: expected the journey file's text as JSON")
    bad = c.put("/api/journey", content=b"\xff\xfe", headers={"Content-Type": "application/yaml"})
    assert bad.status_code == 400 and bad.json()["detail"] == "body: expected UTF-8 text"
    assert journey.read_bytes() == before


# -- jobs and what answers show ---------------------------------------------------------------


def test_uploads_run_as_jobs_with_progress(make_client: Any, demo_copy: Path) -> None:
    c = make_client(demo_copy)
    r = c.post("/api/data/upload?wait=false", files={"file": ("j.csv", EVENTS, "text/csv")})
    assert r.status_code == 202
    job = r.json()["job"]
    for _ in range(200):
        job = c.get(f"/api/jobs/{job['id']}").json()
        if job["state"] in ("done", "failed", "cancelled"):
            break
        time.sleep(0.05)
    assert job["state"] == "done" and job["progress"] == 1 and job["result"]["loaded"] == 1
    assert any(j["id"] == job["id"] for j in c.get("/api/jobs").json()["jobs"])
    page = c.get(f"/data?job={job['id']}").text
    assert 'id="upload-report"' in page
    assert c.get("/api/jobs/0-000000").status_code == 404
    # Nothing loaded (every row bad): the upload is not kept.
    r = c.post("/api/data/upload", files={"file": ("bad.csv", b"customer_id,timestamp,event\n")})
    assert r.status_code in (200, 400)
    kept = [p.name for p in (demo_copy / ".kundresa" / "uploads").iterdir()]
    assert len(kept) == 1 and kept[0].endswith("-j.csv")


def test_a_job_can_be_cancelled() -> None:
    import threading

    from kundresa.web.jobs import JobManager

    manager = JobManager()
    started, release = threading.Event(), threading.Event()

    def work(job: Any) -> str:
        started.set()
        while True:
            job.report(0.5)  # raises once the job is cancelled
            release.wait(0.01)

    job = manager.submit("upload", "slow.csv", work)
    queued = manager.submit("upload", "next.csv", lambda job: "never")
    assert started.wait(10)
    manager.cancel(queued.id)
    manager.cancel(job.id)
    for _ in range(500):
        if job.over and queued.over:
            break
        time.sleep(0.01)
    assert job.state == "cancelled" and queued.state == "cancelled"
    assert queued.result is None
    manager.shutdown()


def test_cancel_leaves_the_warehouse_as_it_was(make_client: Any, demo_copy: Path) -> None:
    c = make_client(demo_copy)
    before = c.get("/api/data").json()["summary"]["events"]
    rows = b"customer_id,timestamp,event\n" + b"".join(
        b"k%d,2025-06-01T10:00:00,page_view\n" % i for i in range(300_000)
    )
    r = c.post("/api/data/upload?wait=false", files={"file": ("slow.csv", rows, "text/csv")})
    job_id = r.json()["job"]["id"]
    cancelled = c.post(f"/api/jobs/{job_id}/cancel").json()
    for _ in range(600):
        job = c.get(f"/api/jobs/{job_id}").json()
        if job["state"] in ("done", "failed", "cancelled"):
            break
        time.sleep(0.05)
    assert cancelled["id"] == job_id
    if job["state"] == "cancelled":  # (a fast machine may finish first)
        assert c.get("/api/data").json()["summary"]["events"] == before
        assert not list((demo_copy / ".kundresa" / "uploads").iterdir())


def test_answers_show_no_server_paths(make_client: Any, demo_copy: Path) -> None:
    c = make_client(demo_copy)
    root = str(demo_copy.resolve())
    r = c.post("/api/data/upload", files={"file": ("p.csv", EVENTS, "text/csv")})
    answers = [r.text, c.get("/api/info").text, c.get("/api/data").text, c.get("/data").text]
    bad = c.post("/api/data/upload", files={"file": ("h.csv", b"foo,bar\n1,2\n")})
    answers.append(bad.text)
    # A broken journey file on disk: the error names it relative to the project.
    (demo_copy / "journey.yaml").write_text("kundresa: 1\nname: x\nstages: 3\n", "utf-8")
    broken = c.get("/api/map")
    assert broken.status_code == 409
    answers += [broken.text, c.get("/").text]
    for text in answers:
        at = max(text.find(root), text.find("/tmp/"))
        assert root not in text and "/tmp/" not in text, text[max(0, at - 300) : at + 100]
    assert c.get("/api/info").json()["root"] == "."


def test_openapi_lists_every_4xx(client: Any) -> None:
    spec = client.get("/openapi.json").json()
    for path, operations in spec["paths"].items():
        for method, op in operations.items():
            codes = set(op["responses"])
            assert {"400", "401", "409", "422"} <= codes, (path, method)
            if method in ("post", "put"):
                assert {"403", "413"} <= codes, (path, method)
    assert "application/yaml" in spec["paths"]["/api/journey"]["put"]["requestBody"]["content"]


def test_head_is_answered_as_get_without_a_body(client: Any) -> None:
    """Uptime monitors and link checkers ask with HEAD: the page's status and headers, no
    body (was 405: the routes list GET only). The collector's POST-only routes stay so."""
    page = client.get("/api/map")
    head = client.head("/api/map")
    assert head.status_code == page.status_code == 200
    assert head.content == b""
    assert head.headers["content-type"] == page.headers["content-type"]
    assert head.headers["content-security-policy"] == page.headers["content-security-policy"]
    assert client.head("/").status_code == 200
    assert client.head("/no-such-page").status_code == 404
    assert client.head("/v1/batch").status_code in (404, 405)


def test_the_customer_summary_names_its_cycles_in_words(client: Any) -> None:
    """The summary said "1 ×↻"; it names the journey cycles in the page's language."""
    page = client.get("/customer?id=c000002").text
    summary = re.search(r'<p class="summary">(.*?)</p>', page, re.S)
    assert summary is not None and "×↻" not in summary.group(1)
    assert re.search(r"\b1 cycle\b|\b\d+ cycles\b", summary.group(1)), summary.group(1)
    sv = client.get("/customer?id=c000002&lang=sv").text
    assert re.search(r'<p class="summary">.*?\d+ varv</p>', sv, re.S)
    client.get("/?lang=en")  # the language choice is kept in a cookie: back to English


def test_an_upload_cancelled_while_queued_leaves_no_file(make_client: Any, demo_copy: Path) -> None:
    """Before, an upload cancelled while another ingest ran never started, so the clean-up
    of a failed ingest never ran either: its file stayed in .kundresa/uploads for good."""
    import threading

    c = make_client(demo_copy)
    before = c.get("/api/data").json()["summary"]["events"]
    release = threading.Event()
    busy = c.app.state.jobs.submit("upload", "busy.csv", lambda job: release.wait(30))
    try:
        r = c.post("/api/data/upload?wait=false", files={"file": ("q.csv", EVENTS, "text/csv")})
        job_id = r.json()["job"]["id"]
        assert r.json()["job"]["state"] == "queued"
        assert len(list((demo_copy / ".kundresa" / "uploads").iterdir())) == 1
        cancelled = c.post(f"/api/jobs/{job_id}/cancel").json()
        assert cancelled["state"] == "cancelled" and cancelled["error"] == "cancelled"
    finally:
        release.set()
    for _ in range(200):
        if busy.over:
            break
        time.sleep(0.05)
    assert not list((demo_copy / ".kundresa" / "uploads").iterdir())
    assert c.get("/api/data").json()["summary"]["events"] == before
