"""Web and product-analytics exports (GA4, Segment, Snowplow, Mixpanel, Amplitude): hand-written
fixtures from each documented schema, read with ``--source NAME`` and ``auto`` through the CLI
and the Python API, with hand-checked events, customers, values and channels."""

from __future__ import annotations

import gzip
import json
import os
import zipfile
from datetime import datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner, Result

from kundresa.cli import main
from kundresa.ingest.readers import RawBatch, iter_raw_batches
from kundresa.ingest.sources import detect_source, get_source, read_sample
from kundresa.project import Project
from kundresa.store.warehouse import IngestError, Warehouse

FIXTURES = Path(__file__).parent.parent / "fixtures" / "sources"


def run(*args: str, cwd: Path) -> Result:
    old = Path.cwd()
    os.chdir(cwd)
    try:
        return CliRunner().invoke(main, list(args), catch_exceptions=False)
    finally:
        os.chdir(old)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    r = run("init", str(tmp_path / "p"), cwd=tmp_path)
    assert r.exit_code == 0, r.output
    return tmp_path / "p"


def stored(project: Path) -> dict[str, dict[str, Any]]:
    """The project's events by event id."""
    wh = Warehouse(project / ".kundresa" / "warehouse.duckdb", read_only=True)
    try:
        rows = wh.con.sql(
            'SELECT event_id, customer_id, "timestamp", event, channel, value, session_id, '
            "properties FROM events"
        ).fetchall()
    finally:
        wh.close()
    return {
        r[0]: dict(
            customer=r[1],
            ts=r[2],
            event=r[3],
            channel=r[4],
            value=r[5],
            session=r[6],
            props=dict(r[7]),
        )
        for r in rows
    }


def quarantine(project: Path) -> dict[tuple[str, int], str]:
    wh = Warehouse(project / ".kundresa" / "warehouse.duckdb", read_only=True)
    try:
        return {(Path(q["source"]).name, q["line"]): q["reason"] for q in wh.quarantined()}
    finally:
        wh.close()


def transformed(name: str, path: Path) -> list[dict[str, Any]]:
    """Canonical rows a source makes of a file (ids and identify rows, before the warehouse)."""
    src = get_source(name)
    rows: list[dict[str, Any]] = []
    for batch in iter_raw_batches(path):
        out: RawBatch = src.transform(batch)
        rows.extend(out.table().to_pylist())
    return rows


# -- GA4 ------------------------------------------------------------------------------------

GA4_EXPECTED = {
    # event id → (customer, event, channel, value)
    "ga4:1001.1740823100:11:1740823200000000:page_view": (
        "1001.1740823100",
        "page_view",
        "paid_search",
        None,
    ),
    "ga4:1001.1740823100:12:1740823500000000:add_to_cart": (
        "1001.1740823100",
        "add_to_cart",
        "paid_search",
        25.0,
    ),
    "ga4:1001.1740823100:13:1740823800000000:purchase": (
        "cust-42",
        "purchase",
        "paid_search",
        49.9,
    ),
    "ga4:2002.1740902300:3:1740902400000000:page_view": (
        "2002.1740902300",
        "page_view",
        "email",
        None,
    ),
    "ga4:2002.1740902300:4:1740902460000000:page_view": (
        "2002.1740902300",
        "page_view",
        "organic_social",
        None,
    ),
}


def check_ga4(events: dict[str, dict[str, Any]]) -> None:
    assert {
        k: (e["customer"], e["event"], e["channel"], e["value"]) for k, e in events.items()
    } == (GA4_EXPECTED)
    first = events["ga4:1001.1740823100:11:1740823200000000:page_view"]
    assert first["ts"] == datetime(2025, 3, 1, 10, 0)
    assert first["session"] == "1001.1740823100:1740823200"
    assert first["props"]["source"] == "google"
    assert first["props"]["medium"] == "cpc"
    assert first["props"]["campaign"] == "spring_sale"
    assert first["props"]["gclid"] == "Cj0K"
    assert first["props"]["device.category"] == "mobile"
    assert first["props"]["geo.country"] == "Sweden"
    assert first["props"]["engagement_time_msec"] == "120"
    assert first["props"]["page_referrer"] == "https://www.google.com/"
    purchase = events["ga4:1001.1740823100:13:1740823800000000:purchase"]
    assert purchase["props"]["currency"] == "SEK"
    assert purchase["props"]["transaction_id"] == "T-1001"


