"""The default channel grouping (GA4's default channel group rules) and where ingest applies it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import given
from hypothesis import strategies as st

from kundresa.ingest.channels import (
    CHANNEL_RULES,
    GA4_NAMES,
    assign_channels,
    channel_for,
    default_channel,
    traffic_source,
)
from kundresa.store.warehouse import Warehouse


@pytest.mark.parametrize(
    ("source", "medium", "campaign", "channel"),
    [
        ("(direct)", "(none)", None, "direct"),
        ("(direct)", "(not set)", None, "direct"),
        ("google", "cpc", "pmax_cross-network_q3", "cross_network"),
        ("google", "cpc", "summer_shopping", "paid_shopping"),
        ("amazon.com", "paid", None, "paid_shopping"),
        ("google", "cpc", "brand", "paid_search"),
        ("www.bing.com", "ppc", None, "paid_search"),
        ("facebook", "paid_social", None, "paid_social"),
        ("m.facebook.com", "cpc", None, "paid_social"),
        ("linkedin", "retargeting", None, "paid_social"),
        ("youtube", "cpv", None, "paid_video"),
        ("criteo", "display", None, "display"),
        ("adnet", "CPM", None, "display"),
        ("partner", "cpa", None, "paid_other"),
        ("etsy.com", "referral", None, "organic_shopping"),
        ("instagram", "referral", None, "organic_social"),
        ("newsletter", "social-media", None, "organic_social"),
        ("vimeo.com", "referral", None, "organic_video"),
        ("blog", "video", None, "organic_video"),
        ("google", "organic", None, "organic_search"),
        ("duckduckgo.com", "referral", None, "organic_search"),
        ("anything", "organic", None, "organic_search"),
        ("partner-site.example", "referral", None, "referral"),
        ("newsletter", "email", None, "email"),
        ("e-mail", "", None, "email"),
        ("partner", "affiliate", None, "affiliates"),
        ("spotify", "audio", None, "audio"),
        ("sms", "text", None, "sms"),
        ("app", "web-push", None, "mobile_push_notifications"),
        ("firebase", "notification", None, "mobile_push_notifications"),
        ("fair", "booth", None, "unassigned"),
        (None, None, None, None),
        ("", "  ", "", None),
    ],
)
def test_default_channel_follows_ga4s_rules(
    source: str | None, medium: str | None, campaign: str | None, channel: str | None
) -> None:
    assert default_channel(source, medium, campaign) == channel


def test_the_rule_table_covers_ga4s_channels() -> None:
    assert [r.channel for r in CHANNEL_RULES] + ["unassigned"] == list(GA4_NAMES)


@given(st.text(max_size=12), st.text(max_size=12), st.text(max_size=12))
def test_every_visit_with_an_origin_gets_a_known_channel(s: str, m: str, c: str) -> None:
    got = default_channel(s, m, c)
    if (s + m + c).strip():
        assert got in GA4_NAMES
    else:
        assert got is None


@pytest.mark.parametrize(
    ("row", "expected"),
    [
        ({"utm_source": "google", "utm_medium": "cpc"}, ("google", "cpc", None)),
        (
            {"url": "https://a.example/?utm_source=nl&utm_medium=email&utm_campaign=may"},
            ("nl", "email", "may"),
        ),
        ({"page_location": "https://a.example/?gclid=1"}, ("google", "cpc", None)),
        ({"msclkid": "9"}, ("bing", "cpc", None)),
        ({"url": "https://a.example/?ttclid=5"}, ("tiktok", "cpc", None)),
        ({"fbclid": "x"}, ("facebook", "referral", None)),
        ({"referrer": "https://www.reddit.com/r/x"}, ("reddit.com", "referral", None)),
        # a referrer on the page's own site is a click inside the site
        ({"referrer": "https://a.example/cart", "url": "https://a.example/checkout"}, (None,) * 3),
        ({"referrer": "$direct"}, (None, None, None)),
        # UTM fields win over click ids and referrers
        (
            {"utm_source": "nl", "utm_medium": "email", "gclid": "1", "referrer": "https://x.io"},
            ("nl", "email", None),
        ),
    ],
)
def test_traffic_source_of_an_event(
    row: dict[str, str], expected: tuple[str | None, str | None, str | None]
) -> None:
    assert traffic_source(row) == expected


def test_channel_for_an_event() -> None:
    assert channel_for({"url": "https://a.example/?gclid=abc"}) == "paid_search"
    assert channel_for({"referrer": "https://www.google.se/"}) == "organic_search"
    assert channel_for({"url": "https://a.example/"}) is None


def test_ingest_fills_empty_channels_of_a_plain_events_file(tmp_path: Path) -> None:
    f = tmp_path / "events.csv"
    f.write_text(
        "user_id,ts,event,channel,utm_source,utm_medium,referrer\n"
        "u1,2025-01-01 10:00,page_view,,google,cpc,\n"
        "u1,2025-01-01 10:01,page_view,store,google,cpc,\n"
        "u2,2025-01-01 11:00,page_view,,,,https://www.linkedin.com/\n"
        "u3,2025-01-01 12:00,page_view,,,,\n"
        "u4,2025-01-01 12:00,page_view,,fair,booth,\n"
    )
    wh = Warehouse(None)
    wh.ingest([f])
    got = wh.con.sql("SELECT customer_id, channel FROM events ORDER BY ALL").fetchall()
    assert got == [
        ("u1", "paid_search"),
        ("u1", "store"),  # a channel given in the file is kept
        ("u2", "organic_social"),
        ("u3", None),  # nothing known about where the visit came from
        ("u4", "unassigned"),
    ]


def test_a_lone_source_column_is_not_campaign_data(tmp_path: Path) -> None:
    # "source" alone often means something else (the app or system an event came from).
    f = tmp_path / "events.csv"
    f.write_text("user_id,ts,event,source\nu1,2025-01-01,signup,ios-app\n")
    wh = Warehouse(None)
    wh.ingest([f])
    assert wh.con.sql("SELECT channel FROM events").fetchall() == [(None,)]


def test_dataframes_get_channels_too() -> None:
    df = pd.DataFrame(
        {
            "user_id": ["u1", "u2"],
            "ts": ["2025-01-01", "2025-01-02"],
            "event": ["page_view", "page_view"],
            "utm_source": ["newsletter", None],
            "utm_medium": ["email", None],
            "Channel": [None, "store"],
        }
    )
    wh = Warehouse(None)
    wh.ingest_arrow(pa.Table.from_pandas(df))
    got = wh.con.sql("SELECT customer_id, channel FROM events ORDER BY 1").fetchall()
    assert got == [("u1", "email"), ("u2", "store")]


JOURNEY = """kundresa: 1
name: Shop
template: kundresa-5
channels:
  - id: partner_network
    ownership: paid
    match: {where: {source: {regex: "^partner-"}}}
  - id: paid_search
    match: {where: {utm_source: {equals: brand-agency}}}
  - {id: email, ownership: owned}
