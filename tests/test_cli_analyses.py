"""The analysis commands on a small demo project, as a user runs them."""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from kundresa.cli import main


def run(*args: str) -> Result:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("cli") / "demo"
    r = run("demo", str(target), "--customers", "400", "--no-serve")
    assert r.exit_code == 0, r.output
    return target


def as_json(*args: str) -> list[dict]:
    r = run(*args, "--format", "json")
    assert r.exit_code == 0, r.output
    data = json.loads(r.stdout)
    assert isinstance(data, list)
    return data


def test_transitions(demo: Path) -> None:
    rows = as_json("transitions", "--project", str(demo))
    out: dict[str, float] = defaultdict(float)
    for r in rows:
        out[r["from_stage"]] += r["probability"]
    assert all(abs(v - 1) < 1e-9 for v in out.values())
    assert any(r["direction"] == "backward" for r in rows)
    wide = run("transitions", "--project", str(demo), "--wide")
    assert wide.exit_code == 0 and "(end)" in wide.output
    assert "100.0%" in wide.output  # (start) -> first stage, a probability
    inner = as_json("transitions", "--project", str(demo), "--no-ends")
    assert {r["direction"] for r in inner} <= {"forward", "backward"}


def test_touchpoints_as_the_map_counts_them(demo: Path) -> None:
    # The README named `kundresa touchpoints` (its label and channel_label columns), and the
    # map page shows the table, but the command did not exist ("No such command").
    from kundresa.project import Project
    from kundresa.web.views import Analyses, map_view

    rows = as_json("touchpoints", "--project", str(demo), "--persona", "student", "--lang", "sv")
    assert {"touchpoint", "label", "channel_label", "customers", "events"} <= set(rows[0])
    with Project.open(demo, read_only=True) as project:
        page = map_view(Analyses(project, persona="student", lang="sv"))
    got = {(r["touchpoint"], r["label"], r["customers"], r["events"]) for r in rows}
    assert got == {
        (t["touchpoint"], t["label"], t["customers"], t["events"]) for t in page["touchpoints"]
    }


def test_touchpoints_stage_is_the_id_in_every_language(demo: Path) -> None:
    # `stage` was the stage's label, so it changed with --lang and did not join with the
    # `stage` of `kundresa stages` (an id there, as in every other analysis).
    ids = {r["stage"] for r in as_json("stages", "--project", str(demo))}
    words = {"sv": "Medvetenhet", "da": "Bevidsthed", "en": "Awareness"}
    for lang, word in words.items():
        rows = as_json("touchpoints", "--project", str(demo), "--lang", lang)
        named = [r for r in rows if r["touchpoint"] != "(none)"]
        assert {r["stage"] for r in named} <= ids
        assert {r["stage"]: r["stage_label"] for r in named}["awareness"] == word


def test_touchpoints_in_the_maps_order(demo: Path) -> None:
    # "In journey order (the map's touchpoints row)", but the rows came in the file's order,
    # which puts repeat_purchase (retention; before first_purchase for `nth: 2`) first.
    from kundresa.project import Project

    rows = as_json("touchpoints", "--project", str(demo))
    with Project.open(demo, read_only=True) as project:
        journey = project.journey
    by_stage = [t.id for s in journey.stage_ids for t in journey.touchpoints if t.stage == s]
    assert [r["touchpoint"] for r in rows] == [*by_stage, "(none)"]


def test_journeys_views(demo: Path) -> None:
    summary = {r["measure"]: r for r in as_json("journeys", "--project", str(demo))}
    assert summary["customers"]["total"] >= 350
    assert summary["backward_moves"]["total"] > 0
    time = as_json("journeys", "--project", str(demo), "--view", "time")
    assert time[0]["stage"] == "awareness"
    assert all(r["visits"] == r["left"] + r["open"] for r in time)
    customers = as_json("journeys", "--project", str(demo), "--view", "customers")
    assert len(customers) == summary["customers"]["total"]


def test_customer_timeline(demo: Path) -> None:
    first = as_json("journeys", "--project", str(demo), "--view", "customers")[0]
    visits = as_json("customer", first["customer_id"], "--project", str(demo))
    assert len(visits) == first["visits"]
    assert visits[0]["move"] == "start"
    events = as_json("customer", first["customer_id"], "--project", str(demo), "--events-list")
    assert len(events) >= len(visits)
    missing = run("customer", "nobody", "--project", str(demo))
    assert missing.exit_code == 1 and "no events for customer 'nobody'" in missing.output


def test_paths_views(demo: Path) -> None:
    variants = as_json("paths", "--project", str(demo), "--level", "stage", "--top", "3")
    assert len(variants) == 3 and variants[0]["count"] >= variants[1]["count"]
    sankey = as_json(
        "paths", "--project", str(demo), "--view", "sankey", "--start", "stage:awareness"
    )
    assert {r["source_step"] for r in sankey} >= {1}
    dfg = as_json("paths", "--project", str(demo), "--view", "dfg", "--level", "event")
    starts = sum(r["count"] for r in dfg if r["source"] == "(start)")
    ends = sum(r["count"] for r in dfg if r["target"] == "(end)")
    assert starts == ends >= 350  # one case per customer by default for the DFG
    bad = run("paths", "--project", str(demo), "--start", "stage:nowhere")
    assert bad.exit_code == 2 and "no stage 'nowhere'" in bad.output
    bad = run("paths", "--project", str(demo), "--steps", "99")
    assert bad.exit_code == 2 and "steps must be" in bad.output


