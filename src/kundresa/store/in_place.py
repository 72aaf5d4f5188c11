"""Reading a canonical Parquet events file in place instead of copying it into the warehouse.

``kundresa <analysis> --events FILE`` builds an in-memory warehouse for one command. When the
file is a Parquet file already in the canonical shape (README, "Loading events": the columns
``customer_id``, ``timestamp``, ``event`` and optionally ``channel``, ``value``, ``event_id``,
``session_id``, with their canonical types) the ingest would copy every row unchanged; then
:func:`read_in_place` checks, set-wise in one DuckDB scan, that it indeed would:

- every row is one the ingest keeps as it is: a customer id that is not a placeholder
  (``null``, ``0``…) and has no surrounding spaces, a time in the years 1900-2099
  (:data:`~kundresa.ingest.columns.TIME_RANGE`), an event name, optional texts that are
  absent or non-empty without surrounding spaces, a finite value that is not a negative zero
  (the ingest stores zero);
- no two rows share an event key (the ingest's deduplication key: the event id, else every
  field), so deduplication would drop nothing.

The scan fetches the 64-bit hashes of the clean rows' event ids (fewer rows than the file
has: a row the ingest would change); distinct hashes, checked by a compiled set
(:mod:`kundresa.store._distinct`), prove the ids distinct, else the deduplication keys are
counted. A decoded file (below) without event ids is proved by each row's customer, event and
time instead (:func:`_rows_distinct`). An optional column whose every value is null by the
file's own Parquet statistics (each row group's null count equal to its row count) is not
read: nulls pass the check.

A file of up to :data:`_DECODE_ROWS` rows has its customer ids, event names and times read
once by Arrow, the texts as the file's own dictionaries (:class:`DecodedFile`): the text
tests run on the distinct values of the dictionaries (a value failing one refuses the file
only if a row has it: a dictionary may hold values no row uses), the times' range on their
minimum and maximum, and DuckDB's scan tests the other columns only. The decoded columns
stay beside the connection (:func:`kundresa.store._decoded.decoded_file`) for the event
funnel, which then reads no file (:func:`kundresa.analytics._ordered.fetched_codes`).

A file whose event ids passed (present, distinct, stored as they are) is remembered in the
check cache (:mod:`kundresa.store._proofs`): checked again unchanged, its event ids are not read.

If so, the warehouse's ``events`` becomes a view over the file (the same columns and keys
the ingest would have stored, and the same ingest log row); if not, or for any other file,
the caller runs the ordinary ingest, which quarantines bad rows with their reasons and drops
duplicates. Every write to the warehouse's events (another ingest, ``forget``, ``reorganise``)
goes through :meth:`~kundresa.store.warehouse.Warehouse.writing_events`, which first copies the
rows into an ordinary table (:func:`own_events`).

The view reads the file whenever it is queried, so the file must not change while the
project is open: the CLI reads in place for the length of one command only.
"""

from __future__ import annotations

import contextlib
import os
import re
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb
import numpy as np
import numpy.typing as npt
import pyarrow as pa

from kundresa._interrupts import transaction
from kundresa.ingest.columns import PLACEHOLDER_IDS, TIME_RANGE
from kundresa.store._decoded import DecodedFile, remember
from kundresa.store._read_ahead import (
    DECODED,
    OPTIONAL,
    all_null,
    canonical_columns,
    has_ids,
    load_kernels,
    read_file,
    take,
)

if TYPE_CHECKING:
    from kundresa.ingest.sources import Sample
    from kundresa.store._proofs import Identity
    from kundresa.store.warehouse import IngestReport, Warehouse

__all__ = ["own_events", "read_in_place"]


_DECODE_ROWS = 32_000_000
"""Files of at most this many rows are checked and decoded with Arrow (:class:`DecodedFile`,
~17 bytes a row held while the file is read in place); larger ones by DuckDB's scans alone,
whose memory stays bounded."""


def _plain(c: str) -> str:
    """SQL true when the text ``c`` surely needs no trimming: ASCII, starting with a visible
    character and ending with none of space, tab, newline, form feed or carriage return (a
    cheap test; DuckDB's ``trim`` strips only the space among ASCII characters)."""
    ends = " OR ".join(f"ends_with({c}, chr({i}))" for i in (32, 9, 10, 12, 13))
    return f"({c} >= '!' AND {c} < chr(127) AND strlen({c}) = length({c}) AND NOT ({ends}))"


def _trimmed(c: str) -> str:
    """SQL true when the text ``c`` is not empty and DuckDB's ``trim`` leaves it as it is."""
    return f"{c} <> '' AND {c} = trim({c})"