@pytest.mark.parametrize("source", ["ga4", "auto"])
def test_ga4_jsonl_through_the_cli(project: Path, source: str) -> None:
    f = FIXTURES / "ga4_events.jsonl"
    r = run("ingest", str(f), "--source", source, cwd=project)
    assert r.exit_code == 0, r.output
    assert f"{f}: read as ga4" in r.output
    assert "loaded 5" in r.output and "quarantined 2" in r.output
    check_ga4(stored(project))
    assert quarantine(project) == {
        ("ga4_events.jsonl", 6): "'event_params' is not a JSON array",
        ("ga4_events.jsonl", 7): "missing event_timestamp",
    }


def test_ga4_parquet_through_the_python_api(tmp_path: Path) -> None:
    # BigQuery's Parquet export: the same records with nested lists and structs as types.
    records = [
        json.loads(line) for line in (FIXTURES / "ga4_events.jsonl").read_text().splitlines()
    ]
    records = records[:5]  # the well-formed ones: Parquet columns have one type
    for rec in records:
        rec["event_timestamp"] = int(rec["event_timestamp"])
        for p in rec["event_params"]:
            if "int_value" in p["value"]:
                p["value"]["int_value"] = int(p["value"]["int_value"])
    f = tmp_path / "events_20250301.parquet"
    pq.write_table(pa.Table.from_pylist(records), f)
    (tmp_path / "proj").mkdir()
    with Project.open(tmp_path / "proj") as proj:
        report = proj.ingest([f], source="ga4")
        assert report.recognised == {str(f): "ga4"}
        assert (report.loaded, report.quarantined) == (5, 0)
    check_ga4(stored(tmp_path / "proj"))
    # auto-detected when read as a file without a project
    events = Project.from_events(f).events.to_pandas()
    assert sorted(events.event_id) == sorted(GA4_EXPECTED)


def test_ga4_transform_gives_both_ids_on_a_signed_in_event() -> None:
    rows = transformed("ga4", FIXTURES / "ga4_events.jsonl")
    purchase = next(r for r in rows if r["event"] == "purchase")
    assert (purchase["customer_id"], purchase["anonymous_id"]) == ("cust-42", "1001.1740823100")
    assert purchase["value"] == "49.9"
    view = rows[0]
    assert (view["customer_id"], view["anonymous_id"]) == (None, "1001.1740823100")
    assert all(r["_kind"] is None for r in rows)


# -- Segment / RudderStack ----------------------------------------------------------------------

SEGMENT_FILES = ("segment_raw.jsonl", "segment_tracks.csv", "segment_pages.csv")


