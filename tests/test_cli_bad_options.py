"""Hostile option values on the analysis commands: each is one usage-error line (exit 2)
naming the option, never a traceback."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from kundresa.cli import main
from kundresa.errors import UsageError
from kundresa.project import Project


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("bad") / "demo"
    r = CliRunner().invoke(
        main, ["demo", str(target), "--customers", "150", "--no-serve"], catch_exceptions=False
    )
    assert r.exit_code == 0, r.output
    return target


BAD = [
    # Period bounds at the ends of the calendar: out of range, not an OverflowError.
    (["retention", "--until", "0001-01-01"], "until"),
    (["bottlenecks", "--since", "0001-01-01"], "since"),
    (["stages", "--since", "9999-12-31T23:00-05:00"], "since"),
    (["stages", "--since", "0001-01-01T00:30+05:00"], "since"),
    (["retention", "--since", "2025-01-01", "--until", "9999-12-31T12:00"], "until"),
    (
        ["stages", "--since", "0011-01-02", "--until", "9989-12-31", "--compare-to", "previous"],
        "compare_to",
    ),
    (["bottlenecks", "--since", "0011-01-02"], "since 0011-01-02"),  # compare_to previous
    (
        [
            *("funnel", "--step", "visit", "--step", "purchase", "--view", "trend"),
            *("--period", "day", "--since", "2025-01-01", "--until", "9999-12-30"),
        ],
        "until",
    ),
]


@pytest.mark.parametrize(("args", "option"), BAD, ids=[" ".join(a) for a, _ in BAD])
def test_bad_option_is_one_usage_line(demo: Path, args: list[str], option: str) -> None:
    r = CliRunner().invoke(main, [*args, "--project", str(demo)])
    assert r.exception is None or isinstance(r.exception, SystemExit), r.exception
    assert r.exit_code == 2, r.output
    assert "Traceback" not in r.output
    assert option in r.output, r.output


API_BAD = [
    # A Python caller's wrong types: a usage error naming the parameter, not a library's.
    ("funnel", {"steps": ["visit", "purchase"], "window": timedelta(days=-1)}, "window"),
    ("funnel", {"steps": ["visit", "purchase"], "by": 5}, "by"),
    ("stages", {"compare_to": 5}, "compare_to"),
    ("stages", {"compare_to": (1, 2, 3)}, "compare_to"),
]


@pytest.mark.parametrize(
    ("name", "params", "option"),
    API_BAD,
    ids=[f"{n}-{o}-{i}" for i, (n, _, o) in enumerate(API_BAD)],
)
def test_bad_parameter_type_is_a_usage_error(
    demo: Path, name: str, params: dict[str, object], option: str
) -> None:
    with pytest.raises(UsageError, match=option):
        Project.open(demo).run(name, **params)


def test_a_timedelta_is_a_duration(demo: Path) -> None:
    project = Project.open(demo)
    steps = ["visit", "purchase"]
    by_text = project.run("funnel", steps=steps, window="7d").frame
    by_delta = project.run("funnel", steps=steps, window=timedelta(days=7)).frame
    assert by_delta.equals(by_text)
