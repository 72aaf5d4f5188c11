"""``kundresa demo`` refuses what it cannot build in one line, and a build that fails leaves
the folder as it was (an earlier demo kept; no half-made folder that a second try would
refuse as another project)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

import kundresa.demo.project as demo_project
from kundresa.cli import main


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--seed", "-1"], "Invalid value for '--seed': -1 is not in the range 0<=x<=4294967294"),
        (["--live", "--rate", "nan"], "Invalid value for --rate: nan is not a number"),
    ],
)
def test_a_bad_option_is_a_usage_error(tmp_path: Path, args: list[str], message: str) -> None:
    # --seed -1 was a numpy traceback after the folder had been made; --rate nan was taken.
    r = CliRunner().invoke(main, ["demo", str(tmp_path / "d"), "--customers", "1", *args])
    assert r.exit_code == 2 and message in r.output, r.output
    assert not (tmp_path / "d").exists()


def test_a_generation_that_fails_leaves_the_folder_as_it_was(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def too_many(customers: int, **_: Any) -> Any:
        raise MemoryError  # as numpy does for --customers 99999999999

    monkeypatch.setattr(demo_project, "generate_events", too_many)
    r = CliRunner().invoke(main, ["demo", str(tmp_path / "d"), "--no-serve"])
    assert r.exit_code == 1
    assert r.output == (
        "error: --customers 20,000: not enough memory to generate so many (about 106,000 "
        "events); try fewer\n"
    )
    assert not (tmp_path / "d").exists()
    earlier = tmp_path / "earlier"
    (earlier / ".kundresa").mkdir(parents=True)
    (earlier / ".kundresa" / demo_project.MARKER).write_text("{}")
    (earlier / "journey.yaml").write_text("kept")
    r = CliRunner().invoke(main, ["demo", str(earlier), "--no-serve"])
    assert r.exit_code == 1
    assert (earlier / "journey.yaml").read_text() == "kept"
    assert (earlier / ".kundresa" / demo_project.MARKER).exists()
