"""The web app in process: every endpoint, its page's numbers, bad input, access, escaping."""

from __future__ import annotations

import os
import re
import time
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from kundresa.analytics.stages import stage_funnel
from kundresa.report.tables import records
from kundresa.web.cli import serve

API = [
    "/api/map",
    "/api/map?persona=private&since=2025-03-01&until=2025-09-01",
    "/api/funnel",
    "/api/funnel?steps=page_view&steps=purchase&window=7d&order=strict&by=persona",
    "/api/funnel?steps=ad_click%0Apurchase&exclusions=support_contact:1:2&period=month",
    "/api/funnel/customers?step=2",
    "/api/funnel/customers?step=1&dropped=true&steps=ad_click&steps=purchase",
    "/api/paths",
    "/api/paths?level=stage&start=awareness&steps=3",
    "/api/paths?level=event&end=purchase&session_gap=30m",
    "/api/retention",
    "/api/retention?period=month&cohort=first_purchase&returning=purchase",
    "/api/bottlenecks",
    "/api/compare",
    "/api/compare?by=variant&target=checkout_start",
    "/api/attribution",
    "/api/attribution?level=touchpoint&lookback=7d",
    "/api/customer?id=c000001",
    "/api/editor",
    "/api/history",
    "/api/data",
    "/api/info",
]
PAGES = [
    "/",
    "/?view=circle&persona=business",
    "/funnel",
    "/paths",
    "/retention",
    "/bottlenecks",
    "/compare",
    "/attribution",
    "/customer",
    "/customer?id=c000001",
    "/editor",
    "/history",
    "/data",
]


class _Values(HTMLParser):
    """``data-value`` of every element with a given class inside a map stage cell."""

    def __init__(self) -> None:
        super().__init__()
        self.found: dict[tuple[str, str], str] = {}
        self.stage: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "td" and a.get("data-stage"):
            self.stage = a["data-stage"]
        if self.stage and "data-value" in a:
            for cls in (a.get("class") or "").split():
                self.found.setdefault((self.stage, cls), a["data-value"] or "")


def test_every_endpoint_answers_json(client: Any) -> None:
    for url in API:
        r = client.get(url)
        assert r.status_code == 200, (url, r.text[:500])
        assert isinstance(r.json(), dict), url


def test_every_page_renders(client: Any) -> None:
    for url in PAGES:
        r = client.get(url)
        assert r.status_code == 200, (url, r.text[:500])
        assert r.headers["content-type"].startswith("text/html")
        assert "/static/vendor/echarts.min.js" in r.text


def test_openapi_describes_every_endpoint(client: Any) -> None:
    spec = client.get("/openapi.json").json()
    paths = set(spec["paths"])
    for url in API:
        assert url.split("?")[0] in paths
    for extra in ("/api/journey", "/api/journey/validate", "/api/data/upload"):
        assert extra in paths
    params = {p["name"] for p in spec["paths"]["/api/funnel"]["get"]["parameters"]}
    assert {"steps", "window", "order", "exclusions", "by", "persona", "since"} <= params
    assert not any(p.startswith(("/funnel", "/editor")) for p in paths)  # pages stay out


def test_map_numbers_are_the_stage_funnel(client: Any) -> None:
    data = client.get("/api/map").json()
    # The app holds the warehouse; DuckDB lets a process open a file one way only.
    expected = records(stage_funnel(client.app.state.project.project))
    for row, want in zip(data["stages"], expected, strict=True):
        for key in ("stage", "reached", "entered", "conversion_from_previous", "dropped"):
            assert row[key] == want[key]
    lost = max((r for r in expected if r["dropped"] is not None), key=lambda r: r["dropped"])
    assert data["biggest_loss"] == lost["stage"]
    assert sum(s["biggest_loss"] for s in data["stages"]) == 1
    # KPIs carry actual, target and whether they are met.
    kpis = [k for s in data["stages"] for k in s["kpis"]]
    assert kpis and all({"actual", "target", "met"} <= set(k) for k in kpis)
    assert data["stages"][0]["touchpoints"][0]["customers"] > 0


