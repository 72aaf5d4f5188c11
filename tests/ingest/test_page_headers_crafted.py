"""Crafted Parquet page headers that Arrow's Thrift reader and a lenient parser read apart
(review of session 18): the page walk (kundresa.store._pages) refuses every such header, so
Arrow's read decides, and the lean command answers as the ordinary ingest does."""

from __future__ import annotations

import os
import zlib
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from kundresa.cli import main
from kundresa.store import _pages


def _varint(v: int) -> bytes:
    out = bytearray()
    while True:
        x, v = v & 0x7F, v >> 7
        if not v:
            out.append(x)
            return bytes(out)
        out.append(x | 0x80)


def _zz(v: int) -> int:
    return (v << 1) ^ (v >> 63)


def _field(fid: int, kind: int, payload: bytes = b"") -> bytes:
    """A long-form compact-protocol field header (its id as a zigzag number), then its value."""
    return bytes([kind]) + _varint(_zz(fid)) + payload


def _i32(fid: int, v: int) -> bytes:
    return _field(fid, 5, _varint(_zz(v)))


def _struct(fid: int, body: bytes) -> bytes:
    return _field(fid, 12, body + b"\x00")


def _spliced(
    path: Path, rows: int, chunk: bytes, created_by: str | None = None, **options: object
) -> Path:
    """A canonical events file of ``rows`` rows (customer A visits at row 1 and buys at the
    last row) whose event_id column chunk is replaced by ``chunk`` (zero-padded), and its
    writer named ``created_by`` when given."""
    cust = [f"c{i}" for i in range(rows)]
    ev = ["visit"] * rows
    cust[1] = cust[rows - 1] = "A"
    ev[rows - 1] = "purchase"
    ts = pa.array(
        np.datetime64("2024-01-01") + (np.arange(rows) * 60).astype("timedelta64[s]"),
        pa.timestamp("us"),
    )
    schema = pa.schema(
        [pa.field(n, t, False) for n, t in [("customer_id", pa.string()), ("timestamp", ts.type),
                                            ("event", pa.string()), ("event_id", pa.string())]]
    )  # fmt: skip
    ids = [os.urandom(150).hex() for _ in range(rows)]  # a chunk big enough for ``chunk``
    table = pa.table({"customer_id": cust, "timestamp": ts, "event": ev, "event_id": ids}, schema)
    pq.write_table(table, path, write_statistics=False, **options)  # type: ignore[arg-type]
    c = pq.read_metadata(path).row_group(0).column(3)
    start = min(c.data_page_offset, c.dictionary_page_offset or c.data_page_offset)
    assert len(chunk) <= c.total_compressed_size
    raw = bytearray(path.read_bytes())
    raw[start : start + c.total_compressed_size] = chunk.ljust(c.total_compressed_size, b"\0")
    if created_by is not None:
        size = int.from_bytes(raw[-8:-4], "little")
        footer = bytes(raw[-8 - size : -8])
        old = pq.read_metadata(path).created_by.encode()
        assert footer.count(bytes([len(old)]) + old) == 1
        footer = footer.replace(
            bytes([len(old)]) + old, _varint(len(created_by)) + created_by.encode()
        )
        raw = raw[: -8 - size] + footer + len(footer).to_bytes(4, "little") + b"PAR1"
    path.write_bytes(bytes(raw))
    return path


def _same_as_the_ingest(path: Path) -> None:
    args = ["funnel", "--events", str(path), "--step", "visit", "--step", "purchase"]
    lean = CliRunner().invoke(main, [*args, "--format", "json"])
    copied = CliRunner(env={"KUNDRESA_IN_PLACE": "0"}).invoke(main, [*args, "--format", "json"])
    assert (lean.exit_code, lean.output) == (copied.exit_code, copied.output)


def test_a_field_id_beyond_16_bits_is_not_read_past_arrow(tmp_path: Path) -> None:
    # Field 65536 + f is f to Arrow's Thrift (an i16) and an unknown field to a lenient
    # parser: the dictionary page's sizes then differ, and the two read different data pages
    # (Arrow's with a duplicate id).
    rows, alias = 30, 65536
    ids = [f"id-{i:02d}" for i in range(rows)]
    dict_a = b"".join(len(s).to_bytes(4, "little") + s.encode() for s in ids)
    h_idx = [*range(rows - 1), 1]  # the last row has row 1's id
    h_body = bytes([6]) + b"".join(bytes([2, v]) for v in h_idx)
    data = _struct(5, _i32(1, rows) + _i32(2, 8) + _i32(3, 3) + _i32(4, 3))
    h_head = _i32(1, 0) + _i32(2, len(h_body)) + _i32(3, len(h_body)) + data + b"\x00"
    text = b"!" + h_head + h_body + b"Z"  # one more dictionary text, to a lenient parser
    dict_w = dict_a + len(text).to_bytes(4, "little") + text
    stored_a = len(dict_a) + 4 + 1
    d_head = (
        _i32(1, 2) + _i32(2, len(dict_w)) + _i32(3, len(dict_w))
        + _struct(7, _i32(1, rows + 1) + _i32(2, 0) + _i32(alias + 1, rows))
        + _i32(alias + 2, stored_a) + _i32(alias + 3, stored_a) + b"\x00"
    )  # fmt: skip
    p_body = bytes([6]) + b"".join(bytes([2, i]) for i in range(rows))
    p_head = _i32(1, 0) + _i32(2, len(p_body)) + _i32(3, len(p_body)) + data + b"\x00"
    path = _spliced(
        tmp_path / "alias.parquet", rows, d_head + dict_w + p_head + p_body, compression="none"
    )
    assert pq.read_table(path)["event_id"][-1].as_py() == "id-01"
    _same_as_the_ingest(path)


