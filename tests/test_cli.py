"""The command line, as a user runs it, including every bad-input path."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from kundresa.cli import main

EVENTS = """user_id,ts,event_name,channel,segment,path
u1,2025-01-01 10:00:00,ad_click,social,private,
u1,2025-01-02 10:00:00,page_view,web,private,/pricing
u1,2025-01-03 10:00:00,purchase,web,private,
u2,2025-01-01 11:00:00,ad_click,search,business,
u3,2025-01-04 12:00:00,purchase,store,business,
,2025-01-04 12:00:00,purchase,store,business,
u4,yesterday,purchase,store,business,
"""


def run(*args: str, cwd: Path | None = None) -> Result:
    runner = CliRunner()
    if cwd is None:
        return runner.invoke(main, list(args), catch_exceptions=False)
    import os

    old = Path.cwd()
    os.chdir(cwd)
    try:
        return runner.invoke(main, list(args), catch_exceptions=False)
    finally:
        os.chdir(old)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    r = run("init", str(tmp_path / "p"), "--template", "kundresa-5", "--lang", "sv")
    assert r.exit_code == 0, r.output
    return tmp_path / "p"


def test_templates_lists_all_seven() -> None:
    r = run("templates", "--format", "json")
    assert r.exit_code == 0
    data = json.loads(r.stdout)
    assert [t["id"] for t in data] == [
        "buyers-journey",
        "kunderejse-4",
        "kundresa-5",
        "kundresa-cirkel",
        "fore-under-efter",
        "kundresa-7",
        "tratt-7",
    ]
    circle = next(t for t in data if t["id"] == "kundresa-cirkel")
    assert circle["circular"] is True
    assert circle["stages"][0]["label"]["sv"] == "Medvetenhet"
    table = run("templates")
    assert "kundresa-cirkel" in table.output and "Lojalitet" in table.output
    assert (
        "ToFu" in table.output
        and "BoFu" in table.output
        and "oFu " not in table.output.replace("ToFu", "").replace("MoFu", "").replace("BoFu", "")
    )


@pytest.mark.parametrize("lang", ["sv", "da", "en"])
@pytest.mark.parametrize(
    "template",
    [
        "buyers-journey",
        "kunderejse-4",
        "kundresa-5",
        "kundresa-cirkel",
        "fore-under-efter",
        "kundresa-7",
        "tratt-7",
    ],
)
def test_init_output_validates(tmp_path: Path, template: str, lang: str) -> None:
    r = run("init", str(tmp_path), "--template", template, "--lang", lang)
    assert r.exit_code == 0, r.output
    text = (tmp_path / "journey.yaml").read_text()
    assert text.lstrip().startswith("#")  # commented for the marketer who edits it
    v = run("validate", str(tmp_path / "journey.yaml"), "--strict")
    assert v.exit_code == 0, v.output
    assert v.output.strip().endswith(": ok")


def test_init_refuses_to_overwrite(project: Path) -> None:
    r = run("init", str(project))
    assert r.exit_code == 1
    assert "already exists" in r.output
    assert run("init", str(project), "--force").exit_code == 0


def test_init_unknown_template_is_a_usage_error(tmp_path: Path) -> None:
    r = run("init", str(tmp_path), "--template", "nope")
    assert r.exit_code == 2
    assert "unknown template 'nope'" in r.output


def test_init_refuses_a_name_that_is_not_one_line(tmp_path: Path) -> None:
    # The name is written into the file's header comment too: a line break in it ended the
    # comment, and the rest was read as keys of the new journey file ('description: ...').
    for name in ("Shop\ndescription: injected", "Shop\rx", "Tab\there", "Esc\x1b[31m"):
        r = run("init", str(tmp_path / "p"), "--name", name)
        assert r.exit_code == 1, r.output
        assert r.output.startswith("error: name: "), r.output
        assert "a journey's name is one line of text" in r.output
        assert len(r.output.strip().splitlines()) == 1
        assert not (tmp_path / "p").exists()
    assert run("init", str(tmp_path / "p"), "--name", "Shop: «ü» # 1").exit_code == 0


def test_validate_reports_every_problem_with_position(tmp_path: Path) -> None:
    f = tmp_path / "journey.yaml"
    f.write_text(
        "kundresa: 1\n"
        "name: Test\n"
        "template: buyers-journey\n"
        "channels:\n"
        "  - {id: web, online: true, ownership: owned}\n"
        "touchpoints:\n"
        "  - {id: a, stage: awareness, channel: tv, match: {event: x}}\n"
        "  - {id: b, stage: decison, match: {event: y}}\n"
        "  - {id: c, stage: decision, match: {event: z, where: {p: {regex: '('}}}}\n"
        "lanes:\n"
        "  emotions: {awareness: 5}\n"
    )
    r = run("validate", str(f))
    assert r.exit_code == 1
    lines = r.output.splitlines()
    assert any(line.startswith(f"{f}:7:") and "tv" in line for line in lines), r.output
    assert any(line.startswith(f"{f}:8:") and "decison" in line for line in lines), r.output
    assert any(line.startswith(f"{f}:9:") and "regex" in line.lower() for line in lines)
    assert any(line.startswith(f"{f}:11:") and "-2" in line for line in lines), r.output
    js = json.loads(run("validate", str(f), "--format", "json").output)
    assert {p["line"] for p in js if p["severity"] == "error"} >= {7, 8, 9, 11}


def test_validate_takes_the_project_folder_as_every_command_does(tmp_path: Path) -> None:
    assert run("init", str(tmp_path / "p")).exit_code == 0
    r = run("validate", "--project", str(tmp_path / "p"), cwd=tmp_path)
    assert r.exit_code == 0 and f"{tmp_path / 'p' / 'journey.yaml'}: ok" in r.output
    r = run("validate", "--project", str(tmp_path / "nothing"))
    assert r.exit_code == 2 and "nothing" in r.output and "no such file" in r.output


def test_validate_usage_errors(tmp_path: Path) -> None:
    assert run("validate", str(tmp_path / "missing.yaml")).exit_code == 2
    assert run("validate", "--bogus").exit_code == 2


def test_validate_expired_review_is_a_warning(tmp_path: Path) -> None:
    f = tmp_path / "journey.yaml"
    f.write_text(
        "kundresa: 1\nname: T\ntemplate: buyers-journey\nreview_by: 2020-01-01\n"
        "touchpoints:\n"
        "  - {id: a, stage: awareness, match: {event: x}}\n"
        "  - {id: b, stage: consideration, match: {event: y}}\n"
        "  - {id: c, stage: decision, match: {event: z}}\n"
    )
    r = run("validate", str(f))
    assert r.exit_code == 0, r.output
    assert "warning" in r.output and "review" in r.output
    assert run("validate", str(f), "--strict").exit_code == 1


def test_ingest_info_stages_and_quarantine(project: Path, tmp_path: Path) -> None:
    f = tmp_path / "events.csv"
    f.write_text(EVENTS)
    r = run("ingest", str(f), "--project", str(project))
    assert r.exit_code == 0, r.output
    assert "read 7  loaded 5  duplicates 0  quarantined 2" in r.output
    again = run("ingest", str(f), "--project", str(project), "--format", "json")
    data = json.loads(again.stdout)
    assert (data["loaded"], data["duplicates"]) == (0, 5)
    q = run("quarantine", "--project", str(project), "--format", "json")
    lines = {row["line"]: row["reason"] for row in json.loads(q.stdout)}
    assert set(lines) == {7, 8}
    assert "missing customer id" in lines[7]
    info = run("info", "--project", str(project), "--format", "json")
    data = json.loads(info.stdout)
    assert data["events"] == 5
    assert data["customers"] == 3
    assert data["quarantined"] == 2
    assert data["last_ingest"]["loaded"] == 0
    assert data["journey"]["stages"][0]["label"] == "Medvetenhet"
    text = run("info", "--project", str(project)).output
    assert "Medvetenhet" in text and "events: 5 from 3 customers" in text
    st = run("stages", "--project", str(project), "--format", "json")
    assert st.exit_code == 0, st.output
    rows = json.loads(st.stdout)
    assert [r["stage"] for r in rows] == [
        "awareness",
        "consideration",
        "decision",
        "retention",
        "advocacy",
    ]
    assert set(rows[0]) >= {
        "stage",
        "label",
        "reached",
        "entered",
        "conversion_from_previous",
        "conversion_from_start",
        "dropped",
    }


def test_ingest_bad_inputs(project: Path, tmp_path: Path) -> None:
    r = run("ingest", str(tmp_path / "nope.csv"), "--project", str(project))
    assert r.exit_code == 1 and "nope.csv: no such file" in r.output
    bad = tmp_path / "bad.csv"
    bad.write_text("who,when\na,2025-01-01\n")
    r = run("ingest", str(bad), "--project", str(project))
    assert r.exit_code == 1
    assert "bad.csv: no customer_id column" in r.output
    assert "Traceback" not in r.output
    r = run("ingest", str(bad), "--project", str(project), "--customer-col", "nope")
    assert r.exit_code == 1 and "--customer-col 'nope' is not a column" in r.output
    xl = tmp_path / "e.xlsx"
    xl.write_text("x")
    r = run("ingest", str(xl), "--project", str(project))
    assert r.exit_code == 1 and "unknown file type" in r.output
    r = run("ingest", str(bad), "--project", str(project), "--tz", "Nowhere/City")
    assert r.exit_code == 2 and "not a time zone" in r.output  # a usage error
    assert run("ingest", "--project", str(project)).exit_code == 2
    info = json.loads(run("info", "--project", str(project), "--format", "json").output)
    assert info["events"] == 0 and info["last_ingest"] is None


def test_stages_on_events_file_without_project(project: Path, tmp_path: Path) -> None:
    f = tmp_path / "events.csv"
    f.write_text(EVENTS)
    r = run(
        "stages",
        "--events",
        str(f),
        "--journey",
        str(project / "journey.yaml"),
        "--format",
        "csv",
    )
    assert r.exit_code == 0, r.output
    assert r.stdout.splitlines()[0].startswith("stage,label,reached,entered")
    assert "rows quarantined" in r.stderr  # EVENTS has bad rows: the note is on stderr


def test_stages_errors(tmp_path: Path) -> None:
    r = run("stages", "--project", str(tmp_path))
    assert r.exit_code == 1 and "no journey file" in r.output
    r = run("stages", "--events", str(tmp_path / "missing.csv"))
    assert r.exit_code == 1 and "no such file" in r.output
    broken = tmp_path / "journey.yaml"
    broken.write_text("kundresa: 1\nname: x\nstages: [{id: a}, {id: a}]\n")
    r = run("stages", "--project", str(tmp_path))
    assert r.exit_code == 1 and "journey.yaml:3" in r.output


def test_demo_builds_a_project(tmp_path: Path) -> None:
    target = tmp_path / "demo"
    r = run("demo", str(target), "--customers", "300", "--no-serve")
    assert r.exit_code == 0, r.output
    assert (target / "journey.yaml").exists()
    assert "Customers per stage" in r.output
    info = json.loads(run("info", "--project", str(target), "--format", "json").output)
    assert info["events"] > 300
    assert info["customers"] >= 250
    assert info["journey"]["stages"][4]["id"] == "advocacy"
    # Rebuilding the demo in the same folder works; a foreign project is protected.
    assert run("demo", str(target), "--customers", "200", "--no-serve").exit_code == 0
    other = tmp_path / "mine"
    run("init", str(other))
    r = run("demo", str(other), "--customers", "100", "--no-serve")
    assert r.exit_code == 1 and "--force" in r.output


def test_funnel_command(project: Path, tmp_path: Path) -> None:
    f = tmp_path / "events.csv"
    f.write_text(EVENTS)
    r = run(
        "funnel",
        "--events",
        str(f),
        "--step",
        "ad_click",
        "--step",
        "purchase",
        "--window",
        "3d",
        "--format",
        "json",
    )
    assert r.exit_code == 0, r.output
    rows = json.loads(r.stdout)
    assert [(x["step"], x["event"], x["count"]) for x in rows] == [
        (1, "ad_click", 2),
        (2, "purchase", 1),
    ]
    assert rows[1]["median_seconds_to_convert"] == 2 * 86400
    assert rows[1]["conversion_from_previous"] == 0.5
    bad = run("funnel", "--events", str(f), "--step", "a", "--step", "b", "--window", "soon")
    assert bad.exit_code == 2 and "soon" in bad.output
    bad = run("funnel", "--events", str(f), "--step", "a", "--step", "b", "--exclude", "x")
    assert bad.exit_code == 2
    one = run("funnel", "--events", str(f), "--step", "a")
    assert one.exit_code == 2


def test_warehouse_held_by_another_process_is_one_clear_line(tmp_path: Path) -> None:
    """`kundresa serve` (or an ingest) holds the warehouse; other commands say so plainly."""
    import subprocess
    import sys

    target = tmp_path / "demo"
    assert run("demo", str(target), "--customers", "50", "--no-serve").exit_code == 0
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]);"
            " print('held', flush=True); time.sleep(120)",
            str(target / ".kundresa" / "warehouse.duckdb"),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        r = CliRunner().invoke(main, ["info", "--project", str(target)])
        assert r.exit_code == 1
        assert f"another process (PID {holder.pid}) has it open" in r.output
        assert "kundresa serve" in r.output
        assert "Traceback" not in r.output
    finally:
        holder.kill()
        holder.wait()
        holder.stdout.close()  # type: ignore[union-attr]


def test_parameters_are_checked_before_the_events_file_is_read(tmp_path: Path) -> None:
    """One funnel step is a usage error at once, before a file of events is read (a bad
    file is not even looked at): it once came after a whole file was loaded."""
    bad = tmp_path / "events.parquet"
    bad.write_bytes(b"not parquet at all")
    args = ["funnel", "--events", str(bad), "--step", "a", "--project", str(tmp_path / "p")]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2, result.output
    assert "funnel: at least 2 steps are needed, got 1" in result.output
    assert "parquet" not in result.output.lower()


def _duration_params() -> list[tuple[str, str, bool, bool]]:
    from kundresa.analyses._catalog import ANALYSES

    found = []
    for analysis in ANALYSES:
        for p in analysis.params:
            if p.type == "duration":
                found.append((analysis.name, p.name, p.off, p.positive))
    return found


def test_the_durations_that_cannot_be_zero_say_so() -> None:
    """A lookback, a half-life and a horizon of zero were refused only after the events were
    read (attribution's "must be longer than zero"): the registry knows them."""
    positive = {(a, p) for a, p, _, pos in _duration_params() if pos}
    assert {("attribution", "lookback"), ("attribution", "half_life")} <= positive
    assert ("predict", "horizon") in positive


@pytest.mark.parametrize(("analysis", "param", "off", "positive"), _duration_params())
def test_a_duration_that_does_not_parse_is_refused_before_the_events_are_read(
    analysis: str, param: str, off: bool, positive: bool
) -> None:
    """``--window 7x`` was reported after a whole file of events was read (only a duration out
    of range was caught at once): every duration parameter of every analysis now refuses
    text that is not one, naming itself; a session gap also takes ``none``."""
    from kundresa.analyses import ParameterError
    from kundresa.analyses._catalog import ANALYSES

    found = next(a for a in ANALYSES if a.name == analysis)
    base = {p.name: ["a", "b"] if p.multiple else "a" for p in found.params if p.required}
    with pytest.raises(ParameterError, match=f"^{param}: '7x' is not a duration"):
        found.check({**base, param: "7x"})
    assert found.check({**base, param: "90s"})[param] == "90s"
    if off:
        assert found.check({**base, param: "none"})[param] == "none"
    else:
        with pytest.raises(ParameterError, match="is not a duration"):
            found.check({**base, param: "none"})
    # Zero: off for a session gap, refused up front where it means nothing, else taken.
    for zero in ("0", "0d", 0, "0.0s"):
        if positive:
            with pytest.raises(ParameterError, match=f"^{param}: .* must be longer than zero"):
                found.check({**base, param: zero})
        else:
            assert found.check({**base, param: zero})[param] == zero
    # Left blank (an empty form field, --window ''): the default, never a late error that
    # named "window" whatever the parameter.
    default = next(p.default for p in found.params if p.name == param)
    assert found.check({**base, param: ""})[param] == default
    assert found.check({**base, param: "  "})[param] == default
    # Crafted text is refused at once, and shortened in the message (it was quadratic:
    # 15 s for 40,000 characters, echoed whole).
    with pytest.raises(ParameterError) as raised:
        found.check({**base, param: "1" + " " * 40_000 + "x"})
    assert len(str(raised.value)) < 200


@pytest.mark.parametrize("command", [["predict"], ["next", "c1"]])
@pytest.mark.parametrize(
    ("horizon", "says"),
    [
        ("0d", "--horizon: '0d' must be longer than zero"),
        ("99999999999999d", "--horizon: '99999999999999d' is not between 0 and 3650 days"),
        ("7x", "--horizon: '7x' is not a duration"),
    ],
)
def test_predict_and_next_check_the_horizon_before_the_project_is_opened(
    tmp_path: Path, command: list[str], horizon: str, says: str
) -> None:
    """``kundresa predict --horizon 99999999999999d`` read the whole history and failed with
    exit 1 ("363 days of history are too few for a 1e+14-day horizon"), where
    ``Project.run("predict", ...)`` gave the registry's usage error: both commands now check
    the horizon as the registry does, before opening the project (here: there is none)."""
    args = [*command, "--horizon", horizon, "--project", str(tmp_path / "none")]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2, result.output
    assert says in result.output


def test_a_bad_window_is_a_usage_error_before_the_file_is_read(tmp_path: Path) -> None:
    bad = tmp_path / "events.parquet"
    bad.write_bytes(b"not parquet at all")
    args = ["funnel", "--events", str(bad), "--step", "a", "--step", "b", "--window", "7x"]
    result = CliRunner().invoke(main, [*args, "--project", str(tmp_path / "p")])
    assert result.exit_code == 2, result.output
    assert "--window: '7x' is not a duration" in result.output
    assert "parquet" not in result.output.lower()


@pytest.mark.parametrize("wrote", [False, True])
def test_a_ctrl_c_a_library_swallowed_still_ends_the_command_as_interrupted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, wrote: bool
) -> None:
    """A ``KeyboardInterrupt`` caught inside a library (DuckDB's client does, in its own
    imports) let a command run on to its end (or to a later error) and exit 0 or 2: it ends
    with exit code 130, saying whether writes done before it stand."""
    import contextlib
    import signal

    from kundresa import _interrupts
    from kundresa.cli import analyses

    def swallowing(*args: object, **kwargs: object) -> None:
        if wrote:
            _interrupts.committed()
        with contextlib.suppress(KeyboardInterrupt):
            signal.raise_signal(signal.SIGINT)
        raise ValueError("ran on to another error")

    monkeypatch.setattr(analyses, "_run_in_project", swallowing)
    handler = signal.getsignal(signal.SIGINT)
    args = ["funnel", "--step", "a", "--step", "b", "--project", str(tmp_path / "p")]
    result = CliRunner().invoke(main, args)
    assert signal.getsignal(signal.SIGINT) is handler
    assert result.exit_code == 130, result.output
    said = "interrupted after changes were stored" if wrote else "interrupted; nothing was changed"
    assert said in result.output and "another error" not in result.output


