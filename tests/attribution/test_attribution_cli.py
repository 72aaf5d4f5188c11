"""`kundresa attribution` on a small hand-made project, as a user runs it.

The project (buyers-journey: awareness, consideration, decision) has five customers; with
``purchase`` as the conversion and a 30-day lookback their paths are

    c1  search > email   converts, value 100
    c2  social           converts, value 50
    c3  search > direct  converts, value 30
    c4  email > social   no conversion
    c5  search           no conversion

so 3 conversions worth 180. Hand-checked credits (conversions):

- first: search 2, social 1; last: email 1, social 1, direct 1;
  last non-direct: email 1, social 1, search 1 (c3 skips direct);
- linear: search 1, social 1, email 1/2, direct 1/2;
- position 60/20/20: two-touch paths split 60:20, so 3/4 to the first touch: search 3/2,
  social 1, email 1/4, direct 1/4;
- time decay, half-life 1 day: c1's touches are 2 and 1 days old (weights 1/4, 1/2: search
  1/3, email 2/3), c3's 6 days and 1 day (1/64, 1/2: search 1/33, direct 32/33);
- Markov order 1: (start)→search 3, →social 1, →email 1; search→email, →direct, →(null) 1
  each; email→(conversion) 1, →social 1; social→(conversion) 1, →(null) 1;
  direct→(conversion) 1. P(conversion) = 3/5; removal effects search 7/12, email 1/2,
  social 1/3, direct 1/3 (sum 7/4), so credits search 1, email 6/7, social 4/7, direct 4/7.
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from kundresa.cli import MODELS, main

JOURNEY = """\
kundresa: 1
name: Attribution test
template: buyers-journey
language: en
touchpoints:
  - {id: ad, stage: awareness, match: {event: ad}}
  - {id: newsletter, stage: consideration, match: {event: newsletter}}
  - {id: visit, stage: consideration, match: {event: visit}}
  - {id: purchase, stage: decision, match: {event: purchase}}
