"""Table titles in the journey's language: every analysis' title is in Swedish, Danish and
English (a review found "stage funnel" and "Time in stage" in English under --lang sv)."""

from __future__ import annotations

import re
import string
from pathlib import Path

import pytest
from click.testing import CliRunner

from kundresa.analyses._catalog import ANALYSES
from kundresa.cli import main
from kundresa.report.labels import TITLE_VALUES, TITLES, title


def _fields(template: str) -> set[str]:
    return {f for _, f, _, _ in string.Formatter().parse(template) if f}


def test_every_analysis_has_a_title_in_every_language() -> None:
    # (An analysis with a title function picks its TITLES key itself: retention_matrix.)
    assert {a.name for a in ANALYSES if isinstance(a.title, str)} <= set(TITLES)
    for key, (en, sv, da) in TITLES.items():
        assert _fields(en) == _fields(sv) == _fields(da), key
        assert sv != en or key in ("touchpoints",), key  # Swedish differs from English


def test_title_words_for_parameter_values() -> None:
    assert title("lifecycle", "da", period="month") == "Livscyklus pr. måned"
    assert title("retention", "sv", period="week", cohort="first_purchase") == (
        "Återkomst per vecka (kohorter efter första köp)"
    )
    assert title("retention", "en", period="day", cohort="first_event") == (
        "Retention by day (first event cohorts)"
    )
    assert set(TITLE_VALUES) == {"period", "cohort"}


@pytest.mark.parametrize(
    ("lang", "stages", "time"),
    [
        ("sv", "Shop: fastratt", "Tid i fas (dagar)"),
        ("da", "Shop: fasetragt", "Tid i fase (dage)"),
        ("en", "Shop: stage funnel", "Time in stage (days)"),
    ],
)
def test_cli_titles_in_the_chosen_language(
    tmp_path: Path, lang: str, stages: str, time: str
) -> None:
    p = tmp_path / "p"
    runner = CliRunner()
    assert runner.invoke(main, ["init", str(p), "--template", "kundresa-5"]).exit_code == 0
    journey = p / "journey.yaml"
    text = journey.read_text(encoding="utf-8")
    journey.write_text(re.sub(r"(?m)^name: .*$", "name: Shop", text, count=1), encoding="utf-8")
    events = tmp_path / "e.csv"
    events.write_text("customer_id,timestamp,event\na,2025-01-01 10:00,view\n", encoding="utf-8")
    r = runner.invoke(main, ["ingest", str(events), "--project", str(p)])
    assert r.exit_code == 0, r.output
    r = runner.invoke(main, ["stages", "--project", str(p), "--lang", lang])
    assert r.exit_code == 0, r.output
    assert r.output.splitlines()[0].strip() == stages
    r = runner.invoke(main, ["journeys", "--project", str(p), "--lang", lang, "--view", "time"])
    assert r.exit_code == 0, r.output
    assert r.output.splitlines()[0].strip() == time


def test_customer_tables_in_the_journey_language(tmp_path: Path) -> None:
    # "Now" stood in English over the live state beside a translated timeline title.
    p = tmp_path / "p"
    runner = CliRunner()
    assert runner.invoke(main, ["init", str(p), "--lang", "sv"]).exit_code == 0
    events = tmp_path / "e.csv"
    events.write_text("customer_id,timestamp,event\na,2025-01-01 10:00,view\n", encoding="utf-8")
    assert runner.invoke(main, ["ingest", str(events), "--project", str(p)]).exit_code == 0
    r = runner.invoke(main, ["customer", "a", "--project", str(p)])
    assert r.exit_code == 0, r.output
    lines = [line.strip() for line in r.stdout.splitlines()]
    assert "Just nu" in lines and "Fasbesök för a" in lines and "Now" not in lines


def test_the_command_line_and_the_web_name_the_live_state_alike() -> None:
    from kundresa.report.labels import title
    from kundresa.web.i18n import translate

    for lang in ("en", "sv", "da"):
        assert title("customer_now", lang) == translate("live_state", lang)
        assert title("customer_recommended", lang) == translate("recommended", lang)