def test_map_page_shows_the_api_numbers(client: Any) -> None:
    data = client.get("/api/map?persona=private").json()
    parser = _Values()
    parser.feed(client.get("/?persona=private").text)
    for s in data["stages"]:
        assert parser.found[(s["stage"], "reached")] == str(s["reached"])
        assert parser.found[(s["stage"], "entered")] == str(s["entered"])
        for tp in s["touchpoints"]:
            assert f'data-touchpoint="{tp["id"]}"' in client.get("/?persona=private").text
    page = client.get("/?persona=private").text
    assert page.count('class="loss-note"') == 1


def test_persona_and_period_change_the_numbers(client: Any) -> None:
    everyone = client.get("/api/map").json()["stages"][0]["reached"]
    private = client.get("/api/map?persona=private").json()["stages"][0]["reached"]
    spring = client.get("/api/map?since=2025-03-01&until=2025-06-01").json()
    assert 0 < private < everyone
    assert 0 < spring["stages"][0]["reached"] < everyone


def test_page_and_api_share_the_funnel(client: Any) -> None:
    api = client.get("/api/funnel?steps=page_view&steps=purchase").json()
    page = client.get("/funnel?steps=page_view%0Apurchase").text
    for row in api["funnel"]:
        assert f'data-value="{row["count"]}"' in page
    assert [r["step"] for r in api["funnel"]] == [1, 2]
    customers = client.get("/api/funnel/customers?step=2&steps=page_view&steps=purchase").json()
    assert customers["total"] == api["funnel"][1]["count"]


@pytest.mark.parametrize(
    ("url", "status", "words"),
    [
        ("/api/funnel?order=backwards", 422, "order"),
        ("/api/funnel?steps=purchase", 422, "steps"),
        ("/api/funnel?window=forever", 422, "window"),
        ("/api/funnel/customers?step=9", 422, "step"),
        ("/api/funnel/customers?step=0", 422, "step"),
        ("/api/map?persona=nobody", 422, "persona"),
        ("/api/map?since=yesterday-ish", 422, "since"),
        ("/api/map?lang=fi", 422, "lang"),
        ("/api/paths?level=planet", 422, "level"),
        ("/api/paths?steps=0", 422, "steps"),
        ("/api/retention?period=century", 422, "period"),
        ("/api/compare?by=persona&a=private&b=nobody", 422, "b"),
        ("/api/customer", 422, "id"),
        ("/api/map?since=2025-06-01&until=2025-03-01", 422, "since 2025-06-01 is not before"),
        ("/api/funnel?steps=stage:nowhere&steps=purchase", 422, "stages: awareness"),
        ("/api/funnel?steps=touchpoint:nowhere&steps=purchase", 422, "touchpoints:"),
        ("/api/retention?persona=nobody", 422, "personas: private"),
        ("/api/history?a=../../etc/passwd", 400, "version"),
        ("/api/history?a=20200101T000000Z", 404, "no version"),
    ],
)
def test_bad_parameters_get_a_clear_message(client: Any, url: str, status: int, words: str) -> None:
    r = client.get(url)
    assert r.status_code == status, r.text
    assert words in r.text.lower()


def test_bad_parameters_on_a_page_show_the_message(client: Any) -> None:
    r = client.get("/?persona=nobody")
    assert r.status_code == 422
    assert "no persona" in r.text and 'role="alert"' in r.text


def test_unknown_customer(client: Any) -> None:
    assert client.get("/api/customer?id=nobody").json()["found"] is False
    assert "No customer" in client.get("/customer?id=nobody").text


def test_customer_timeline(client: Any) -> None:
    data = client.get("/api/customer?id=c000001").json()
    assert data["found"] and data["events_total"] == len(data["events"])
    assert data["visits"] and data["visits"][0]["move"] == "start"
    stamps = [e["timestamp"] for e in data["events"]]
    assert stamps == sorted(stamps)