"""


def test_journey_channels_with_a_match_override_the_default_grouping(tmp_path: Path) -> None:
    from kundresa.project import Project

    f = tmp_path / "events.csv"
    f.write_text(
        "user_id,ts,event,utm_source,utm_medium,source\n"
        "u1,2025-01-01,page_view,partner-blog,affiliate,partner-blog\n"
        "u2,2025-01-01,page_view,brand-agency,banner,\n"
        "u3,2025-01-01,page_view,newsletter,email,\n"
    )
    journey = tmp_path / "journey.yaml"
    journey.write_text(JOURNEY)
    project = Project.from_events(f, journey=journey)
    got = project.events.order_by("customer_id").select("customer_id", "channel").execute()
    assert list(got.itertuples(index=False, name=None)) == [
        ("u1", "partner_network"),  # a new channel claims the events it matches
        ("u2", "paid_search"),  # an override of the default grouping (display)
        ("u3", "email"),  # the default grouping where no journey channel matches
    ]
    # Without the journey the stored channels are the default grouping's.
    plain = Project.from_events(f).events.order_by("customer_id").execute()
    assert list(plain.channel) == ["affiliates", "display", "email"]


def test_a_channel_match_with_nth_is_a_journey_error() -> None:
    from kundresa.model.parse import parse_journey

    _, problems = parse_journey(
        "kundresa: 1\nname: S\ntemplate: kundresa-5\n"
        "channels:\n  - {id: x, match: {event: a, nth: 2}}\n"
    )
    assert any("nth is for touchpoints" in str(p) for p in problems)


_FIELD_VALUES = {
    "utm_source": st.sampled_from([None, "", "google", "newsletter", "null"]),
    "medium": st.sampled_from([None, "cpc", "email", " ", "referral"]),
    "campaign": st.sampled_from([None, "spring_shopping", "x"]),
    "gclid": st.sampled_from([None, "", "abc"]),
    "fbclid": st.sampled_from([None, "f"]),
    "referrer": st.sampled_from(
        [None, "https://www.google.se/", "https://a.example/x", "android-app://com.x.y/", "$direct"]
    ),
    "url": st.sampled_from(
        [
            None,
            "https://a.example/",
            "https://a.example/?utm_source=fb&utm_medium=paid_social",
            "https://a.example/?ttclid=1",
            "https://a.example/?utm_campaign=only",
        ]
    ),
}


@given(st.lists(st.fixed_dictionaries(_FIELD_VALUES), min_size=1, max_size=20))
def test_a_batch_gets_the_channel_each_row_would_get_alone(rows: list[dict[str, Any]]) -> None:
    from kundresa.ingest.readers import RawBatch

    batch = RawBatch(
        {k: pa.array([r[k] for r in rows], pa.string()) for k in _FIELD_VALUES},
        pa.array(range(len(rows)), pa.int64()),
    )
    got = assign_channels(batch).columns["channel"].to_pylist()
    assert got == [channel_for(r) for r in rows]
