"""The bottleneck page's KPI table writes a rate KPI's gap in percentage points, as the table
of stages above it does, in the page's language."""

from __future__ import annotations

import re
from typing import Any

import pytest


@pytest.mark.parametrize(("lang", "unit"), [("sv", "p.e."), ("da", "pct.-point"), ("en", "pp")])
def test_rate_kpi_gaps_are_in_percentage_points(client: Any, lang: str, unit: str) -> None:
    html = client.get(f"/bottlenecks?lang={lang}").text
    table = html[html.index('id="kpis"') :]
    table = table[: table.index("</table>")]
    rows = re.findall(r"<tr[^>]*>(.*?)</tr>", table, re.S)
    gaps = {}
    for row in rows[1:]:
        cells = re.findall(r'<td[^>]*data-value="([^"]*)"[^>]*>(.*?)</td>', row, re.S)
        metric, gap = cells[1][0], cells[5][1].strip()
        if cells[5][0]:
            gaps.setdefault(metric, []).append(gap)
    rates = [g for m, gs in gaps.items() if "conversion" in m for g in gs]
    assert rates, gaps  # the demo has conversion KPIs with an actual value
    for gap in rates:
        assert gap.replace("\xa0", " ").endswith(" " + unit), (lang, gap)
        assert "%" not in gap, gap
    for gap in gaps.get("reached", []):  # a count's gap stays a count
        assert not gap.endswith(unit) and "%" not in gap, gap


def test_percentage_point_unit_is_on_its_own_header_line(client: Any) -> None:
    # A header cell does not wrap: the unit goes on a line of its own, so the column is no
    # wider than "Förändring" or "(procentenheter)" and its header is never cut off.
    html = client.get("/bottlenecks?lang=sv").text
    head = re.search(r'<th scope="col" data-column="change">(.*?)</th>', html, re.S)
    assert head, "the bottleneck table has a change column"
    assert re.fullmatch(r'[^<(]+ <small class="legend">\(procentenheter\)</small>', head[1])
