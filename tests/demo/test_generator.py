"""The demo company's data: schema, determinism and the non-linear journeys it promises."""

from __future__ import annotations

from datetime import date

import pandas as pd
import pytest

from kundresa.demo import demo_journey_yaml, generate_events
from kundresa.model import parse_journey
from kundresa.store.schema import EVENT_SCHEMA


@pytest.fixture(scope="module")
def events() -> pd.DataFrame:
    t = generate_events(3000, seed=7)
    df = t.to_pandas()
    df["props"] = [dict(p) for p in df["properties"]]
    return df


def test_schema_sorting_and_ids() -> None:
    t = generate_events(500, seed=3)
    assert t.schema == EVENT_SCHEMA.to_pyarrow()
    df = t.to_pandas()
    assert df["event_id"].is_unique
    assert df.sort_values(["customer_id", "timestamp"], kind="stable").index.equals(df.index)
    assert df["timestamp"].min() >= pd.Timestamp("2025-01-01")
    assert df["timestamp"].max() < pd.Timestamp("2026-01-01")


def test_deterministic_for_a_seed() -> None:
    assert generate_events(400, seed=1).equals(generate_events(400, seed=1))
    assert not generate_events(400, seed=1).equals(generate_events(400, seed=2))
    assert generate_events(2000).num_rows > 4 * generate_events(400).num_rows


def test_values_only_on_purchases(events: pd.DataFrame) -> None:
    has_value = events["value"].notna()
    assert (events.loc[has_value, "event"] == "purchase").all()
    assert (events.loc[events["event"] == "purchase", "value"] > 0).all()


def test_journeys_are_not_linear(events: pd.DataFrame) -> None:
    by_cust = events.groupby("customer_id")
    purchases = by_cust["event"].apply(lambda e: (e == "purchase").sum())
    assert (purchases >= 2).sum() > 20  # repeat purchases: new cycles
    pricing = events["props"].map(lambda p: p.get("path") == "/pricing")

    def bought_without_considering(g: pd.DataFrame) -> bool:
        buys = g.index[g["event"] == "purchase"]
        if len(buys) == 0:
            return False
        return not pricing.loc[g.index[g.index < buys[0]]].any()

    skipped = sum(bought_without_considering(g) for _, g in by_cust)
    assert skipped > 5
    promoters = events["props"].map(lambda p: int(p.get("score", -1)) >= 9)
    assert promoters.sum() > 20
    assert (events["event"] == "referral_sent").sum() > 5
    assert events["props"].map(lambda p: p.get("referrer") == "friend").sum() > 20
    gaps = by_cust["timestamp"].diff().dt.days
    assert (gaps > 30).sum() > 50  # long pauses
    assert set(events["channel"].dropna()) >= {
        "search",
        "social",
        "email",
        "web",
        "store",
        "sales_call",
    }
    assert set(events["props"].map(lambda p: p["segment"])) == {"private", "business", "student"}


@pytest.mark.parametrize("lang", ["sv", "da", "en"])
def test_demo_journey_is_valid_and_covers_the_events(lang: str, events: pd.DataFrame) -> None:
    journey, problems = parse_journey(demo_journey_yaml(lang), today=date(2026, 1, 1))
    assert problems == []
    assert journey is not None
    assert journey.stage_ids == ("awareness", "consideration", "decision", "retention", "advocacy")
    names = set(events["event"])
    for tp in journey.touchpoints:
        assert tp.match.events is not None
        assert set(tp.match.events) <= names, tp.id
    with pytest.raises(ValueError, match="unknown language"):
        demo_journey_yaml("fi")


def test_demo_funnel_is_plausible(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from kundresa.analytics import stage_funnel
    from kundresa.demo.project import build_demo

    with build_demo(tmp_path / "d", customers=3000, seed=0) as project:
        f = stage_funnel(project).set_index("stage")
    share = f["conversion_from_start"]
    assert 0.4 < share["consideration"] < 0.8
    assert 0.1 < share["decision"] < 0.4
    assert 0.02 < share["advocacy"] < share["retention"] < share["decision"]
