"""After an analysis command the process ends without tearing the interpreter down
(:func:`kundresa.cli._quick_exit`): its output, exit code and exit handlers are as before."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from datetime import datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from kundresa import cli
from kundresa.cli import QUICK_EXIT, main


def _file(folder: Path) -> Path:
    n = 3000  # more output than a pipe's buffer holds unflushed
    table = pa.table(
        {
            "customer_id": [f"c{i // 2}" for i in range(n)],
            "timestamp": pa.array(
                [datetime(2025, 1, 1, i % 2) for i in range(n)], pa.timestamp("us")
            ),
            "event": ["visit" if i % 2 == 0 else "buy" for i in range(n)],
            "event_id": [f"e{i}" for i in range(n)],
        }
    )
    path = folder / "events.parquet"
    pq.write_table(table, path)
    return path


def test_analysis_process_output_and_codes(tmp_path: Path) -> None:
    path = _file(tmp_path)
    args = ["funnel", "--events", str(path), "--step", "visit", "--step", "buy", "--window", "1d"]
    # An exit handler registered by the command's modules still runs: here one a
    # sitecustomize-like wrapper adds before running the command line.
    script = (
        "import atexit, sys\n"
        "atexit.register(lambda: sys.stderr.write('handler ran\\n'))\n"
        "from kundresa.cli import main\n"
        "main(prog_name='kundresa')\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    for fmt in ("json", "csv"):
        done = subprocess.run(
            [sys.executable, "-c", script, *args, "--format", fmt],
            capture_output=True,
            text=True,
            env=env,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        assert "handler ran" in done.stderr
        expected = CliRunner().invoke(main, [*args, "--format", fmt])
        assert expected.exit_code == 0
        assert done.stdout == expected.output
        if fmt == "json":
            assert [r["count"] for r in json.loads(done.stdout)] == [1500, 1500]
    bad = subprocess.run(
        [sys.executable, "-m", "kundresa", "funnel", "--events", str(tmp_path / "none.parquet"),
         "--step", "a", "--step", "b"],
        capture_output=True, text=True, env=env, check=False,
    )  # fmt: skip
    assert bad.returncode == 1 and "no such file" in bad.stderr


def test_process_turns_numpy_huge_pages_off(tmp_path: Path) -> None:
    """The ``kundresa`` process asks numpy for no transparent huge pages (cheaper first writes
    of its large arrays), unless the user's ``NUMPY_MADVISE_HUGEPAGE`` says otherwise."""
    path = _file(tmp_path)
    script = (
        "import atexit, sys\n"
        "def said():\n"
        "    import numpy._core.multiarray as m\n"
        "    sys.stderr.write('huge pages: %s\\n' % m._get_madvise_hugepage())\n"
        "atexit.register(said)\n"
        "from kundresa.cli import main\n"
        "main(prog_name='kundresa')\n"
    )
    args = ["funnel", "--events", str(path), "--step", "visit", "--step", "buy"]
    env = {k: v for k, v in os.environ.items() if k != "NUMPY_MADVISE_HUGEPAGE"}
    for setting, expected in ((None, False), ("1", True)):
        run_env = env if setting is None else {**env, "NUMPY_MADVISE_HUGEPAGE": setting}
        done = subprocess.run(
            [sys.executable, "-c", script, *args],
            capture_output=True,
            text=True,
            env=run_env,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        assert f"huge pages: {expected}" in done.stderr, done.stderr


@pytest.mark.skipif(sys.platform != "linux", reason="the jemalloc pool is chosen on Linux only")
def test_process_reads_with_arrows_jemalloc_pool(tmp_path: Path) -> None:
    """On Linux the ``kundresa`` process allocates Arrow's memory from its jemalloc pool
    (mimalloc gives memory back and takes it again within a read), unless the user's
    ``ARROW_DEFAULT_MEMORY_POOL`` says otherwise."""
    path = _file(tmp_path)
    script = (
        "import atexit, sys\n"
        "def said():\n"
        "    import pyarrow as pa\n"
        "    sys.stderr.write('pool: %s\\n' % pa.default_memory_pool().backend_name)\n"
        "atexit.register(said)\n"
        "from kundresa.cli import main\n"
        "main(prog_name='kundresa')\n"
    )
    args = ["funnel", "--events", str(path), "--step", "visit", "--step", "buy"]
    env = {k: v for k, v in os.environ.items() if k != "ARROW_DEFAULT_MEMORY_POOL"}
    for setting, expected in ((None, "jemalloc"), ("system", "system")):
        run_env = env if setting is None else {**env, "ARROW_DEFAULT_MEMORY_POOL": setting}
        done = subprocess.run(
            [sys.executable, "-c", script, *args],
            capture_output=True,
            text=True,
            env=run_env,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        assert f"pool: {expected}" in done.stderr, done.stderr


def test_quick_exit_only_when_safe(monkeypatch: pytest.MonkeyPatch) -> None:
    assert "funnel" in QUICK_EXIT and "ingest" not in QUICK_EXIT and "export" not in QUICK_EXIT
    exits: list[int] = []
    monkeypatch.setattr(os, "_exit", exits.append)
    cli._quick_exit("a message")  # printed by Python's own exit: not a number
    stop = threading.Event()
    worker = threading.Thread(target=stop.wait)  # Python would wait for it
    worker.start()
    try:
        cli._quick_exit(0)
    finally:
        stop.set()
        worker.join()
    assert exits == []
    monkeypatch.setattr("atexit._run_exitfuncs", lambda: None)
    # No other thread: threads left running by other tests in this process do not count.
    monkeypatch.setattr(threading, "enumerate", lambda: [threading.main_thread()])
    cli._quick_exit(None)
    cli._quick_exit(3)
    assert exits == [0, 3]


@pytest.mark.parametrize(("command", "raised"), [("funnel", True), ("serve", False)])
def test_an_analysis_process_collects_its_young_objects_less_often(
    monkeypatch: pytest.MonkeyPatch, command: str, raised: bool
) -> None:
    """The garbage collector's youngest generation every 10,000 allocations instead of 700 in
    an analysis command's process (its imports: ~2% of a 10M-event funnel's CPU); a server
    keeps Python's thresholds, as does a caller in this process (tests, a notebook)."""
    import gc

    import click

    before = gc.get_threshold()
    try:
        gc.set_threshold(*cli._PYTHON_GC_THRESHOLDS)
        ctx = click.Context(main)
        main.resolve_command(ctx, [command])
        assert gc.get_threshold() == cli._PYTHON_GC_THRESHOLDS  # not the process's entry
        monkeypatch.setattr(cli, "_ENTRY", [True])
        main.resolve_command(ctx, [command])
        assert (gc.get_threshold() != cli._PYTHON_GC_THRESHOLDS) == raised
        gc.set_threshold(1, 2, 3)  # set by someone else: kept
        main.resolve_command(ctx, [command])
        assert gc.get_threshold() == (1, 2, 3)
    finally:
        gc.set_threshold(*before)


def test_the_process_entry_leaves_openblas_threads_no_time_to_spin(tmp_path: Path) -> None:
    """numpy's OpenBLAS threads spun ~0.1 s of a core at every start before sleeping."""
    code = (
        "import os, sys; from kundresa.cli import main\n"
        "sys.argv = ['kundresa', '--version']\n"
        "try:\n    main(prog_name='kundresa')\nexcept SystemExit:\n    pass\n"
        "print(os.environ.get('OPENBLAS_THREAD_TIMEOUT'))"
    )
    env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_THREAD_TIMEOUT"}
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    assert out.stdout.split()[-1] == "4"
    env["OPENBLAS_THREAD_TIMEOUT"] = "9"
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    assert out.stdout.split()[-1] == "9"