@pytest.mark.parametrize("source", ["segment", "auto"])
def test_segment_raw_and_warehouse_tables_through_the_cli(project: Path, source: str) -> None:
    files = [str(FIXTURES / f) for f in SEGMENT_FILES]
    r = run("ingest", *files, "--source", source, cwd=project)
    assert r.exit_code == 0, r.output
    for f in files:
        assert f"{f}: read as segment" in r.output
    events = stored(project)
    got = {k: (e["customer"], e["event"], e["channel"], e["value"]) for k, e in events.items()}
    assert got == {
        "m-1": ("anon-1", "page_view", "paid_search", None),
        "m-3": ("user-7", "Order Completed", None, 120.5),  # revenue wins over total
        "m-4": ("user-9", "screen_view", None, None),
        "m-6": ("user-9", "Subscription Started", "email", 19.0),  # properties.value
        "m-9": ("anon-3", "Product Viewed", "organic_social", None),  # from a batch envelope
        "m-10": ("anon-3", "page_view", None, None),  # internal referrer: no channel
        "t-1": ("anon-5", "Product Viewed", "organic_search", None),
        "t-2": ("user-5", "Order Completed", "paid_social", 75.25),
        "p-1": ("anon-6", "page_view", "organic_search", None),
        "p-2": ("anon-6", "page_view", "affiliates", None),
    }
    home = events["m-1"]
    assert home["ts"] == datetime(2025, 4, 1, 9, 0)
    assert home["props"]["name"] == "Home"
    assert home["props"]["url"].startswith("https://shop.example/?utm_source=google")
    assert home["props"]["referrer"] == "https://www.google.com/"
    assert home["props"]["campaign"] == "brand"
    assert events["m-3"]["ts"] == datetime(2025, 4, 1, 9, 5)  # originalTimestamp
    assert events["m-3"]["props"]["currency"] == "SEK"
    assert json.loads(events["m-3"]["props"]["products"]) == [{"sku": "A", "price": 120.5}]
    assert events["m-4"]["props"]["name"] == "Settings"
    assert events["m-4"]["props"]["app.name"] == "ShopApp"
    assert events["t-2"]["ts"] == datetime(2025, 5, 1, 10, 10)
    assert events["p-1"]["props"]["name"] == "Pricing"
    q = quarantine(project)
    assert q[("segment_raw.jsonl", 7)] == "missing event (a track call)"
    assert q[("segment_raw.jsonl", 8)] == (
        "missing timestamp (and originalTimestamp, sentAt, receivedAt)"
    )
    assert q[("segment_tracks.csv", 4)] == "missing user_id and anonymous_id"


def test_segment_identify_and_alias_become_identity_rows() -> None:
    rows = transformed("segment", FIXTURES / "segment_raw.jsonl")
    identify = next(r for r in rows if r["event_id"] == "m-2")
    assert identify["_kind"] == "identify"
    assert (identify["customer_id"], identify["anonymous_id"]) == ("user-7", "anon-1")
    assert identify["event"] is None
    assert (identify["email"], identify["plan"], identify["address.city"]) == (
        "ada@example.com",
        "pro",
        "Lund",
    )
    alias = next(r for r in rows if r["event_id"] == "m-5")
    assert (alias["_kind"], alias["customer_id"], alias["anonymous_id"]) == (
        "identify",
        "user-9",
        "anon-2",
    )
    # A track call with both ids links them too.
    order = next(r for r in rows if r["event_id"] == "m-3")
    assert (order["customer_id"], order["anonymous_id"], order["_kind"]) == (
        "user-7",
        "anon-1",
        None,
    )
    table = transformed("segment", FIXTURES / "segment_identifies.csv")
    assert [(r["_kind"], r["customer_id"], r["anonymous_id"], r["email"]) for r in table] == [
        ("identify", "user-6", "anon-6", "bo@example.com")
    ]


def test_rudderstack_is_the_segment_mapping(project: Path, tmp_path: Path) -> None:
    f = tmp_path / "rudder.jsonl"
    f.write_text(
        json.dumps(
            {
                "type": "track",
                "event": "Order Completed",
                "userId": "r-1",
                "anonymousId": "a-1",
                "rudderId": "x",
                "messageId": "rm-1",
                "timestamp": "2025-04-05T10:00:00Z",
                "properties": {"revenue": 12, "currency": "EUR"},
                "channel": "web",
            }
        )
        + "\n"
    )
    r = run("ingest", str(f), cwd=project)
    assert r.exit_code == 0, r.output
    assert f"{f}: read as rudderstack" in r.output
    e = stored(project)["rm-1"]
    assert (e["customer"], e["event"], e["value"], e["channel"]) == (
        "r-1",
        "Order Completed",
        12.0,
        None,
    )
    assert e["props"]["segment_channel"] == "web"


# -- Snowplow -----------------------------------------------------------------------------------