def test_a_boolean_field_written_as_an_integer_is_not_taken(tmp_path: Path) -> None:
    # is_compressed written as an i32 0: Arrow skips it (so decompresses with Snappy), a
    # lenient parser reads the page raw; each page reads as different indices either way.
    rows = 9
    snappy = pa.Codec("snappy")
    ids = [f"id-{i}" for i in range(rows)]
    plain = b"".join(len(s).to_bytes(4, "little") + s.encode() for s in ids)
    dpage = snappy.compress(plain, asbytes=True)
    dictionary = _struct(7, _i32(1, rows) + _i32(2, 0))
    chunk = _i32(1, 2) + _i32(2, len(plain)) + _i32(3, len(dpage)) + dictionary + b"\x00" + dpage
    arrow_index = [*range(rows - 1), 1]
    for k in range(rows):
        body = bytes([8, (3 - 1) << 2, k, 2, arrow_index[k], ((5 - 1) << 2) | 2, 3, 0])
        v2 = _i32(1, 1) + _i32(2, 0) + _i32(3, 1) + _i32(4, 8) + _i32(5, 0) + _i32(6, 0)
        head = _i32(1, 3) + _i32(2, 8) + _i32(3, 8) + _struct(8, v2 + _i32(7, 0)) + b"\x00"
        chunk += head + body
    path = _spliced(
        tmp_path / "flag.parquet", rows, chunk, compression="snappy", use_dictionary=False
    )
    assert pq.read_table(path)["event_id"][-1].as_py() == "id-1"
    _same_as_the_ingest(path)


@pytest.mark.parametrize(
    "header",
    [
        b"\x12" + _i32(2, 4) + _i32(3, 4) + b"\x00",  # type as a boolean
        _i32(1, 0) + _i32(1, 0) + _i32(2, 4) + _i32(3, 4) + b"\x00",  # a field twice
        _i32(1, 0) + _i32(2, 4) + _i32(3, 4) + _i32(40000, 1) + b"\x00",  # an id past i16
        _i32(1, 0) + _i32(2, 4) + _i32(3, 4) + _field(9, 8, _varint(2**30)) + b"\x00",
    ],
)
def test_headers_arrow_refuses_or_reads_otherwise_are_refused(header: bytes) -> None:
    with pytest.raises(_pages._Bad):
        _pages._struct(header, 0, _pages._HEADER)


def test_a_page_that_decompresses_shorter_than_its_header_says_is_refused() -> None:
    plain = b"\x03\x00\x00\x00abc" * 10
    snappy = pa.Codec("snappy").compress(plain, asbytes=True)
    gzip = zlib.compress(plain)
    zstd = pa.Codec("zstd").compress(plain, asbytes=True)
    for name, body in (("SNAPPY", snappy), ("GZIP", gzip), ("ZSTD", zstd)):
        page = _pages._decompressed(name, memoryview(body), len(plain))
        assert page.tobytes() == plain
        with pytest.raises(_pages._Bad):
            _pages._decompressed(name, memoryview(body), len(plain) + 40)
    with pytest.raises(_pages._Bad):  # a Zstandard frame that does not state its size
        _pages._decompressed("ZSTD", memoryview(b"\x28\xb5\x2f\xfd\x00\x00" + zstd[6:]), 70)