def test_customer_visits_are_the_stage_visits(client: Any) -> None:
    from kundresa.analytics.journeys import stage_visits
    from kundresa.model.events import CUSTOMER

    project = client.app.state.project.project
    mine = project.events.filter(project.events[CUSTOMER] == "c000001")
    want = records(stage_visits(mine, project.journey).to_pandas())
    got = client.get("/api/customer?id=c000001").json()["visits"]
    keys = ("visit", "cycle", "stage", "move", "loop", "entered_at", "left_at", "seconds", "events")
    assert [{k: v[k] for k in keys} for v in got] == [{k: w[k] for k in keys} for w in want]


def test_language_switch(client: Any) -> None:
    sv = client.get("/funnel?lang=sv")
    assert "Tratt" in sv.text and 'lang="sv"' in sv.text
    assert "Medvetenhet" in sv.text  # the journey's stage labels in Swedish
    assert client.cookies.get("kundresa_lang") == "sv"
    assert 'lang="sv"' in client.get("/paths").text  # remembered
    assert "Tragt" in client.get("/funnel?lang=da").text
    client.get("/?lang=en")


def test_token_is_required_when_set(make_client: Any, demo_dir: Path) -> None:
    c = make_client(demo_dir, token="s3cret")
    assert c.get("/api/map").status_code == 401
    assert c.get("/openapi.json").status_code == 401
    assert c.get("/api/map", headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert c.get("/api/map", headers={"Authorization": "Bearer s3cret"}).status_code == 200
    r = c.get("/funnel", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/login?next=/funnel")
    assert c.get("/static/app.css").status_code == 200  # assets need no token
    form = c.get("/login").text
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)  # type: ignore[union-attr]
    bad = c.post(
        "/login", data={"csrf_token": csrf, "token": "nope", "next": "/"}, follow_redirects=False
    )
    assert "failed=1" in bad.headers["location"]
    ok = c.post(
        "/login",
        data={"csrf_token": csrf, "token": "s3cret", "next": "/funnel"},
        follow_redirects=False,
    )
    assert ok.headers["location"] == "/funnel"
    cookie = ok.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie
    assert c.get("/funnel").status_code == 200  # the session cookie now signs in
    form = c.get("/login").text
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)  # type: ignore[union-attr]
    evil = c.post(
        "/login",
        data={"csrf_token": csrf, "token": "s3cret", "next": "//evil.example"},
        follow_redirects=False,
    )
    assert evil.headers["location"] == "/"


def test_serve_refuses_other_hosts_without_a_token(demo_dir: Path, monkeypatch: Any) -> None:
    monkeypatch.delenv("KUNDRESA_TOKEN", raising=False)
    result = CliRunner().invoke(serve, ["--project", str(demo_dir), "--host", "0.0.0.0"])
    assert result.exit_code == 2
    assert "access token" in result.output and "--token" in result.output
    missing = CliRunner().invoke(serve, ["--project", str(demo_dir / "nope")])
    assert missing.exit_code == 2 and "no such project folder" in missing.output


HOSTILE = '<script>alert("x")</script>'


def test_user_text_is_escaped(make_client: Any, demo_copy: Path) -> None:
    path = demo_copy / "journey.yaml"
    text = path.read_text(encoding="utf-8")
    text = text.replace("Searches for the problem, sees ads on social media", HOSTILE)
    text = re.sub(r"name: Sara, 31, private customer", f"name: '{HOSTILE}'", text)
    path.write_text(text, encoding="utf-8")
    c = make_client(demo_copy)
    for url in ("/", "/editor"):
        page = c.get(url).text
        assert HOSTILE not in page, url
        assert "&lt;script&gt;" in page or "\\u003cscript\\u003e" in page, url
    assert any(
        HOSTILE in line
        for s in c.get("/api/map").json()["stages"]
        for line in s["lanes"]["activities"]
    )
    # Event names and properties from the data are escaped too.
    csv = demo_copy / "evil.csv"
    field = '"' + HOSTILE.replace('"', '""') + '"'  # RFC 4180: quotes written twice
    csv.write_text(
        f"customer_id,timestamp,event,path\nzz,2025-05-01T10:00:00,{field},{field}\n",
        encoding="utf-8",
    )
    r = c.post("/api/data/upload", files={"file": ("evil.csv", csv.read_bytes(), "text/csv")})
    assert r.status_code == 200, r.text
    page = c.get("/customer?id=zz").text
    assert HOSTILE not in page and "&lt;script&gt;" in page