@pytest.mark.parametrize("source", ["snowplow", "auto"])
def test_snowplow_atomic_events_through_the_cli(project: Path, source: str) -> None:
    f = FIXTURES / "snowplow_events.tsv"
    r = run("ingest", str(f), "--source", source, cwd=project)
    assert r.exit_code == 0, r.output
    assert f"{f}: read as snowplow" in r.output
    events = {k[-1]: e for k, e in stored(project).items()}
    got = {k: (e["customer"], e["event"], e["channel"], e["value"]) for k, e in events.items()}
    assert got == {
        "1": ("dom-1", "page_view", "paid_search", None),
        "2": ("dom-1", "add_to_cart", None, None),  # struct: se_action
        "3": ("dom-1", "link_click", None, None),  # unstruct: the schema's name
        "4": ("member-3", "transaction", None, 99.0),  # tr_total
        "5": ("dom-2", "page_view", "organic_social", None),  # refr_medium social
        "6": ("dom-2", "page_view", "paid_search", None),  # mkt_clickid from Google
    }
    assert events["1"]["ts"] == datetime(2025, 6, 1, 10, 0)  # derived_tstamp
    assert events["6"]["ts"] == datetime(2025, 6, 2, 7, 1, 1)  # collector_tstamp
    assert events["1"]["session"] == "s-1"
    assert events["2"]["props"]["se_category"] == "cart"
    assert events["3"]["props"]["targetUrl"] == "https://help.example/faq"
    assert quarantine(project) == {
        ("snowplow_events.tsv", 8): "missing derived_tstamp and collector_tstamp",
        ("snowplow_events.tsv", 9): "missing se_action (a struct event)",
    }


def test_snowplow_times_are_utc_whatever_tz_says(project: Path) -> None:
    f = FIXTURES / "snowplow_events.tsv"
    r = run("ingest", str(f), "--tz", "Europe/Stockholm", cwd=project)
    assert r.exit_code == 0, r.output
    first = next(e for k, e in stored(project).items() if k.endswith("1"))
    assert first["ts"] == datetime(2025, 6, 1, 10, 0)


# -- Mixpanel -----------------------------------------------------------------------------------


@pytest.mark.parametrize("source", ["mixpanel", "auto"])
def test_mixpanel_raw_export_through_the_cli(project: Path, source: str) -> None:
    f = FIXTURES / "mixpanel_export.jsonl"
    r = run("ingest", str(f), "--source", source, cwd=project)
    assert r.exit_code == 0, r.output
    assert f"{f}: read as mixpanel" in r.output
    events = stored(project)
    got = {k: (e["customer"], e["event"], e["channel"], e["value"]) for k, e in events.items()}
    assert got == {
        "ins-1": ("d-100", "Viewed Page", "paid_search", None),
        "ins-2": ("member-100", "Signed Up", None, None),
        "ins-3": ("member-100", "Purchase", "email", 49.5),
        "ins-4": ("legacy-anon-5", "Viewed Page", None, None),
    }
    assert events["ins-1"]["ts"] == datetime(2025, 6, 1, 0, 0)  # epoch seconds
    assert events["ins-2"]["ts"] == datetime(2025, 6, 1, 0, 5)  # epoch milliseconds
    assert events["ins-1"]["props"]["$browser"] == "Firefox"
    assert events["ins-3"]["props"]["currency"] == "NOK"
    assert quarantine(project) == {
        ("mixpanel_export.jsonl", 5): "missing properties.time",
        ("mixpanel_export.jsonl", 6): "'properties' is not a JSON object",
    }


def test_mixpanel_device_ids_are_anonymous() -> None:
    rows = {r["event_id"]: r for r in transformed("mixpanel", FIXTURES / "mixpanel_export.jsonl")}
    assert (rows["ins-1"]["customer_id"], rows["ins-1"]["anonymous_id"]) == (None, "d-100")
    assert (rows["ins-2"]["customer_id"], rows["ins-2"]["anonymous_id"]) == ("member-100", "d-100")
    assert (rows["ins-3"]["customer_id"], rows["ins-3"]["anonymous_id"]) == ("member-100", None)
    assert (rows["ins-4"]["customer_id"], rows["ins-4"]["anonymous_id"]) == (None, "legacy-anon-5")