@pytest.mark.parametrize("wrote", [False, True])
def test_a_second_ctrl_c_does_not_cut_the_line_short(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, wrote: bool
) -> None:
    """Two Ctrl-C within a few milliseconds: the second, landing while the first's line was
    being written, made click say "Aborted!" with exit code 1 (16 of 30 runs of a funnel
    sent two SIGINTs 0-8 ms apart; once after an ingest had stored its events, which the
    person was then not told). The command is ending: a second Ctrl-C is ignored."""
    import signal

    from kundresa import _interrupts
    from kundresa.cli import _common, analyses

    def interrupted(*args: object, **kwargs: object) -> None:
        if wrote:
            _interrupts.committed()
        raise KeyboardInterrupt

    printed = _common.err.print

    def print_after_another_ctrl_c(*args: object, **kwargs: object) -> None:
        signal.raise_signal(signal.SIGINT)
        printed(*args, **kwargs)

    monkeypatch.setattr(analyses, "_run_in_project", interrupted)
    monkeypatch.setattr(_common.err, "print", print_after_another_ctrl_c)
    handler = signal.getsignal(signal.SIGINT)
    args = ["funnel", "--step", "a", "--step", "b", "--project", str(tmp_path / "p")]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 130, result.output
    said = "interrupted after changes were stored" if wrote else "interrupted; nothing was changed"
    assert said in result.output and "Aborted" not in result.output
    assert signal.getsignal(signal.SIGINT) is handler  # given back to a caller in this process