def test_editor_validates_saves_and_keeps_history(make_client: Any, demo_copy: Path) -> None:
    c = make_client(demo_copy)
    original = c.get("/api/editor").json()["text"]
    bad = original.replace("kundresa: 1", "kundresa: 1\nstages: 3", 1)
    check = c.post("/api/journey/validate", content=bad.encode()).json()
    yaml_type = {"Content-Type": "application/yaml"}
    assert c.post("/api/journey/validate", content=bad.encode(), headers=yaml_type).json() == check
    assert not check["valid"] and all(p["line"] for p in check["problems"])
    refused = c.put("/api/journey", content=bad.encode())
    assert refused.status_code == 422 and refused.json()["saved"] is False
    assert (demo_copy / "journey.yaml").read_text(encoding="utf-8") == original
    renamed = original.replace("name: Nordljus Hem", "name: Nordljus Hem 2")
    assert renamed != original
    saved = c.put("/api/journey", content=renamed.encode()).json()
    assert saved["saved"] and saved["previous"]
    assert c.get("/api/map").json()["journey"]["name"] == "Nordljus Hem 2"
    kept = demo_copy / ".kundresa" / "journeys" / f"{saved['previous']}.yaml"
    assert kept.read_text(encoding="utf-8") == original
    hist = c.get("/api/history").json()
    assert [v["version"] for v in hist["versions"]] == ["current", saved["previous"]]
    assert "-name: Nordljus Hem" in hist["diff"] and "+name: Nordljus Hem 2" in hist["diff"]
    assert "+name: Nordljus Hem 2" in c.get("/history").text
    # The page form: a problem is shown with its line, nothing is saved.
    page = c.post("/editor", data={"text": bad, "action": "save"})
    assert page.status_code == 422 and 'id="problems"' in page.text
    assert re.search(r"<code>\d+:\d+</code>", page.text)


def test_structured_editor(make_client: Any, demo_copy: Path) -> None:
    c = make_client(demo_copy)
    text = c.get("/api/editor").json()["text"]
    form = {
        "base": text,
        "stage.0.id": "awareness",
        "stage.0.label": "Seen us",
        "stage.0.funnel": "tofu",
        "stage.0.goal": "Be found",
        "stage.0.kpis": "reached >= 500",
        "persona.0.id": "private",
        "persona.0.name": "Sara",
        "persona.0.needs": "Light\nWarmth",
        "persona.0.match_property": "segment",
        "persona.0.match_equals": "private",
        "persona.1.id": "business",
        "persona.2.id": "student",
        "touchpoint.0.id": "pricing_page",
        "touchpoint.0.stage": "consideration",
        "touchpoint.0.channel": "web",
        "touchpoint.0.events": "page_view",
        "touchpoint.0.where": '{path: {regex: "^/pricing"}}',
        "touchpoint.0.nth": "",
        "lane.pain_points.awareness": "Nobody knows us",
        "action": "save",
    }
    for i, sid in enumerate(("consideration", "decision", "retention", "advocacy"), start=1):
        form[f"stage.{i}.id"] = sid
    r = c.post("/editor/structured", data=form)
    assert r.status_code == 200, r.text[:2000]
    data = c.get("/api/map").json()
    first = data["stages"][0]
    assert first["label"] == "Seen us" and first["goal"] == "Be found"
    assert first["lanes"]["pain_points"] == ["Nobody knows us"]
    assert [k["target"] for k in first["kpis"]] == [500]
    assert [p["id"] for p in data["personas"]] == ["private", "business", "student"]
    assert data["personas"][0]["needs"] == ["Light", "Warmth"]
    assert [t["id"] for s in data["stages"] for t in s["touchpoints"]] == ["pricing_page"]
    # A bad rule is reported, not saved.
    form["touchpoint.0.stage"] = "nowhere"
    bad = c.post("/editor/structured", data=form)
    assert bad.status_code == 422 and "nowhere" in bad.text


