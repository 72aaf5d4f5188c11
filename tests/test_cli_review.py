"""kundresa review: the first review, a second that shows what changed, review_by set in
the journey file with its comments kept, and bad input."""

from __future__ import annotations

import json
import re
from datetime import date, timedelta
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from kundresa import Project
from kundresa.cli import main
from kundresa.model.review import six_months_after, with_review_by
from kundresa.report.review import ReviewError, review

JOURNEY = """\
kundresa: 1
# The shop's journey; comments stay when review_by is set.
name: Blomsterbutiken   # shown on the map
language: sv
stages:
  - {id: look, label: Titta}
  - id: buy
    label: Köpa
    kpis: [{metric: conversion_from_previous, target: 0.9}]
touchpoints:
  - {id: visit, stage: look, match: {event: visit}}
  - {id: pay, stage: buy, match: {event: purchase}}
  - {id: call, stage: buy, label: {sv: Samtal, en: Call}, match: {event: phone_call}}
lanes:
  needs: {look: [Hitta rätt blommor]}
  pain_points: {buy: [Dyr frakt]}
"""


def _events(buyers: int, visitors: int) -> pd.DataFrame:
    rows = []
    for i in range(visitors):
        rows.append({"customer_id": f"c{i}", "timestamp": "2025-03-01 10:00", "event": "visit"})
        if i < buyers:
            rows.append(
                {"customer_id": f"c{i}", "timestamp": "2025-03-02 10:00", "event": "purchase"}
            )
    return pd.DataFrame(rows)


@pytest.fixture
def project_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "shop"
    folder.mkdir()
    (folder / "journey.yaml").write_text(JOURNEY, encoding="utf-8")
    with Project.open(folder) as project:
        project.ingest([_write(folder / "a.csv", _events(buyers=4, visitors=10))])
    return folder


def _write(path: Path, frame: pd.DataFrame) -> Path:
    frame.to_csv(path, index=False)
    return path


def run(*args: str) -> object:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def test_first_review_keeps_the_numbers_and_sets_review_by(project_dir: Path) -> None:
    r = run("review", "--project", str(project_dir))
    assert r.exit_code == 0, r.output
    output = r.output.replace("\xa0", " ")  # Babel's no-break spaces in sv numbers
    assert "First review" in output
    due = six_months_after(date.today()).isoformat()
    assert f"Next review by {due} (review_by set in the journey file)." in output
    # The tool's words in English, the journey's labels as written (Swedish), numbers in
    # Swedish format, dates ISO 8601, every stage listed, no raw ids.
    assert "Titta" in output and "Köpa" in output and "40,0 %" in output
    assert "Touchpoints without events: Samtal." in output
    assert "  Köpa: Conversion from previous 40,0 % (target ≥ 90,0 %)" in output
    assert "KPIs missed:" in output and "  buy:" not in output
    for swedish in ("Nästa", "Missade", "Beröringspunkter", "Nått", "Konvertering", "Fas "):
        assert swedish not in output
    text = (project_dir / "journey.yaml").read_text(encoding="utf-8")
    assert f"review_by: {due}\n" in text
    # Comments and layout kept: only the one line is new.
    assert text.replace(f"review_by: {due}\n", "") == JOURNEY
    stored = json.loads((project_dir / ".kundresa" / "reviews.json").read_text("utf-8"))
    assert len(stored) == 1 and stored[0]["review_by"] == due
    assert [s["reached"] for s in stored[0]["stages"]] == [10, 4]
    # The old file is in the journey history.
    assert run("history", "--project", str(project_dir)).output.count("\n") >= 2
    # --lang: the journey's labels (and numbers) in that language.
    english = run("review", "--project", str(project_dir), "--lang", "en", "--by", "2099-01-31")
    assert "Touchpoints without events: Call." in english.output  # type: ignore[attr-defined]
    assert "Next review by 2099-01-31" in english.output  # type: ignore[attr-defined]