def _clean_parts(empty: frozenset[str] = frozenset()) -> dict[str, str]:
    """Each column's SQL test, true for a value the ingest would store exactly as it is in
    the file (its parsing of each column, :func:`kundresa.store.warehouse._parse_sql`, would
    give the same value and no quarantine reason); a null is false except in the optional
    columns. Each text passes a cheap test or the exact one. The optional columns in
    ``empty`` are known to hold only nulls (which pass): they get no test."""
    words = [v for v in PLACEHOLDER_IDS if v]
    regex = rf"\s*(?i:{'|'.join(re.escape(v) for v in words)})?\s*".replace("'", "''")
    listed = ", ".join("'" + v.replace("'", "''") + "'" for v in words)
    # An ASCII id can be a placeholder only if it has a placeholder's length: ``lower`` (a
    # new string a row) is computed for those ids only (a CASE, which DuckDB evaluates on
    # the rows it selects; an OR computes both sides for every row).
    lengths = ", ".join(str(n) for n in sorted({len(v) for v in words}))
    c = "customer_id"
    maybe = f"CASE WHEN strlen({c}) IN ({lengths}) THEN lower({c}) NOT IN ({listed}) ELSE true END"
    parts = {
        # A placeholder id (null, 0…, spaces around allowed) is no id: quarantined.
        c: f"CASE WHEN {_plain(c)} THEN {maybe} "
        f"ELSE {c} <> '' AND {c} = trim({c}) AND NOT regexp_full_match({c}, '{regex}') END",
        "timestamp": f"\"timestamp\" >= TIMESTAMP '{TIME_RANGE[0]}' "
        f"AND \"timestamp\" < TIMESTAMP '{TIME_RANGE[1]}'",
        "event": f"CASE WHEN {_plain('event')} THEN true ELSE {_trimmed('event')} END",
        **{
            t: f"{t} IS NULL OR CASE WHEN {_plain(t)} THEN true ELSE {_trimmed(t)} END"
            for t in ("channel", "event_id", "session_id")
            if t not in empty
        },
        # A negative zero is stored as zero by the ingest (and keyed so): not in place.
        **(
            {"value": "value IS NULL OR (isfinite(value) AND NOT (value = 0 AND signbit(value)))"}
            if "value" not in empty
            else {}
        ),
    }
    return {k: f"coalesce({v}, false)" for k, v in parts.items()}


def _clean_sql(empty: frozenset[str] = frozenset(), skip: tuple[str, ...] = ()) -> str:
    """SQL true for a row the ingest would store exactly as it is in the file: every
    column's test of :func:`_clean_parts` but those in ``skip`` (true when none is left)."""
    parts = [v for k, v in _clean_parts(empty).items() if k not in skip]
    return " AND ".join(parts) if parts else "true"


def _sample(p: Path) -> Sample:
    """What :func:`kundresa.ingest.sources.read_sample` gives for the Parquet file ``p`` (its
    first records as the same strings), reading only those records."""
    import pyarrow.parquet as pq

    from kundresa.ingest.readers import _to_string
    from kundresa.ingest.sources import Sample
    from kundresa.ingest.sources._base import SAMPLE_ROWS

    pf = pq.ParquetFile(p)
    first = next(pf.iter_batches(batch_size=SAMPLE_ROWS), None)
    records: list[dict[str, str | None]] = []
    if first is not None:
        columns = {n: _to_string(first.column(i)) for i, n in enumerate(first.schema.names)}
        columns["_line"] = pa.array(range(1, first.num_rows + 1), pa.int64())
        records = pa.table(columns).to_pylist()
    return Sample(str(p), list(pf.schema_arrow.names), records)


def _failing(con: duckdb.DuckDBPyConnection, values: pa.Array, column: str, test: str) -> Any:
    """The positions of the ``values`` (of ``column``) for which the SQL ``test`` is false."""
    name = "_kundresa_values"
    con.register(name, pa.table({"_i": pa.array(np.arange(len(values))), column: values}))
    try:
        return con.execute(f"SELECT _i FROM {name} WHERE NOT ({test})").fetchnumpy()["_i"]
    finally:
        con.unregister(name)


def _numbers(column: pa.ChunkedArray, dtype: type[np.integer[Any]]) -> npt.NDArray[Any]:
    """A column of signed integers or times without nulls as one numpy array of ``dtype``
    (times: their integer counts), each chunk's values buffer copied into it: no combined
    Arrow array first (a copy the more, in fresh memory), and no Arrow cast (a process's
    first cast builds Arrow's table of casts: ~0.2 s)."""
    out = np.empty(len(column), dtype)
    at = 0
    for chunk in column.chunks:
        n = len(chunk)
        kind = chunk.type
        if n and (pa.types.is_signed_integer(kind) or pa.types.is_timestamp(kind)):
            width = kind.bit_width // 8
            data = chunk.buffers()[1]
            out[at : at + n] = np.frombuffer(data, f"<i{width}", n, chunk.offset * width)
        elif n:
            out[at : at + n] = chunk.cast(pa.int64()).to_numpy(zero_copy_only=False)
        at += n
    return out


def _suspects(values: pa.Array, name: str, loaded: threading.Event) -> npt.NDArray[np.intp]:
    """The positions of the texts ``values`` (of the column ``name``) the cheap test cannot
    pass, each in one compiled pass (:func:`kundresa.store._distinct.text_hashes`): a text
    that may need trimming (not plain), and a customer id of a placeholder's length (see
    :func:`_clean_parts`); only these need the exact SQL test. Waits for ``loaded``."""
    import pyarrow.compute as pc

    loaded.wait()
    from kundresa.store._distinct import text_hashes

    _, plain = text_hashes(values)
    suspect = ~plain
    if name == "customer_id":
        lengths = sorted({len(v.encode()) for v in PLACEHOLDER_IDS if v})
        suspect |= np.isin(pc.binary_length(values).to_numpy(zero_copy_only=False), lengths)
    return np.flatnonzero(suspect)


