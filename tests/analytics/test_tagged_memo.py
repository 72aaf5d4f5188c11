"""The tagged-events memo: analyses run through Project.run tag the events once per version
and give the same tables as the analyses called directly (which tag in each query)."""

from __future__ import annotations

import pandas as pd
import pytest

from kundresa.analytics.paths import directly_follows, path_links, paths
from kundresa.analytics.touchpoints import TaggedMemo, tag_events, using_tagged_memo
from kundresa.attribution.journey import stage_attribution
from kundresa.demo.generator import demo_journey_yaml, generate_events
from kundresa.model.parse import parse_journey
from kundresa.project import Project


@pytest.fixture(scope="module")
def project() -> Project:
    journey, _ = parse_journey(demo_journey_yaml("en"))
    events = generate_events(300, seed=3)
    with Project.from_events(events, journey=journey) as p:
        yield p


def test_memo_gives_the_direct_tables(project: Project) -> None:
    events, journey = project.events, project.journey
    assert events.count().execute() > 1000
    direct = stage_attribution(events, journey, lang="en")
    assert len(direct) > 5
    via = project.run("stage_attribution", lang="en").frame
    pd.testing.assert_frame_equal(via.reset_index(drop=True), direct, check_dtype=False)
    for level in ("touchpoint", "stage"):
        want = paths(events, journey=journey, level=level, top=50, session_gap="30m")
        got = project.run("paths", level=level, top=50, session_gap="30m").frame
        pd.testing.assert_frame_equal(got, want, check_dtype=False)
        want = path_links(events, journey=journey, level=level, session_gap="30m")
        got = project.run("path_links", level=level, session_gap="30m").frame
        pd.testing.assert_frame_equal(got, want, check_dtype=False)
        want = directly_follows(events, journey, level=level)
        got = project.run("dfg", level=level).frame
        pd.testing.assert_frame_equal(got, want, check_dtype=False)


def test_tagged_once_per_version_and_released(project: Project) -> None:
    memo = TaggedMemo(limit=2)
    with using_tagged_memo(memo):
        first = tag_events(project.events, project.journey)
        again = tag_events(project.events, project.journey)
        assert first is again  # read from the memo, not tagged a second time
    outside = tag_events(project.events, project.journey)
    assert outside is not first  # no memo in use: an expression tagged in the query
    cols = ["customer_id", "event_id", "touchpoint", "stage", "stage_index"]
    kept = first.select(cols).to_pandas().sort_values("event_id", ignore_index=True)
    fresh = outside.select(cols).to_pandas().sort_values("event_id", ignore_index=True)
    pd.testing.assert_frame_equal(kept, fresh)
    memo.release()
    with pytest.raises(Exception):  # noqa: B017 - the temporary table is gone
        first.count().execute()


def test_project_drops_the_memo_when_the_data_change(project: Project) -> None:
    project.run("stage_attribution")
    before = project._tagged_memo()
    project.data_changed()
    after = project._tagged_memo()
    assert after is not before
    assert project.run("stage_attribution").frame.shape[0] > 0


