"""A Parquet file's decoded columns read ahead, in a thread, while the process imports.

``kundresa funnel --events FILE`` on a canonical Parquet file (the lean lane,
:mod:`kundresa.analyses._lean`) spends ~0.3 s importing DuckDB, the ingest's modules and
pandas before the in-place check (:func:`kundresa.store.in_place.read_in_place`) reads the
file's columns. Arrow reads and decodes without Python's interpreter lock, so the command
line starts that read first (:func:`read_ahead`) and the check takes its table
(:func:`take`) instead of reading the file again: the same read, the same table, overlapped
with the imports. Anything not taken is dropped (:func:`discard`).

This module imports only pyarrow (and the check cache's few lines,
:mod:`kundresa.store._proofs`; the page walk's, :mod:`kundresa.store._pages`, and its
kernels when it reads event ids), so that starting the read costs no more imports.
"""

from __future__ import annotations

import logging
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable

    import numpy as np
    import numpy.typing as npt
    import pyarrow as pa
    import pyarrow.parquet as pq

    from kundresa.store._proofs import Identity

__all__ = [
    "DECODED",
    "OPTIONAL",
    "FileRead",
    "all_null",
    "canonical_columns",
    "discard",
    "has_ids",
    "load_kernels",
    "read",
    "read_ahead",
    "read_file",
    "take",
]

OPTIONAL = ("channel", "value", "event_id", "session_id")
"""The canonical columns an events file may leave out."""

DECODED = ("customer_id", "event", "timestamp")
"""The columns the in-place check decodes with Arrow (and the event ids, when present)."""

_TEXT = ("customer_id", "event", "channel", "event_id", "session_id")
_REQUIRED = ("customer_id", "timestamp", "event")


_kernels_lock = threading.Lock()
_kernels_done = threading.Event()


def load_kernels() -> None:
    """Import the compiled kernels of the event ids' proof (:mod:`kundresa.store._distinct`:
    the distinct set, the text hashes, the page walk's) and load their code (ahead of time
    compiled, :mod:`kundresa.native`, or numba's), once a process and in one thread at a
    time: the in-place check's warm-up and the read's threads (which hash the event ids from
    their pages) both need them, and two threads importing one module at once can see it
    half initialised. Failures are passed over (the real calls raise)."""
    if _kernels_done.is_set():
        return
    with _kernels_lock:
        if _kernels_done.is_set():
            return
        try:
            import numpy as np
            import pyarrow as pa

            from kundresa.store._distinct import (
                all_distinct,
                dictionary_page_gather,
                levels_all_one,
                plain_page_hashes,
                text_hashes,
            )

            # A read-only array over an Arrow buffer, as the hashes (numba compiles
            # read-only and writable arrays apart); the decoded event ids' hashing.
            all_distinct(pa.array([], pa.uint64()).to_numpy(zero_copy_only=False))
            text_hashes(pa.array([], pa.string()))
            empty = np.zeros(0, np.uint8)
            plain_page_hashes(empty, 0, np.zeros(0, np.uint64))
            dictionary_page_gather(empty, 0, np.zeros(0, np.uint64), np.zeros(0, np.uint64))
            levels_all_one(empty, 0, 0, 0)
        except Exception:  # only a warm-up: the real call raises
            pass
        finally:
            _kernels_done.set()


def canonical_columns(schema: pa.Schema) -> list[str] | None:
    """The file's columns when they are canonical names with canonical types, else None: the
    in-place check's first test (:func:`kundresa.store.in_place.read_in_place`), which a
    file must pass to be read ahead."""
    import pyarrow as pa

    names = list(schema.names)
    if len(set(names)) != len(names) or not set(_REQUIRED) <= set(names):
        return None
    for f in schema:
        if f.name in _TEXT:
            if not (pa.types.is_string(f.type) or pa.types.is_large_string(f.type)):
                return None
        elif f.name == "timestamp":
            # Zone-less times in whole microseconds or coarser: the ingest reads their text
            # back to the same instant.
            if not pa.types.is_timestamp(f.type) or f.type.tz is not None:
                return None
            if f.type.unit not in ("s", "ms", "us"):
                return None
        elif f.name == "value":
            if not pa.types.is_float64(f.type):
                return None
        else:
            return None
    return names


def all_null(meta: pq.FileMetaData) -> frozenset[str]:
    """The optional columns whose every value is null by the file's own statistics (each
    row group's null count equals its row count)."""
    empty = set()
    for i in range(meta.num_columns):
        name = meta.schema.column(i).path
        if name not in OPTIONAL or not meta.num_row_groups:
            continue
        for g in range(meta.num_row_groups):
            col = meta.row_group(g).column(i)
            stats = col.statistics
            if stats is None or not stats.has_null_count or stats.null_count != col.num_values:
                break
        else:
            empty.add(name)
    return frozenset(empty)


