"""Paths that are not regular files (a named pipe, a device) are refused before they are
opened: opening a named pipe waits for a writer, forever."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from kundresa.attribution.paths_file import PathsFileError, read_paths_file
from kundresa.cli import main
from kundresa.ingest.readers import ReadError, iter_raw_batches, read_header, sniff_text_file
from kundresa.model.parse import validate_file

pytestmark = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no named pipes here")


def run(*args: str) -> Result:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


WOKEN: list[Path] = []
"""The pipes whose watchdog found a reader waiting on them (and let it go)."""


@pytest.fixture
def fifo(tmp_path: Path) -> Iterator[Path]:
    """A named pipe, with a watchdog that opens its writing end if a reader ever waits on
    it (checked every second), noting it in :data:`WOKEN`: a regression fails instead of
    hanging the test run."""
    path = tmp_path / "pipe.csv"
    os.mkfifo(path)
    stop = threading.Event()
    WOKEN.clear()

    def unblock() -> None:
        while not stop.wait(1.0):
            try:
                fd = os.open(path, os.O_WRONLY | os.O_NONBLOCK)
            except OSError:
                continue  # nobody is reading
            WOKEN.append(path)
            os.close(fd)

    t = threading.Thread(target=unblock, daemon=True)
    t.start()
    yield path
    stop.set()
    t.join()


def renamed(fifo: Path, name: str) -> Path:
    target = fifo.with_name(name)
    fifo.rename(target)
    fifo.symlink_to(target)  # the watchdog keeps unblocking it through the old name
    return target


@pytest.mark.parametrize(
    "read", [read_header, sniff_text_file, lambda p: list(iter_raw_batches(p))]
)
def test_readers_refuse_a_named_pipe(fifo: Path, read: object) -> None:
    with pytest.raises(ReadError, match=r"pipe\.csv: is a named pipe, not a file"):
        read(fifo)  # type: ignore[operator]
    time.sleep(0.2)  # a reader let go by the watchdog is noted by now
    assert WOKEN == []  # refused before opening: no reader ever waited


def test_readers_refuse_a_device(tmp_path: Path) -> None:
    zero = tmp_path / "zero.csv"
    zero.symlink_to("/dev/zero")  # never ends
    with pytest.raises(ReadError, match=r"zero\.csv: is a device, not a file"):
        read_header(zero)


@pytest.mark.parametrize("name", ["pipe.csv", "pipe.parquet", "pipe.zip"])
def test_ingest_refuses_a_named_pipe(fifo: Path, tmp_path: Path, name: str) -> None:
    path = fifo if name == "pipe.csv" else renamed(fifo, name)
    assert run("init", str(tmp_path / "p")).exit_code == 0
    r = run("ingest", str(path), "--project", str(tmp_path / "p"))
    assert r.exit_code == 1
    assert f"{name}: is a named pipe, not a file" in r.output
    assert r.output.count("\n") == 1


@pytest.mark.parametrize("name", ["pipe.csv", "pipe.parquet"])
def test_events_option_refuses_a_named_pipe(fifo: Path, tmp_path: Path, name: str) -> None:
    path = fifo if name == "pipe.csv" else renamed(fifo, name)
    assert run("init", str(tmp_path / "p")).exit_code == 0
    r = run("stages", "--events", str(path), "--project", str(tmp_path / "p"))
    assert r.exit_code == 1
    assert "is a named pipe, not a file" in r.output


def test_journey_file_that_is_a_named_pipe(fifo: Path, tmp_path: Path) -> None:
    problems = validate_file(fifo)
    assert [p.message for p in problems] == ["is a named pipe, not a file; name a journey file"]
    assert run("init", str(tmp_path / "p")).exit_code == 0
    r = run("export", "mermaid", "--journey", str(fifo), "--project", str(tmp_path / "p"))
    assert r.exit_code == 1
    assert "is a named pipe" in r.output


def test_paths_file_that_is_a_named_pipe(fifo: Path) -> None:
    with pytest.raises(PathsFileError, match="is a named pipe, not a file"):
        read_paths_file(fifo)
    r = run("attribution", "--paths", str(fifo))
    assert r.exit_code == 1
    assert "is a named pipe, not a file" in r.output
