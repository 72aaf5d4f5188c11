"""Hostile journey files: an alias bomb, deep nesting and a huge text are refused as one error
with its position, by the parser, `kundresa validate`, `Project.open` and the web editor."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from kundresa.cli import main
from kundresa.model.parse import (
    MAX_ALIAS_NODES,
    MAX_DEPTH,
    MAX_JOURNEY_BYTES,
    load_yaml,
    parse_journey,
)
from kundresa.project import Project, ProjectError

# "Billion laughs": 9 levels of 9 aliases, 9**9 scalars once expanded (13 MB as JSON).
BOMB = "kundresa: 1\na: &a [x,x,x,x,x,x,x,x,x]\n" + "".join(
    f"{b}: &{b} [{','.join([f'*{a}'] * 9)}]\n" for a, b in zip("abcdefgh", "bcdefghi", strict=True)
)
DEEP = "kundresa: 1\nname: " + "[" * 900 + "\n"
VALID = (
    "kundresa: 1\ntemplate: buyers-journey\ntouchpoints:\n"
    "  - {id: a, stage: awareness, match: {event: ad_click}}\n"
    "  - {id: b, stage: consideration, match: {event: page_view, where: &web {site: web}}}\n"
    "  - {id: c, stage: decision, match: {event: purchase}}\n"
)


def test_the_bomb_is_small() -> None:
    assert len(BOMB.encode()) < 400
    assert BOMB.count("*") == 72


def test_the_bomb_is_refused_at_the_alias() -> None:
    journey, problems = parse_journey(BOMB, "j.yaml")
    assert journey is None
    assert len(problems) == 1
    p = problems[0]
    assert p.severity == "error"
    assert f"expand to more than {MAX_ALIAS_NODES:,} nodes" in p.message
    # 9 + 81 + 729 + 6561 (through `e`) stays under the limit; `f`'s aliases pass it.
    assert (p.line, p.column) == (6, 8)


def test_a_self_referencing_alias_is_refused() -> None:
    journey, problems = parse_journey("kundresa: 1\nname: &n [a, *n]\n", "j.yaml")
    assert journey is None and len(problems) == 1
    assert "inside the node it repeats" in problems[0].message
    assert (problems[0].line, problems[0].column) == (2, 14)


def test_small_aliases_still_work() -> None:
    text = VALID.replace("{event: purchase}", "{event: purchase, where: *web}")
    journey, problems = parse_journey(text, "j.yaml")
    assert journey is not None, problems
    assert journey.touchpoint("c").match.where == journey.touchpoint("b").match.where


def test_deep_nesting_is_one_error() -> None:
    journey, problems = parse_journey(DEEP, "j.yaml")
    assert journey is None
    assert [str(p) for p in problems] == [
        f"j.yaml:2:{6 + MAX_DEPTH}: error: the file nests deeper than {MAX_DEPTH} levels"
    ]


def test_a_huge_text_is_refused_before_parsing() -> None:
    text = VALID + "#" * MAX_JOURNEY_BYTES
    journey, problems = parse_journey(text, "j.yaml")
    assert journey is None
    assert [p.message for p in problems] == [
        f"the file is larger than {MAX_JOURNEY_BYTES:,} bytes (journey files are small)"
    ]
    # The limit counts UTF-8 bytes, not characters.
    wide = VALID + "#" + "å" * (MAX_JOURNEY_BYTES // 2)
    assert len(wide) < MAX_JOURNEY_BYTES and parse_journey(wide)[0] is None


@pytest.mark.parametrize(("name", "text"), [("bomb", BOMB), ("deep", DEEP)])
def test_validate_exits_1_with_one_line(tmp_path: Path, name: str, text: str) -> None:
    f = tmp_path / f"{name}.yaml"
    f.write_text(text)
    r = CliRunner().invoke(main, ["validate", str(f)])
    assert r.exit_code == 1
    errors = [line for line in r.output.splitlines() if ": error: " in line]
    assert len(errors) == 1 and errors[0].startswith(f"{f}:"), r.output
    assert "Traceback" not in r.output


def test_validate_refuses_a_huge_file_without_reading_it(tmp_path: Path) -> None:
    f = tmp_path / "journey.yaml"
    f.write_text(VALID + "#" * MAX_JOURNEY_BYTES)
    r = CliRunner().invoke(main, ["validate", str(f)])
    assert r.exit_code == 1 and "larger than" in r.output


@pytest.mark.parametrize("text", [BOMB, DEEP])
def test_project_open_refuses(tmp_path: Path, text: str) -> None:
    (tmp_path / "journey.yaml").write_text(text)
    with pytest.raises(ProjectError, match=r"journey\.yaml:\d+:\d+: error: "):
        Project.open(tmp_path)


def test_load_yaml_for_the_editor() -> None:
    match = load_yaml(VALID)["touchpoints"][1]["match"]
    assert match == {"event": "page_view", "where": {"site": "web"}}
    with pytest.raises(ValueError, match=r"^line 6, column 8: the aliases"):
        load_yaml(BOMB)
    with pytest.raises(ValueError, match="nests deeper"):
        load_yaml(DEEP)
    with pytest.raises(ValueError, match=r"^line 1, column 5: not valid YAML"):
        load_yaml("a: [")


def test_the_web_editor_form_refuses_cleanly() -> None:
    from kundresa.web.editor import yaml_to_structured

    for text in (BOMB, DEEP):
        with pytest.raises(ValueError, match=r"^journey: line "):
            yaml_to_structured(text)