# -- Amplitude (zip of json.gz) -----------------------------------------------------------------


def amplitude_zip(tmp_path: Path) -> Path:
    f = tmp_path / "amplitude-export.zip"
    with zipfile.ZipFile(f, "w") as z:
        z.writestr("123456/", "")
        z.writestr("123456/123456_2025-05-30_23#0.json.gz", gzip.compress(b""))  # a quiet hour
        for i in (1, 2):
            data = (FIXTURES / f"amplitude_part{i}.jsonl").read_bytes()
            z.writestr(f"123456/123456_2025-05-31_{i}#0.json.gz", gzip.compress(data))
        z.writestr("__MACOSX/123456/._123456_2025-05-31_1#0.json.gz", b"\x00\x05")
        z.writestr("123456/notes.md", "not data")
    return f


@pytest.mark.parametrize("source", ["amplitude", "auto"])
def test_amplitude_zip_through_the_cli(project: Path, tmp_path: Path, source: str) -> None:
    f = amplitude_zip(tmp_path)
    r = run("ingest", str(f), "--source", source, cwd=project)
    assert r.exit_code == 0, r.output
    assert f"{f}: read as amplitude" in r.output
    events = stored(project)
    got = {k: (e["customer"], e["event"], e["channel"], e["value"]) for k, e in events.items()}
    assert got == {
        "amp-1": ("dev-A", "session_start", "organic_search", None),
        "amp-2": ("dev-A", "Add To Cart", None, 25.0),  # price × quantity
        "amp-3": ("kund-1", "Order Placed", None, 80.0),
        "amp-4": ("kund-2", "app_open", None, None),  # insert_id without $
    }
    assert events["amp-1"]["ts"] == datetime(2025, 5, 31, 0, 37, 0, 123000)
    assert events["amp-1"]["session"] == "dev-A:1748651820000"
    assert events["amp-4"]["session"] is None  # session_id -1
    assert events["amp-2"]["props"]["sku"] == "K-1"
    assert events["amp-2"]["props"]["cart.items"] == "2"
    assert events["amp-3"]["props"]["user.plan"] == "gold"
    assert events["amp-1"]["props"]["amplitude_event_id"] == "1"
    # Quarantine names the member and its line.
    wh = Warehouse(project / ".kundresa" / "warehouse.duckdb", read_only=True)
    try:
        q = [(x["source"], x["line"], x["reason"]) for x in wh.quarantined()]
    finally:
        wh.close()
    assert q == [(f"{f}:123456/123456_2025-05-31_2#0.json.gz", 2, "missing user_id and device_id")]


def test_amplitude_zip_through_the_python_api(tmp_path: Path) -> None:
    f = amplitude_zip(tmp_path)
    wh = Warehouse(None)
    report = wh.ingest([f])
    assert report.sources == [str(f)]  # the ingest log names the archive, not its members
    assert wh.ingest_log()[0]["sources"] == [str(f)]
    events = Project.from_events(f).events.to_pandas()
    assert sorted(events.event_id) == ["amp-1", "amp-2", "amp-3", "amp-4"]
    # dev-A's events before sign-in join kund-1 (identity stitching: amp-3 links them).
    assert sorted(events.customer_id.unique()) == ["kund-1", "kund-2"]
    assert sorted(events[events.customer_id == "kund-1"].event_id) == ["amp-1", "amp-2", "amp-3"]


def test_amplitude_rows_keep_the_device_and_the_user() -> None:
    rows = []
    for i in (1, 2):
        rows += transformed("amplitude", FIXTURES / f"amplitude_part{i}.jsonl")
    ids = {r["event_id"]: (r["customer_id"], r["anonymous_id"]) for r in rows}
    assert ids == {
        "amp-1": (None, "dev-A"),
        "amp-2": (None, "dev-A"),
        "amp-3": ("kund-1", "dev-A"),
        "amp-4": ("kund-2", "dev-B"),
    }


