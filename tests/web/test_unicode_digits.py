"""Numbers typed into the web's fields are ASCII digits: str.isdigit() also holds for '²',
which int() refuses, so such a value failed with "invalid literal for int() with base 10"
(no field named) instead of the field's own message."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from kundresa.cli import main
from kundresa.web import editor
from kundresa.web.routes.live import parse_since


@pytest.mark.parametrize("since", ["²", "١٢", "１２"])
def test_a_feed_position_in_other_digits_is_refused_naming_since(since: str) -> None:
    with pytest.raises(ValueError, match=r"^since: .* is neither a sequence number"):
        parse_since(since)
    assert parse_since(" 12 ") == (12, None)


def test_the_editor_form_names_nth_and_ignores_a_row_number_it_cannot_read() -> None:
    base = {"kundresa": 1, "name": "x", "template": "buyers-journey"}
    fields = {"touchpoint.0.id": "t", "touchpoint.0.stage": "awareness", "touchpoint.0.nth": "²"}
    with pytest.raises(ValueError, match=r"^touchpoint t nth: a whole number from 1, got '²'"):
        editor.apply_form(base, fields)
    out = editor.apply_form(base, {"stage.0.id": "awareness", "stage.².id": "x"})
    assert [s["id"] for s in out["stages"]] == ["awareness"]


def test_a_bad_feed_position_is_a_bad_parameter_422(tmp_path: Path, make_client: Any) -> None:
    # docs/web.md: a bad parameter is 422 with a detail naming it (it was 400 here).
    root = tmp_path / "p"
    assert CliRunner().invoke(main, ["init", str(root), "--lang", "en"]).exit_code == 0
    r = make_client(root).get("/api/stage-events", params={"since": "yesterday"})
    assert r.status_code == 422, r.text
    assert r.json()["detail"].startswith("since: 'yesterday' is neither")