def test_second_review_shows_what_changed(project_dir: Path) -> None:
    first = date.today() - timedelta(days=200)
    with Project.open(project_dir, read_only=True) as project:
        review(project, today=first)
    # New customers, and one lane rewritten; the other untouched.
    with Project.open(project_dir) as project:
        extra = _events(buyers=6, visitors=6)
        extra["customer_id"] = "n" + extra["customer_id"]
        project.ingest([_write(project_dir / "b.csv", extra)])
    path = project_dir / "journey.yaml"
    path.write_text(path.read_text("utf-8").replace("Dyr frakt", "Dyr frakt, långsam kassa"))
    r = run("review", "--project", str(project_dir), "--by", "2099-01-31", "--format", "json")
    assert r.exit_code == 0, r.output
    result = json.loads(r.output)
    assert result["previous_review"] == first.isoformat()
    assert result["days_since"] == 200
    look, buy = result["stages"]
    assert (look["reached_then"], look["reached_now"], look["reached_change"]) == (10, 16, 6)
    assert (buy["reached_then"], buy["reached_now"], buy["reached_change"]) == (4, 10, 6)
    assert buy["conversion_then"] == pytest.approx(0.4)
    assert buy["conversion_now"] == pytest.approx(10 / 16)
    assert buy["conversion_change"] == pytest.approx(10 / 16 - 0.4)
    assert [k["metric"] for k in result["kpis_missed"]] == ["conversion_from_previous"]
    assert result["kpis_missed"][0]["missed_then"] is True
    assert result["touchpoints_without_events"] == ["call"]
    assert result["lanes_untouched"] == ["needs"]
    assert result["lanes_changed"] == ["pain_points"]
    # From the journey history: the version the first review replaced has the old pain
    # points, so they changed at that time or later; the needs are the same in every version.
    changed = result["lanes_last_changed"]
    assert set(changed) == {"needs", "pain_points"}
    assert changed["needs"] is None
    assert str(changed["pain_points"]).startswith(date.today().isoformat()[:4])
    assert result["review_by"] == "2099-01-31"
    assert "review_by: 2099-01-31\n" in path.read_text("utf-8")
    text = run("review", "--project", str(project_dir), "--by", "2099-06-30", "--lang", "en")
    assert "changes since the last review" in text.output  # type: ignore[attr-defined]
    assert "Lanes untouched since" in text.output  # type: ignore[attr-defined]


def test_bad_input_is_one_line_and_changes_nothing(project_dir: Path, tmp_path: Path) -> None:
    before = (project_dir / "journey.yaml").read_bytes()
    r = run("review", "--project", str(project_dir), "--by", "2001-01-01")
    assert r.exit_code == 1 and "must be after today" in r.output
    r = run("review", "--project", str(project_dir), "--by", "soon")
    assert r.exit_code == 2 and "soon" in r.output
    r = run("review", "--project", str(tmp_path / "nothing"))
    assert r.exit_code == 1 and "no journey file" in r.output
    (project_dir / ".kundresa" / "reviews.json").write_text("{broken", encoding="utf-8")
    r = run("review", "--project", str(project_dir))
    assert r.exit_code == 1 and "reviews.json" in r.output and "Traceback" not in r.output
    assert (project_dir / "journey.yaml").read_bytes() == before


def test_a_flow_style_journey_cannot_take_the_date_and_stays(tmp_path: Path) -> None:
    folder = tmp_path / "flow"
    folder.mkdir()
    text = "{kundresa: 1, name: Shop, stages: [{id: a, label: A}]}\n"
    (folder / "journey.yaml").write_text(text, encoding="utf-8")
    with (
        Project.open(folder, read_only=True) as project,
        pytest.raises(ReviewError, match="by hand"),
    ):
        review(project)
    assert (folder / "journey.yaml").read_text("utf-8") == text
    assert not (folder / ".kundresa" / "reviews.json").exists()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("kundresa: 1\nname: A\n", "kundresa: 1\nname: A\nreview_by: 2030-01-02\n"),
        ("kundresa: 1\nname: A", "kundresa: 1\nname: A\nreview_by: 2030-01-02\n"),
        (
            "kundresa: 1\nname: >-\n  Long\n  name\nstages: []\n",
            "kundresa: 1\nname: >-\n  Long\n  name\nreview_by: 2030-01-02\nstages: []\n",
        ),
        ("review_by: 2020-01-01 # old\nname: A\n", "review_by: 2030-01-02 # old\nname: A\n"),
        (
            "name: A\nlanes:\n  x:\n    review_by: 1\n",
            "name: A\nreview_by: 2030-01-02\nlanes:\n  x:\n    review_by: 1\n",
        ),
    ],
)
def test_review_by_is_one_line_edit(text: str, expected: str) -> None:
    assert with_review_by(text, date(2030, 1, 2)) == expected
    assert re.findall(r"(?m)^review_by: 2030-01-02", expected)