_FEW_VALUES = 4096
"""Dictionaries of at most this many values in all (event names) are unified here."""


def _unified(column: pa.ChunkedArray) -> tuple[pa.Array, npt.NDArray[np.int32]]:
    """A dictionary column's values (its chunks' dictionaries unified) and each row's code
    (``int32``): the values in order of first appearance, chunk after chunk, as Arrow's
    ``unify_dictionaries`` gives them. A few values in all (event names): each chunk's codes
    mapped straight into the result (Arrow's unification writes every row's code into new
    memory, which was then copied once more); else Arrow's."""
    few = _few_unified(column)
    if few is not None:
        return few
    unified = column.unify_dictionaries()
    values = unified.chunk(0).dictionary
    indices = pa.chunked_array([c.indices for c in unified.chunks], unified.type.index_type)
    return values, _numbers(indices, np.int32)


def _few_unified(column: pa.ChunkedArray) -> tuple[pa.Array, npt.NDArray[np.int32]] | None:
    """:func:`_unified` of a column of few dictionary values (:data:`_FEW_VALUES`), without
    a null among the rows or the values; else None."""
    chunks = column.chunks
    kind = column.type
    if not chunks or not pa.types.is_dictionary(kind) or column.null_count:
        return None
    if not pa.types.is_integer(kind.index_type):
        return None
    dictionaries = [c.dictionary for c in chunks]
    if sum(len(d) for d in dictionaries) > _FEW_VALUES or any(d.null_count for d in dictionaries):
        return None
    order: dict[Any, int] = {}
    maps = []
    for d in dictionaries:
        maps.append(np.array([order.setdefault(v, len(order)) for v in d.to_pylist()], np.int32))
    codes = np.empty(len(column), np.int32)
    at = 0
    for chunk, mapping in zip(chunks, maps, strict=True):
        n = len(chunk)
        if n:
            _gather(mapping, _indices(chunk), codes[at : at + n])
        at += n
    return pa.array(list(order), kind.value_type), codes


_GATHER_SLICE = 1 << 16
"""Indices gathered at a time by :func:`_gather`."""


def _indices(chunk: pa.DictionaryArray) -> npt.NDArray[np.integer[Any]]:
    """A dictionary array's indices (integers, no nulls) as a numpy view of its buffer."""
    raw = chunk.indices
    width = raw.type.bit_width // 8
    signed = "i" if pa.types.is_signed_integer(raw.type) else "u"
    return np.frombuffer(raw.buffers()[1], f"<{signed}{width}", len(raw), raw.offset * width)


def _gather(
    table: npt.NDArray[np.int32] | None,
    indices: npt.NDArray[np.integer[Any]],
    out: npt.NDArray[np.int32],
    offset: int = 0,
    size: int = 0,
) -> None:
    """``out[i] = table[indices[i]]`` (``table`` None: ``offset + indices[i]``, each index
    below ``size``), a slice of :data:`_GATHER_SLICE` indices at a time: numpy's ``take``
    copies its indices to 64-bit integers first, and a copy of a whole chunk would be fresh
    memory (page faults).

    Raises
    ------
    IndexError
        An index outside ``table`` (or ``range(size)``)."""
    for at in range(0, len(indices), _GATHER_SLICE):
        part = indices[at : at + _GATHER_SLICE]
        into = out[at : at + len(part)]
        if table is None:
            if len(part) and (int(part.min()) < 0 or int(part.max()) >= size):
                raise IndexError("a dictionary index outside its dictionary")
            np.add(part, offset, out=into, casting="unsafe")
        else:
            np.take(table, part, out=into)


def _tested(
    con: duckdb.DuckDBPyConnection,
    coded: tuple[pa.Array, npt.NDArray[np.int32]],
    suspects: npt.NDArray[np.intp],
    name: str,
    test: str,
) -> tuple[pa.Array, npt.NDArray[np.int32]] | None:
    """``coded`` (:func:`_unified`'s values and codes, the codes made read-only), or None
    when a row's value fails the SQL ``test``. The test runs on the dictionary's values, not
    on every row (a value no row uses may fail it), and on the ``suspects`` among them only
    (:func:`_suspects`: the others pass the cheap test)."""
    values, codes = coded
    bad = (
        suspects[_failing(con, values.take(pa.array(suspects)), name, test)]
        if len(suspects)
        else suspects
    )
    if len(bad) and np.isin(codes, bad, kind="table").any():
        return None
    codes.flags.writeable = False
    return values, codes