def test_a_server_stopped_by_ctrl_c_says_stopped(capsys: pytest.CaptureFixture[str]) -> None:
    from kundresa.cli import _interrupted

    with pytest.raises(SystemExit) as done:
        _interrupted(KeyboardInterrupt(), wrote=True, serving=True)
    assert done.value.code == 130 and capsys.readouterr().err.strip() == "stopped"


def test_a_ctrl_c_while_the_command_line_loads_is_one_line() -> None:
    """Ctrl-C in the first tenth of a second of a command (while ``kundresa.cli`` is being
    imported, before its own handling exists) printed Python's traceback of the import."""
    code = textwrap.dedent(
        """
        import sys

        class Interrupting:
            def find_spec(self, name, path=None, target=None):
                if name == "kundresa.cli":
                    raise KeyboardInterrupt
                return None

        sys.meta_path.insert(0, Interrupting())
        sys.argv = ["kundresa", "--version"]
        from kundresa._command import run
        run()
        """
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 130, done.stderr
    assert done.stderr == "interrupted; nothing was changed\n" and done.stdout == ""
    script = subprocess.run(
        [sys.executable, "-m", "kundresa", "--version"], capture_output=True, text=True, timeout=60
    )
    assert script.returncode == 0 and script.stdout.startswith("kundresa"), script.stderr


def test_ingest_outside_a_project_says_where_the_events_went(tmp_path: Path) -> None:
    # A review's repro: `kundresa ingest` in a folder that is no project said only "loaded".
    events = tmp_path / "e.csv"
    events.write_text("customer_id,timestamp,event\nc1,2025-01-01 10:00,a\n", encoding="utf-8")
    first = run("ingest", "--project", str(tmp_path), str(events))
    assert first.exit_code == 0, first.output
    assert "is no project yet (no journey.yaml)" in first.stderr
    again = run("ingest", "--project", str(tmp_path), str(events))
    assert again.exit_code == 0 and "no project" not in again.stderr  # said once
    project = tmp_path / "p"
    assert run("init", str(project)).exit_code == 0
    inside = run("ingest", "--project", str(project), str(events))
    assert inside.exit_code == 0 and "no project" not in inside.stderr


@pytest.mark.parametrize("command", [["ingest"], ["paths", "--level", "event", "--events"]])
def test_an_unknown_tz_is_a_usage_error(tmp_path: Path, command: list[str]) -> None:
    """--tz names a time zone: an unknown name is a usage error (exit code 2, as an unknown
    --encoding), said before anything is read or stored."""
    events = tmp_path / "events.csv"
    events.write_text("customer_id,timestamp,event\nc1,2025-01-01 10:00,a\n", encoding="utf-8")
    (tmp_path / "p").mkdir()
    args = [*command, str(events)]
    if command == ["ingest"]:
        args += ["--project", str(tmp_path / "p")]
    args += ["--tz", "Mars/Base"]
    r = CliRunner().invoke(main, args)
    assert r.exit_code == 2, r.output
    assert "Invalid value for '--tz': 'Mars/Base' is not a time zone name" in r.output
    assert not (tmp_path / "p" / ".kundresa").exists()
    ok = CliRunner().invoke(main, [*args[:-1], "Europe/Stockholm"])
    assert ok.exit_code == 0, ok.output
