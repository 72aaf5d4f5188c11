"""The numba kernels behind :mod:`kundresa.store._distinct` (compiled on first use, cached).

Imported only when the kernels' ahead-of-time compiled machine code (:mod:`kundresa.native`)
is not there; :mod:`kundresa.native.build` compiles the same kernels ahead of time.
"""

from __future__ import annotations

import numba
import numpy as np
import numpy.typing as npt

_BITS = 10
"""Partitions: ``2**_BITS`` by the top bits of the values."""


@numba.njit(cache=True, nogil=True)
def _all_distinct(h: npt.NDArray[np.uint64]) -> bool:
    n = h.shape[0]
    parts = 1 << _BITS
    # A counting sort by the top bits, then each partition's set.
    count = np.zeros(parts, np.int64)
    partition_count(h, count)
    start = np.zeros(parts + 1, np.int64)
    start[1:] = np.cumsum(count)
    fill = start[:-1].copy()
    out = np.empty(n, np.uint64)
    partition_fill(h, fill, out)
    return partitions_distinct(out, start, 0, parts) == 1


@numba.njit(cache=True, nogil=True)
def partition_count(h: npt.NDArray[np.uint64], count: npt.NDArray[np.int64]) -> bool:
    """Add to ``count`` (``int64[2**_BITS]``) the values of ``h`` in each partition (their
    top bits); False, nothing done, for a ``count`` of another length."""
    if count.shape[0] != 1 << _BITS:
        return False
    shift = np.uint64(64 - _BITS)
    for i in range(h.shape[0]):
        count[h[i] >> shift] += 1
    return True


@numba.njit(cache=True, nogil=True)
def partition_fill(
    h: npt.NDArray[np.uint64], fill: npt.NDArray[np.int64], out: npt.NDArray[np.uint64]
) -> bool:
    """Place each value of ``h`` in ``out`` at its partition's next place ``fill[b]`` (which
    moves on); False, having stopped, at a place outside ``out``."""
    shift = np.uint64(64 - _BITS)
    n = out.shape[0]
    for i in range(h.shape[0]):
        b = h[i] >> shift
        at = fill[b]
        if at < 0 or at >= n:
            return False  # a ``fill`` that does not fit ``out``
        out[at] = h[i]
        fill[b] = at + 1
    return True


@numba.njit(cache=True, nogil=True)
def partitions_distinct(
    out: npt.NDArray[np.uint64], start: npt.NDArray[np.int64], first: int, last: int
) -> int:
    """1 when the values of the partitions ``first .. last - 1`` of ``out`` (partition ``b``:
    ``out[start[b]:start[b + 1]]``, ``start`` of ``2**_BITS + 1``) are distinct within each,
    0 when two are equal, -1 when the partitions do not fit ``out``."""
    if first < 0 or last > start.shape[0] - 1 or first > last:
        return -1
    for b in range(first, last):
        if start[b] < 0 or start[b] > start[b + 1] or start[b + 1] > out.shape[0]:
            return -1
    # One open-addressing set per partition, in a table sized for the largest one.
    largest = 1
    for b in range(first, last):
        while largest < 2 * (start[b + 1] - start[b]):
            largest <<= 1
    table = np.zeros(largest, np.uint64)  # 0: an empty slot (a hash of 0 is kept aside)
    zero = False
    for b in range(first, last):
        lo = start[b]
        hi = start[b + 1]
        size = 1
        while size < 2 * (hi - lo):
            size <<= 1
        mask = np.uint64(size - 1)
        table[:size] = 0
        for i in range(lo, hi):
            x = out[i]
            if x == 0:
                if zero:
                    return 0
                zero = True
                continue
            j = (x ^ (x >> np.uint64(29))) & mask  # the low bits, mixed with middle ones
            while True:
                y = table[j]
                if y == 0:
                    table[j] = x
                    break
                if y == x:
                    return 0
                j = (j + np.uint64(1)) & mask
    return 1


@numba.njit(cache=True, nogil=True)
def _text_hashes(
    offsets: npt.NDArray[np.int32], data: npt.NDArray[np.uint8]
) -> tuple[npt.NDArray[np.uint64], npt.NDArray[np.bool_]]:
    n = offsets.shape[0] - 1
    out = np.empty(n, np.uint64)
    plain = np.empty(n, np.bool_)
    text_hashes_into(offsets, data, out, plain)
    return out, plain


