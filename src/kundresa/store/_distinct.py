"""Whether 64-bit hashes are all distinct: a radix partition, then a small open-addressing set
per partition (compiled: :mod:`kundresa.store._distinct_jit`, or its code compiled ahead of time,
:mod:`kundresa.native`).

The in-place check of a Parquet events file (:mod:`kundresa.store.in_place`) proves its event
ids distinct by their 64-bit hashes: distinct hashes mean distinct ids (a collision of two
different ids only sends the file to the ordinary ingest). A set in memory does in one pass
what ``count(DISTINCT hash(...))`` does with DuckDB's hash aggregation, without building
its groups. The values are first partitioned by their top bits (a counting sort), so that
each partition's set fits in the processor's caches: one set over all values misses the
cache on almost every probe (0.11 s against 0.37 s of CPU for 10M hashes).

:func:`text_hashes` gives such hashes of an Arrow text column read from the file, with a
cheap test per value that it needs no trimming (one pass over the bytes instead of a DuckDB
scan computing both).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from kundresa.native import kernels

__all__ = [
    "PARTITIONS",
    "all_distinct",
    "dictionary_page_gather",
    "first_equal",
    "levels_all_one",
    "partition_count",
    "partition_fill",
    "partitions_distinct",
    "plain_page_hashes",
    "text_hashes",
]

PARTITIONS = 1 << 10
"""The partitions of :func:`all_distinct` (by the top 10 bits of a value; the kernels'
``_BITS``)."""


def all_distinct(hashes: npt.NDArray[np.uint64]) -> bool:
    """True when no two values of ``hashes`` (``uint64[n]``) are equal.

    Memory: a copy of the values (8 bytes each) and a set for the largest of the
    ``2**10`` partitions (16 to 32 bytes a value of it). Expected time O(n) for well-mixed
    hashes.

    Examples
    --------
    >>> all_distinct(np.array([3, 0, 2**64 - 1, 7], np.uint64))
    True
    >>> all_distinct(np.array([5, 9, 5], np.uint64)), all_distinct(np.zeros(2, np.uint64))
    (False, False)
    >>> all_distinct(np.zeros(0, np.uint64))
    True
    """
    values = np.ascontiguousarray(hashes, dtype=np.uint64)
    native = kernels()
    if native is not None:
        distinct = native.all_distinct(values)
        if distinct is not None:
            return distinct
    from kundresa.store._distinct_jit import _all_distinct

    return bool(_all_distinct(values))


def text_hashes(
    values: pa.Array, out: npt.NDArray[np.uint64] | None = None
) -> tuple[npt.NDArray[np.uint64], npt.NDArray[np.bool_]]:
    """A 64-bit hash of each text of ``values`` (a string or large string array; a null's
    hash is meaningless; into ``out``, ``uint64[n]``, when given: the hashes returned are a
    view of it) and whether the text surely needs no trimming: not empty, ASCII,
    starting with a visible character and ending with none of space, tab, newline, form feed
    or carriage return (the cheap test of :mod:`kundresa.store.in_place`, which leaves the
    others to DuckDB's exact one).

    Equal texts have equal hashes, so distinct hashes (:func:`all_distinct`) prove texts
    distinct.

    Examples
    --------
    >>> h, plain = text_hashes(pa.array(["e1", "e2", "e1", " e3", "é", ""]))
    >>> bool(h[0] == h[2]), bool(h[0] == h[1]), plain.tolist()
    (True, False, [True, True, True, False, False, False])
    """
    if pa.types.is_large_string(values.type):
        values = values.cast(pa.string())  # 32-bit offsets: one compiled signature
    _, offsets, data = values.buffers()
    at = np.frombuffer(offsets, np.int32)[values.offset : values.offset + len(values) + 1]
    raw = np.frombuffer(data if data is not None else b"", np.uint8)
    target = None
    if out is not None:
        if out.dtype != np.uint64 or out.shape != (len(values),) or not out.flags.writeable:
            raise ValueError(f"out must be a writable uint64[{len(values)}]")
        target = out if out.flags.c_contiguous else None
    native = kernels()
    if native is not None:
        got = native.text_hashes(at, raw, target)
        if got is not None:
            if out is not None and target is None:
                out[:] = got[0]
            return (out, got[1]) if out is not None else got
    from kundresa.store._distinct_jit import _text_hashes

    hashes, plain = _text_hashes(at, raw)
    if out is not None:
        out[:] = hashes
        return out, plain
    return hashes, plain


def partition_count(hashes: npt.NDArray[np.uint64], count: npt.NDArray[np.int64]) -> None:
    """Add to ``count`` (``int64[PARTITIONS]``, written in place) how many of ``hashes``
    fall in each partition: the first pass of :func:`all_distinct`, for a part of the values
    (threads count parts apart, then :func:`partition_fill` each).

    Raises
    ------
    ValueError
        ``count`` is not a writable ``int64[PARTITIONS]``.
    """
    if count.shape != (PARTITIONS,) or count.dtype != np.int64 or not count.flags.writeable:
        raise ValueError(f"count must be a writable int64[{PARTITIONS}]")
    values = np.ascontiguousarray(hashes, dtype=np.uint64)
    native = kernels()
    if native is not None and native.partition_count(values, count):
        return
    from kundresa.store._distinct_jit import partition_count as counted

    counted(values, count)


def partition_fill(
    hashes: npt.NDArray[np.uint64], fill: npt.NDArray[np.int64], out: npt.NDArray[np.uint64]
) -> None:
    """Place each of ``hashes`` in ``out`` (``uint64[n]``, written in place) at its
    partition's next place ``fill[b]`` (``int64[PARTITIONS]``, moved on in place): the
    second pass of :func:`all_distinct`. ``fill`` starts at each partition's start for
    these values (the partitions' counts summed, plus the counts of the values placed before
    them by another call).

    Raises
    ------
    ValueError
        A place outside ``out`` (``fill`` does not fit the counts).
    """
    if fill.shape != (PARTITIONS,) or fill.dtype != np.int64 or not fill.flags.writeable:
        raise ValueError(f"fill must be a writable int64[{PARTITIONS}]")
    values = np.ascontiguousarray(hashes, dtype=np.uint64)
    native = kernels()
    if native is not None and native.partition_fill(values, fill, out):
        return
    from kundresa.store._distinct_jit import partition_fill as filled

    if not filled(values, fill, out):
        raise ValueError("partition_fill: a place outside the output")


def partitions_distinct(
    out: npt.NDArray[np.uint64], start: npt.NDArray[np.int64], first: int, last: int
) -> bool:
    """Whether the values of each partition ``first .. last - 1`` of ``out`` (partition
    ``b``: ``out[start[b]:start[b + 1]]``; ``start``: ``int64[PARTITIONS + 1]``, the counts'
    running sums) are distinct: the last pass of :func:`all_distinct`, for some of the
    partitions (threads take ranges of partitions apart; values are equal only within one).

    Raises
    ------
    ValueError
        The partitions do not fit ``out``.
    """
    values = np.ascontiguousarray(out, dtype=np.uint64)
    bounds = np.ascontiguousarray(start, dtype=np.int64)
    native = kernels()
    answer = None if native is None else native.partitions_distinct(values, bounds, first, last)
    if answer is None:
        from kundresa.store._distinct_jit import partitions_distinct as distinct

        answer = int(distinct(values, bounds, first, last))
    if answer < 0:
        raise ValueError("partitions_distinct: the partitions do not fit the values")
    return answer == 1


def first_equal(
    values: pa.Array, hashes: npt.NDArray[np.uint64]
) -> tuple[npt.NDArray[np.int64], int]:
    """For each text of ``values`` (a string array without nulls; ``hashes``: its
    :func:`text_hashes`), the position of the first text equal to it, byte for byte (its own
    when none before is), and how many texts are such firsts: the dictionary of the distinct
    texts, in order of first appearance, as Arrow's ``unify_dictionaries`` makes it.

    Memory: the answer (8 bytes a text) and a table of 16 to 32 bytes a text. Expected time
    O(n); texts of equal hashes are compared, so a collision costs time, never a wrong
    answer.

    Raises
    ------
    ValueError
        ``values`` has nulls, or ``hashes`` is not one per text.

    Examples
    --------
    >>> texts = pa.array(["b", "a", "b", "c", "a"])
    >>> first, firsts = first_equal(texts, text_hashes(texts)[0])
    >>> first.tolist(), firsts
    ([0, 1, 0, 3, 1], 3)
    """
    if values.null_count:
        raise ValueError("first_equal: the texts have nulls")
    if len(hashes) != len(values):
        raise ValueError("first_equal: one hash a text")
    if pa.types.is_large_string(values.type):
        values = values.cast(pa.string())
    _, offsets, data = values.buffers()
    at = np.frombuffer(offsets, np.int32)[values.offset : values.offset + len(values) + 1]
    raw = np.frombuffer(data if data is not None else b"", np.uint8)
    h = np.ascontiguousarray(hashes, dtype=np.uint64)
    first = np.empty(len(values), np.int64)
    native = kernels()
    firsts = None if native is None else native.first_equal(at, raw, h, first)
    if firsts is None:
        from kundresa.store._distinct_jit import first_equal_into

        firsts = int(first_equal_into(at, raw, h, first))
    if firsts < 0:
        raise ValueError("first_equal: the offsets do not fit the texts")
    return first, firsts


def plain_page_hashes(page: npt.NDArray[np.uint8], start: int, out: npt.NDArray[np.uint64]) -> int:
    """Hash the ``len(out)`` texts stored from ``page[start]`` (``uint8``) as Parquet's PLAIN
    byte arrays (a 4-byte little-endian length, then the bytes, each) into ``out`` (a
    contiguous, writable ``uint64[n]``): the hashes of :func:`text_hashes`. Returns where the
    texts end in ``page``; -1 when they do not fit in it; -2 at a text that is not plain (see
    :func:`text_hashes`), ``out`` then partly written. See
    :mod:`kundresa.store._pages` for the format (Apache Parquet's "Encodings" document)."""
    native = kernels()
    if native is not None:
        got = native.plain_page_hashes(page, start, out)
        if got is not None:
            return got
    from kundresa.store._distinct_jit import plain_page_hashes as hashed

    return int(hashed(np.ascontiguousarray(page, dtype=np.uint8), start, out))


def dictionary_page_gather(
    page: npt.NDArray[np.uint8],
    start: int,
    dictionary: npt.NDArray[np.uint64],
    out: npt.NDArray[np.uint64],
) -> int:
    """The values in ``dictionary`` (``uint64[m]``) of the ``len(out)`` indices stored from
    ``page[start]`` as Parquet's RLE_DICTIONARY data (a byte of bit width, then runs of the
    RLE / bit-packing hybrid), into ``out`` (a contiguous, writable ``uint64[n]``). Returns
    where the runs end; -1 when they do not fit in ``page`` or an index is outside
    ``dictionary``."""
    values = np.ascontiguousarray(dictionary, dtype=np.uint64)
    native = kernels()
    if native is not None:
        got = native.dictionary_page_gather(page, start, values, out)
        if got is not None:
            return got
    from kundresa.store._distinct_jit import dictionary_page_gather as gathered

    return int(gathered(np.ascontiguousarray(page, dtype=np.uint8), start, values, out))


def levels_all_one(page: npt.NDArray[np.uint8], start: int, end: int, n: int) -> int:
    """1 when the first ``n`` definition levels stored in ``page[start:end]`` (the RLE /
    bit-packing hybrid, bit width 1) are all 1 (no null), 0 when one is not, -1 when they do
    not fit in ``page[start:end]``."""
    native = kernels()
    if native is not None:
        got = native.levels_all_one(page, start, end, n)
        if got is not None:
            return got
    from kundresa.store._distinct_jit import levels_all_one as levels

    return int(levels(np.ascontiguousarray(page, dtype=np.uint8), start, end, n))