def test_upload_counts_and_quarantines(make_client: Any, demo_copy: Path) -> None:
    c = make_client(demo_copy, upload_limit=10_000)
    before = c.get("/api/data").json()["summary"]
    body = (
        "customer_id,timestamp,event\n"
        "new1,2025-06-01T10:00:00,page_view\n"
        "new1,2025-06-01T10:05:00,purchase\n"
        "new2,not a time,page_view\n"
    )
    r = c.post("/api/data/upload", files={"file": ("more.csv", body.encode(), "text/csv")})
    assert r.status_code == 200, r.text
    report = r.json()
    assert report["loaded"] == 2 and report["quarantined"] == 1
    after = c.get("/api/data").json()
    assert after["summary"]["events"] == before["events"] + 2
    assert after["summary"]["quarantined"] == before["quarantined"] + 1
    assert any(q["line"] == 4 and "timestamp" in q["reason"] for q in after["quarantine"])
    assert after["ingests"][-1]["loaded"] == 2
    assert c.get("/api/customer?id=new1").json()["events_total"] == 2  # caches see new data
    page = c.post("/data", files={"file": ("more2.csv", body.replace("new", "n").encode())})
    for _ in range(100):  # the page shows the job until the ingest is over
        if 'id="upload-job"' not in page.text:
            break
        time.sleep(0.1)
        page = c.get(page.url)
    assert page.status_code == 200 and 'id="upload-report"' in page.text
    wrong = c.post("/api/data/upload", files={"file": ("x.exe", b"MZ", "application/x")})
    assert wrong.status_code == 400 and "expected .csv" in wrong.json()["detail"]
    big = c.post("/api/data/upload", files={"file": ("big.csv", b"a" * 20_000, "text/csv")})
    assert big.status_code == 413 and "limit of 10,000 bytes" in big.json()["detail"]
    headless = c.post("/api/data/upload", files={"file": ("h.csv", b"foo,bar\n1,2\n")})
    assert headless.status_code == 400 and "h.csv" in headless.json()["detail"]
    assert c.get("/api/data").json()["summary"]["events"] == after["summary"]["events"] + 2
    kept = sorted(p.name.split("-", 1)[1] for p in (demo_copy / ".kundresa/uploads").iterdir())
    assert kept == ["more.csv", "more2.csv"]  # loaded uploads stay; refused ones do not


def test_pages_load_nothing_from_the_network(client: Any) -> None:
    for url in PAGES:
        page = client.get(url).text
        assert not re.search(r"""(src|href)=["']?(https?:)?//""", page), url
    assert client.get("/docs").status_code == 404  # FastAPI's docs page would use a CDN
    assert client.get("/static/vendor/echarts.min.js").status_code == 200


def test_sign_in_page_shows_nothing_of_the_project(make_client: Any, demo_dir: Path) -> None:
    c = make_client(demo_dir, token="s3cret")
    page = c.get("/login").text
    assert "Nordljus" not in page and 'name="token"' in page


def test_public_names() -> None:
    import kundresa.web

    assert kundresa.web.__all__ == sorted(kundresa.web.__all__)
    assert callable(kundresa.web.run_server) and callable(kundresa.web.create_app)


def test_journey_changed_on_disk(make_client: Any, demo_copy: Path) -> None:
    c = make_client(demo_copy)
    assert c.get("/api/map").json()["journey"]["name"] == "Nordljus Hem"
    path = demo_copy / "journey.yaml"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("name: Nordljus Hem", "name: Outside edit", 1), "utf-8")
    os.utime(path, ns=(time.time_ns(), time.time_ns() + 10**9))
    assert c.get("/api/map").json()["journey"]["name"] == "Outside edit"
    # A broken file on disk: the error is reported and the app keeps its journey.
    path.write_text("kundresa: 1\nname: x\nstages: 3\n", "utf-8")
    os.utime(path, ns=(time.time_ns(), time.time_ns() + 2 * 10**9))
    broken = c.get("/api/map")
    assert broken.status_code == 409 and "stages" in broken.json()["detail"]
    assert c.get("/api/map").status_code == 409  # until it is fixed
    assert c.get("/editor").status_code == 200  # the editor still opens to fix it