def _unified_by_hashes(
    column: pa.ChunkedArray, loaded: threading.Event
) -> tuple[tuple[pa.Array, npt.NDArray[np.int32]], npt.NDArray[np.intp]] | None:
    """:func:`_unified` of a dictionary column of texts, and :func:`_suspects` of its values
    (as a customer id's), from one compiled pass over the chunks' dictionaries
    (:func:`kundresa.store._distinct.text_hashes`, then
    :func:`~kundresa.store._distinct.first_equal`) instead of Arrow's unification: the same
    values in the same order and the same codes, without hashing each text twice. None
    (nothing done) for a column this cannot take (nulls among the values, texts too big to
    gather); the caller then unifies with Arrow. Waits for ``loaded``."""
    import pyarrow.compute as pc

    chunks = column.chunks
    if not chunks or not pa.types.is_dictionary(column.type):
        return None
    # A chunk's dictionary is often the one before's (a row group read in batches).
    dictionaries: list[pa.Array] = []
    at_of: list[int] = []
    seen: dict[tuple[int, ...], int] = {}
    total = 0
    for chunk in chunks:
        d = chunk.dictionary
        key = (*(b.address if b is not None else 0 for b in d.buffers()), d.offset, len(d))
        if key not in seen:
            seen[key] = total
            dictionaries.append(d)
            total += len(d)
        at_of.append(seen[key])
    try:
        values = pa.concat_arrays(dictionaries) if len(dictionaries) > 1 else dictionaries[0]
    except (pa.ArrowException, OverflowError):
        return None
    if values.null_count or not (
        pa.types.is_string(values.type) or pa.types.is_large_string(values.type)
    ):
        return None
    loaded.wait()
    from kundresa.store._distinct import first_equal, text_hashes

    hashes, plain = text_hashes(values)
    first, firsts = first_equal(values, hashes)
    codes = np.empty(len(column), np.int32)
    if firsts == len(values):
        # Every value new (the dictionaries share none: customers apart by row group): a
        # row's code is its dictionary's place plus its index.
        unified, code_of = values, None
    else:
        is_first = first == np.arange(len(first))
        code_of = (np.cumsum(is_first, dtype=np.int64) - 1)[first].astype(np.int32)
        unique = np.flatnonzero(is_first)
        unified = values.take(pa.array(unique))
        plain = plain[unique]
    row = 0
    for chunk, at in zip(chunks, at_of, strict=True):
        n = len(chunk)
        if n:
            table = None if code_of is None else code_of[at : at + len(chunk.dictionary)]
            _gather(table, _indices(chunk), codes[row : row + n], at, len(chunk.dictionary))
        row += n
    suspect = ~plain
    lengths = sorted({len(v.encode()) for v in PLACEHOLDER_IDS if v})
    suspect |= np.isin(pc.binary_length(unified).to_numpy(zero_copy_only=False), lengths)
    return (unified, codes), np.flatnonzero(suspect)


