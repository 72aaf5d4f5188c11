"""Every command turns an operating-system error (a read-only or full disk, a forbidden
folder) into one line naming the path and the reason, exit 1, and a failed init or review
leaves the folder as it was."""

from __future__ import annotations

import errno
import os
import re
import shutil
import subprocess
from pathlib import Path

import click
import pytest
from click.testing import CliRunner, Result
from hypothesis import given
from hypothesis import strategies as st

from kundresa.cli import main
from kundresa.cli._common import UserError, os_error_line, raise_for

EVENTS = "customer_id,timestamp,event\nc1,2025-01-01,visit\nc1,2025-01-02,purchase\n"


def run(*args: str) -> Result:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def _one_line(r: Result, *parts: str) -> None:
    assert r.exit_code == 1, r.output
    lines = r.output.strip().splitlines()
    assert len(lines) == 1, r.output
    assert "Traceback" not in r.output
    for part in parts:
        assert part in lines[0], r.output


def _read_only(*_: object, **__: object) -> None:
    raise OSError(errno.EROFS, os.strerror(errno.EROFS), "/ro/place")


@given(
    code=st.sampled_from([errno.EROFS, errno.ENOSPC, errno.EACCES, errno.ENOENT, errno.EIO]),
    name=st.text(st.characters(blacklist_categories=["Cs", "Cc"]), min_size=1, max_size=30),
)
def test_raise_for_makes_any_os_error_one_line_with_path_and_reason(code: int, name: str) -> None:
    exc = OSError(code, os.strerror(code), name)
    with pytest.raises(UserError) as caught:
        raise_for(exc)  # OSError(...) is already the errno's subclass
    message = caught.value.message
    assert message == f"{name}: {os.strerror(code)}"
    assert "Errno" not in message
    assert os_error_line(exc) == message


def test_raise_for_keeps_a_usage_error_and_bugs() -> None:
    with pytest.raises(ZeroDivisionError):
        raise_for(ZeroDivisionError("a bug"))
    with pytest.raises(click.UsageError):
        from kundresa.errors import UsageError

        raise_for(UsageError("bad option"))


def test_init_on_read_only_disk_is_one_line_and_creates_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(Path, "write_text", _read_only)
    r = run("init", str(tmp_path / "new" / "deeper"))
    _one_line(r, "/ro/place: Read-only file system")
    assert not (tmp_path / "new").exists()


def test_init_force_on_read_only_file_keeps_the_journey(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert run("init", str(tmp_path / "p")).exit_code == 0
    journey = tmp_path / "p" / "journey.yaml"
    before = journey.read_bytes()
    monkeypatch.setattr(Path, "write_text", _read_only)
    r = run("init", str(tmp_path / "p"), "--force", "--lang", "sv")
    _one_line(r, "Read-only file system")
    assert journey.read_bytes() == before
    assert sorted(p.name for p in (tmp_path / "p").iterdir()) == [".kundresa", "journey.yaml"]


def test_review_on_read_only_project_is_one_line_and_keeps_the_journey(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from kundresa.store import history

    assert run("init", str(tmp_path / "p")).exit_code == 0
    journey = tmp_path / "p" / "journey.yaml"
    # Another review date than the one the review sets, so that the review saves a changed
    # file (an unchanged one adds no version to the history, and keeps nothing).
    text = journey.read_text(encoding="utf-8")
    journey.write_text(re.sub(r"review_by: \S+", "review_by: 2099-01-01", text), "utf-8")
    before = journey.read_bytes()
    assert before != text.encode()
    monkeypatch.setattr(history, "_keep", _read_only)
    r = run("review", "--project", str(tmp_path / "p"))
    _one_line(r, "/ro/place: Read-only file system")
    assert journey.read_bytes() == before


def test_review_whose_reviews_file_fails_puts_the_journey_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import kundresa.store.reviews as reviews

    assert run("init", str(tmp_path / "p")).exit_code == 0
    journey = tmp_path / "p" / "journey.yaml"
    before = journey.read_text(encoding="utf-8")
    monkeypatch.setattr(reviews, "add_review", _read_only)
    r = run("review", "--project", str(tmp_path / "p"))
    _one_line(r, "Read-only file system")
    assert journey.read_text(encoding="utf-8") == before


def _mount_read_only(at: Path) -> bool:
    if os.geteuid() != 0 or shutil.which("mount") is None:
        return False
    at.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "tmpfs", str(at)], capture_output=True)
    return done.returncode == 0


def test_writing_commands_on_a_read_only_mount(tmp_path: Path) -> None:
    """The reviewer's repros on a real read-only file system (root only: chmod does not stop
    root's writes)."""
    at = tmp_path / "ro"
    if not _mount_read_only(at):
        pytest.skip("needs root and mount")
    try:
        assert run("init", str(at / "p")).exit_code == 0
        (at / "p" / "e.csv").write_text(EVENTS)
        assert run("ingest", str(at / "p" / "e.csv"), "--project", str(at / "p")).exit_code == 0
        subprocess.run(["mount", "-o", "remount,ro", str(at)], check=True)
        p = str(at / "p")
        _one_line(run("init", str(at / "new")), f"{at / 'new'}: Read-only file system")
        _one_line(run("init", p, "--force"), "Read-only file system")
        _one_line(run("review", "--project", p), "Read-only file system")
        for args in (
            ("ingest", str(at / "p" / "e.csv"), "--project", p),
            ("forget", "c1", "--yes", "--project", p),
            ("reorganise", "--project", p),
            ("export", "mermaid", "-o", str(at / "p" / "map.md"), "--project", p),
        ):
            r = run(*args)
            assert r.exit_code == 1, (args, r.output)
            assert len(r.output.strip().splitlines()) == 1, (args, r.output)
            assert "Traceback" not in r.output
    finally:
        subprocess.run(["umount", str(at)], check=False)


def test_review_interrupted_after_the_journey_was_written_puts_it_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import kundresa.store.reviews as reviews

    assert run("init", str(tmp_path / "p")).exit_code == 0
    journey = tmp_path / "p" / "journey.yaml"
    before = journey.read_text(encoding="utf-8")

    def stop(*_: object, **__: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(reviews, "add_review", stop)
    r = run("review", "--project", str(tmp_path / "p"))
    assert r.exit_code == 130, r.output
    assert journey.read_text(encoding="utf-8") == before