def test_a_page_first_after_an_outside_edit(make_client: Any, demo_copy: Path) -> None:
    """The first request after the journey file changed on disk may be a page that asks
    whether there are events before anything else re-reads the journey (the editor): it
    counts them in the project it re-opened, not in the one it closed."""
    c = make_client(demo_copy)
    assert c.get("/api/map").status_code == 200
    path = demo_copy / "journey.yaml"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("name: Nordljus Hem", "name: Outside edit", 1), "utf-8")
    os.utime(path, ns=(time.time_ns(), time.time_ns() + 10**9))
    page = c.get("/editor")
    assert page.status_code == 200 and "Outside edit" in page.text


def test_bottlenecks_say_which_periods_they_compare(client: Any) -> None:
    from kundresa.analytics.bottlenecks import bottlenecks
    from kundresa.report.units import format_date

    data = client.get("/api/bottlenecks").json()
    ranked = bottlenecks(client.app.state.project.project)
    start, end = ranked.attrs["period"]
    assert data["period"] == [f"{start:%Y-%m-%d}", f"{end:%Y-%m-%d}"]
    assert (end - start).days == 30  # no dates: the last 30 days of data
    assert data["previous_period"][1] == data["period"][0]
    assert data["kpi_period"] == [None, None]
    page = client.get("/bottlenecks").text
    # The page writes the dates as the tables do, in its language (Babel's medium format).
    assert f"{format_date(start, 'en')} – {format_date(end, 'en')}" in page
    assert "the last 30 days of data" in page
    chosen = client.get("/api/bottlenecks?since=2025-03-01&until=2025-06-01").json()
    assert chosen["period"] == ["2025-03-01", "2025-06-01"]
    assert chosen["kpi_period"] == ["2025-03-01", "2025-06-01"]
    assert "the last 30 days" not in client.get("/bottlenecks?since=2025-03-01").text


def test_kpi_values_formatted_by_metric(client: Any) -> None:
    page = client.get("/bottlenecks").text
    table = page[page.index('id="kpis"') :]
    for k in client.get("/api/bottlenecks").json()["kpis"]:
        if k["metric"].startswith("conversion"):
            assert f"{k['target']:.1%}" in table  # a rate as a percentage
        if k["metric"] == "reached":
            assert f'data-value="{k["target"]}"' in table
            assert f"{k['target']:.2f}" not in table  # a count without decimals


def test_upload_while_another_process_reads_the_warehouse(
    make_client: Any, demo_copy: Path
) -> None:
    """The server reads the warehouse without the write lock, so `kundresa` commands work
    beside it; an upload needs the lock for a moment, and says so when a reader has it."""
    import subprocess
    import sys

    c = make_client(demo_copy)
    before = c.get("/api/data").json()["summary"]["events"]
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import duckdb, sys, time; c = duckdb.connect(sys.argv[1], read_only=True);"
            " print('reading', flush=True); time.sleep(120)",
            str(demo_copy / ".kundresa" / "warehouse.duckdb"),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    body = b"customer_id,timestamp,event\nz1,2025-06-01T10:00:00,page_view\n"
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "reading"
        busy = c.post("/api/data/upload", files={"file": ("z.csv", body, "text/csv")})
        assert busy.status_code == 409
        assert f"another process (PID {holder.pid}) has it open" in busy.json()["detail"]
        assert c.get("/api/data").json()["summary"]["events"] == before  # still serving
    finally:
        holder.kill()
        holder.wait()
        holder.stdout.close()  # type: ignore[union-attr]
    done = c.post("/api/data/upload", files={"file": ("z.csv", body, "text/csv")})
    assert done.status_code == 200, done.text
    assert c.get("/api/data").json()["summary"]["events"] == before + 1


