"""correlation: a table left empty by --min-customers says so on stderr, with the option that
lowers the threshold; a table empty for another reason, or not empty, has no such note."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from kundresa.analytics.compare import correlation
from kundresa.cli import main
from kundresa.project import Project

EVENTS = (
    "customer_id,timestamp,event\n"
    "c1,2025-01-01,page_view\nc1,2025-01-02,purchase\n"
    "c2,2025-01-01,page_view\nc2,2025-01-03,newsletter_signup\n"
)


def run(*args: str) -> Result:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


@pytest.fixture
def files(tmp_path: Path) -> tuple[str, str]:
    assert run("init", str(tmp_path / "p")).exit_code == 0
    (tmp_path / "e.csv").write_text(EVENTS)
    return str(tmp_path / "e.csv"), str(tmp_path / "p" / "journey.yaml")


def test_empty_because_of_the_threshold_is_noted(files: tuple[str, str]) -> None:
    events, journey = files
    args = ("correlation", "--events", events, "--journey", journey, "--target", "purchase")
    r = run(*args, "--format", "json")
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout) == []
    note = " ".join(r.stderr.split())
    assert note.startswith("note: no event or property was seen before the target by at least 5")
    assert "--min-customers" in note
    r = run(*args, "--min-customers", "1", "--format", "json")
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout) and "--min-customers" not in r.stderr


def test_the_note_comes_with_the_python_result(files: tuple[str, str]) -> None:
    events, journey = files
    with Project.from_events(events, journey=journey) as project:
        result = project.run("correlation", target="purchase")
        assert result.frame.empty and any("min_customers" in n for n in result.notes)
        frame = correlation(project, target="purchase", min_customers=1)
        assert not frame.empty and "notes" not in frame.attrs


def test_an_empty_table_for_another_reason_says_why(files: tuple[str, str]) -> None:
    # A review's repro: no customers (an empty period or store) gave an empty table and no
    # word, where attribution and the path analyses say why theirs is empty.
    events, journey = files
    args = ("correlation", "--events", events, "--journey", journey, "--target", "purchase")
    r = run(*args, "--since", "2030-01-01", "--format", "json")
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout) == []
    note = " ".join(r.stderr.split())
    assert "note: nothing to correlate: no customers in the period" in note
    assert "--min-customers" not in note
    # Customers, but nothing before the target: page_view is every customer's first event.
    r = run(*args[:-1], "page_view", "--format", "json")
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout) == []
    note = " ".join(r.stderr.split())
    assert "nothing to correlate: no event or property was seen before the target" in note
    with Project.from_events(events, journey=journey) as project:
        assert project.run("correlation", target="page_view").notes


def test_compare_by_a_property_never_seen_says_so(files: tuple[str, str]) -> None:
    """compare --by a property no event has warns as every --by does, before the error."""
    events, journey = files
    r = CliRunner().invoke(
        main, ["compare", "--events", events, "--journey", journey, "--by", "nosuchprop"]
    )
    assert r.exit_code == 2 and "Traceback" not in r.output
    assert "warning: property 'nosuchprop' never occurs in the data" in " ".join(r.stderr.split())
    error = " ".join(r.stderr.split()).split("Error: ", 1)[1]
    assert error.startswith("--a and --b: by 'nosuchprop' has 0 segment values")
    assert "no customer has a value of 'nosuchprop'" in error
