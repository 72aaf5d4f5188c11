"""The collector's durable log: an append-only file of framed records, fsynced before an ack.

Every accepted request of the collector becomes one **record** appended to the log, and the
collector answers 200 only once that record is on disk (``fdatasync``). A loader
(:mod:`kundresa.live.loader`) later moves records into the warehouse.

Layout. The log is a folder (``.kundresa/collector/`` in a project) of **segments**, files
named by the log position of their first byte (``00000000000000000000.log``), a ``log-id``
file holding a random id (so a warehouse can tell this log from an earlier one that was
deleted), and a ``lock`` file (one writer process at a time). A **position** is a byte offset
in the concatenation of all segments: the end of a record is the position a loader records
as loaded. A segment grows to about ``segment_bytes`` and the next one starts; segments
wholly before the loaded position are deleted.

Framing. A record is a 12-byte header — the magic ``KRL1``, the payload length (unsigned 32
bit, little endian) and the CRC-32 of the payload — and the payload. A crash can leave the
last record of the last segment partly written (a *torn tail*; it was never acknowledged,
because the ack waits for the fsync). Opening the log for writing finds the first record
whose header or checksum does not hold, keeps the bytes from there in a ``.torn`` file beside
the segment for inspection, and cuts the segment there. Readers stop at the first such
record.

Group commit. Appends from many threads (or asyncio tasks) are queued; one writer thread
writes everything queued in one ``write`` and one ``fdatasync`` and then completes all their
futures together, so concurrent requests share the cost of a disk flush (PostgreSQL's
``commit_delay``/group commit, and the same idea in every write-ahead log).
"""

from __future__ import annotations

import contextlib
import fcntl
import itertools
import os
import queue
import struct
import threading
import uuid
import zlib
from collections.abc import Iterator
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path

__all__ = ["HEADER", "LogError", "LogRecord", "WriteAheadLog", "pending_records"]

HEADER = struct.Struct("<4sII")
"""Record header: magic, payload length, CRC-32 of the payload."""
MAGIC = b"KRL1"
MAX_RECORD = 64 * 1024 * 1024
SEGMENT_SUFFIX = ".log"
DEFAULT_SEGMENT_BYTES = 64 * 1024 * 1024


class LogError(OSError):
    """The log cannot be opened or written (another process holds it, a disk error)."""


@dataclass(frozen=True)
class LogRecord:
    """One record read back: its payload and the positions of its first and next byte."""

    start: int
    end: int
    payload: bytes


def frame(payload: bytes) -> bytes:
    """A payload with its header.

    Examples
    --------
    >>> framed = frame(b"hello")
    >>> len(framed), framed[:4]
    (17, b'KRL1')
    """
    return HEADER.pack(MAGIC, len(payload), zlib.crc32(payload)) + payload


def _segments(directory: Path) -> list[tuple[int, Path]]:
    """The segments of a log folder, by base position."""
    found = []
    for p in directory.glob(f"*{SEGMENT_SUFFIX}"):
        stem = p.name[: -len(SEGMENT_SUFFIX)]
        if stem.isdigit():
            found.append((int(stem), p))
    return sorted(found)


def _scan(data: bytes, base: int) -> Iterator[LogRecord]:
    """The whole, intact records of a segment's bytes, stopping at the first that is not."""
    offset = 0
    while offset + HEADER.size <= len(data):
        magic, length, crc = HEADER.unpack_from(data, offset)
        start = offset + HEADER.size
        if magic != MAGIC or length > MAX_RECORD or start + length > len(data):
            return
        payload = data[start : start + length]
        if zlib.crc32(payload) != crc:
            return
        yield LogRecord(base + offset, base + start + length, payload)
        offset = start + length


def read_log_id(directory: str | os.PathLike[str]) -> str | None:
    """The id of the log in ``directory`` (``None`` when there is no log yet)."""
    try:
        return (Path(directory) / "log-id").read_text().strip() or None
    except OSError:
        return None


def read_records(directory: str | os.PathLike[str], position: int = 0) -> Iterator[LogRecord]:
    """The intact records that end after ``position``, in order (no lock needed: a record
    still being written is not intact yet and ends the scan)."""
    segments = _segments(Path(directory))
    for i, (base, path) in enumerate(segments):
        nxt = segments[i + 1][0] if i + 1 < len(segments) else None
        if nxt is not None and nxt <= position:
            continue
        try:
            data = path.read_bytes()
        except FileNotFoundError:  # deleted by the loader meanwhile: already loaded
            continue
        for rec in _scan(data, base):
            if rec.end > position:
                yield rec