"""

EVENTS = """\
customer_id,timestamp,event,channel,value
c1,2025-03-01T10:00:00Z,ad,search,
c1,2025-03-02T10:00:00Z,newsletter,email,
c1,2025-03-03T10:00:00Z,purchase,,100
c2,2025-03-01T10:00:00Z,ad,social,
c2,2025-03-04T10:00:00Z,purchase,,50
c3,2025-03-01T10:00:00Z,ad,search,
c3,2025-03-06T10:00:00Z,visit,direct,
c3,2025-03-07T10:00:00Z,purchase,,30
c4,2025-03-01T10:00:00Z,newsletter,email,
c4,2025-03-03T10:00:00Z,ad,social,
c5,2025-03-01T10:00:00Z,ad,search,
"""

PATHS_FILE = """\
path,total_conversions,total_conversion_value,total_null
search > email,1,100,0
social,1,50,0
search > direct,1,30,0
email > social,0,0,1
search,0,0,1
"""

CONTRACT = {"channel", "model", "conversions", "value", "share"}


def run(*args: str) -> Result:
    return CliRunner().invoke(main, list(args))


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("attribution")
    (root / "journey.yaml").write_text(JOURNEY)
    events = root / "events.csv"
    events.write_text(EVENTS)
    r = run("ingest", str(events), "--project", str(root), "--quiet")
    assert r.exit_code == 0, r.output
    return root


def as_json(*args: str) -> list[dict]:
    r = run(*args, "--format", "json")
    assert r.exit_code == 0, r.output
    data = json.loads(r.stdout)
    assert isinstance(data, list)
    return data


def credits(rows: list[dict]) -> dict[str, float]:
    return {r["channel"]: r["conversions"] for r in rows}


HAND_CHECKED = {
    "first": {"search": 2, "social": 1, "email": 0, "direct": 0},
    "last": {"search": 0, "social": 1, "email": 1, "direct": 1},
    "last_non_direct": {"search": 1, "social": 1, "email": 1, "direct": 0},
    "linear": {"search": 1, "social": 1, "email": 0.5, "direct": 0.5},
    "markov": {"search": 1, "social": 4 / 7, "email": 6 / 7, "direct": 4 / 7},
}


@pytest.mark.parametrize("model", MODELS)
def test_every_model_json_contract(project: Path, model: str) -> None:
    rows = as_json("attribution", "--project", str(project), "--model", model)
    assert len(rows) == 4
    for r in rows:
        assert set(r) >= CONTRACT, r
        assert r["model"] == model
    assert sum(r["conversions"] for r in rows) == pytest.approx(3)
    assert sum(r["value"] for r in rows) == pytest.approx(180)
    assert sum(r["share"] for r in rows) == pytest.approx(1)
    for r in rows:
        assert r["share"] == pytest.approx(r["conversions"] / 3)
    if model in HAND_CHECKED:
        assert credits(rows) == pytest.approx(HAND_CHECKED[model])
    if model == "shapley":  # 4 channels: exact, so the interval is the value itself
        assert all(r["ci_low"] == r["ci_high"] == r["conversions"] for r in rows)


def test_options_of_the_models(project: Path) -> None:
    p = ("attribution", "--project", str(project))
    position = as_json(*p, "--model", "position", "--position", "60,20,20")
    assert credits(position) == pytest.approx(
        {"search": 1.5, "social": 1, "email": 0.25, "direct": 0.25}
    )
    decay = as_json(*p, "--model", "time_decay", "--half-life", "1d")
    assert credits(decay) == pytest.approx(
        {"search": 1 / 3 + 1 / 33, "social": 1, "email": 2 / 3, "direct": 32 / 33}
    )
    # The direct channel by another name: `social` is skipped where it is last.
    renamed = as_json(*p, "--model", "last_non_direct", "--direct", "social")
    assert credits(renamed) == pytest.approx({"search": 0, "social": 1, "email": 1, "direct": 1})
    # A one-day lookback drops c1's search (2 days before), c2's social (3 days: a conversion
    # without a touch, credited to "(no touch)"), c3's search (6 days) and c4's email (2 days
    # before its last touch).
    short = as_json(*p, "--model", "first", "--lookback", "1d")
    assert credits(short) == pytest.approx(
        {"email": 1, "(no touch)": 1, "direct": 1, "search": 0, "social": 0}
    )
    # Reaching the decision stage is the same conversion here as the purchase event.
    stage = as_json(*p, "--model", "markov", "--conversion", "stage:decision")
    assert credits(stage) == pytest.approx(HAND_CHECKED["markov"])
    # Touchpoints instead of channels: ad (search, social), newsletter (email), visit (direct).
    tps = as_json(*p, "--model", "first", "--level", "touchpoint")
    assert credits(tps) == pytest.approx({"ad": 3, "newsletter": 0, "visit": 0})
    # Order 2: the states differ, the credits still sum to the conversions.
    second = as_json(*p, "--model", "markov", "--order", "2")
    assert sum(r["conversions"] for r in second) == pytest.approx(3)
    # The conversions game: each path's conversions split equally among its channels.
    game = as_json(*p, "--model", "shapley", "--game", "conversions")
    assert credits(game) == pytest.approx({"search": 1, "social": 1, "email": 0.5, "direct": 0.5})
    # Seeded Shapley: the same seed, the same answer (exact here, so any seed).
    assert as_json(*p, "--model", "shapley", "--seed", "3", "--samples", "50") == as_json(
        *p, "--model", "shapley"
    )


def test_all_models(project: Path) -> None:
    rows = as_json("attribution", "--project", str(project), "--model", "all")
    assert len(rows) == 4 * len(MODELS)
    by_model: dict[str, list[dict]] = defaultdict(list)
    for r in rows:
        assert set(r) >= CONTRACT
        by_model[r["model"]].append(r)
    assert list(by_model) == list(MODELS)
    for model, expected in HAND_CHECKED.items():
        assert credits(by_model[model]) == pytest.approx(expected)
    table = run("attribution", "--project", str(project), "--model", "all")
    assert table.exit_code == 0, table.output
    for title in ("Conversions credited", "Value credited", "Share of the conversions"):
        # Each table says which Shapley game it shows (docs/attribution.md's example).
        assert f"{title}, by model (shapley: rate game)" in table.output
    assert all(m in table.output for m in MODELS)
    csv = run("attribution", "--project", str(project), "--model", "all", "--format", "csv")
    lines = csv.stdout.strip().splitlines()  # notes go to stderr
    assert lines[0].startswith("channel,model,conversions,value,share")
    assert len(lines) == 1 + 4 * len(MODELS)


def test_tables_show_counts_not_percentages(project: Path) -> None:
    r = run("attribution", "--project", str(project), "--model", "linear")
    assert r.exit_code == 0, r.output
    search = next(line for line in r.output.splitlines() if "search" in line)
    assert "1.00" in search and "33.3%" in search  # conversions 1, share 1/3


def test_views_transitions_and_removal(project: Path) -> None:
    p = ("attribution", "--project", str(project))
    transitions = as_json(*p, "--view", "transitions")
    assert set(transitions[0]) == {"from_state", "to_state", "probability", "count"}
    out: dict[str, float] = defaultdict(float)
    for t in transitions:
        out[t["from_state"]] += t["probability"]
    assert out == pytest.approx(
        {s: 1.0 for s in ("(start)", "search", "email", "social", "direct")}
    )
    moves = {(t["from_state"], t["to_state"]): t["count"] for t in transitions}
    assert moves[("(start)", "search")] == 3
    assert moves[("email", "social")] == 1
    removal = {r["channel"]: r for r in as_json(*p, "--view", "removal")}
    effects = {c: r["removal_effect"] for c, r in removal.items()}
    assert effects == pytest.approx(
        {"search": 7 / 12, "email": 1 / 2, "social": 1 / 3, "direct": 1 / 3}
    )
    assert removal["search"]["normalised"] == pytest.approx(1 / 3)
    assert sum(r["value"] for r in removal.values()) == pytest.approx(180)
    order2 = as_json(*p, "--view", "transitions", "--order", "2")
    assert ("search,email", "(conversion)") in {(t["from_state"], t["to_state"]) for t in order2}


def test_view_stages(project: Path) -> None:
    # awareness → consideration: c1 (search), c2 (social: skips to decision), c3 (search)
    # progress; c4 (entered awareness with its ad, after its newsletter) and c5 stall.
    # Paths: search ×2 and social progress, social and search stall; removal effects
    # search 2/3, social 1/3 → 2 and 1 of the 3 progressions.
    # consideration → decision: c1 (email) and c3 (direct) progress, c4 (email > social)
    # stalls: email 1, direct 1, social 0.
    rows = as_json("attribution", "--project", str(project), "--view", "stages")
    got = {(r["from_stage"], r["channel"]): r for r in rows}
    assert set(got) == {
        ("awareness", "search"),
        ("awareness", "social"),
        ("consideration", "email"),
        ("consideration", "direct"),
        ("consideration", "social"),
    }
    assert got[("awareness", "search")]["conversions"] == pytest.approx(2)
    assert got[("awareness", "social")]["conversions"] == pytest.approx(1)
    assert got[("awareness", "search")]["customers"] == 5
    assert got[("awareness", "search")]["progressed"] == 3
    assert got[("consideration", "email")]["conversions"] == pytest.approx(1)
    assert got[("consideration", "direct")]["conversions"] == pytest.approx(1)
    assert got[("consideration", "social")]["conversions"] == pytest.approx(0)
    assert got[("consideration", "email")]["progressed_with"] == 1
    assert got[("consideration", "email")]["stalled_with"] == 1
    assert got[("awareness", "search")]["label"] == "Awareness → Consideration"
    table = run("attribution", "--project", str(project), "--view", "stages")
    assert table.exit_code == 0 and "Stage attribution" in table.output


def test_view_paths_round_trips_through_a_paths_file(project: Path, tmp_path: Path) -> None:
    p = ("attribution", "--project", str(project))
    csv = run(*p, "--view", "paths", "--format", "csv")
    assert csv.exit_code == 0, csv.output
    assert csv.output.splitlines()[0] == "path,total_conversions,total_conversion_value,total_null"
    file = tmp_path / "paths.csv"
    file.write_text(csv.output)
    for model in MODELS:
        if model == "time_decay":
            continue  # a file has no touch times: decay counts touches, not days
        from_file = as_json("attribution", "--paths", str(file), "--model", model)
        from_events = as_json(*p, "--model", model)
        assert credits(from_file) == pytest.approx(credits(from_events)), model


def test_paths_file(tmp_path: Path) -> None:
    file = tmp_path / "paths.csv"
    file.write_text(PATHS_FILE)
    for model, expected in HAND_CHECKED.items():
        rows = as_json("attribution", "--paths", str(file), "--model", model)
        assert credits(rows) == pytest.approx(expected)
        assert sum(r["value"] for r in rows) == pytest.approx(180)
    # Without ages, time decay halves per touch before the last: 1/3 and 2/3 per 2-touch path.
    decay = as_json("attribution", "--paths", str(file), "--model", "time_decay")
    assert credits(decay) == pytest.approx(
        {"search": 2 / 3, "social": 1, "email": 2 / 3, "direct": 2 / 3}
    )
    piped = tmp_path / "piped.csv"
    piped.write_text(PATHS_FILE.replace(" > ", "|"))
    rows = as_json("attribution", "--paths", str(piped), "--sep", "|", "--model", "markov")
    assert credits(rows) == pytest.approx(HAND_CHECKED["markov"])
    table = run("attribution", "--paths", str(file), "--view", "removal")
    assert table.exit_code == 0 and "Removal effects" in table.output
    # The paths file works without any project around it.
    assert (
        run("attribution", "--paths", str(file), "--project", str(tmp_path / "no")).exit_code == 0
    )


HEADER = "path,total_conversions,total_conversion_value,total_null\n"


@pytest.mark.parametrize(
    ("text", "sep", "message"),
    [
        (HEADER + "a > b,1,10,0\n,2,0,1\n", ">", "line 3: empty path"),
        (HEADER + "a > b,1,10,0\nc,-1,0,1\n", ">", "line 3: total_conversions is negative (-1)"),
        (HEADER + "a > b,1,10,0\nc,1,0,-2\n", ">", "line 3: total_null is negative (-2)"),
        (
            "path,total_conversions,total_conversion_value\na > b,1,10\n",
            ">",
            "line 1: missing column total_null",
        ),
        (
            HEADER + "a,1,1,0\na > b,1,10,0\n",
            "|",
            "line 3: the separator '|' splits no path; paths look joined by '>'",
        ),
        (HEADER + "a > > b,1,10,0\n", ">", "line 2: empty channel name"),
        (HEADER + "a > b,one,10,0\n", ">", "line 2: total_conversions is not a number ('one')"),
        (HEADER + "a > b,1\n", ">", "line 2: 2 fields, expected 4"),
    ],
)
def test_bad_paths_files_are_one_clear_line(
    tmp_path: Path, text: str, sep: str, message: str
) -> None:
    file = tmp_path / "bad.csv"
    file.write_text(text)
    r = run("attribution", "--paths", str(file), "--sep", sep)
    assert r.exit_code == 1, r.output
    assert r.exception is None or isinstance(r.exception, SystemExit)
    assert "Traceback" not in r.output
    lines = r.output.strip().splitlines()
    assert len(lines) == 1, r.output
    assert lines[0].startswith("error: ")
    assert f"{file} {message}" in lines[0]


def test_missing_and_empty_paths_files(tmp_path: Path) -> None:
    missing = run("attribution", "--paths", str(tmp_path / "nope.csv"))
    assert missing.exit_code == 1
    assert "nope.csv: cannot read the file" in missing.output
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    r = run("attribution", "--paths", str(empty))
    assert r.exit_code == 1 and "empty.csv: the file is empty" in r.output
    header_only = tmp_path / "header.csv"
    header_only.write_text(HEADER)
    r = run("attribution", "--paths", str(header_only))
    assert r.exit_code == 1 and "no paths" in r.output


def test_bad_options_are_usage_errors(project: Path, tmp_path: Path) -> None:
    p = ("attribution", "--project", str(project))
    for args, message in [
        (("--position", "a,b,c"), "--position 'a,b,c' is not three numbers"),
        (("--position", "1,2"), "position must be three weights"),
        (("--half-life", "soon"), "soon"),
        (("--conversion", "stage:nowhere"), "no stage 'nowhere'"),
        (("--lookback", "0"), "--lookback: '0' must be longer than zero"),
        (("--half-life", "0d"), "--half-life: '0d' must be longer than zero"),
        (("--model", "lasso"), "'lasso' is not one of"),
        (("--order", "5"), "5 is not in the range"),
        (("--samples", "1"), "1 is not in the range"),
        (("--game", "chess"), "'chess' is not one of"),
    ]:
        r = run(*p, *args)
        assert r.exit_code == 2, (args, r.output)
        assert message in r.output, (args, r.output)
        assert "Traceback" not in r.output
    file = tmp_path / "paths.csv"
    file.write_text(PATHS_FILE)
    r = run("attribution", "--paths", str(file), "--view", "stages")
    assert r.exit_code == 2 and "--view stages needs the project's events" in r.output


def test_nothing_to_attribute(project: Path, tmp_path: Path) -> None:
    r = run("attribution", "--project", str(project), "--conversion", "signup")
    # No signup events: every path is a null path; every model credits nothing.
    assert r.exit_code == 0, r.output
    events = tmp_path / "events.csv"
    events.write_text("customer_id,timestamp,event\nc1,2025-01-01,visit\n")
    r = run("attribution", "--events", str(events))
    # No touch and no conversion at all: an empty table, as other analyses answer
    # (tests/attribution/test_empty_period.py).
    assert r.exit_code == 0 and "nothing to attribute" in r.stderr, r.output


def test_events_file_without_a_project(tmp_path: Path) -> None:
    events = tmp_path / "events.csv"
    events.write_text(EVENTS)
    rows = as_json("attribution", "--events", str(events), "--project", str(tmp_path))
    assert credits(rows) == pytest.approx(HAND_CHECKED["markov"])
    r = run("attribution", "--events", str(events), "--project", str(tmp_path), "--view", "stages")
    assert r.exit_code == 1 and "needs a journey file" in r.output


@pytest.mark.parametrize(
    "args",
    [
        ["--model", "last", "--format", "csv"],
        ["--model", "all", "--format", "json"],
        ["--model", "all"],
        ["--model", "markov", "--view", "paths"],
    ],
)
def test_a_negative_conversion_value_is_refused_alike_everywhere(
    tmp_path: Path, args: list[str]
) -> None:
    # A review's repro: a refund recorded as a purchase of value -5 gave '-5.00' credits in
    # the table of every model and an internal message ('paths: ... row 0') elsewhere.
    f = tmp_path / "neg.csv"
    f.write_text(
        "customer_id,timestamp,event,channel,value\n"
        "c1,2025-03-01 10:00:00,ad_click,email,\n"
        "c1,2025-03-01 11:00:00,purchase,web,-5\n"
        "c2,2025-03-01 10:00:00,ad_click,search,\n"
        "c2,2025-03-01 11:00:00,purchase,web,20\n"
    )
    got = CliRunner().invoke(main, ["attribution", "--events", str(f), *args])
    assert got.exit_code == 1, got.output
    assert "a conversion event has a negative value (-5)" in got.output
    assert "Traceback" not in got.output and "row 0" not in got.output