def test_large_projects_tag_in_each_query(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Above KEEP_TAGGED_EVENTS no tagged copy is kept (memory): the memo is off."""
    import kundresa.project as module

    monkeypatch.setattr(module, "KEEP_TAGGED_EVENTS", 10)
    project.data_changed()
    assert project._tagged_memo() is None
    assert project.run("stage_attribution").frame.shape[0] > 0
    monkeypatch.undo()
    project.data_changed()
    assert project._tagged_memo() is not None


def test_stage_fast_path_reads_the_kept_stages(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Once the memo keeps the tagged events, the stage analysis' fast path reads their
    stages instead of evaluating the touchpoints again: the same tables (segments, a period,
    transitions and time in stage included)."""
    from kundresa.analytics import _stage_fast
    from kundresa.analytics.journeys import stage_analysis
    from kundresa.analytics.stages import stage_funnel
    from kundresa.analytics.touchpoints import kept_tagged

    events, journey = project.events, project.journey
    assert _stage_fast.fits(events, journey)
    cases = [{}, {"by": "persona"}, {"since": "2025-03-01", "until": "2025-05-01"}]
    want = [stage_funnel(project, lang="en", **kw) for kw in cases]
    whole = stage_analysis(project, lang="en")
    read = []
    rows_of_tagged = _stage_fast._rows_of_tagged

    def spy(tagged: object, *, ids: bool) -> _stage_fast.StagedRows:
        read.append(tagged)
        return rows_of_tagged(tagged, ids=ids)

    monkeypatch.setattr(_stage_fast, "_rows_of_tagged", spy)
    memo = TaggedMemo()
    with using_tagged_memo(memo):
        assert kept_tagged(events, journey) is None  # peeking computes nothing
        tagged = tag_events(events, journey)
        assert kept_tagged(events, journey) is tagged
        got = [stage_funnel(project, lang="en", **kw) for kw in cases]
        again = stage_analysis(project, lang="en")
    memo.release()
    assert len(read) == len(cases) + 1 and all(r is tagged for r in read)
    assert len(want[0]) == len(journey.stages) and want[0]["reached"].iloc[0] > 0
    for g, w in zip(got, want, strict=True):
        pd.testing.assert_frame_equal(g, w)
    for name, frame in whole.items():
        pd.testing.assert_frame_equal(again[name], frame, obj=name)


@pytest.mark.parametrize(
    "steps",
    [
        ["stage:awareness", "stage:consideration", "stage:decision"],  # tagged rows
        ["page_view", "checkout_start", "purchase"],  # the coded path
    ],
)
def test_funnel_page_analyses_share_the_best_attempts(
    project: Project, monkeypatch: pytest.MonkeyPatch, steps: list[str]
) -> None:
    """The event funnel, its time to convert and its trend run through Project.run compute
    each customer's best attempt once per version and scope, and give the tables the
    analyses give when called directly (no memo: each computes its own)."""
    from kundresa.analytics import funnel as fn

    events, journey = project.events, project.journey
    common = {"steps": steps, "window": "30d", "journey": journey}
    want = {
        "funnel": fn.event_funnel(events, **common),
        "funnel_time": fn.time_to_convert_histogram(events, **common),
        "funnel_trend": fn.conversion_trend(events, period="week", **common),
    }
    assert want["funnel"]["count"].iloc[-1] > 0
    calls: list[object] = []
    fast_best = fn._fast_best

    def counted(*args: object, **kwargs: object) -> object:
        calls.append(args[1])
        return fast_best(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(fn, "_fast_best", counted)
    project.data_changed()
    extra = {"period": "week"}
    for name, frame in want.items():
        got = project.run(
            name, steps=steps, window="30d", **(extra if name == "funnel_trend" else {})
        )
        pd.testing.assert_frame_equal(got.frame, frame, check_dtype=False, obj=name)
    # The event funnel counts without customer ids on the coded path: one more there.
    assert len(calls) == (1 if steps[0].startswith("stage:") else 2)
    project.run("funnel_time", steps=steps, window="30d", since="2025-03-01")
    assert len(calls) == (2 if steps[0].startswith("stage:") else 3)  # another period
    project.data_changed()  # a new version computes them again
    project.run("funnel_time", steps=steps, window="30d")
    assert len(calls) == (3 if steps[0].startswith("stage:") else 4)


def test_survey_scores_read_the_kept_tagged_events(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With a stage on the survey, its answers are read from the memo's tagged copy when it
    keeps one (a persona's: cut once): the same scores as from the events themselves."""
    from kundresa.analytics import surveys
    from kundresa.analytics.touchpoints import kept_tagged

    assert [s.stage for s in project.journey.surveys] == ["retention"]
    read: list[object] = []

    def spy(events: object, journey: object) -> object:
        read.append(found := kept_tagged(events, journey))  # type: ignore[arg-type]
        return found

    monkeypatch.setattr(surveys, "kept_tagged", spy)
    for persona in (None, "business"):
        scope = project.scope(persona=persona, lang="en")
        want = surveys.survey_scores(scope, lang="en")  # no memo in use: from the events
        assert want["responses"].sum() > 0
        project.data_changed()
        project.run(
            "touchpoints", persona=persona
        )  # tags (or cuts) this scope's events, as the map
        got = project.run("surveys", persona=persona, lang="en").frame
        pd.testing.assert_frame_equal(got, want, check_dtype=False)
        assert read[-1] is not None  # read from the kept copy