def test_editor_refuses_an_alias_bomb_and_deep_nesting(make_client: Any, demo_copy: Path) -> None:
    bomb = "kundresa: 1\na: &a [x,x,x,x,x,x,x,x,x]\n" + "".join(
        f"{b}: &{b} [{','.join([f'*{a}'] * 9)}]\n"
        for a, b in zip("abcdefgh", "bcdefghi", strict=True)
    )
    deep = "kundresa: 1\nname: " + "[" * 900 + "\n"
    c = make_client(demo_copy)
    for text in (bomb, deep):
        check = c.post("/api/journey/validate", content=text.encode()).json()
        assert not check["valid"] and len(check["problems"]) == 1
        assert check["problems"][0]["line"] >= 2
        page = c.post("/editor", data={"text": text, "action": "validate"})
        assert page.status_code == 200 and 'id="problems"' in page.text


def test_the_map_computes_the_stage_funnel_once(
    make_client: Any, demo_dir: Path, monkeypatch: Any
) -> None:
    import kundresa.analytics.bottlenecks as bn
    import kundresa.analytics.stages as st

    calls: list[object] = []
    real = st.stage_funnel

    def counted(*args: Any, **kwargs: Any) -> Any:
        calls.append(kwargs.get("since"))
        return real(*args, **kwargs)

    monkeypatch.setattr(st, "stage_funnel", counted)
    monkeypatch.setattr(bn, "stage_funnel", counted)
    c = make_client(demo_dir)
    data = c.get("/api/map?since=2025-03-01").json()
    assert len(calls) == 1
    assert all(
        k["actual"] is not None
        for s in data["stages"]
        for k in s["kpis"]
        if k["metric"] == "reached"
    )
    c.get("/funnel?since=2025-03-01")  # the funnel page's stage table is the same result
    assert len(calls) == 1


def test_web_messages_name_query_parameters(client: Any) -> None:
    r = client.get("/api/map?since=2025-06-01&until=2025-03-01")
    assert r.status_code == 422 and "--" not in r.json()["detail"]


def test_names_never_seen_are_warnings(client: Any) -> None:
    r = client.get("/api/funnel?steps=nosuch&steps=purchase")
    assert r.status_code == 200
    data = r.json()
    assert any("'nosuch' never occurs" in w for w in data["warnings"])
    assert data["funnel"][0]["count"] == 0
    page = client.get("/funnel?steps=nosuch%0Apurchase").text
    assert 'class="warning"' in page and "nosuch" in page
    assert client.get("/api/funnel?steps=page_view&steps=purchase").json()["warnings"] == []
    by = client.get("/api/funnel?steps=page_view&steps=purchase&by=nosuchprop").json()
    assert any("property 'nosuchprop'" in w for w in by["warnings"])


def test_bare_ids_are_read_with_a_note(client: Any) -> None:
    data = client.get("/api/paths?level=stage&start=awareness&steps=3").json()
    assert "step 'awareness' read as stage:awareness" in data["notes"]
    assert data["paths"]


def test_openapi_parameters_come_from_the_registry(client: Any) -> None:
    from kundresa.analyses import get

    spec = client.get("/openapi.json").json()
    params = {p["name"]: p for p in spec["paths"]["/api/funnel"]["get"]["parameters"]}
    order = params["order"]["schema"]
    choices = order.get("enum") or [e for c in order.get("anyOf", []) for e in c.get("enum", [])]
    assert set(get("funnel").param("order").choices or ()) <= set(choices)
    assert order.get("default") == "ordered"
    assert params["window"]["schema"].get("default") == "30d"
    assert params["steps"].get("description")
    paths = {p["name"]: p for p in spec["paths"]["/api/paths"]["get"]["parameters"]}
    assert paths["steps"]["schema"].get("maximum") == 20