def test_the_bytes_arrow_reads_past_an_old_writers_chunk_are_in_the_digest(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # parquet-mr before 1.2.9 left the dictionary page's header out of a chunk's size; Arrow
    # reads 100 bytes more for such files. Two files differing only there are two proofs.
    from kundresa.store import _proofs

    monkeypatch.setenv("KUNDRESA_CHECK_CACHE", str(tmp_path / "cache"))
    path = tmp_path / "e.parquet"
    table = pa.table({"event_id": [f"e{i}" for i in range(20)], "x": list(range(20))})
    pq.write_table(table, path, compression="none")
    c = pq.read_metadata(path).row_group(0).column(0)
    start = min(c.data_page_offset, c.dictionary_page_offset or c.data_page_offset)
    end = start + c.total_compressed_size
    raw = bytearray(path.read_bytes())
    other = tmp_path / "f.parquet"
    raw[end + 30] ^= 1  # a byte past the chunk (the next column's data)
    other.write_bytes(bytes(raw))
    a, b = _proofs.identity(path), _proofs.identity(other)
    assert a is not None and b is not None and a.digest != b.digest


def test_a_read_error_is_one_line() -> None:
    from kundresa.ingest.readers import ReadError

    message = "x.parquet: cannot read the file: Invalid data\nDeserializing page header failed.\n"
    assert str(ReadError(message)) == (
        "x.parquet: cannot read the file: Invalid data; Deserializing page header failed."
    )


def test_runs_arrow_refuses_are_refused() -> None:
    # Empty runs (RLE or bit-packed) and run headers past five bytes: Arrow stops there.
    from kundresa.store._distinct import dictionary_page_gather, levels_all_one

    values = np.arange(4, dtype=np.uint64)
    out = np.zeros(2, np.uint64)
    for runs in (b"\x00\x04\x01", b"\x01\x04\x01", b"\x84\x80\x80\x80\x80\x00\x01"):
        page = np.frombuffer(bytes([2]) + runs, np.uint8)  # bit width 2, then the runs
        assert dictionary_page_gather(page, 0, values, out) == -1
        levels = np.frombuffer(runs, np.uint8)
        assert levels_all_one(levels, 0, len(levels), 2) == -1
    good = np.frombuffer(bytes([2, 4, 1]), np.uint8)  # a run of two 1s
    assert dictionary_page_gather(good, 0, values, out) == 3 and out.tolist() == [1, 1]


def test_pages_arrow_reads_otherwise_are_left_to_arrow() -> None:
    body = memoryview(b"\x02\x04\x01")
    # A page of no values (Arrow takes it as the chunk's end).
    empty = {5: {1: 0, 2: 8, 3: 3, 4: 3}}
    assert _pages.IdHashes._data(0, empty, body, "UNCOMPRESSED", 3, False, None) is None
    # A version 2 page "not compressed" in a compressed chunk: Arrow decompresses it anyway
    # for files of parquet-cpp before 2.0.0.
    v2 = {8: {1: 2, 2: 0, 3: 2, 4: 8, 5: 0, 6: 0, 7: False}}
    assert _pages.IdHashes._data(3, v2, body, "SNAPPY", 3, False, None) is None
    assert _pages.IdHashes._data(3, v2, body, "SNAPPY", 3, False, None, True) is not None
    assert _pages.IdHashes._data(3, v2, body, "UNCOMPRESSED", 3, False, None) is not None


def test_a_duplicate_event_id_is_never_settled_by_a_second_reader(tmp_path: Path) -> None:
    # Ids present in every row, two alike: the ordinary ingest reads the file, not DuckDB's
    # count of the keys (its reader may take a crafted file apart from Arrow's).
    from kundresa.store import in_place
    from kundresa.store.warehouse import Warehouse

    path = tmp_path / "dup.parquet"
    ids = [f"e{i}" for i in range(30)]
    ids[29] = ids[1]
    times = pa.array(np.datetime64("2024-01-01T00:00:00") + np.arange(30).astype("timedelta64[s]"))
    table = pa.table(
        {"customer_id": ["a"] * 30, "timestamp": times.cast(pa.timestamp("us")),
         "event": ["visit"] * 30, "event_id": ids}
    )  # fmt: skip
    pq.write_table(table, path)
    wh = Warehouse(None)
    try:
        assert in_place.read_in_place(wh, path) is None
    finally:
        wh.con.close()


def test_an_old_writers_uncompressed_flag_is_left_to_arrow(tmp_path: Path) -> None:
    # "parquet-cpp version 1.5.1": Arrow decompresses version 2 pages marked not compressed
    # (that writer marked them wrong); read raw, each page gives other indices.
    rows = 9
    snappy = pa.Codec("snappy")
    ids = [f"{os.urandom(4).hex()}-id-{i}" for i in range(rows)]
    plain = b"".join(len(t).to_bytes(4, "little") + t.encode() for t in ids)
    dpage = snappy.compress(plain, asbytes=True)
    dictionary = _struct(7, _i32(1, rows) + _i32(2, 0))
    chunk = _i32(1, 2) + _i32(2, len(plain)) + _i32(3, len(dpage)) + dictionary + b"\x00" + dpage
    arrow_index = [*range(rows - 1), 1]
    for k in range(rows):
        body = bytes([8, (3 - 1) << 2, k, 2, arrow_index[k], ((5 - 1) << 2) | 2, 3, 0])
        v2 = _i32(1, 1) + _i32(2, 0) + _i32(3, 1) + _i32(4, 8) + _i32(5, 0) + _i32(6, 0)
        head = _i32(1, 3) + _i32(2, 8) + _i32(3, 8) + _struct(8, v2 + _field(7, 2)) + b"\x00"
        chunk += head + body
    path = _spliced(
        tmp_path / "old.parquet", rows, chunk, "parquet-cpp version 1.5.1",
        compression="snappy", use_dictionary=False,
    )  # fmt: skip
    got = pq.read_table(path)["event_id"].to_pylist()
    assert got[1] == got[8]
    _same_as_the_ingest(path)
