"""The collector's durable log: framing, torn tails, group commit, trimming."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from kundresa.live.log import (
    HEADER,
    LogError,
    WriteAheadLog,
    frame,
    pending_records,
    read_records,
)


def test_records_come_back_in_order_with_their_positions(tmp_path: Path) -> None:
    log = WriteAheadLog(tmp_path)
    ends = [log.append(f"record {i}".encode()) for i in range(5)]
    records = list(log.read(0))
    assert [r.payload for r in records] == [f"record {i}".encode() for i in range(5)]
    assert [r.end for r in records] == ends == sorted(ends)
    assert records[0].start == 0 and records[1].start == ends[0]
    assert [r.payload for r in log.read(ends[2])] == [b"record 3", b"record 4"]
    assert pending_records(tmp_path, ends[2]) == (2, ends[4] - ends[2])
    log.close()


def test_a_second_writer_is_refused(tmp_path: Path) -> None:
    log = WriteAheadLog(tmp_path)
    with pytest.raises(LogError, match="another process is collecting"):
        WriteAheadLog(tmp_path)
    log.close()
    WriteAheadLog(tmp_path).close()  # free again


def test_reopening_keeps_the_id_and_the_records(tmp_path: Path) -> None:
    log = WriteAheadLog(tmp_path)
    log.append(b"a")
    log_id = log.log_id
    log.close()
    again = WriteAheadLog(tmp_path)
    assert again.log_id == log_id
    assert [r.payload for r in again.read(0)] == [b"a"]
    end = again.append(b"b")
    assert [r.payload for r in again.read(0)] == [b"a", b"b"] and again.end == end
    again.close()


@settings(max_examples=40, deadline=None)
@given(
    payloads=st.lists(st.binary(min_size=0, max_size=60), min_size=1, max_size=6),
    cut=st.integers(min_value=1, max_value=10_000),
    garbage=st.binary(max_size=20),
)
def test_a_torn_tail_is_cut_and_only_whole_records_survive(
    tmp_path_factory: pytest.TempPathFactory, payloads: list[bytes], cut: int, garbage: bytes
) -> None:
    """A crash mid-write leaves a prefix of the last record (plus maybe junk): reopening
    keeps exactly the records written whole before it, and appends after them."""
    folder = tmp_path_factory.mktemp("log")
    log = WriteAheadLog(folder)
    for p in payloads[:-1]:
        log.append(p)
    whole_end = log.end
    log.close()
    segment = next(folder.glob("*.log"))
    last = frame(payloads[-1])
    torn = last[: cut % len(last)] + garbage if cut % len(last) else garbage
    assume(not torn.startswith(last))  # junk that happens to complete the record is no tear
    with open(segment, "ab") as f:
        f.write(torn)
    reopened = WriteAheadLog(folder)
    assert [r.payload for r in reopened.read(0)] == payloads[:-1]
    assert reopened.end == whole_end
    reopened.append(b"after")
    assert [r.payload for r in reopened.read(0)] == [*payloads[:-1], b"after"]
    reopened.close()
    if torn:
        assert list(folder.glob("*.torn"))


def test_a_flipped_bit_ends_the_readable_log(tmp_path: Path) -> None:
    log = WriteAheadLog(tmp_path)
    log.append(b"first")
    log.append(b"second")
    log.close()
    segment = next(tmp_path.glob("*.log"))
    data = bytearray(segment.read_bytes())
    data[HEADER.size + 5 + HEADER.size] ^= 0x01  # a byte of the second payload
    segment.write_bytes(bytes(data))
    assert [r.payload for r in read_records(tmp_path)] == [b"first"]


def test_concurrent_appends_share_flushes_and_lose_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    flushes = []
    real = os.fdatasync

    def counting(fd: int) -> None:
        flushes.append(fd)
        real(fd)

    monkeypatch.setattr(os, "fdatasync", counting)
    log = WriteAheadLog(tmp_path)
    ends: list[int] = []

    def send(n: int) -> None:
        for i in range(25):
            ends.append(log.append(f"{n}-{i}".encode()))

    threads = [threading.Thread(target=send, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    payloads = {r.payload.decode() for r in log.read(0)}
    assert payloads == {f"{n}-{i}" for n in range(8) for i in range(25)}
    assert len(set(ends)) == 200
    assert len(flushes) <= 200  # at most one flush per append, usually far fewer
    log.close()


def test_segments_rotate_and_loaded_ones_are_dropped(tmp_path: Path) -> None:
    log = WriteAheadLog(tmp_path, segment_bytes=100)
    ends = [log.append(bytes(60)) for _ in range(5)]
    assert len(list(tmp_path.glob("*.log"))) >= 3
    assert len(list(log.read(0))) == 5
    log.drop_before(ends[2])
    assert [r.end for r in log.read(ends[2])] == ends[3:]
    assert len(list(log.read(0))) == len(list(log.read(ends[1])))  # earlier ones are gone
    log.close()
    again = WriteAheadLog(tmp_path, segment_bytes=100)
    assert again.end == ends[-1]
    again.close()
