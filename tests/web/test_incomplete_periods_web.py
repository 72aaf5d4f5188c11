"""The trends' JSON says which periods are incomplete: the funnel trend's last periods (recent
entrants have not had the whole window), the cohort cells and lifecycle periods the data's
last event falls in."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pandas as pd


def _last_event(client: Any) -> pd.Timestamp:
    project = client.app.state.project.project
    return pd.Timestamp(project.events["timestamp"].max().execute())


def test_funnel_trend_marks_the_periods_still_converting(client: Any) -> None:
    data = client.get("/api/funnel?window=30d&period=week").json()
    trend = data["trend"]
    assert trend and all(isinstance(r["complete"], bool) for r in trend)
    end = _last_event(client).tz_localize(None)
    for r in trend:  # complete: the week and then the window are over before the data ends
        closes = pd.Timestamp(r["period"]) + timedelta(days=7) + timedelta(days=30)
        assert r["complete"] == (closes <= end), r
    # Data that ends ten days after the last week starts (``until``): that week's entrants
    # have not had their 30 days; the complete weeks come first, then the incomplete tail.
    last = pd.Timestamp(trend[-1]["period"])
    until = (last + timedelta(days=10)).date().isoformat()
    cut = client.get(f"/api/funnel?window=30d&period=week&until={until}").json()["trend"]
    flags = [r["complete"] for r in cut]
    assert flags == sorted(flags, reverse=True) and flags[-1] is False and flags[0] is True
    for r in cut:
        closes = pd.Timestamp(r["period"]) + timedelta(days=37)
        assert r["complete"] == (closes <= min(end, pd.Timestamp(until))), r


def test_retention_and_lifecycle_mark_the_running_period(client: Any) -> None:
    data = client.get("/api/retention?period=week").json()
    end = _last_event(client).date()
    last_week = end - timedelta(days=end.weekday())
    for r in data["lifecycle"]:
        assert r["complete"] == (date.fromisoformat(r["period"][:10]) < last_week), r
    assert data["lifecycle"][-1]["complete"] is False
    for r in data["retention"]:
        cell = date.fromisoformat(r["cohort"][:10]) + timedelta(days=7 * r["period"])
        assert r["complete"] == (cell < last_week), r
    assert any(r["complete"] is False for r in data["retention"])
    assert any(r["complete"] is True for r in data["retention"])
    months = client.get("/api/retention?period=month").json()["lifecycle"]
    assert [r["complete"] for r in months][-1] is False
    assert all(r["complete"] for r in months[:-1])


def test_funnel_page_gives_each_trend_period_its_sample_size(client: Any) -> None:
    from kundresa.report.units import format_count

    data = client.get("/api/funnel?period=week").json()
    trend = data["trend"]
    page = client.get("/funnel?period=week&lang=sv").text
    table = page.split('id="trend-table"', 1)[1].split("</table>", 1)[0]
    assert "Kunder per period (n)" in page and ">Startad<" in table
    rows = table.split("<tbody>", 1)[1].split("</tr>")[:-1]
    assert len(rows) == len(trend)
    for row, r in zip(rows, trend, strict=True):
        assert f'data-value="{r["started"]}"' in row
        assert format_count(r["started"], "sv") in row
