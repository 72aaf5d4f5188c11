"""forget rewrites the warehouse file: the erased ids are gone from its bytes, not only from
its tables; when the file cannot be rewritten the person is still forgotten and a warning
says how to rewrite it (kundresa reorganise)."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from kundresa.cli import main

SECRET = "secretperson-xyz@example.org"


def run(*args: str) -> Result:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    assert run("init", str(tmp_path / "p")).exit_code == 0
    lines = ["customer_id,timestamp,event"]
    lines += [f"cust{i:05d},2025-01-{1 + i % 28:02d},page_view" for i in range(3000)]
    lines += [f"{SECRET},2025-01-05,page_view", f"{SECRET},2025-01-06,purchase"]
    (tmp_path / "e.csv").write_text("\n".join(lines) + "\n")
    r = run("ingest", str(tmp_path / "e.csv"), "--project", str(tmp_path / "p"))
    assert r.exit_code == 0, r.output
    return tmp_path / "p"


def _bytes(project: Path) -> bytes:
    return (project / ".kundresa" / "warehouse.duckdb").read_bytes()


def test_forget_leaves_no_bytes_of_the_erased_id(project: Path) -> None:
    assert SECRET.encode() in _bytes(project)  # the repro: readable in the raw file
    r = run("forget", SECRET, "--yes", "--project", str(project))
    assert r.exit_code == 0, r.output
    assert "rewrote" in r.output
    assert SECRET.encode() not in _bytes(project)
    assert not [p.name for p in (project / ".kundresa").iterdir() if "rewrite" in p.name]
    info = run("info", "--project", str(project))
    assert info.exit_code == 0 and "3,000 from 3,000 customers" in info.output


def test_a_file_that_cannot_be_rewritten_is_a_warning_and_reorganise_rewrites_it(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import kundresa.store.rewrite as rewrite

    def held(*_: object) -> None:
        raise OSError(28, "No space left on device", "warehouse.duckdb")

    monkeypatch.setattr(rewrite, "rewrite_file", held)
    r = run("forget", SECRET, "--yes", "--project", str(project))
    assert r.exit_code == 0, r.output
    assert "not rewritten" in r.stderr and "kundresa reorganise" in r.stderr
    assert "forgot customer" in r.stdout
    monkeypatch.undo()
    assert SECRET.encode() in _bytes(project)
    assert run("reorganise", "--project", str(project)).exit_code == 0
    assert SECRET.encode() not in _bytes(project)


def test_ctrl_c_during_the_rewrite_says_the_person_was_forgotten(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import kundresa.store.rewrite as rewrite

    def stop(*_: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(rewrite, "rewrite_file", stop)
    r = run("forget", SECRET, "--yes", "--project", str(project))
    assert r.exit_code == 130, r.output
    line = " ".join(r.output.split())
    assert line.startswith(f"interrupted after customer {SECRET} was forgotten")
    assert "kundresa reorganise" in line and "nothing was changed" not in line


@pytest.mark.parametrize("where", ["after the commit", "inside DuckDB's rewrite"])
def test_ctrl_c_after_the_commit_never_says_nothing_was_changed(
    project: Path, monkeypatch: pytest.MonkeyPatch, where: str
) -> None:
    """Ctrl-C after forget committed (while the tagged events are kept again, or inside
    DuckDB's copy of the file, raised there as ``RuntimeError: Query interrupted``): one line
    saying the person was forgotten or the changes stand, never "nothing was changed"."""
    import kundresa.store.rewrite as rewrite
    from kundresa.project import Project

    def stop(*_: object) -> None:
        if where == "after the commit":
            raise KeyboardInterrupt
        inside = RuntimeError("Query interrupted")
        inside.__cause__ = KeyboardInterrupt()
        raise inside

    if where == "after the commit":
        monkeypatch.setattr(Project, "_keep_tagged_quietly", stop)
    else:
        monkeypatch.setattr(rewrite, "rewrite_file", stop)
    r = run("forget", SECRET, "--yes", "--project", str(project))
    assert r.exit_code == 130, r.output
    line = " ".join(r.output.split())
    assert "nothing was changed" not in line and "kundresa reorganise" in line
    assert len(r.output.strip().splitlines()) <= 2  # one message (wrapped by the console)
    again = run("forget", SECRET, "--yes", "--project", str(project))
    assert again.exit_code != 0  # forgotten: no such id any more