class _IdsCheck:
    """Whether a text column's 64-bit hashes are all distinct, as :func:`_hashed` answers, in
    ``parts`` consecutive row ranges side by side (one thread each): each range hashed and
    counted by partition (:meth:`hash_part`), placed (:meth:`place_part`), and the
    partitions' sets split in ranges of partitions (:meth:`distinct_part`); the values that
    fail the cheap test gathered as :func:`_hashed` gathers them. With ``hashes`` and no
    ``column`` (the event ids hashed from the file's pages, every one present and plain:
    :class:`kundresa.store._pages.IdHashes`) the ranges are only counted."""

    def __init__(
        self,
        column: pa.ChunkedArray | None,
        parts: int,
        hashes: npt.NDArray[np.uint64] | None = None,
    ) -> None:
        from kundresa.store._distinct import PARTITIONS

        self.column = column  # None: ``hashes`` given (every text plain and present)
        self.parts = parts
        n = len(column) if column is not None else len(hashes) if hashes is not None else 0
        self.cuts = [n * q // parts for q in range(parts + 1)]
        self.hashes = hashes if column is None and hashes is not None else np.empty(n, np.uint64)
        self.counts = [np.zeros(PARTITIONS, np.int64) for _ in range(parts)]
        self.odd: list[list[pa.Array]] = [[] for _ in range(parts)]
        self.out = np.empty(0, np.uint64)
        self.start = np.zeros(PARTITIONS + 1, np.int64)
        self.fills: list[npt.NDArray[np.int64]] = []

    def hash_part(self, q: int, loaded: threading.Event) -> None:
        """Hash and count the range ``q``; waits for ``loaded`` (the kernels loaded)."""
        loaded.wait()
        from kundresa.store._distinct import partition_count, text_hashes

        lo, hi = self.cuts[q], self.cuts[q + 1]
        at = lo
        hashed = self.column.slice(lo, hi - lo).chunks if self.column is not None else []
        for chunk in hashed:
            _, plain = text_hashes(chunk, self.hashes[at : at + len(chunk)])
            at += len(chunk)
            other = ~plain
            if chunk.null_count:
                other &= chunk.is_valid().to_numpy(zero_copy_only=False)
            if other.any():
                self.odd[q].append(chunk.filter(pa.array(other)))
        partition_count(self.hashes[lo:hi], self.counts[q])

    def plan(self) -> None:
        """The partitions' starts and each range's places, once every range is counted."""
        self.start[1:] = np.cumsum(np.add.reduce(self.counts))
        fill = self.start[:-1].copy()
        for count in self.counts:
            self.fills.append(fill.copy())
            fill += count
        self.out = np.empty(len(self.hashes), np.uint64)

    def place_part(self, q: int) -> None:
        from kundresa.store._distinct import partition_fill

        lo, hi = self.cuts[q], self.cuts[q + 1]
        partition_fill(self.hashes[lo:hi], self.fills[q], self.out)

    def placed_in_two(self, pool: ThreadPoolExecutor) -> None:
        """:meth:`plan`, then both ranges of a two-range check placed side by side (this
        thread and ``pool``'s), once both are counted."""
        self.plan()
        placed = pool.submit(self.place_part, 0)
        self.place_part(1)
        placed.result()

    def distinct_part(self, q: int) -> bool:
        from kundresa.store._distinct import PARTITIONS, partitions_distinct

        first, last = PARTITIONS * q // self.parts, PARTITIONS * (q + 1) // self.parts
        return partitions_distinct(self.out, self.start, first, last)

    def whole(self, loaded: threading.Event) -> bool:
        """The answer from this one thread: every range counted, placed and its partitions'
        sets checked (for hashes given, while another thread does other work)."""
        for q in range(self.parts):
            self.hash_part(q, loaded)
        self.plan()
        for q in range(self.parts):
            self.place_part(q)
        return all(self.distinct_part(q) for q in range(self.parts))

    def odd_values(self) -> pa.Array:
        odd = [a for part in self.odd for a in part]
        return pa.concat_arrays(odd) if odd else pa.array([], pa.string())


def _hashed(column: pa.ChunkedArray, loaded: threading.Event) -> tuple[bool, pa.Array]:
    """Whether the 64-bit hashes of a text column's values are all distinct (which proves
    the values distinct; false when one is null), and the values that fail the cheap test
    of needing no trimming (nulls pass): each row in one compiled pass
    (:func:`kundresa.store._distinct.text_hashes`), then the set
    (:func:`kundresa.store._distinct.all_distinct`). Waits for ``loaded`` (the kernels loaded
    by the warm-up thread) before importing them."""
    loaded.wait()
    from kundresa.store._distinct import all_distinct, text_hashes

    parts, odd = [], []
    for chunk in column.chunks:
        h, plain = text_hashes(chunk)
        parts.append(h)
        other = ~plain
        if chunk.null_count:
            other &= chunk.is_valid().to_numpy(zero_copy_only=False)
        if other.any():
            odd.append(chunk.filter(pa.array(other)))
    distinct = False
    if not column.null_count:
        hashes = np.concatenate(parts) if parts else np.zeros(0, np.uint64)
        hashes.flags.writeable = False  # as the scan's (numba compiles each kind apart)
        distinct = all_distinct(hashes)
    return distinct, pa.concat_arrays(odd) if odd else pa.array([], pa.string())


def _decode(
    con: duckdb.DuckDBPyConnection,
    p: Path,
    tests: dict[str, str],
    ids: bool,
    loaded: threading.Event,
) -> tuple[DecodedFile, bool, Identity | None, bool] | None:
    """The file's customer ids, event names and times read and checked by Arrow, the texts
    as the file's dictionaries (:class:`DecodedFile`; the customer ids' unified by
    :func:`_unified_by_hashes`), and with ``ids`` whether its event ids' 64-bit hashes are
    distinct (:class:`_IdsCheck` in two threads, or :func:`_hashed`); or None when a row
    would be changed or
    quarantined by the ingest: a null in one of the three, a time outside
    :data:`~kundresa.ingest.columns.TIME_RANGE`, a customer id, event name or (with ``ids``)
    event id failing its test of :func:`_clean_parts` (``tests``). Also the event ids'
    digest and whether the check cache proved them (:class:`~kundresa.store._read_ahead.
    FileRead`: then they were not read, and ``ids`` is moot)."""
    import pyarrow.compute as pc

    # Read ahead by the command line while it imported (kundresa.store._read_ahead), or now.
    got = take(p, ids)
    if got is None:
        got = read_file(p, ids)
    table = got.table
    ids = ids and not got.proven
    if not table.num_rows or any(table[c].null_count for c in DECODED):
        return None
    times = table["timestamp"]
    unit = times.type.unit
    lo, hi = (int(np.datetime64(b, unit).astype(np.int64)) for b in TIME_RANGE)
    low_high = pc.min_max(times)
    if low_high["min"].value < lo or low_high["max"].value >= hi:
        return None

    def micros() -> npt.NDArray[np.int64]:
        us = _numbers(times if unit == "us" else times.cast(pa.timestamp("us")), np.int64)
        us.flags.writeable = False
        return us

    def names_and_times() -> tuple[
        tuple[pa.Array, npt.NDArray[np.int32]], npt.NDArray[np.intp], npt.NDArray[np.int64]
    ]:
        names = _unified(table["event"])
        return names, _suspects(names[0], "event", loaded), micros()

    with ThreadPoolExecutor(1) as pool:
        # Two threads (this one and the pool's; compiled passes without the interpreter lock):
        # the event ids hashed in two row ranges, one each, while this thread also codes the
        # customer ids by their dictionaries' hashes; then the hashes placed by partition and
        # the partitions' sets, half each; the event names between. Event ids hashed already
        # (from the file's pages, by the read's threads): the pool's thread places them,
        # checks the sets, codes the event names and copies the times while this one codes
        # the customer ids. Without event ids to check, the pool's thread codes the event
        # names and copies the times meanwhile. Only the pool's thread and the warm-up import
        # the kernels' modules before ``loaded``.
        check = None
        proof = None
        side = None
        if ids and got.id_hashes is not None:
            proof = pool.submit(_IdsCheck(None, 1, got.id_hashes).whole, loaded)
            side = pool.submit(names_and_times)
        elif ids and not table["event_id"].null_count:
            check = _IdsCheck(table["event_id"], 2)
        if not ids:
            side = pool.submit(names_and_times)
        if check is not None:
            first_half = pool.submit(check.hash_part, 0, loaded)
        coded = _unified_by_hashes(table["customer_id"], loaded)
        if coded is None:
            customers = _unified(table["customer_id"])
            odd_customers = _suspects(customers[0], "customer_id", loaded)
        else:
            customers, odd_customers = coded
        hashing = None
        if ids and check is None and proof is None:
            hashing = pool.submit(_hashed, table["event_id"], loaded)
        if check is not None:
            check.hash_part(1, loaded)
            first_half.result()
            check.placed_in_two(pool)
            first_sets = pool.submit(check.distinct_part, 0)
        if side is not None:
            names, odd_names, us = side.result()
        else:
            names = _unified(table["event"])
            odd_names = _suspects(names[0], "event", loaded)
        if check is not None:
            hashed: tuple[bool, pa.Array] | None = (
                check.distinct_part(1) and first_sets.result(),
                check.odd_values(),
            )
        elif proof is not None:
            hashed = proof.result(), pa.array([], pa.string())  # every id plain
        else:
            hashed = hashing.result() if hashing is not None else None
        who = _tested(con, customers, odd_customers, "customer_id", tests["customer_id"])
        what = _tested(con, names, odd_names, "event", tests["event"])
    if who is None or what is None:
        return None
    distinct = False
    if hashed is not None:
        distinct, odd = hashed
        if len(odd) and len(_failing(con, odd, "event_id", tests["event_id"])):
            return None
        if not distinct and (check is not None or proof is not None):
            # Every row has an event id and two hash alike: a duplicate (or, rarely, two ids
            # of one hash) for the ordinary ingest, not for DuckDB's count of the keys, which
            # reads the file with its own reader (a file that readers take apart, say one of
            # an old writer Arrow has a workaround for, could then pass).
            return None
    if side is None:
        us = micros()
    return DecodedFile(who[0], who[1], what[0], what[1], us), distinct, got.ident, got.proven


_ROW_SLICE = 1 << 16
"""Rows hashed at a time by :func:`_rows_distinct` (its temporaries stay in the caches)."""


def _fmix(x: npt.NDArray[np.uint64], tmp: npt.NDArray[np.uint64]) -> None:
    """MurmurHash3's 64-bit finaliser on ``x`` in place (``tmp``: scratch of its length): a
    bijection of 64-bit values that mixes every bit into every other."""
    for multiplier in (0xFF51AFD7ED558CCD, 0xC4CEB9FE1A85EC53, None):
        np.right_shift(x, np.uint64(33), out=tmp)
        np.bitwise_xor(x, tmp, out=x)
        if multiplier is not None:
            np.multiply(x, np.uint64(multiplier), out=x)


def _rows_distinct(decoded: DecodedFile) -> bool:
    """Whether no two rows of a file without event ids share their customer id, event name
    and time: then no two share the ingest's deduplication key either (every field joined
    by ``chr(31)``; see the module notes), whatever their other fields, provided no customer
    id or event name holds ``chr(31)`` (else False: the join could make two rows one).

    Each row's 64-bit hash mixes its time, then its customer and event codes (distinct
    codes are distinct texts: the dictionaries are unified), so that two rows of one time
    hash alike only if both codes are alike; distinct hashes
    (:func:`kundresa.store._distinct.all_distinct`) prove the rows distinct, and two alike
    (a duplicate, or rarely two rows of one hash) answer False: DuckDB then counts the keys
    themselves. The rows are hashed, counted, placed and their sets checked in two halves
    side by side (two threads, as :class:`_IdsCheck`). Memory: 16 bytes a row."""
    import pyarrow.compute as pc

    for texts in (decoded.customers, decoded.names):
        if len(texts) and pc.any(pc.match_substring(texts, "\x1f")).as_py():
            return False
    n = len(decoded.us)
    check = _IdsCheck(None, 2, np.empty(n, np.uint64))
    ready = threading.Event()
    ready.set()  # the kernels load on first use

    def half(q: int) -> None:
        times = decoded.us.view(np.uint64)
        scratch = np.empty(_ROW_SLICE, np.uint64)
        for at in range(check.cuts[q], check.cuts[q + 1], _ROW_SLICE):
            end = min(at + _ROW_SLICE, check.cuts[q + 1])
            x, tmp = check.hashes[at:end], scratch[: end - at]
            np.copyto(x, times[at:end])
            _fmix(x, tmp)
            # Codes are int32 and not negative: customer in bits 32-62, event in bits 0-30.
            np.copyto(tmp, decoded.codes[at:end], casting="unsafe")
            np.left_shift(tmp, np.uint64(32), out=tmp)
            np.bitwise_xor(x, tmp, out=x)
            np.copyto(tmp, decoded.events[at:end], casting="unsafe")
            np.bitwise_xor(x, tmp, out=x)
            _fmix(x, tmp)
        check.hash_part(q, ready)

    with ThreadPoolExecutor(1) as pool:
        other = pool.submit(half, 0)
        half(1)
        other.result()
        check.placed_in_two(pool)
        first_sets = pool.submit(check.distinct_part, 0)
        return check.distinct_part(1) and first_sets.result()


def _warm_up(loaded: threading.Event, kernels: bool, then: Callable[[], object] | None) -> None:
    """With ``kernels``, load the distinct set's and the text hashes' compiled code (the
    ahead-of-time compiled code of :mod:`kundresa.native`, else numba's); set ``loaded``;
    then run ``then`` (a thread's warm-up; a failure is left to the real call to raise)."""
    try:
        if kernels:
            load_kernels()  # shared with the read's threads, which may be loading them
    finally:
        loaded.set()
    if then is not None:
        with contextlib.suppress(Exception):
            then()


def _import_first() -> None:
    """Import what the check itself needs while the warm-up thread imports: two threads
    importing one module at once can see it half initialised (pandas: the first Python
    value handed to Arrow or a DuckDB parameter imports it)."""
    import concurrent.futures  # noqa: F401

    import pandas  # noqa: F401
    import pyarrow.compute
    import pyarrow.parquet  # noqa: F401


def read_in_place(
    wh: Warehouse, path: str | os.PathLike[str], *, then: Callable[[], object] | None = None
) -> IngestReport | None:
    """Make ``wh``'s events a view over the canonical Parquet file ``path`` when the ordinary
    ingest would store its rows unchanged (see the module notes); return the ingest report
    the ingest would have given, or None when the file must go through the ordinary ingest
    (any other file, a row it would change or quarantine, a duplicate, a warehouse that is
    on disk or already holds events).

    ``then`` (the caller's own warm-up, e.g. imports its analyses need) runs in a thread
    while the file is read, after the kernels' loading (which the check needs first).

    Examples
    --------
    >>> import tempfile, pyarrow as pa, pyarrow.parquet as pq
    >>> from datetime import datetime
    >>> from kundresa.store.warehouse import Warehouse
    >>> folder = tempfile.mkdtemp()
    >>> table = pa.table({"customer_id": ["a", "b"], "event": ["view", "buy"],
    ...                   "timestamp": [datetime(2025, 1, 1), datetime(2025, 1, 2)]})
    >>> pq.write_table(table, f"{folder}/events.parquet")
    >>> wh = Warehouse(None)
    >>> read_in_place(wh, f"{folder}/events.parquet").loaded, wh.event_count()
    (2, 2)
    >>> read_in_place(Warehouse(None), f"{folder}/missing.parquet") is None
    True
    """
    import pyarrow.parquet as pq

    from kundresa.ingest.columns import ColumnError, map_columns
    from kundresa.ingest.sources import SourceError, detect_source
    from kundresa.store._proofs import remember_distinct_ids
    from kundresa.store.warehouse import _KEY_SQL, IngestReport, _lit, _q, ingest_options

    p = Path(path)
    if wh.path is not None or wh.in_place is not None or wh.event_count():
        return None
    if not p.name.lower().endswith((".parquet", ".pq")) or not p.is_file():
        return None
    if any(c in str(p) for c in "*?[{"):
        return None  # DuckDB's read_parquet would read the name as a glob pattern
    try:
        meta = pq.read_metadata(p)
        columns = canonical_columns(pq.read_schema(p))
        if columns is None:
            return None
        # The same reading of the file the ingest makes: a plain events file, each canonical
        # column mapped to itself.
        if detect_source(_sample(p)).name != "events":
            return None
        cmap = map_columns(columns, source=str(p))
    except (OSError, pa.ArrowException, SourceError, ColumnError, ValueError):
        return None
    if tuple(cmap.customer) != ("customer_id",) or cmap.anonymous or cmap.properties:
        return None
    if cmap.properties_json is not None or cmap.kind is not None:
        return None
    con = wh.con
    file = _lit(str(p.resolve()))
    present = set(columns)
    select = ", ".join(
        [
            "customer_id",
            'CAST("timestamp" AS TIMESTAMP) AS "timestamp"',
            "event",
            *(
                _q(c) if c in present else f"NULL::{'DOUBLE' if c == 'value' else 'VARCHAR'} AS {c}"
                for c in OPTIONAL
            ),
            "MAP()::MAP(VARCHAR, VARCHAR) AS properties",
        ]
    )
    rows = f"SELECT {select} FROM read_parquet({file})"
    # Absent optional columns are nulls (the view's), which pass: no test for them either.
    empty = (all_null(meta) & present) | (frozenset(OPTIONAL) - present)
    clean = _clean_sql(empty)
    decoded: DecodedFile | None = None
    # The event ids' proof, remembered from an earlier check of this very file, or made now
    # (and then remembered): kundresa.store._proofs.
    checks_ids = has_ids(meta)  # as the read ahead decides
    ident: Identity | None = None  # the event ids' digest (the check cache), when decoded
    proven = False
    loaded = threading.Event()
    warmer: threading.Thread | None = None
    try:
        total = int(meta.num_rows)
        distinct = False
        # The kernels load (~0.1 s compiled ahead of time, ~0.3-1 s with numba) while Arrow
        # and DuckDB read with the interpreter lock released; then the caller's warm-up. The thread
        # ends before this function does: nothing here imports what it imports meanwhile.
        _import_first()
        warmer = threading.Thread(
            target=_warm_up, args=(loaded, "event_id" in present, then), daemon=True
        )
        warmer.start()
        if 0 < total <= _DECODE_ROWS:
            # The customer ids, event names and times decoded once, checked on the file's
            # dictionaries (not on every row) and kept for the analyses, the event ids
            # hashed; DuckDB's scan tests the other columns only, if any.
            read = _decode(con, p, _clean_parts(empty), checks_ids, loaded)
            if read is None:
                return None
            decoded, distinct, ident, proven = read
            if not checks_ids:
                # No event ids: the deduplication keys are every field's; distinct rows of
                # the decoded columns prove them distinct (else DuckDB counts them below).
                distinct = _rows_distinct(decoded)
            rest = _clean_sql(empty, skip=(*DECODED, "event_id"))
            if rest != "true":
                bad = con.execute(f"SELECT count(*) FROM ({rows}) WHERE NOT ({rest})").fetchone()
                if bad is None or int(bad[0]):
                    return None
        elif "event_id" in present:
            # One scan: the 64-bit hashes of the event ids of the clean rows. Fewer rows
            # than the file's: a row the ingest would change; distinct hashes prove the ids
            # distinct (a hash collision only sends the file to the ordinary ingest).
            got = con.execute(
                f"SELECT CASE WHEN event_id IS NOT NULL THEN hash(event_id) END AS h "
                f"FROM ({rows}) WHERE {clean}"
            ).arrow()
            hashes = (got if isinstance(got, pa.Table) else got.read_all())["h"]
            loaded.wait()
            if len(hashes) < total:
                return None
            if not hashes.null_count:
                from kundresa.store._distinct import all_distinct

                values = hashes.combine_chunks().to_numpy(zero_copy_only=False)
                distinct = all_distinct(values)
        else:
            got = con.execute(
                f"SELECT count(*), count(*) FILTER (WHERE NOT ({clean})) FROM ({rows})"
            ).fetchone()
            assert got is not None
            total = int(got[0])
            if int(got[1]):
                return None
        if proven:
            distinct = True
        elif distinct and ident is not None:
            # The digest and the ids checked came from one open of the file: the same bytes.
            remember_distinct_ids(ident)
        if not distinct:
            # The deduplication keys decide.
            keys = con.execute(f"SELECT count(DISTINCT {_KEY_SQL}) FROM ({rows})").fetchone()
            assert keys is not None
            if int(keys[0]) != total:
                return None
    except (duckdb.Error, pa.ArrowException, OSError, ValueError, IndexError, MemoryError):
        return None  # an unreadable file: the ordinary ingest says what is wrong
    except RuntimeError as exc:  # no thread to be had, say; not Ctrl-C inside a DuckDB query
        if isinstance(exc.__cause__, KeyboardInterrupt):
            raise
        return None
    finally:
        if warmer is not None:
            warmer.join()
    report = IngestReport(wh.next_ingest_id(), [str(p)])
    report.rows_read = report.loaded = total
    report.recognised = {str(p): "events"}
    report.columns = {str(p): cmap.describe()}
    started = datetime.now(UTC).replace(tzinfo=None)
    view = (
        f"SELECT *, {_KEY_SQL} AS _key, CAST({report.ingest_id} AS INTEGER) AS _ingest, "
        f"NULL::VARCHAR AS anonymous_id FROM ({rows})"
    )
    with transaction(con, stored=False):  # a warehouse in memory
        con.execute("DROP TABLE events")
        con.execute(f"CREATE VIEW events AS {view}")
        wh.log_ingest(
            report,
            started,
            ingest_options(report, {str(p): {"decimal": None, "date_format": None}}, in_place=True),
        )
    wh.in_place = str(p)
    if decoded is not None:
        remember(con, decoded)
    return report


def own_events(wh: Warehouse) -> None:
    """Copy the rows of a file read in place into an ordinary ``events`` table, in the
    journey-ordered layout; nothing to do otherwise. Called by
    :meth:`~kundresa.store.warehouse.Warehouse.writing_events` before every write."""
    if wh.in_place is None:
        return
    remember(wh.con, None)
    from kundresa.store import layout
    from kundresa.store.warehouse import _DDL

    con = wh.con
    ddl = next(d for d in _DDL if "TABLE IF NOT EXISTS events (" in d)
    with transaction(con, stored=False):  # a warehouse in memory
        con.execute("CREATE TEMP TABLE _in_place AS SELECT * FROM events")
        con.execute("DROP VIEW events")
        con.execute(ddl)
        for alter in layout.DDL:
            con.execute(alter)
        con.execute("INSERT INTO events BY NAME SELECT * FROM _in_place")
        con.execute("DROP TABLE _in_place")
        # The copied rows become the journey-ordered store's main part (codes given).
        layout.reorganise(con)
    wh.in_place = None