def test_stages_two_periods(demo: Path) -> None:
    rows = as_json(
        "stages",
        "--project",
        str(demo),
        "--since",
        "2025-06-01",
        "--until",
        "2025-09-01",
        "--compare-to",
        "previous",
    )
    assert "previous_reached" in rows[0] and "conversion_change" in rows[1]
    now = as_json(
        "stages", "--project", str(demo), "--since", "2025-06-01", "--until", "2025-09-01"
    )
    before = as_json(
        "stages", "--project", str(demo), "--since", "2025-03-01", "--until", "2025-06-01"
    )
    assert [r["reached"] for r in rows] == [r["reached"] for r in now]
    assert [r["previous_reached"] for r in rows] == [r["reached"] for r in before]
    table = run(
        "stages",
        "--project",
        str(demo),
        "--since",
        "2025-06-01",
        "--until",
        "2025-09-01",
        "--compare-to",
        "2025-01-01:2025-02-01",
    )
    assert table.exit_code == 0 and "previous_reached" in table.output
    bad = run("stages", "--project", str(demo), "--compare-to", "previous")
    assert bad.exit_code == 2 and "needs both since and until" in bad.output
    bad = run(
        "stages",
        "--project",
        str(demo),
        "--since",
        "2025-01-01",
        "--until",
        "2025-02-01",
        "--compare-to",
        "last year",
    )
    assert bad.exit_code == 2 and "is not a period" in bad.output


def test_funnel_views(demo: Path) -> None:
    steps = ["--step", "ad_click", "--step", "page_view|checkout_start", "--step", "purchase"]
    base = ["funnel", "--project", str(demo), *steps, "--window", "30d"]
    funnel = as_json(*base)
    trend = as_json(*base, "--view", "trend", "--period", "month")
    assert sum(r["started"] for r in trend) == funnel[0]["count"]
    time = as_json(*base, "--view", "time")
    assert time and sum(r["customers"] for r in time if r["step"] == 2) == funnel[1]["count"]
    reached = as_json(*base, "--view", "customers", "--customers-at", "2")
    assert len(reached) == funnel[1]["count"]
    dropped = as_json(*base, "--view", "customers", "--customers-at", "2", "--dropped")
    assert len(dropped) == funnel[1]["count"] - funnel[2]["count"]
    bad = run(*base, "--view", "customers", "--customers-at", "9")
    assert bad.exit_code == 2 and "step 9 does not exist" in bad.output


