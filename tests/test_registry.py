"""The analysis registry, Project.run and the name resolver."""

from __future__ import annotations

import inspect
from pathlib import Path

import pandas as pd
import pytest

from kundresa import Project, ProjectError
from kundresa.analyses import ANALYSES, AnalysisError, ParameterError, get
from kundresa.analyses.resolve import Names, Resolution, UnknownNameError
from kundresa.model.parse import parse_journey
from kundresa.report.units import UNITS

JOURNEY = """\
kundresa: 1
name: Shop
template: buyers-journey
language: en
personas:
  - {id: pro, name: Pro, match: {property: segment, equals: business}}
touchpoints:
  - {id: pricing_page, stage: consideration, match: {event: page_view, where: {path: /pricing}}}
  - {id: buy, stage: decision, match: {event: purchase}}
"""

EVENTS = pd.DataFrame(
    {
        "customer_id": ["u1", "u1", "u1", "u2", "u2", "u3"],
        "timestamp": [
            "2025-03-01 09:00",
            "2025-03-02 09:00",
            "2025-03-03 09:00",
            "2025-03-01 10:00",
            "2025-03-05 10:00",
            "2025-04-01 10:00",
        ],
        "event": ["ad_click", "page_view", "purchase", "ad_click", "page_view", "ad_click"],
        "path": [None, "/pricing", None, None, "/", None],
        "segment": ["business", "business", "business", "private", "private", "business"],
    }
)


@pytest.fixture(scope="module")
def project() -> Project:
    journey, problems = parse_journey(JOURNEY)
    assert journey is not None, problems
    return Project.from_events(EVENTS, journey=journey)


def test_every_declaration_is_consistent() -> None:
    for name, analysis in ANALYSES.items():
        assert analysis.name == name
        fn = analysis.load()
        sig = inspect.signature(fn).parameters
        takes_any = any(p.kind is p.VAR_KEYWORD for p in sig.values())
        for p in analysis.params:
            assert takes_any or p.name in sig, (name, p.name)
            if p.choices and p.default is not None:
                assert p.default in p.choices, (name, p.name)
        for c in analysis.columns:
            assert c.unit in UNITS, (name, c.name, c.unit)
        assert analysis.other_unit is None or analysis.other_unit in UNITS


def test_names_resolve_as_designed() -> None:
    journey, _ = parse_journey(JOURNEY)
    names = Names(journey, events={"page_view", "purchase"}, properties={"segment"})
    out = Resolution()
    assert names.step("purchase", out) == "purchase"  # an event before a touchpoint id
    assert names.step("pricing_page", out) == "touchpoint:pricing_page"
    assert names.step("decision", out) == "stage:decision"
    assert names.step("nosuch", out) == "nosuch"
    assert names.step("page_view|nosuch", out) == "page_view|nosuch"
    assert out.notes == [
        "step 'pricing_page' read as touchpoint:pricing_page",
        "step 'decision' read as stage:decision",
    ]
    assert out.warnings == [
        "event 'nosuch' never occurs in the data; it counts 0",
    ]
    with pytest.raises(UnknownNameError, match="no touchpoint 'x'; touchpoints: pricing_page"):
        names.step("touchpoint:x", out)
    with pytest.raises(UnknownNameError, match="no stage 'x'; stages: awareness"):
        names.step("stage:x", out)
    with pytest.raises(UnknownNameError, match="no persona 'x'; personas: pro"):
        names.persona("x")
    assert names.property("segment", out) == "segment"
    names.property("colour", out)
    assert "property 'colour' never occurs in the data" in out.warnings[-1]
    # Without a journey, journey names are errors; without known names, no warnings.
    with pytest.raises(UnknownNameError, match="need a journey file"):
        Names(None).step("stage:decision", Resolution())
    quiet = Resolution()
    assert Names(None).step("anything", quiet) == "anything" and not quiet.warnings