def test_a_zip_of_plain_event_files_and_one_with_nothing_readable(
    project: Path, tmp_path: Path
) -> None:
    f = tmp_path / "events.zip"
    with zipfile.ZipFile(f, "w") as z:
        z.writestr("a.csv", "user_id,ts,event\nu1,2025-01-01,signup\nu2,2025-01-02\n")
        z.writestr("sub/b.csv.gz", gzip.compress(b"user_id,ts,event\nu3,2025-01-03,signup\n"))
        z.writestr("sub/empty.csv", "")
        buf = pa.BufferOutputStream()
        pq.write_table(
            pa.table({"user_id": ["u4"], "ts": ["2025-01-04"], "event": ["signup"]}), buf
        )
        z.writestr("c.parquet", buf.getvalue().to_pybytes())
    r = run("ingest", str(f), cwd=project)
    assert r.exit_code == 0, r.output
    assert "loaded 3" in r.output
    assert quarantine(project) == {("events.zip:a.csv", 3): "expected 3 fields, found 2"}
    empty = tmp_path / "empty.zip"
    with zipfile.ZipFile(empty, "w") as z:
        z.writestr("readme.txt.md", "nothing")
        z.writestr("__MACOSX/._a.csv", "junk")
    r = run("ingest", str(empty), cwd=project)
    assert r.exit_code != 0
    message = r.output.strip()
    assert "\n" not in message and str(empty) in message and "no .csv" in message
    broken = tmp_path / "broken.zip"
    broken.write_bytes(b"PK\x03\x04 not really a zip")
    r = run("ingest", str(broken), cwd=project)
    assert r.exit_code != 0 and str(broken) in r.output and "Traceback" not in r.output


# -- detection and bad input -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("file", "name"),
    [
        ("ga4_events.jsonl", "ga4"),
        ("segment_raw.jsonl", "segment"),
        ("segment_tracks.csv", "segment"),
        ("segment_pages.csv", "segment"),
        ("segment_identifies.csv", "segment"),
        ("snowplow_events.tsv", "snowplow"),
        ("mixpanel_export.jsonl", "mixpanel"),
        ("amplitude_part1.jsonl", "amplitude"),
    ],
)
def test_each_fixture_is_recognised(file: str, name: str) -> None:
    assert detect_source(read_sample(FIXTURES / file)).name == name


def test_a_plain_events_file_stays_an_events_file(tmp_path: Path) -> None:
    f = tmp_path / "e.csv"
    f.write_text("user_id,event_time,event_type\nu1,2025-01-01,signup\n")
    assert detect_source(read_sample(f)).name == "events"


@pytest.mark.parametrize(
    ("source", "file", "missing"),
    [
        ("ga4", "segment_raw.jsonl", "no event_timestamp, event_name, user_pseudo_id column"),
        ("segment", "mixpanel_export.jsonl", "no type column"),
        ("snowplow", "ga4_events.jsonl", "no event, collector_tstamp, domain_userid column"),
        ("mixpanel", "snowplow_events.tsv", "no properties column"),
        ("amplitude", "ga4_events.jsonl", "no event_type, event_time, device_id column"),
    ],
)
def test_the_wrong_source_is_one_line_naming_the_file(
    project: Path, source: str, file: str, missing: str
) -> None:
    f = FIXTURES / file
    r = run("ingest", str(f), "--source", source, cwd=project)
    assert r.exit_code != 0
    message = r.output.strip()
    assert "\n" not in message, message
    assert str(f) in message and missing in message, message
    with pytest.raises(IngestError, match=missing):
        Warehouse(None).ingest([f], source=source)


def test_unknown_source_names_the_known_ones(project: Path) -> None:
    r = run("ingest", str(FIXTURES / "ga4_events.jsonl"), "--source", "ga5", cwd=project)
    assert r.exit_code != 0
    for name in ("amplitude", "ga4", "mixpanel", "rudderstack", "segment", "snowplow"):
        assert name in r.output


