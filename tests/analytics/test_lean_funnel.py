"""The command line's lean event funnel (``kundresa funnel --events FILE`` on a Parquet file
read in place and decoded, :mod:`kundresa.analyses._lean`): it loads neither Ibis nor sqlglot,
and prints exactly what the engine path prints (every format, warnings, errors, exit codes)."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
from fastpath_cases import T0, event_rows, funnel_specs
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from kundresa.analyses import _lean
from kundresa.cli import main


def _write(folder: Path, rows: list[tuple[Any, ...]], name: str = "events.parquet") -> Path:
    """The rows as a canonical events file (distinct event ids, so it is read in place);
    row groups of 4 rows, in the order drawn (not by customer or time)."""
    table = pa.table(
        {
            "customer_id": pa.array([r[0] for r in rows], pa.string()),
            "timestamp": pa.array([T0 + timedelta(seconds=r[1]) for r in rows], pa.timestamp("us")),
            "event": pa.array([r[2] for r in rows], pa.string()),
            "channel": pa.array([r[3] for r in rows], pa.string()),
            "event_id": pa.array([f"e{i}" for i in range(len(rows))], pa.string()),
        }
    )
    path = folder / name
    pq.write_table(table, path, row_group_size=4)
    return path


def _args(path: Path, f: dict[str, Any], fmt: str, extra: list[str]) -> list[str]:
    args = ["funnel", "--events", str(path)]
    for s in f["steps"]:
        args += ["--step", s]
    for x, a, b in f["exclusions"]:
        args += ["--exclude", f"{x}:{a}:{b}"]
    args += ["--window", f"{f['window']}s", "--order", f["order"]]
    if f["since"]:
        args += ["--since", f["since"]]
    if f["until"]:
        args += ["--until", f["until"]]
    if fmt == "excel":
        args += ["--format", "csv", "--excel"]
    else:
        args += ["--format", fmt]
    return [*args, *extra]


def _both(args: list[str], project: Path) -> tuple[Any, Any, list[bool]]:
    """The command run on the lean lane and on the engine path (the lane switched off), in
    ``project`` (a folder without a journey file), and whether the lane answered each time
    it was asked."""
    answered: list[bool] = []
    real = _lean.run_lean

    def spy(*a: Any, **k: Any) -> Any:
        result = real(*a, **k)
        answered.append(result is not None)
        return result

    runner = CliRunner()
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(project)
        mp.setattr(_lean, "run_lean", spy)
        lean = runner.invoke(main, args)
        mp.setattr(_lean, "lean_fits", lambda *a, **k: False)
        engine = runner.invoke(main, args)
    return lean, engine, answered


def _r(customer: str, at: int, event: str) -> tuple[Any, ...]:
    """A row as :func:`fastpath_cases.event_rows` draws them, ``at`` 7-hour steps after T0."""
    return (customer, 3600 * 7 * at, event, None, None, None)


def _spec(steps: list[str], **given: Any) -> dict[str, Any]:
    """A funnel as :func:`fastpath_cases.funnel_specs` draws them."""
    spec = {"steps": steps, "window": 86400, "order": "ordered", "exclusions": []}
    return {**spec, "by": None, "since": None, "until": None, **given}


# Bad or odd input: both paths must say the same (usage errors, warnings, notes).
_EXTRA = [
    *([[]] * 8),
    ["--step", "nosuch"],
    ["--step", "v|"],
    ["--window", "7x"],
    ["--exclude", "x:2:1"],
    ["--exclude", "x:1:9"],
    ["--exclude", "nosuch:1:2"],
    ["--since", "2025-03-05", "--until", "2025-03-02"],
    ["--since", "notadate"],
    ["--order", "any", "--step", "v|c|b|x"],
]


@settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    st.sampled_from([("p", "q", "r", "s"), ("p",), ("p", "q")]).flatmap(
        lambda who: st.lists(
            event_rows(customers=who, events=("v", "c", "b", "x", "y")), min_size=1, max_size=30
        )
    ),
    funnel_specs(orders=("ordered", "strict", "any")),
    st.sampled_from(["table", "json", "csv", "excel"]),
    st.sampled_from(_EXTRA),
)
# Cases a random search finds rarely: a strict run broken by an event that fills no step; a
# conversion after --until inside the window (and a step before --since); an exclusion.
@example(
    rows=[_r("p", 0, "v"), _r("p", 1, "y"), _r("p", 2, "b")],
    f=_spec(["v", "b"], order="strict"),
    fmt="json",
    extra=[],
)
@example(
    rows=[_r("p", 4, "v"), _r("p", 6, "b"), _r("q", 0, "v"), _r("q", 1, "b")],
    f=_spec(["v", "b"], since="2025-03-02", until="2025-03-03"),
    fmt="csv",
    extra=[],
)
@example(
    rows=[_r("p", 0, "v"), _r("p", 1, "x"), _r("p", 2, "b"), _r("q", 0, "v")],
    f=_spec(["v", "b"], exclusions=[("x", 1, 2)]),
    fmt="table",
    extra=[],
)
def test_lean_lane_prints_what_the_engine_path_prints(
    tmp_path_factory: pytest.TempPathFactory,
    rows: list[tuple[Any, ...]],
    f: dict[str, Any],
    fmt: str,
    extra: list[str],
) -> None:
    # Few customers with many rows each (many attempts), times in 7-hour steps (ties at one
    # instant), events that fill no step (``y``: they break strict runs), exclusions, windows
    # from 0 to 3 days, every order, a period, every format.
    folder = tmp_path_factory.mktemp("lean")
    path = _write(folder, rows)
    args = _args(path, f, fmt, extra)
    lean, engine, answered = _both(args, folder)
    assert (lean.exit_code, lean.stdout, lean.stderr) == (
        engine.exit_code,
        engine.stdout,
        engine.stderr,
    ), args
    if engine.exit_code == 0:
        assert answered == [True], args  # the lane answered, not the engine path again
    else:
        assert engine.exit_code == 2 and engine.stderr.strip(), args  # a one-line usage error
        assert "Traceback" not in engine.stderr


def test_lean_lane_leaves_the_rest_to_the_engine_path(tmp_path: Path) -> None:
    rows = [("p", 0, "v", "ads", None, None), ("p", 60, "b", None, None, None)]
    path = _write(tmp_path, rows)
    base = {"steps": ["v", "b"]}
    assert _lean.lean_fits("funnel", base, path)
    assert not _lean.lean_fits("funnel_time", base, path)
    assert not _lean.lean_fits("funnel", {**base, "by": "channel"}, path)
    assert not _lean.lean_fits("funnel", {"steps": ["v", "touchpoint:t"]}, path)
    assert not _lean.lean_fits("funnel", {"steps": ["v", " stage :s"]}, path)
    assert _lean.lean_fits("funnel", {"steps": ["v", "event:b", "a:b"]}, path)
    assert not _lean.lean_fits("funnel", base, tmp_path / "missing.parquet")
    empty = _write(tmp_path, [], "empty.parquet")
    assert not _lean.lean_fits("funnel", base, empty)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("KUNDRESA_FAST_PATH", "0")
        assert not _lean.lean_fits("funnel", base, path)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("KUNDRESA_FAST_PATH_ROWS", "1")  # two parts: the engine path splits them
        assert not _lean.lean_fits("funnel", base, path)
        mp.setenv("KUNDRESA_FAST_PATH_ROWS", "many")  # the engine path says what is wrong
        assert not _lean.lean_fits("funnel", base, path)
    # A journey file in the project folder: the engine path (steps may be touchpoints).
    (tmp_path / "journey.yaml").write_text("kundresa: 1\nname: Shop\ntemplate: kundresa-5\n")
    args = ["funnel", "--events", str(path), "--step", "v", "--step", "b", "--format", "json"]
    lean, engine, answered = _both(args, tmp_path)
    assert lean.exit_code == 0 and lean.stdout == engine.stdout
    assert answered == []  # never asked


_FRESH = r"""
import atexit, sys