def test_engine_failure_is_one_clear_line(demo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import duckdb

    from kundresa.analytics import stages

    def broken(*args: object, **kwargs: object) -> None:
        raise duckdb.BinderException("Binder Error: no such column\nLINE 1: SELECT ...")

    monkeypatch.setattr(stages, "stage_funnel", broken)
    r = run("stages", "--project", str(demo))
    assert r.exit_code == 1
    assert "the query engine (duckdb) failed: Binder Error: no such column" in r.output
    assert "Traceback" not in r.output and "LINE 1" not in r.output


def test_any_ibis_backend_url(demo: Path, tmp_path: Path) -> None:
    url = f"duckdb://{tmp_path / 'elsewhere.ddb'}"
    a = as_json("stages", "--project", str(demo))
    assert as_json("stages", "--project", str(demo), "--engine", url) == a
    # The second run finds the events table already there.
    assert as_json("stages", "--project", str(demo), "--engine", url) == a
    bad = run("stages", "--project", str(demo), "--engine", "nosuchdb://x")
    assert bad.exit_code == 1 and "--engine 'nosuchdb://x'" in bad.output


def test_compare_correlation_bottlenecks(demo: Path) -> None:
    rows = as_json("compare", "--project", str(demo), "--by", "variant")
    assert rows[0]["stage"] == "awareness"
    assert {rows[0]["segment_a"], rows[0]["segment_b"]} == {"A", "B"}
    assert all(r["ci_low_a"] <= r["rate_a"] <= r["ci_high_a"] for r in rows)
    bad = run("compare", "--project", str(demo), "--by", "persona")
    assert bad.exit_code == 2
    corr = as_json(
        "correlation", "--project", str(demo), "--target", "stage:decision", "--top", "5"
    )
    assert 0 < len(corr) <= 5 and {"odds_ratio", "ci_low", "ci_high"} <= set(corr[0])
    ranked = as_json("bottlenecks", "--project", str(demo))
    assert ranked and {"lost", "rank_lost", "p_value"} <= set(ranked[0])
    assert [r["lost"] for r in ranked] == sorted((r["lost"] for r in ranked), reverse=True)
    kpis = as_json("bottlenecks", "--project", str(demo), "--kpis")
    assert kpis and {"metric", "target", "actual", "met"} <= set(kpis[0])
    table = run("bottlenecks", "--project", str(demo), "--compare-to", "none")
    assert table.exit_code == 0, table.output


def test_retention_views(demo: Path) -> None:
    long = as_json("retention", "--project", str(demo), "--view", "long", "--period", "month")
    assert all(r["period"] != 0 or r["rate"] == 1.0 for r in long)
    matrix = as_json("retention", "--project", str(demo), "--period", "month")
    assert {r["cohort"] for r in matrix} == {r["cohort"] for r in long}
    repeat = as_json("retention", "--project", str(demo), "--view", "repeat")
    assert repeat[0]["purchasers"] >= repeat[0]["repeat_purchasers"]
    life = as_json("retention", "--project", str(demo), "--view", "lifecycle", "--period", "month")
    assert all(r["active"] == r["new"] + r["returning"] + r["resurrecting"] for r in life)
    bad = run("retention", "--project", str(demo), "--purchase", "stage:nowhere")
    assert bad.exit_code == 2
    # In the terminal the matrix's cells are percentages, the cohort sizes counts.
    shown = run("retention", "--project", str(demo), "--period", "month", "--periods", "2")
    assert "100.0%" in shown.output and " 1.00 " not in shown.output
    first = matrix[0]
    assert f"{first['cohort_size']:,} " in shown.output


def test_an_engine_without_a_rule_points_to_the_engines_doc(demo: Path, tmp_path: Path) -> None:
    """SQLite takes the events but Ibis has no rule for some of what the analyses send: the
    one-line error says where the supported engines are listed."""
    r = run("stages", "--project", str(demo), "--engine", f"sqlite:///{tmp_path / 'e.db'}")
    assert r.exit_code == 1, r.output
    assert "the query engine (ibis) failed: Compilation rule for" in r.output
    assert "docs/engines.md" in r.output
    assert "Traceback" not in r.output and len(r.output.strip().splitlines()) == 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["retention", "--view", "repeat", "--period", "month"],
            "--period does not apply to --view repeat; it goes with --view matrix or --view "
            "long or --view lifecycle",
        ),
        (
            ["funnel", "--step", "ad_click", "--step", "purchase", "--period", "week"],
            "--period does not apply to --view steps; it goes with --view trend",
        ),
        (
            ["bottlenecks", "--kpis", "--step", "ad_click", "--step", "purchase"],
            "--step does not apply with --kpis; leave out --kpis to use it",
        ),
    ],
)
def test_an_option_the_view_does_not_take_is_a_usage_error(
    demo: Path, args: list[str], message: str
) -> None:
    """An option given for another view was dropped without a word (``retention --view
    repeat --period month`` printed the totals, as without ``--period``)."""
    r = run(*args, "--project", str(demo))
    assert r.exit_code == 2 and f"Error: {message}\n" in r.output, r.output


def test_an_option_a_view_takes_by_default_is_not_refused(demo: Path) -> None:
    # --period has a default for the views that take it; not giving it is no error.
    assert run("retention", "--view", "repeat", "--project", str(demo)).exit_code == 0
    assert (
        run(
            "retention", "--view", "lifecycle", "--period", "month", "--project", str(demo)
        ).exit_code
        == 0
    )


def test_compare_names_its_options_as_typed(demo: Path) -> None:
    """The Python names (``a and b: by='persona' ... with a= and b=``) were printed on the
    command line, and '1 segment values'."""
    r = run("compare", "--by", "persona", "--persona", "private", "--project", str(demo))
    assert r.exit_code == 2
    assert (
        "Error: --a and --b: by 'persona' has 1 segment value, not two; name the two to "
        "compare with --a and --b (found: private)\n"
    ) in r.output, r.output
    r = run("compare", "--by", "persona", "--a", "nobody", "--b", "private", "--project", str(demo))
    assert r.exit_code == 2 and "Error: --a: 'nobody' is not a segment value" in r.output


@pytest.mark.parametrize(
    ("option", "when", "said"),
    [
        ("--since", "2025-10-26T02:30", "is ambiguous in Europe/Stockholm"),
        ("--until", "2025-03-30T02:30", "does not exist in Europe/Stockholm"),
    ],
)
def test_a_period_bound_the_clocks_skip_or_repeat_names_the_option(
    tmp_path: Path, option: str, when: str, said: str
) -> None:
    """Said as 'since ... is ambiguous' (the Python name) where 'not a date' said --since."""
    events = tmp_path / "events.csv"
    events.write_text("customer_id,timestamp,event\nc1,2025-06-01T10:00:00Z,visit\n")
    journey = tmp_path / "journey.yaml"
    journey.write_text(
        "kundresa: 1\nname: Shop\ntimezone: Europe/Stockholm\nstages: [{id: a}, {id: b}]\n"
    )
    r = run("stages", "--events", str(events), "--journey", str(journey), option, when)
    assert r.exit_code == 2 and f"Error: {option} {when} {said}" in r.output, r.output
