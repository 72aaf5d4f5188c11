"""`kundresa history` and `kundresa restore`: versions of journey.yaml kept and brought back."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner, Result

from kundresa.cli import main
from kundresa.store.history import history_dir, save_journey


def run(*args: str) -> Result:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def test_history_and_restore(tmp_path: Path) -> None:
    root = tmp_path / "p"
    assert run("init", str(root), "--lang", "en").exit_code == 0
    original = (root / "journey.yaml").read_text()
    renamed = original.replace("name: ", "name: Renamed ", 1)
    saved = save_journey(root, renamed)
    assert saved["saved"] and saved["previous"]
    r = run("history", "--project", str(root), "--format", "json")
    assert r.exit_code == 0, r.output
    versions = json.loads(r.stdout)
    assert [v["version"] for v in versions] == ["current", saved["previous"]]
    assert versions[0]["changes"] == "name; +1 -1 lines"
    assert versions[1]["changes"] == "first version"
    assert versions[1]["saved_at"].endswith("Z") and versions[1]["size"] == len(original.encode())
    table = run("history", "--project", str(root))
    assert table.exit_code == 0 and saved["previous"] in table.output

    r = run("restore", saved["previous"], "--project", str(root))
    assert r.exit_code == 0, r.output
    assert (root / "journey.yaml").read_text() == original
    after = json.loads(run("history", "--project", str(root), "--format", "json").output)
    assert len(after) == 3  # the renamed journey is kept too
    kept = history_dir(root) / f"{after[1]['version']}.yaml"
    assert kept.read_text() == renamed


def test_restore_refuses_what_it_cannot_restore(tmp_path: Path) -> None:
    root = tmp_path / "p"
    assert run("init", str(root)).exit_code == 0
    current = (root / "journey.yaml").read_text()
    history_dir(root).mkdir(parents=True, exist_ok=True)
    broken = "20250101T000000.000000Z"
    (history_dir(root) / f"{broken}.yaml").write_text("kundresa: 1\nname: x\nstages: 3\n")
    r = run("restore", broken, "--project", str(root))
    assert r.exit_code == 1
    assert f"version {broken} has 1 error(s) and is not restored" in r.output
    assert (root / "journey.yaml").read_text() == current
    r = run("restore", "20990101T000000Z", "--project", str(root))
    assert r.exit_code == 1 and "no version '20990101T000000Z'" in r.output
    r = run("restore", "../../etc/passwd", "--project", str(root))
    assert r.exit_code == 1 and "is not a version name" in r.output
    r = run("history", "--project", str(tmp_path / "nowhere"))
    assert r.exit_code == 1 and "no such file" in r.output


def test_saving_the_text_the_file_holds_adds_no_version(tmp_path: Path) -> None:
    # The editor saved unchanged: the history gained a version that changed nothing.
    root = tmp_path / "p"
    assert run("init", str(root), "--lang", "en").exit_code == 0
    text = (root / "journey.yaml").read_text()
    again = save_journey(root, text)
    assert again["saved"] and again["previous"] is None
    assert not history_dir(root).exists() or not any(history_dir(root).iterdir())
    changed = save_journey(root, text.replace("name: ", "name: Renamed ", 1))
    assert changed["saved"] and changed["previous"]
    assert len(list(history_dir(root).iterdir())) == 1