def test_run_resolves_warns_and_caches(project: Project) -> None:
    result = project.run("funnel", steps=["ad_click", "pricing_page", "purchase"], window="7d")
    assert list(result.frame["count"]) == [3, 1, 1]
    assert result.notes == ["step 'pricing_page' read as touchpoint:pricing_page"]
    assert result.units["conversion_from_previous"] == "rate"
    assert result.title == "Funnel (ordered, window 7d)"
    again = project.run("funnel", steps=["ad_click", "pricing_page", "purchase"], window="7d")
    assert again.frame.equals(result.frame)
    again.frame.loc[0, "count"] = 99  # a caller's copy: the cache keeps its own
    third = project.run("funnel", steps=["ad_click", "pricing_page", "purchase"])
    assert third.frame.loc[0, "count"] == 3
    warned = project.run("funnel", steps=["ad_click", "signup"])
    assert warned.warnings == ["event 'signup' never occurs in the data; it counts 0"]
    assert list(warned.frame["count"]) == [3, 0]


def test_run_is_cached_until_the_data_change(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = []
    from kundresa.analytics import journeys

    real = journeys.journey_summary

    def counted(*args: object, **kwargs: object) -> pd.DataFrame:
        calls.append(1)
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(journeys, "journey_summary", counted)
    project.run("journeys")
    project.run("journeys")
    assert len(calls) == 1
    project.data_changed()
    project.run("journeys")
    assert len(calls) == 2


def test_scope_persona_and_period(project: Project) -> None:
    everyone = project.run("funnel", steps=["ad_click", "page_view"])
    pros = project.run("funnel", steps=["ad_click", "page_view"], persona="pro")
    assert everyone.frame["count"].tolist() == [3, 2]
    assert pros.frame["count"].tolist() == [2, 1]
    march = project.run("funnel", steps=["ad_click", "page_view"], until="2025-03-15")
    assert march.frame["count"].tolist() == [2, 2]
    with pytest.raises(ParameterError, match="is not before --until"):
        project.run("stages", since="2025-04-01", until="2025-03-01")
    with pytest.raises(ParameterError, match="is not before --until"):
        project.scope(since="2025-03-01", until="2025-03-01")
    with pytest.raises(ParameterError, match="not a date"):
        project.scope(since="last week")
    with pytest.raises(UnknownNameError, match="no persona 'nobody'; personas: pro"):
        project.run("stages", persona="nobody")


def test_bad_parameters(project: Project) -> None:
    with pytest.raises(ParameterError, match="unknown parameter 'stepz'"):
        project.run("funnel", stepz=["a", "b"])
    with pytest.raises(ParameterError, match="steps is required"):
        project.run("funnel")
    with pytest.raises(ParameterError, match="'sideways' is not one of"):
        project.run("funnel", steps=["a", "b"], order="sideways")
    with pytest.raises(ParameterError, match="is not in the range"):
        project.run("attribution", order=9)
    with pytest.raises(ParameterError, match="no analysis 'nosuch'"):
        project.run("nosuch")
    with pytest.raises(ParameterError, match="no stage 'nowhere'"):
        project.run("paths", start="stage:nowhere")
    with pytest.raises(AnalysisError, match="no events for customer 'nobody'"):
        project.run("customer", customer_id="nobody")
    bare = Project.from_events(EVENTS)
    with pytest.raises(AnalysisError, match="no journey file"):
        bare.run("stages")
    assert get("stages").needs_journey and not get("funnel").needs_journey


def test_removal_effect_is_a_rate_everywhere(project: Project) -> None:
    from kundresa.analyses import run

    assert get("attribution_removal").units["removal_effect"] == "rate"
    result = project.run("attribution_removal", conversion="purchase")
    assert result.formatted()["removal_effect"].str.endswith("%").all()
    assert run("kpis", project.scope()).frame.columns[0] == "stage"


def test_python_objects_as_parameters(project: Project) -> None:
    from kundresa.analytics.funnel import parse_step

    steps = [parse_step("ad_click"), "touchpoint:buy"]
    result = project.run("funnel", steps=steps, exclusions=[("page_view", 1, 2)], window=86400 * 7)
    # u1 saw a page between ad and purchase, u2 one within the window: only u3 is left.
    assert result.frame["count"].tolist() == [1, 0]
    again = project.run("funnel", steps=steps, exclusions=[("page_view", 1, 2)], window=604800)
    assert again.frame.equals(result.frame)


def test_results_follow_the_journey_file(tmp_path: Path) -> None:
    import os

    folder = tmp_path / "p"
    Project.init(folder, template="buyers-journey").close()
    (tmp_path / "events.csv").write_text(
        "customer_id,timestamp,event\nu1,2025-03-01,visit\nu1,2025-03-02,purchase\n"
    )
    with Project.open(folder) as project:
        project.ingest([tmp_path / "events.csv"])
        first = project.run("stages").frame["stage"].tolist()
        assert first == ["awareness", "consideration", "decision"]
        journey = folder / "journey.yaml"
        Project.init(folder, template="kundresa-5", force=True).close()  # an edit elsewhere
        stat = journey.stat()
        os.utime(journey, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
        assert len(project.run("stages").frame) == 5
        journey.write_text("kundresa: 1\nname: x\nstages: 3\n")
        os.utime(journey, ns=(stat.st_atime_ns, stat.st_mtime_ns + 2 * 10**9))
        with pytest.raises(ProjectError, match=r"journey\.yaml:3"):
            project.run("stages")
        assert len(project.journey.stage_ids) == 5  # the last good journey is kept


@pytest.mark.parametrize(
    ("value", "says"),
    [
        ("-7d", "'-7d' has a minus sign; a duration is 0 or more"),
        ("-0d", "'-0d' has a minus sign; a duration is 0 or more"),
        ("-90", "'-90' has a minus sign; a duration is 0 or more"),
        ("--7d", "'--7d' is not a duration"),
        ("-x", "'-x' is not a duration"),
    ],
)
def test_a_negative_duration_is_out_of_range_not_unreadable(value: str, says: str) -> None:
    # Before: "'-7d' is not a duration", as for a text that is none.
    for analysis, param in (("funnel", "window"), ("attribution", "half_life")):
        with pytest.raises(ParameterError, match=f"^{param}: {says}"):
            get(analysis).param(param).check(value)


def test_a_duration_is_passed_on_trimmed() -> None:
    # '7d\n' is read as 7d: the title then shows '7d', not a line break.
    assert get("funnel").param("window").check(" 7d\n") == "7d"
    assert get("paths").param("session_gap").check("\tnone ") == "none"


def _broken(project: object, **params: object) -> None:
    raise ValueError("a bug deep inside the analysis")


def test_a_value_error_inside_an_analysis_is_no_usage_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # run_analysis turned any ValueError into a ParameterError: a bug deep inside an
    # analysis was shown as a bad option (exit 2, one line). Only the analyses' own usage
    # errors (UsageError) are parameter errors now; anything else passes through as it is.
    import kundresa.analyses._adapters as adapters
    from kundresa.errors import UsageError

    journey, problems = parse_journey(JOURNEY)
    assert journey is not None, problems
    monkeypatch.setattr(adapters, "stages", _broken)
    fresh = Project.from_events(EVENTS, journey=journey)
    with pytest.raises(ValueError, match="a bug deep inside") as caught:
        fresh.run("stages")
    assert not isinstance(caught.value, UsageError)

    def refuses(project: object, **params: object) -> None:
        raise UsageError("compare_to 'x' is not a period")

    monkeypatch.setattr(adapters, "stages", refuses)
    fresh = Project.from_events(EVENTS, journey=journey)
    with pytest.raises(ParameterError, match="compare_to 'x' is not a period"):
        fresh.run("stages")


def test_the_command_line_shows_a_bug_as_an_internal_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from click.testing import CliRunner

    import kundresa.analyses._adapters as adapters
    from kundresa.cli import main

    (tmp_path / "journey.yaml").write_text(JOURNEY, encoding="utf-8")
    EVENTS.to_csv(tmp_path / "events.csv", index=False)
    args = ["stages", "--events", str(tmp_path / "events.csv")]
    args += ["--journey", str(tmp_path / "journey.yaml")]
    assert CliRunner().invoke(main, args).exit_code == 0
    monkeypatch.setattr(adapters, "stages", _broken)
    r = CliRunner().invoke(main, args)
    assert r.exit_code == 1, r.output
    assert isinstance(r.exception, ValueError) and "a bug deep inside" in str(r.exception)
    assert "Usage:" not in r.output and "Error: a bug" not in r.output