def test_property_names_that_look_like_ids_do_not_become_ids(tmp_path: Path) -> None:
    f = tmp_path / "seg.jsonl"
    f.write_text(
        json.dumps(
            {
                "type": "track",
                "event": "Clicked",
                "anonymousId": "a-9",
                "messageId": "x-1",
                "timestamp": "2025-04-05T10:00:00Z",
                "properties": {"user_id": "someone-else", "Revenue": "3", "value": "7"},
            }
        )
        + "\n"
    )
    wh = Warehouse(None)
    wh.ingest([f])
    row = wh.con.sql("SELECT customer_id, value, properties FROM events").fetchone()
    assert row is not None
    assert row[0] == "a-9"
    assert row[1] == 7.0  # properties.value (no revenue in lower case)
    assert dict(row[2]) == {"property.user_id": "someone-else", "Revenue": "3"}


def test_ga4_session_last_click_and_its_own_channel_group(tmp_path: Path) -> None:
    record = {
        "event_timestamp": "1740823200000000",
        "event_name": "page_view",
        "event_params": [],
        "event_bundle_sequence_id": "1",
        "user_pseudo_id": "p-1",
        "session_traffic_source_last_click": {
            "manual_campaign": {"source": "nl", "medium": "email", "campaign_name": "may"},
            "cross_channel_campaign": {
                "source": "google",
                "medium": "cpc",
                "campaign_name": "pmax",
                "default_channel_group": "Cross-network",
            },
        },
        "traffic_source": {"source": "(direct)", "medium": "(none)", "name": "(direct)"},
    }
    f = tmp_path / "events_20250301.jsonl"
    f.write_text(json.dumps(record) + "\n")
    (row,) = transformed("ga4", f)
    assert (row["source"], row["medium"], row["campaign"]) == ("google", "cpc", "pmax")
    assert row["channel"] == "cross_network"
    del record["session_traffic_source_last_click"]
    f.write_text(json.dumps(record) + "\n")
    (row,) = transformed("ga4", f)
    assert (row["source"], row["medium"], row["channel"]) == ("(direct)", "(none)", None)
    wh = Warehouse(None)
    wh.ingest([f])
    assert wh.con.sql("SELECT channel FROM events").fetchall() == [("direct",)]


def test_placeholder_ids_are_no_id(tmp_path: Path) -> None:
    f = tmp_path / "seg.jsonl"
    messages = [
        {"type": "track", "event": "A", "userId": "null", "anonymousId": "a-1"},
        {"type": "track", "event": "B", "userId": "undefined", "anonymousId": "0"},
        {"type": "track", "event": "C", "userId": "u-1", "anonymousId": ""},
    ]
    f.write_text(
        "".join(
            json.dumps({**m, "messageId": f"x{i}", "timestamp": "2025-04-05T10:00:00Z"}) + "\n"
            for i, m in enumerate(messages)
        )
    )
    rows = transformed("segment", f)
    assert [(r["customer_id"], r["anonymous_id"]) for r in rows] == [
        (None, "a-1"),
        ("u-1", None),
    ]
    wh = Warehouse(None)
    wh.ingest([f])
    assert [q["reason"] for q in wh.quarantined()] == ["missing userId and anonymousId"]


def test_a_flattened_ga4_table_keeps_its_own_columns(tmp_path: Path) -> None:
    # A GA4 table flattened with SQL (one column per parameter) plus Kundresa's own columns.
    f = tmp_path / "ga4_flat.csv"
    f.write_text(
        "event_timestamp,event_name,user_pseudo_id,user_id,ga_session_id,value,channel,page_location\n"
        "1740823200000000,purchase,p-1,u-1,1740823100,12.5,store,https://a.example/\n"
    )
    assert detect_source(read_sample(f)).name == "ga4"
    wh = Warehouse(None)
    wh.ingest([f])
    row = wh.con.sql("SELECT customer_id, value, channel, session_id FROM events").fetchone()
    assert row == ("u-1", 12.5, "store", "p-1:1740823100")