def pending_records(directory: str | os.PathLike[str], position: int) -> tuple[int, int]:
    """``(records, bytes)`` logged after ``position`` (acknowledged, not yet loaded)."""
    count = size = 0
    for rec in read_records(directory, position):
        count += 1
        size += rec.end - rec.start
    return count, size


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class WriteAheadLog:
    """The log in ``directory``, opened for appending by this process (module docstring).

    Parameters
    ----------
    directory
        The log folder (created when missing).
    segment_bytes
        Size after which a new segment starts.

    Raises
    ------
    LogError
        When another process has the log open for writing, or the folder cannot be used.

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as d:
    ...     log = WriteAheadLog(d)
    ...     first = log.append(b"one")
    ...     second = log.append(b"two")
    ...     [r.payload for r in log.read(0)], first < second == log.end
    ...     log.close()
    ([b'one', b'two'], True)
    """

    def __init__(
        self, directory: str | os.PathLike[str], *, segment_bytes: int = DEFAULT_SEGMENT_BYTES
    ) -> None:
        self.directory = Path(directory)
        self.segment_bytes = segment_bytes
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            self._lock_fd = os.open(self.directory / "lock", os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise LogError(f"{self.directory}: cannot open the collector log: {exc}") from exc
        try:
            fcntl.flock(self._lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            os.close(self._lock_fd)
            raise LogError(
                f"{self.directory}: another process is collecting into this project "
                "(one `kundresa serve --write-key` per project)"
            ) from exc
        self.log_id = read_log_id(self.directory) or self._new_id()
        segments = _segments(self.directory)
        if not segments:
            segments = [(0, self.directory / f"{0:020d}{SEGMENT_SUFFIX}")]
            segments[0][1].touch()
            _fsync_dir(self.directory)
        self._base, path = segments[-1]
        self._recover(path)
        self._fd = os.open(path, os.O_WRONLY | os.O_APPEND)
        self._size = os.fstat(self._fd).st_size
        self.end = self._base + self._size
        """Position after the last durable record."""
        self._queue: queue.SimpleQueue[tuple[bytes, Future[int]] | None] = queue.SimpleQueue()
        self._closed = False
        self._writer = threading.Thread(target=self._write_loop, name="kundresa-log", daemon=True)
        self._writer.start()

    def _new_id(self) -> str:
        log_id = uuid.uuid4().hex
        tmp = self.directory / "log-id.tmp"
        with open(tmp, "w") as f:
            f.write(log_id + "\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.directory / "log-id")
        _fsync_dir(self.directory)
        return log_id

    def _recover(self, path: Path) -> None:
        """Cut a torn tail off the last segment (kept aside in a ``.torn`` file)."""
        data = path.read_bytes()
        good = 0
        for rec in _scan(data, 0):
            good = rec.end
        if good == len(data):
            return
        torn = path.with_name(f"{path.name}.{good}.torn")
        torn.write_bytes(data[good:])
        with open(path, "r+b") as f:
            f.truncate(good)
            f.flush()
            os.fsync(f.fileno())

    # -- appending ----------------------------------------------------------------------------

    def submit(self, payload: bytes) -> Future[int]:
        """Queue ``payload``; the future gives the record's end position once it is on disk
        (or a :class:`LogError`)."""
        if len(payload) > MAX_RECORD:
            raise ValueError(f"a log record holds at most {MAX_RECORD} bytes")
        fut: Future[int] = Future()
        if self._closed:
            fut.set_exception(LogError("the collector log is closed"))
            return fut
        self._queue.put((payload, fut))
        return fut

    def append(self, payload: bytes) -> int:
        """Append ``payload`` and wait until it is on disk; its end position."""
        return self.submit(payload).result()

    def _write_loop(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            group = [item]
            stop = False
            while True:  # everything queued meanwhile goes into the same write and flush
                try:
                    more = self._queue.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    stop = True
                    break
                group.append(more)
            self._write_group(group)
            if stop:
                return

    def _write_group(self, group: list[tuple[bytes, Future[int]]]) -> None:
        try:
            if self._size >= self.segment_bytes:
                self._rotate()
            data = b"".join(frame(p) for p, _ in group)
            view = memoryview(data)
            while view:
                written = os.write(self._fd, view)
                view = view[written:]
            os.fdatasync(self._fd)
        except OSError as exc:
            # Nothing of this group is acknowledged; cut what may have reached the file so
            # the next group does not follow half a record.
            for _, fut in group:
                fut.set_exception(LogError(f"collector log: {exc}"))
            with contextlib.suppress(OSError):
                os.ftruncate(self._fd, self._size)
            return
        ends = []
        pos = self._base + self._size
        for payload, _ in group:
            pos += HEADER.size + len(payload)
            ends.append(pos)
        self._size += len(data)
        self.end = self._base + self._size
        for (_, fut), end in zip(group, ends, strict=True):
            fut.set_result(end)

    def _rotate(self) -> None:
        os.fsync(self._fd)
        os.close(self._fd)
        self._base += self._size
        self._size = 0
        path = self.directory / f"{self._base:020d}{SEGMENT_SUFFIX}"
        self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        _fsync_dir(self.directory)

    # -- reading and trimming -----------------------------------------------------------------

    def read(self, position: int, end: int | None = None) -> Iterator[LogRecord]:
        """The durable records after ``position`` (up to ``end``, default :attr:`end` now)."""
        stop = self.end if end is None else end
        for rec in read_records(self.directory, position):
            if rec.end > stop:
                return
            yield rec

    def drop_before(self, position: int) -> int:
        """Delete the segments that end at or before ``position`` (loaded); how many."""
        segments = _segments(self.directory)
        dropped = 0
        for (_base, path), (nxt, _) in itertools.pairwise(segments):
            if nxt <= position:
                path.unlink(missing_ok=True)
                dropped += 1
        if dropped:
            _fsync_dir(self.directory)
        return dropped

    def close(self) -> None:
        """Finish queued appends, then release the file and the lock."""
        if self._closed:
            return
        self._closed = True
        self._queue.put(None)
        self._writer.join()
        os.close(self._fd)
        fcntl.flock(self._lock_fd, fcntl.LOCK_UN)
        os.close(self._lock_fd)