@numba.njit(cache=True, nogil=True, inline="always")
def _text_hash(data: npt.NDArray[np.uint8], lo: int, hi: int) -> tuple[np.uint64, bool]:
    """The 64-bit hash of the text ``data[lo:hi]`` and whether it surely needs no trimming
    (:func:`kundresa.store._distinct.text_hashes`)."""
    prime = np.uint64(0x9E3779B97F4A7C15)  # 2**64 / the golden ratio, odd
    ok = hi > lo
    if ok:
        first = data[lo]
        last = data[hi - 1]
        ok = 33 <= first <= 126 and not (
            last == 32 or last == 9 or last == 10 or last == 12 or last == 13
        )
    # Eight bytes at a time (little-endian words; the last one zero-padded), the length
    # mixed in first: one multiply per word, not per byte as FNV-1a's.
    h = np.uint64(0xCBF29CE484222325) ^ np.uint64(hi - lo)
    seen = np.uint64(0)  # every byte's bits or-ed together: the ASCII test
    j = lo
    while j < hi:
        w = np.uint64(0)
        if j + 8 <= hi:
            w = (
                np.uint64(data[j])
                | (np.uint64(data[j + 1]) << np.uint64(8))
                | (np.uint64(data[j + 2]) << np.uint64(16))
                | (np.uint64(data[j + 3]) << np.uint64(24))
                | (np.uint64(data[j + 4]) << np.uint64(32))
                | (np.uint64(data[j + 5]) << np.uint64(40))
                | (np.uint64(data[j + 6]) << np.uint64(48))
                | (np.uint64(data[j + 7]) << np.uint64(56))
            )
            j += 8
        else:
            shift = np.uint64(0)
            while j < hi:
                w |= np.uint64(data[j]) << shift
                shift += np.uint64(8)
                j += 1
        seen |= w
        h = (h ^ w) * prime
        h ^= h >> np.uint64(29)
    if seen & np.uint64(0x8080808080808080):
        ok = False
    # MurmurHash3's finaliser: every bit mixed into the top ones (the set's partitions).
    h ^= h >> np.uint64(33)
    h *= np.uint64(0xFF51AFD7ED558CCD)
    h ^= h >> np.uint64(33)
    h *= np.uint64(0xC4CEB9FE1A85EC53)
    h ^= h >> np.uint64(33)
    return h, ok


@numba.njit(cache=True, nogil=True)
def text_hashes_into(
    offsets: npt.NDArray[np.int32],
    data: npt.NDArray[np.uint8],
    out: npt.NDArray[np.uint64],
    plain: npt.NDArray[np.bool_],
) -> None:
    """:func:`kundresa.store._distinct.text_hashes` into ``out`` and ``plain`` (``[n]``)."""
    n = offsets.shape[0] - 1
    for i in range(n):
        h, ok = _text_hash(data, offsets[i], offsets[i + 1])
        out[i] = h
        plain[i] = ok


@numba.njit(cache=True, nogil=True)
def plain_page_hashes(page: npt.NDArray[np.uint8], start: int, out: npt.NDArray[np.uint64]) -> int:
    """Hash the ``len(out)`` texts stored one after another from ``page[start]`` as Parquet's
    PLAIN byte arrays (each a 4-byte little-endian length, then its bytes) into ``out`` (the
    hashes of :func:`text_hashes_into`). Returns where they end in ``page``; -1 when they do
    not fit in it, -2 at a text that may need trimming (not plain: see
    :func:`kundresa.store._distinct.text_hashes`)."""
    size = page.shape[0]
    if start < 0 or start > size:
        return -1
    j = start
    for i in range(out.shape[0]):
        if j + 4 > size:
            return -1
        length = (
            np.int64(page[j])
            | (np.int64(page[j + 1]) << 8)
            | (np.int64(page[j + 2]) << 16)
            | (np.int64(page[j + 3]) << 24)
        )
        lo = j + 4
        hi = lo + int(length)
        if hi > size:
            return -1
        h, ok = _text_hash(page, lo, hi)
        if not ok:
            return -2
        out[i] = h
        j = hi
    return j


@numba.njit(cache=True, nogil=True)
def _uleb128(page: npt.NDArray[np.uint8], j: int, end: int) -> tuple[int, int]:
    """The unsigned LEB128 number at ``page[j]`` (a run header: at most five bytes and 32
    bits, as Arrow reads it) and where it ends; (-1, j) when it runs past ``end`` or is too
    long."""
    value = 0
    shift = 0
    while True:
        if j >= end or shift > 28:
            return -1, j
        b = int(page[j])
        j += 1
        value |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            return (value, j) if value < (1 << 32) else (-1, j)


