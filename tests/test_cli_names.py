"""Names on the command line: unknown ones are usage errors or warnings, never silent zeros;
user text is shown as written; the CLI starts without the engines or the web app."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from kundresa.cli import main

JOURNEY = """\
kundresa: 1
name: Shop
template: buyers-journey
language: en
personas:
  - {id: pro, name: Pro, match: {property: segment, equals: business}}
touchpoints:
  - {id: ad, stage: awareness, match: {event: ad_click}}
  - {id: pricing_page, stage: consideration, match: {event: page_view, where: {path: /pricing}}}
  - {id: buy, stage: decision, match: {event: purchase}}
"""

EVENTS = """\
customer_id,timestamp,event,channel,path,segment
u1,2025-03-01 09:00,ad_click,search,,business
u1,2025-03-02 09:00,page_view,web,/pricing,business
u1,2025-03-03 09:00,purchase,web,,business
u2,2025-03-01 10:00,ad_click,social,,private
u2,2025-03-05 10:00,page_view,web,/,private
u3,2025-04-01 10:00,ad_click,search,,business
u3,2025-04-02 10:00,purchase,web,,business
u3,2025-04-20 10:00,purchase,web,,business
"""


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    root = tmp_path_factory.mktemp("names")
    (root / "journey.yaml").write_text(JOURNEY)
    (root / "events.csv").write_text(EVENTS)
    return ["--events", str(root / "events.csv"), "--journey", str(root / "journey.yaml")]


def run(*args: str) -> Result:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def rows(r: Result) -> list[dict]:
    assert r.exit_code == 0, r.output
    data = json.loads(r.stdout)
    assert isinstance(data, list)
    return data


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ("funnel", "--step", "stage:nosuch", "--step", "purchase"),
            "no stage 'nosuch'; stages: awareness, consideration, decision",
        ),
        (
            ("funnel", "--step", "ad_click", "--step", "touchpoint:nosuch"),
            "no touchpoint 'nosuch'; touchpoints: ad, pricing_page, buy",
        ),
        (
            ("funnel", "--step", "ad_click", "--step", "purchase", "--persona", "nobody"),
            "no persona 'nobody'; personas: pro",
        ),
        (("paths", "--start", "stage:nowhere"), "no stage 'nowhere'"),
        (("retention", "--purchase", "touchpoint:nope"), "no touchpoint 'nope'"),
        (("stages", "--since", "2025-04-01", "--until", "2025-03-01"), "is not before --until"),
        (("stages", "--since", "2025-03-01", "--until", "2025-03-01"), "the period is empty"),
        (("funnel", "--step", "a", "--step", "b", "--since", "soon"), "is not a date"),
    ],
)
def test_unknown_journey_names_are_usage_errors(
    files: list[str], args: tuple[str, ...], message: str
) -> None:
    r = run(*args, *files)
    assert r.exit_code == 2, r.output
    assert message in r.output
    assert "Traceback" not in r.output


@pytest.mark.parametrize(
    ("args", "warning"),
    [
        (("stages", "--by", "nosuchprop"), "property 'nosuchprop' never occurs in the data"),
        (("paths", "--start", "nosuch"), "event 'nosuch' never occurs in the data"),
        (("correlation", "--target", "nosuch"), "event 'nosuch' never occurs in the data"),
        (
            ("retention", "--purchase", "nosuch", "--view", "repeat"),
            "event 'nosuch' never occurs in the data",
        ),
        (
            ("funnel", "--step", "ad_click", "--step", "signup"),
            "event 'signup' never occurs in the data",
        ),
        (
            ("attribution", "--conversion", "signup"),
            "event 'signup' never occurs in the data",
        ),
    ],
)
def test_names_not_in_the_data_are_warnings(
    files: list[str], args: tuple[str, ...], warning: str
) -> None:
    r = run(*args, *files, "--format", "json")
    assert r.exit_code == 0, r.output
    assert warning in r.stderr
    assert warning not in r.stdout  # JSON on stdout stays clean
    json.loads(r.stdout)


def test_a_touchpoint_id_as_a_step(files: list[str]) -> None:
    r = run("funnel", "--step", "ad_click", "--step", "pricing_page", *files, "--format", "json")
    assert [x["count"] for x in rows(r)] == [3, 1]
    assert "note: step 'pricing_page' read as touchpoint:pricing_page" in r.stderr
    by_stage = run("paths", "--level", "stage", "--start", "consideration", *files)
    assert by_stage.exit_code == 0 and "read as stage:consideration" in by_stage.stderr


def test_persona_scope(files: list[str]) -> None:
    everyone = rows(
        run("funnel", "--step", "ad_click", "--step", "purchase", *files, "--format", "json")
    )
    pros = rows(
        run(
            "funnel",
            "--step",
            "ad_click",
            "--step",
            "purchase",
            "--persona",
            "pro",
            *files,
            "--format",
            "json",
        )
    )
    assert [x["count"] for x in everyone] == [3, 2]
    assert [x["count"] for x in pros] == [2, 2]


def test_tables_write_units(files: list[str]) -> None:
    r = run("attribution", "--view", "removal", "--conversion", "purchase", *files)
    assert r.exit_code == 0, r.output
    line = next(x for x in r.stdout.splitlines() if "search" in x)
    assert "%" in line  # removal_effect is a rate, as on the web
    as_json = rows(run("attribution", "--view", "removal", *files, "--format", "json"))
    assert 0 <= as_json[0]["removal_effect"] <= 1  # raw fractions in JSON
    funnel = run("funnel", "--step", "ad_click", "--step", "purchase", *files)
    assert "1.5 d" in funnel.stdout  # median time to convert: 2 days and 1 day


def test_user_text_is_not_markup(files: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    r = run("customer", "[bold]c01", *files)
    assert r.exit_code == 1
    assert "no events for customer '[bold]c01'" in r.output

    from kundresa.store import engines

    def no_spark(engine: str, warehouse: object) -> None:
        raise engines.EngineError(
            "--engine spark needs the spark extra: `pip install 'kundresa[spark]'`"
        )

    monkeypatch.setattr(engines, "events_table", no_spark)
    r = run("stages", *files, "--engine", "spark")
    assert r.exit_code == 1
    assert "pip install 'kundresa[spark]'" in r.output


def test_startup_loads_neither_engines_nor_web() -> None:
    code = (
        "import sys\n"
        "from click.testing import CliRunner\n"
        "import kundresa.cli\n"
        "for args in (['--version'], ['--help'], ['validate', '--help'], ['funnel', '--help']):\n"
        "    assert CliRunner().invoke(kundresa.cli.main, args).exit_code == 0, args\n"
        "heavy = {'fastapi', 'ibis', 'duckdb', 'pyarrow', 'pandas', 'starlette'}\n"
        "print(sorted(heavy & {m.split('.')[0] for m in sys.modules}))\n"
    )
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", code],
        capture_output=True,
        text=True,
        check=True,
    )
    assert done.stdout.strip() == "[]", done.stdout
    imported = {line.split("|")[-1].strip() for line in done.stderr.splitlines() if "|" in line}
    assert not {m for m in imported if m.split(".")[0] in ("fastapi", "ibis")}


def test_validate_runs_without_engines(tmp_path: Path) -> None:
    journey = tmp_path / "journey.yaml"
    journey.write_text(JOURNEY)
    code = (
        "import sys\n"
        "from kundresa.cli import main\n"
        f"main(['validate', {str(journey)!r}], standalone_mode=False)\n"
        "print(sorted({'fastapi', 'ibis'} & {m.split('.')[0] for m in sys.modules}))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip().endswith("[]"), done.stdout
    assert ": ok" in done.stdout
