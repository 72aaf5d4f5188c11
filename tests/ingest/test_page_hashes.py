"""The event ids' hashes taken straight from a Parquet file's pages (kundresa.store._pages)
are the hashes of the texts Arrow reads, for every layout a writer may choose; anything the
walk does not take (a null, a text that may need trimming, another encoding or codec, damaged
bytes) is refused, never hashed wrongly."""

from __future__ import annotations

import os
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kundresa.cli import main
from kundresa.store._distinct import text_hashes
from kundresa.store._pages import IdHashes

_SETTINGS = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def _walk(path: Path, name: str = "event_id") -> np.ndarray | None:
    """The walk's hashes of the column ``name``, or None when a row group is refused."""
    fd = os.open(path, os.O_RDONLY)
    try:
        meta = pq.read_metadata(path)
        walk = IdHashes(fd, meta, name)
        if not walk.taken or not all(walk.group(g) for g in range(meta.num_row_groups)):
            return None
        return walk.hashes
    finally:
        os.close(fd)


def _arrow(path: Path, name: str = "event_id") -> tuple[np.ndarray, bool]:
    """Arrow's texts of ``name`` hashed, and whether every one is present and plain."""
    column = pq.read_table(path, columns=[name])[name].combine_chunks()
    hashes, plain = text_hashes(column)
    return hashes, bool(plain.all()) and not column.null_count


_TEXT = st.text(st.characters(min_codepoint=33, max_codepoint=126), min_size=1, max_size=40)
_ODD = st.sampled_from([" e1", "e2 ", "", "é", "e\t", None])


@_SETTINGS
@given(
    ids=st.lists(_TEXT, min_size=1, max_size=400),
    odd=st.lists(st.tuples(st.integers(0, 399), _ODD), max_size=2),
    repeat=st.integers(1, 4),
    codec=st.sampled_from(["NONE", "snappy", "gzip", "zstd", "brotli"]),
    dictionary=st.booleans(),
    version=st.sampled_from(["1.0", "2.0"]),
    page=st.sampled_from([None, 64, 700]),
    group=st.integers(1, 300),
    limit=st.sampled_from([64, 1000, 1 << 20]),
    required=st.booleans(),
)
def test_the_walk_gives_arrows_hashes(
    tmp_path: Path,
    ids: list[str],
    odd: list[tuple[int, str | None]],
    repeat: int,
    codec: str,
    dictionary: bool,
    version: str,
    page: int | None,
    group: int,
    limit: int,
    required: bool,
) -> None:
    # Repeated ids make dictionary pages (and their fallback to PLAIN past ``limit`` bytes).
    values: list[str | None] = [v for v in ids for _ in range(repeat)]
    for at, text in odd:
        if at < len(values):
            values[at] = text
    if required and None in values:
        values = [v if v is not None else "x" for v in values]
    field = pa.field("event_id", pa.string(), nullable=not required)
    path = tmp_path / "ids.parquet"
    pq.write_table(
        pa.table({"event_id": pa.array(values, pa.string())}, pa.schema([field])),
        path,
        compression=codec,
        use_dictionary=dictionary,
        data_page_version=version,
        data_page_size=page,
        row_group_size=group,
        dictionary_pagesize_limit=limit,
    )
    got = _walk(path)
    hashes, clean = _arrow(path)
    # Brotli does not state its output's size: read by Arrow (as LZ4 is).
    assert got is not None if clean and codec != "brotli" else got is None
    if got is not None:
        assert np.array_equal(got, hashes)


@_SETTINGS
@given(
    ids=st.lists(_TEXT, min_size=1, max_size=200, unique=True),
    codec=st.sampled_from(["NONE", "snappy", "zstd"]),
    dictionary=st.booleans(),
    version=st.sampled_from(["1.0", "2.0"]),
    flips=st.lists(st.tuples(st.integers(0, 10**6), st.integers(1, 255)), min_size=1, max_size=4),
)
def test_damaged_pages_are_refused_or_read_as_arrow_reads_them(
    tmp_path: Path,
    ids: list[str],
    codec: str,
    dictionary: bool,
    version: str,
    flips: list[tuple[int, int]],
) -> None:
    path = tmp_path / "ids.parquet"
    pq.write_table(
        pa.table({"event_id": ids}),
        path,
        compression=codec,
        use_dictionary=dictionary,
        data_page_version=version,
        data_page_size=128,
    )
    chunk = pq.read_metadata(path).row_group(0).column(0)
    start = chunk.data_page_offset
    if chunk.has_dictionary_page and chunk.dictionary_page_offset:
        start = min(start, chunk.dictionary_page_offset)
    data = bytearray(path.read_bytes())
    for at, bits in flips:
        data[start + at % chunk.total_compressed_size] ^= bits
    path.write_bytes(bytes(data))
    got = _walk(path)
    try:
        hashes, clean = _arrow(path)
    except (OSError, pa.ArrowException):
        return  # Arrow cannot read them: the ordinary ingest says so when the file is read
    if got is not None:
        assert clean and np.array_equal(got, hashes)


def test_a_column_other_than_flat_text_is_not_taken(tmp_path: Path) -> None:
    path = tmp_path / "odd.parquet"
    pq.write_table(pa.table({"event_id": pa.array([1, 2], pa.int64()), "t": [["a"], ["b"]]}), path)
    for name in ("event_id", "t", "missing"):
        fd = os.open(path, os.O_RDONLY)
        try:
            assert not IdHashes(fd, pq.read_metadata(path), name).taken
        finally:
            os.close(fd)


def _events(path: Path, ids: list[str], **options: object) -> Path:
    n = len(ids)
    table = pa.table(
        {
            "customer_id": [f"c{i % 5}" for i in range(n)],
            "timestamp": pa.array(
                [datetime(2025, 1, 1) + timedelta(hours=i) for i in range(n)], pa.timestamp("us")
            ),
            "event": ["visit" if i % 3 else "purchase" for i in range(n)],
            "event_id": ids,
        }
    )
    pq.write_table(table, path, **options)  # type: ignore[arg-type]
    return path


@pytest.mark.parametrize(
    "options",
    [
        {"use_dictionary": False, "data_page_size": 64},
        {"use_dictionary": True, "dictionary_pagesize_limit": 64, "row_group_size": 7},
        {"data_page_version": "2.0", "compression": "gzip"},
    ],
)
def test_a_duplicate_event_id_found_from_the_pages_is_deduplicated(
    tmp_path: Path, options: dict[str, object]
) -> None:
    # The duplicate sits far from its first (another page, row group or the PLAIN part
    # after the dictionary's): the lean funnel gives what the ordinary ingest gives.
    ids = [f"e{i}" for i in range(40)]
    ids[37] = ids[2]
    path = _events(tmp_path / "dup.parquet", ids, **options)
    args = ["funnel", "--events", str(path), "--step", "visit", "--step", "purchase"]
    lean = CliRunner().invoke(main, [*args, "--format", "json"])
    copied = CliRunner(env={"KUNDRESA_IN_PLACE": "0"}).invoke(main, [*args, "--format", "json"])
    assert lean.exit_code == copied.exit_code == 0, lean.output
    assert lean.output == copied.output