@numba.njit(cache=True, nogil=True)
def dictionary_page_gather(
    page: npt.NDArray[np.uint8],
    start: int,
    dictionary: npt.NDArray[np.uint64],
    out: npt.NDArray[np.uint64],
) -> int:
    """The values of ``len(out)`` dictionary indices stored from ``page[start]`` as Parquet's
    RLE_DICTIONARY data (a byte of bit width, then runs of Parquet's RLE / bit-packing
    hybrid) looked up in ``dictionary`` into ``out``. Returns where the runs end; -1 when
    they do not fit in ``page`` or an index is outside ``dictionary``."""
    size = page.shape[0]
    n = out.shape[0]
    if start < 0:
        return -1
    if start >= size:
        return -1 if n else start
    width = int(page[start])
    if width > 32:
        return -1
    j = start + 1
    i = 0
    entries = dictionary.shape[0]
    mask = (1 << width) - 1
    while i < n:
        header, j = _uleb128(page, j, size)
        if header < 0:
            return -1
        if header & 1:  # bit-packed: groups of eight values, width bits each, low bits first
            groups = header >> 1  # each group takes ``width`` bytes
            if not groups or (width and groups > (size - j) // width):  # Arrow refuses none
                return -1
            after = j + groups * width
            take = n - i if groups >= n else min(n - i, groups * 8)
            bits = 0
            held = 0
            for _ in range(take):
                while held < width:
                    bits |= int(page[j]) << held
                    j += 1
                    held += 8
                v = bits & mask
                bits >>= width
                held -= width
                if v >= entries:
                    return -1
                out[i] = dictionary[v]
                i += 1
            j = after
        else:  # a run: one value, in (width + 7) // 8 little-endian bytes, repeated
            count = header >> 1
            if not count:
                return -1  # Arrow refuses an empty run
            v = 0
            for b in range((width + 7) // 8):
                if j >= size:
                    return -1
                v |= int(page[j]) << (8 * b)
                j += 1
            if v >= entries:
                return -1
            stop = min(n, i + count)
            while i < stop:
                out[i] = dictionary[v]
                i += 1
    return j


@numba.njit(cache=True, nogil=True)
def levels_all_one(page: npt.NDArray[np.uint8], start: int, end: int, n: int) -> int:
    """1 when the first ``n`` definition levels stored in ``page[start:end]`` (Parquet's RLE /
    bit-packing hybrid, bit width 1) are all 1 (no value null), 0 when one is 0, -1 when
    they do not fit in ``page[start:end]``."""
    if start < 0 or end > page.shape[0] or start > end:
        return -1
    j = start
    i = 0
    while i < n:
        header, j = _uleb128(page, j, end)
        if header < 0:
            return -1
        if header & 1:
            groups = header >> 1  # bytes of eight levels each
            if not groups or groups > end - j:  # Arrow refuses an empty run
                return -1
            for b in range(min(groups, (n - i + 7) // 8)):
                take = min(8, n - i)
                need = (1 << take) - 1
                if (int(page[j + b]) & need) != need:
                    return 0
                i += take
            j += groups
        else:
            count = header >> 1
            if j >= end or not count:
                return -1
            if page[j] != 1:
                return 0
            j += 1
            i += count
    return 1


@numba.njit(cache=True, nogil=True)
def first_equal_into(
    offsets: npt.NDArray[np.int32],
    data: npt.NDArray[np.uint8],
    hashes: npt.NDArray[np.uint64],
    first: npt.NDArray[np.int64],
) -> int:
    """For each text ``i`` (``data[offsets[i]:offsets[i + 1]]``, its hash ``hashes[i]`` from
    :func:`text_hashes_into`), the first text equal to it, byte for byte, into ``first[i]``
    (``i`` itself when none before is); returns how many texts are firsts (-1, nothing
    done, for ``offsets`` that do not fit ``data``). An open-addressing
    table of positions, probed by hash; texts of equal hashes are compared, so a collision
    of two different texts costs a probe, never a wrong answer."""
    n = hashes.shape[0]
    if offsets.shape[0] != n + 1 or first.shape[0] != n:
        return -1
    for i in range(n):
        if offsets[i] < 0 or offsets[i] > offsets[i + 1] or offsets[i + 1] > data.shape[0]:
            return -1
    size = 2
    while size < 2 * n:
        size <<= 1
    mask = np.uint64(size - 1)
    table = np.full(size, -1, np.int64)
    firsts = 0
    for i in range(n):
        x = hashes[i]
        j = (x ^ (x >> np.uint64(29))) & mask
        lo = offsets[i]
        length = offsets[i + 1] - lo
        while True:
            k = table[j]
            if k < 0:
                table[j] = i
                first[i] = i
                firsts += 1
                break
            if hashes[k] == x and offsets[k + 1] - offsets[k] == length:
                other = offsets[k]
                same = True
                for b in range(length):
                    if data[lo + b] != data[other + b]:
                        same = False
                        break
                if same:
                    first[i] = k
                    break
            j = (j + np.uint64(1)) & mask
    return firsts
