"""The cost of checking a journey file is capped: at most MAX_PROBLEMS problems are reported
(a last one says how many more), the suggestions for unknown names are looked for only for
those, and a file of more than MAX_NODES YAML nodes is refused while it is composed."""

from __future__ import annotations

import difflib
from typing import Any

import pytest
from click.testing import CliRunner

from kundresa.cli import main
from kundresa.model.parse import MAX_NODES, MAX_PROBLEMS, parse_journey


def many_unknown_lane_keys(n: int, stages: int = 0) -> str:
    head = ["kundresa: 1", "name: Big"]
    if stages:
        head += ["stages:"] + [f"  - {{id: st{i}}}" for i in range(stages)]
    else:
        head += ["template: kundresa-5"]
    return "\n".join([*head, "lanes:", "  activities:", *(f"    s{i}: x" for i in range(n))]) + "\n"


def test_problems_are_capped_with_a_count_of_the_rest() -> None:
    journey, problems = parse_journey(many_unknown_lane_keys(3_000), "j.yaml")
    assert journey is None
    assert len(problems) == MAX_PROBLEMS + 1
    assert all(p.line for p in problems[:-1])
    assert "unknown stage or persona 's0'" in problems[0].message
    last = problems[-1]
    assert last.severity == "error" and last.line is None
    n = 3_000 - MAX_PROBLEMS
    assert last.message == (
        f"and {n:,} more problems not listed ({n:,} errors): only the first {MAX_PROBLEMS} "
        "are reported"
    )


def test_dropped_warnings_alone_leave_the_journey() -> None:
    text = "kundresa: 1\nname: x\ntemplate: kundresa-5\nlanes:\n" + "".join(
        f"  lane{i}: {{}}\n" for i in range(MAX_PROBLEMS + 5)
    )
    journey, problems = parse_journey(text)
    assert journey is not None  # unknown lanes are warnings
    assert problems[-1].severity == "warning" and "5 warnings" in problems[-1].message


def test_suggestions_are_looked_for_only_for_reported_problems(monkeypatch: Any) -> None:
    """Each unknown key compared itself with every stage: with many of both that was
    quadratic (3,000 x 3,000 comparisons here)."""
    calls = []
    real = difflib.get_close_matches

    def counted(*args: Any, **kwargs: Any) -> Any:
        calls.append(args[0])
        return real(*args, **kwargs)

    monkeypatch.setattr(difflib, "get_close_matches", counted)
    _, problems = parse_journey(many_unknown_lane_keys(3_000, stages=3_000))
    assert len(problems) == MAX_PROBLEMS + 1
    assert len(calls) <= MAX_PROBLEMS


def test_too_many_nodes_is_one_error_where_it_happens() -> None:
    text = many_unknown_lane_keys(MAX_NODES)
    journey, problems = parse_journey(text, "j.yaml")
    assert journey is None and len(problems) == 1
    p = problems[0]
    assert p.message.startswith(f"the file has more than {MAX_NODES:,} YAML nodes")
    assert p.line is not None and 9 < p.line < MAX_NODES


@pytest.mark.parametrize("n", [3_000])
def test_validate_prints_the_cap(tmp_path: Any, n: int) -> None:
    path = tmp_path / "journey.yaml"
    path.write_text(many_unknown_lane_keys(n), encoding="utf-8")
    r = CliRunner().invoke(main, ["validate", str(path)])
    assert r.exit_code == 1
    lines = [line for line in r.output.splitlines() if ": error: " in line]
    assert len(lines) == MAX_PROBLEMS + 1
    assert "more problems not listed" in lines[-1]