def read(
    path: str | os.PathLike[str],
    columns: list[str],
    each: Callable[[int], object] | None = None,
    meanwhile: Callable[[], object] | None = None,
    finish: Callable[[], object] | None = None,
) -> pa.Table:
    """The ``columns`` of the Parquet file ``path``, one chunk per row group, the customer ids
    and event names as dictionaries (the file's own).

    The row groups are read in consecutive ranges, one thread each (as many as the machine
    has cores): Arrow's own threads decode a file's columns side by side, but its row groups
    one after another (a 10M-row file of ten row groups: ~0.7 s of one core). ``each``, when
    given, is called with each row group's number in the thread that read it, after it, and
    ``finish`` in each such thread after its last; ``meanwhile``, when given, is called in
    this thread while the read's threads read.

    Raises
    ------
    OSError, pyarrow.ArrowException
        The file cannot be read.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    def opened() -> pq.ParquetFile:
        return pq.ParquetFile(path, read_dictionary=["customer_id", "event"], pre_buffer=True)

    first = opened()
    groups = first.metadata.num_row_groups
    threads = min(os.cpu_count() or 1, groups)
    if threads < 2:
        if meanwhile is not None:
            meanwhile()
        table = first.read(columns=columns, use_threads=True)
        if each is not None:
            for g in range(groups):
                each(g)
        if finish is not None:
            finish()
        return table

    def part(at: int) -> pa.Table:
        lo, hi = groups * at // threads, groups * (at + 1) // threads
        file = first if at == 0 else opened()
        # One row group at a time, one chunk each: read together, a range's texts and times
        # grow one builder each, copied at every doubling (a 10M-row file: ~190 MB more
        # memory at the peak, each page of it faulted in fresh).
        tables = []
        for g in range(lo, hi):
            tables.append(file.read_row_group(g, columns=columns, use_threads=False))
            if each is not None:
                each(g)
        if finish is not None:
            finish()
        return pa.concat_tables(tables)

    with ThreadPoolExecutor(threads) as pool:
        parts = [pool.submit(part, at) for at in range(threads)]
        if meanwhile is not None:
            meanwhile()
        return pa.concat_tables([p.result() for p in parts])


@dataclass
class FileRead:
    """The decoded columns of one open of a Parquet file (:func:`read_file`): ``table``;
    ``ident``, the digest of its event ids as stored (:func:`kundresa.store._proofs.digest_of`,
    None without event ids to check or without the check cache); ``proven``, whether the
    check cache holds the proof for those event ids (then they were not read); ``id_hashes``,
    the 64-bit hashes of the event ids (``uint64[rows]``, those of
    :func:`kundresa.store._distinct.text_hashes`) when they were hashed from the file's pages
    (:class:`kundresa.store._pages.IdHashes`: every id present and plain), and then no
    ``event_id`` column in ``table``. The digest and the columns come from the same open file,
    so from the same bytes even if another file takes its name meanwhile."""

    table: pa.Table
    ident: Identity | None
    proven: bool
    id_hashes: npt.NDArray[np.uint64] | None = None


def read_file(path: str | os.PathLike[str], ids: bool) -> FileRead:
    """:func:`read` of the customer ids, event names and times of the Parquet file ``path``,
    and with ``ids`` its event ids unless the check cache proves them (:class:`FileRead`).

    The file is opened once; Arrow's threads read it through ``/proc/self/fd`` (the same
    open file, whatever its name points to meanwhile). Where there is no ``/proc/self/fd``
    the file is read by its name and the check cache is not used.

    Raises
    ------
    OSError, pyarrow.ArrowException
        The file cannot be read.
    """
    import pyarrow.parquet as pq

    from kundresa.store._pages import IdHashes
    from kundresa.store._proofs import digest_of, proven_distinct_ids

    fd = os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
    try:
        same = f"/proc/self/fd/{fd}"
        source: str | os.PathLike[str] = same if os.path.exists(same) else path
        ident = None
        meta = pq.read_metadata(source) if ids else None
        if meta is not None and source == same:
            ident = digest_of(fd, meta)
        proven = proven_distinct_ids(ident)
        walk = None
        if meta is not None and not proven and source == same:
            walk = IdHashes(fd, meta, "event_id")
        if walk is None or not walk.taken:
            columns = [*DECODED, *(["event_id"] if ids and not proven else [])]
            return FileRead(read(source, columns), ident, proven)
        # The event ids hashed from their pages by the threads that read the other columns,
        # row group by row group (no text column); read by Arrow after all when a row group's
        # are not taken (a null, a text that may need trimming, another encoding).
        taken = [True] * walk.meta.num_row_groups
        waiting = threading.local()  # each read thread's row groups not walked yet

        def each(g: int) -> None:
            # The kernels load meanwhile in this function's thread (``load_kernels``): until
            # they are there, a read thread reads its next row groups and walks these later,
            # instead of waiting idle (~0.1 s of both cores on a first command).
            groups = waiting.__dict__.setdefault("groups", [])
            groups.append(g)
            if _kernels_done.is_set():
                finish()

        def finish() -> None:
            groups = waiting.__dict__.get("groups", [])
            if groups:
                load_kernels()  # waits for them when still loading
            for g in groups:
                taken[g] = walk.group(g)
            groups.clear()

        table = read(source, list(DECODED), each, load_kernels, finish)
        if all(taken):
            return FileRead(table, ident, proven, walk.hashes)
        ids_read = read(source, ["event_id"])["event_id"]
        return FileRead(table.append_column("event_id", ids_read), ident, proven)
    finally:
        os.close(fd)


@dataclass
class _Ahead:
    key: tuple[str, int, int, int, int, int]
    ids: bool
    thread: threading.Thread
    got: FileRead | None = None
    failed: bool = False
    done: threading.Event = field(default_factory=threading.Event)


_lock = threading.Lock()
_ahead: list[_Ahead] = []  # at most one


def _key(path: str | os.PathLike[str]) -> tuple[str, int, int, int, int, int]:
    """What tells the file at ``path`` from another or a changed one: its real path, device
    and inode (another file put in its place), size, modification time and status change
    time (a file rewritten whose modification time was set back, as ``cp -p`` or ``rsync
    -t`` do: setting it changes the status change time)."""
    st = os.stat(path)
    return (
        os.path.realpath(path),
        st.st_dev,
        st.st_ino,
        st.st_size,
        st.st_mtime_ns,
        st.st_ctime_ns,
    )


def has_ids(meta: pq.FileMetaData) -> bool:
    """Whether the in-place check reads the event ids of a file with metadata ``meta``: it
    has an ``event_id`` column that its statistics do not show to be null throughout."""
    return "event_id" in set(meta.schema.names) and "event_id" not in all_null(meta)


def read_ahead(path: str | os.PathLike[str]) -> None:
    """Start :func:`read_file` of the Parquet file ``path`` in a daemon thread, when the
    in-place check may read it (its columns are canonical, :func:`canonical_columns`). Any
    failure (no file, not Parquet) is left to the real read to report: :func:`take` then
    gives None."""
    import pyarrow.parquet as pq

    try:
        if not os.path.isfile(path):
            return  # a named pipe would wait for a writer
        key = _key(path)
        meta = pq.read_metadata(path)
        if canonical_columns(meta.schema.to_arrow_schema()) is None:
            return  # the check turns it down unread
        ids = has_ids(meta)
    except Exception:  # the real read says what is wrong
        return

    def run(entry: _Ahead) -> None:
        try:
            entry.got = read_file(path, ids)
        except Exception:
            # The real read reports what is wrong; a debug line tells why it read again.
            logging.getLogger(__name__).debug("the read ahead of %s failed", path, exc_info=True)
            entry.failed = True
        finally:
            entry.done.set()

    thread = threading.Thread(target=lambda: run(entry), name="kundresa-read-ahead", daemon=True)
    entry = _Ahead(key, ids, thread)
    try:
        thread.start()
    except RuntimeError:  # no thread to be had: the check reads the file itself
        return
    with _lock:
        _ahead[:] = [entry]


def take(path: str | os.PathLike[str], ids: bool) -> FileRead | None:
    """What was read ahead for ``path`` (:func:`read_file` with the same ``ids``), once
    (waiting for the read to end), or None: nothing read ahead, another file or other
    columns asked for, a file changed or replaced since (:func:`_key`), or a failed read."""
    with _lock:
        entry = _ahead.pop() if _ahead else None
    if entry is None:
        return None
    entry.done.wait()
    try:
        same = _key(path) == entry.key
    except OSError:
        return None
    if entry.failed or not same or entry.ids != ids:
        logging.getLogger(__name__).debug(
            "the read ahead of %s not taken: failed %s, same file %s, ids %s for %s",
            path,
            entry.failed,
            same,
            entry.ids,
            ids,
        )
        return None
    return entry.got


def discard() -> None:
    """Drop what was read ahead and not taken (its memory goes with it once the thread
    ends)."""
    with _lock:
        _ahead.clear()