def test_a_type_column_of_ones_own_is_not_segment(tmp_path: Path) -> None:
    f = tmp_path / "own.csv"
    f.write_text("anonymousId,type,event,timestamp\na1,premium,signup,2025-01-01\n")
    assert detect_source(read_sample(f)).name == "events"


@pytest.mark.parametrize(
    ("source", "record", "reason"),
    [
        (
            "ga4",
            {
                "event_timestamp": "1",
                "event_name": "x",
                "user_pseudo_id": "p",
                "event_params": [{"value": {"int_value": "1"}}],
            },
            "'event_params' has an entry without a key",
        ),
        (
            "ga4",
            {"event_timestamp": "1", "event_name": "x", "user_pseudo_id": None},
            "missing user_pseudo_id and user_id",
        ),
        (
            "amplitude",
            {"event_type": "x", "event_time": "2025-01-01", "device_id": "d", "price": "cheap"},
            "price 'cheap' is not a number",
        ),
        (
            "segment",
            {"type": "alias", "userId": "u", "timestamp": "2025-01-01T00:00:00Z"},
            "alias needs previousId and userId",
        ),
        (
            "segment",
            {"type": "track", "event": "x", "userId": "u", "timestamp": "2025", "context": 3},
            "'context' is not a JSON object",
        ),
        (
            "segment",
            {"type": "purchase", "userId": "u", "timestamp": "2025-01-01T00:00:00Z"},
            "unknown type 'purchase' (field 'type')",
        ),
        ("mixpanel", {"event": "x", "properties": {"time": 1}}, "missing properties.distinct_id"),
    ],
)
def test_malformed_records_are_quarantined_naming_the_field(
    tmp_path: Path, source: str, record: dict[str, Any], reason: str
) -> None:
    f = tmp_path / "bad.jsonl"
    f.write_text(json.dumps(record) + "\n")
    wh = Warehouse(None)
    report = wh.ingest([f], source=source)
    assert report.loaded == 0
    (q,) = wh.quarantined()
    assert q["line"] == 1 and q["reason"].startswith(reason)


def test_property_names_that_would_share_a_column_are_quarantined(
    project: Path, tmp_path: Path
) -> None:
    # A record source stores properties as columns, whose names compare ignoring case: a
    # record with {"A": 1, "a": 2} was stored as {"A": "2"}, and a property without a name
    # holding a value was dropped, both unseen.
    lines = [
        {"properties": {"plan": "pro", "": None}, "messageId": "ok-1"},
        {"properties": {"A": 1, "a": 2}, "messageId": "case"},
        {"properties": {"": "v"}, "messageId": "empty"},
        {"properties": {"event": "x", "property.event": "y"}, "messageId": "reserved"},
        {"properties": {"Plan": "free"}, "messageId": "ok-2"},
    ]
    path = tmp_path / "seg.jsonl"
    base = {"type": "track", "userId": "u1", "event": "e", "timestamp": "2025-05-01T10:00:00Z"}
    path.write_text("".join(json.dumps({**base, **x}) + "\n" for x in lines))
    r = run("ingest", str(path), "--source", "segment", cwd=project)
    assert r.exit_code == 0, r.output
    events = stored(project)
    assert sorted(events) == ["ok-1", "ok-2"]
    assert events["ok-1"]["props"] == {"plan": "pro"}
    assert quarantine(project) == {
        ("seg.jsonl", 2): "properties: 'A' and 'a' differ only in case (property names are "
        "compared ignoring case): which one is meant?",
        ("seg.jsonl", 3): "properties: a property without a name holds a value ('v')",
        ("seg.jsonl", 4): "properties: 'event' and 'property.event' are both stored as the "
        "property 'property.event' (a name like a column's gets 'property.' in front): which "
        "one is meant?",
    }