def loaded():
    sys.stderr.write("LOADED " + " ".join(m for m in ("ibis", "sqlglot") if m in sys.modules))
    sys.stderr.write("\n")

atexit.register(loaded)
from kundresa.cli import main

main(args=sys.argv[1:], prog_name="kundresa")
"""


def test_the_file_funnel_loads_no_ibis(tmp_path: Path) -> None:
    """A fresh process (the ``kundresa`` script's way: a quick exit that runs the exit
    handlers) counts the file without importing Ibis or sqlglot, and prints what the engine
    path prints."""
    rows = [(f"c{i % 7}", 3600 * 7 * (i % 5), "vcbx"[i % 4], None, None, None) for i in range(80)]
    path = _write(tmp_path, rows)
    args = ["funnel", "--events", str(path), "--step", "v", "--step", "c|b"]
    args += ["--step", "b", "--exclude", "x:1:3", "--window", "1d", "--format", "json"]
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    done = subprocess.run(
        [sys.executable, "-c", _FRESH, *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "LOADED \n" in done.stderr, done.stderr  # neither ibis nor sqlglot
    _, engine, _ = _both(args, tmp_path)
    assert engine.exit_code == 0 and done.stdout == engine.stdout


def _at(customer: str, when: datetime, event: str) -> tuple[Any, ...]:
    """A row at an absolute time (``_write`` adds its seconds to T0)."""
    return (customer, (when - T0).total_seconds(), event, None, None, None)


# Found by the session-14 fresh-eyes review of ``kundresa funnel --events FILE`` (all held):
# more step definitions than a 64-bit mask holds, Swedish and Danish names, times at the
# edges of the years ingest keeps (1900, 2099) under the longest window, steps tied at one
# instant with an exclusion between them, a 90 s window met to the microsecond.
_B = datetime(2025, 3, 1, 10)
_US = timedelta(microseconds=1)
_REVIEW = [
    (
        [(f"c{c}", 60 * k, f"s{k}", None, None, None) for c in range(3) for k in range(70)],
        [f"s{k}" for k in range(70)],
        ["--order", "any"],
        False,  # more steps than the kernels' bits: the portable funnel, on the engine path
    ),
    (
        [(f"c{c}", 60 * k, f"s{k}", None, None, None) for c in range(3) for k in range(70)],
        [f"s{k}" for k in range(62)],
        ["--order", "any"],
        True,
    ),
    (
        [(f"c{c}", 60 * k, f"s{k}", None, None, None) for c in range(3) for k in range(66)],
        [f"s{k}|s{k + 1}" for k in range(65)],
        ["--order", "strict"],
        False,
    ),
    (
        [
            ("å1", 0, "besök", None, None, None),
            ("å1", 60, "köp", None, None, None),
            ("ø2", 0, "besøg", None, None, None),
            ("ø2", 30, "køb", None, None, None),
        ],
        ["besök|besøg", "köp|køb"],
        ["--format", "csv", "--excel"],
        True,
    ),
    (
        [
            _at("g", datetime(1900, 1, 1), "v"),
            _at("g", datetime(2099, 12, 31), "b"),
            _at("h", datetime(2099, 1, 1), "v"),
            _at("h", datetime(2099, 12, 31, 23, 59), "b"),
        ],
        ["v", "b"],
        ["--window", "3650d", "--since", "1900-01-01", "--until", "2099-12-31T23:59:30"],
        True,
    ),
    (
        [
            _at("c", _B, "v"),
            _at("c", _B, "x"),
            _at("c", _B, "b"),
            _at("d", _B, "b"),
            _at("d", _B, "v"),
            _at("e", _B, "v"),
            _at("e", _B + _US, "x"),
            _at("e", _B + 2 * _US, "b"),
            _at("f", _B, "v"),
            _at("f", _B + timedelta(seconds=90), "b"),
            _at("k", _B, "v"),
            _at("k", _B + timedelta(seconds=90) + _US, "b"),
        ],
        ["v", "b"],
        ["--window", "90s", "--exclude", "x:1:2", "--format", "json"],
        True,
    ),
]


@pytest.mark.parametrize(("rows", "steps", "extra", "lane"), _REVIEW)
def test_lean_lane_review_cases(
    tmp_path: Path, rows: list[tuple[Any, ...]], steps: list[str], extra: list[str], lane: bool
) -> None:
    path = _write(tmp_path, rows)
    args = ["funnel", "--events", str(path), *[a for s in steps for a in ("--step", s)], *extra]
    lean, engine, answered = _both(args, tmp_path)
    assert (lean.exit_code, lean.stdout, lean.stderr) == (
        engine.exit_code,
        engine.stdout,
        engine.stderr,
    )
    assert engine.exit_code == 0, engine.stderr
    assert answered == [lane]  # the lane answered, or declined as designed


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no named pipes here")
def test_a_named_pipe_is_no_file_for_the_lane(tmp_path: Path) -> None:
    """A FIFO named ``x.parquet``: the lane's look at the file's metadata must not wait for a
    writer (it did, for ever); the engine path says what it always said (found by the
    session-15 review)."""
    fifo = tmp_path / "pipe.parquet"
    os.mkfifo(fifo)
    assert not _lean.lean_fits("funnel", {"steps": ["v", "b"]}, tmp_path / "nothing.parquet")
    args = ["funnel", "--events", str(fifo), "--step", "v", "--step", "b"]
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    code = "import sys; from kundresa.cli import main; main(args=sys.argv[1:])"
    try:
        done = subprocess.run(
            [sys.executable, "-c", code, *args],
            capture_output=True,
            text=True,
            env=env,
            cwd=tmp_path,
            check=False,
            timeout=120,
        )
    except subprocess.TimeoutExpired:
        pytest.fail("the command waited on the named pipe")
    _, engine, _ = _both(args, tmp_path)
    assert (done.returncode, done.stdout, done.stderr) == (
        engine.exit_code,
        engine.stdout,
        engine.stderr,
    )
    assert "Traceback" not in done.stderr


_IDS = ("p", "q", "å", "x" * 100, "12345678-1234-1234-1234-123456789abc", "r\t")


def _write_groups(folder: Path, rows: list[tuple[Any, ...]], sizes: list[int]) -> Path:
    """:func:`_write`'s file, its row groups of the ``sizes`` in turn (0: an empty row
    group), the customer ids and event names as large strings every other size."""
    text = pa.large_string() if sizes[0] % 2 else pa.string()
    table = pa.table(
        {
            "customer_id": pa.array([r[0] for r in rows], text),
            "timestamp": pa.array([T0 + timedelta(seconds=r[1]) for r in rows], pa.timestamp("us")),
            "event": pa.array([r[2] for r in rows], text),
            "event_id": pa.array([f"e{i}" for i in range(len(rows))], pa.string()),
        }
    )
    path = folder / "events.parquet"
    with pq.ParquetWriter(path, table.schema) as writer:
        at, turn = 0, 0
        while at < len(rows):
            size = sizes[turn % len(sizes)]
            writer.write_table(table.slice(at, size))
            at, turn = at + size, turn + 1
    return path


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    st.lists(event_rows(customers=_IDS, events=("v", "c", "b", "x", "y")), min_size=1, max_size=40),
    funnel_specs(orders=("ordered", "strict", "any")),
    st.lists(st.integers(0, 7), min_size=1, max_size=6).filter(any),
    st.booleans(),
)
def test_lean_lane_in_ranges_prints_what_the_engine_path_prints(
    tmp_path_factory: pytest.TempPathFactory,
    rows: list[tuple[Any, ...]],
    f: dict[str, Any],
    sizes: list[int],
    numba: bool,
) -> None:
    """The lane's passes in ranges, as on a big file and a machine of three cores (the file's
    row groups read in ranges, the rows counted, placed and sorted in ranges, the customers'
    best attempts in ranges), on row groups of odd sizes (one row, empty ones), customers
    across them, odd and long ids; the compiled kernels or numba's: what the engine path
    prints (session-15 review)."""
    from kundresa import native
    from kundresa.analytics import _funnel_core, _kernels

    folder = tmp_path_factory.mktemp("ranges")
    path = _write_groups(folder, rows, sizes)
    args = _args(path, f, "json", [])
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(_kernels, "_RANGE_ROWS", 1)
        mp.setattr(_funnel_core, "_CHUNK_ROWS", 1)
        mp.setattr(_funnel_core, "_kernel_threads", lambda: 3)
        mp.setattr(os, "cpu_count", lambda: 3)
        if numba:
            mp.setenv("KUNDRESA_NATIVE", "0")
            native.reset()
        try:
            lean, engine, answered = _both(args, folder)
        finally:
            native.reset()
    assert (lean.exit_code, lean.stdout, lean.stderr) == (
        engine.exit_code,
        engine.stdout,
        engine.stderr,
    ), args
    if engine.exit_code == 0 and all(r[0] != "r\t" for r in rows):
        assert answered == [True], args