def test_numbers_in_the_page_language(client: Any) -> None:
    from kundresa.report.units import format_rate

    api = client.get("/api/funnel?steps=page_view&steps=purchase").json()
    rate = api["funnel"][1]["conversion_from_start"]
    sv = client.get("/funnel?steps=page_view%0Apurchase&lang=sv").text
    assert format_rate(rate, "sv") in sv  # 56,8 % in Swedish
    en = client.get("/funnel?steps=page_view%0Apurchase&lang=en").text
    assert format_rate(rate, "en") in en  # 56.8% in English
    attribution = client.get("/attribution?lang=en").text
    effect = client.get("/api/attribution").json()["stages"][0]["removal_effect"]
    assert format_rate(effect, "en") in attribution  # a rate, as the CLI prints it


def test_upload_names_its_source_and_asks_for_columns(make_client: Any, demo_copy: Path) -> None:
    c = make_client(demo_copy)
    page = c.get("/data").text
    assert 'name="source"' in page and ">events<" in page and ">auto<" in page
    body = b"who,when,what\nm1,2025-06-01T10:00:00,page_view\n"
    r = c.post("/api/data/upload", files={"file": ("odd.csv", body, "text/csv")})
    assert r.status_code == 400 and r.json()["columns"] == ["who", "when", "what"]
    assert "--" not in r.json()["detail"]  # no command-line options in web messages
    ok = c.post(
        "/api/data/upload?customer_col=who&time_col=when&event_col=what",
        files={"file": ("odd.csv", body, "text/csv")},
    )
    assert ok.status_code == 200 and ok.json()["loaded"] == 1
    assert list(ok.json()["recognised"].values()) == ["events"]
    # The page keeps the file and asks for the columns, with the file's header to choose.
    posted = c.post("/data", files={"file": ("odd2.csv", body.replace(b"m1", b"m2"))})
    deadline = time.monotonic() + 120  # the job's end, however busy the machine
    while 'id="upload-job"' in posted.text and time.monotonic() < deadline:
        time.sleep(0.1)
        posted = c.get(posted.url)
    assert 'id="column-form"' in posted.text and "<option>when</option>" in posted.text
    job = re.search(r'name="job" value="([^"]+)"', posted.text).group(1)  # type: ignore[union-attr]
    form = {"job": job, "source": "events", "customer_col": "who", "time_col": "when"}
    done = c.post("/data/columns", data={**form, "event_col": "what"})
    deadline = time.monotonic() + 120  # the job's end, however busy the machine
    while 'id="upload-job"' in done.text and time.monotonic() < deadline:
        time.sleep(0.1)
        done = c.get(done.url)
    assert 'id="upload-report"' in done.text and 'id="recognised"' in done.text
    assert c.get("/api/customer?id=m2").json()["events_total"] == 1


def test_openapi_lists_the_collector_with_a_write_key(demo_copy: Path, make_client: Any) -> None:
    """With a write key every /v1 endpoint is described (and the guard's 4xx with it)."""
    from kundresa.live.collector import KINDS

    spec = make_client(demo_copy, write_key="k").get("/openapi.json").json()
    for path in [*(f"/v1/{k}" for k in KINDS), "/v1/batch"]:
        codes = set(spec["paths"][path]["post"]["responses"])
        assert {"200", "400", "401", "413"} <= codes, path


def test_attribution_page_models_are_the_analysis_columns(client: Any, demo_dir: Path) -> None:
    """The page asks for its seven models only (no exact Shapley it would not show): the
    same credits as every model side by side."""
    from kundresa.project import Project
    from kundresa.web.views import PAGE_MODELS

    rows = client.get("/api/attribution").json()["models"]
    keys = {f"{m}_{k}" for m in PAGE_MODELS for k in ("conversions", "value", "share")}
    assert rows and all(set(r) == {"channel", "channel_label", *keys} for r in rows)
    with Project.open(demo_dir, read_only=True) as project:
        every = project.run("attribution_models").frame.set_index("channel")
    assert "shapley_share" in every.columns
    for r in rows:
        for key in keys:
            assert r[key] == pytest.approx(every.loc[r["channel"], key])
