"""The event funnel over a Parquet file read in place (``--events FILE``: the scan that codes
and orders the rows in memory) gives exactly what the portable Ibis path gives."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pandas.testing as pdt
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
from fastpath_cases import T0, event_rows, funnel_specs
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kundresa.analytics import _ordered
from kundresa.analytics._fast import portable
from kundresa.analytics.funnel import event_funnel, funnel_customers
from kundresa.cli import main
from kundresa.project import Project
from kundresa.store import in_place
from kundresa.store._decoded import decoded_file

row_st = event_rows()


def _write(folder: Path, rows: list[tuple[Any, ...]]) -> Path:
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
    path = folder / "events.parquet"
    pq.write_table(table, path, row_group_size=4)
    return path


def _sorted(df: Any) -> Any:
    return df.sort_values(list(df.columns)).reset_index(drop=True)


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    st.lists(row_st, min_size=1, max_size=25),
    funnel_specs(orders=("ordered", "strict", "any")),
    st.booleans(),
    st.booleans(),
)
def test_file_funnel_equals_portable(
    tmp_path: Path, rows: list[tuple[Any, ...]], f: dict[str, Any], grouped: bool, decode: bool
) -> None:
    f = {**f, "by": None}  # event-name steps without a breakdown: the coded scan
    if grouped:  # rows in runs of one customer (as an export writes them), not in time order
        rows = sorted(rows, key=lambda r: r[0])
    with pytest.MonkeyPatch.context() as mp:
        # The file's columns decoded by Arrow when it is read in place, or (a file too big
        # to decode) fetched by a DuckDB scan.
        if not decode:
            mp.setattr(in_place, "_DECODE_ROWS", 0)
        project = Project.from_events(_write(tmp_path, rows), in_place=True)
    with project:
        assert project.warehouse.in_place is not None
        assert (decoded_file(project.warehouse.con) is not None) == decode
        events = project.events
        reads: list[int] = []
        real = _ordered.fetched_codes

        def spy(*args: Any, **kwargs: Any) -> Any:
            reads.append(1)
            return real(*args, **kwargs)

        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(_ordered, "fetched_codes", spy)
            fast = event_funnel(events, **f)
            fast_c = funnel_customers(events, **f).to_pandas()
        assert reads == [1, 1]
        with portable():
            slow = event_funnel(events, **f)
            slow_c = funnel_customers(events, **f).to_pandas()
    pdt.assert_frame_equal(fast, slow)
    pdt.assert_frame_equal(_sorted(fast_c), _sorted(slow_c))


def test_cli_file_funnel_equals_portable(tmp_path: Path) -> None:
    # Ties at one instant (a "c" that fills "v|c" and "c" beside a "v"), customers out of
    # order in the file, an exclusion, a strict run broken by another event.
    rows = [
        ("q", 0, "c", None, None, None),
        ("p", 3600, "b", None, None, None),
        ("p", 0, "c", None, None, None),
        ("p", 0, "v", None, None, None),
        ("q", 0, "v", None, None, None),
        ("r", 0, "v", None, None, None),
        ("q", 60, "x", None, None, None),
        ("r", 60, "c", None, None, None),
        ("q", 120, "b", None, None, None),
        ("r", 120, "x", None, None, None),
        ("r", 180, "b", None, None, None),
    ]
    path = _write(tmp_path, rows)
    runner = CliRunner()
    for extra in (
        ["--step", "v|c", "--step", "c", "--step", "b"],
        ["--step", "v", "--step", "c", "--step", "b", "--order", "strict"],
        ["--step", "v", "--step", "b", "--exclude", "x:1:2"],
    ):
        args = ["funnel", "--events", str(path), *extra, "--window", "1d", "--format", "json"]
        fast = runner.invoke(main, args)
        slow = runner.invoke(main, args, env={"KUNDRESA_FAST_PATH": "0"})
        assert fast.exit_code == 0 and slow.exit_code == 0, fast.output + slow.output
        assert json.loads(fast.output) == json.loads(slow.output), extra
