"""The 64-bit hashes of a Parquet text column, straight from its pages, without Arrow's read.

The in-place check (:mod:`kundresa.store.in_place`) proves a file's event ids distinct by
their hashes (:mod:`kundresa.store._distinct`). Read by Arrow, the ids are decompressed,
copied into a text column (~150 MB at 10M ids) and then hashed: ~0.4 s of CPU at 10M, the
largest part of a first command's check. Here each row group's column chunk is read as
stored (one ``pread``), each page decompressed by Arrow's codec into a buffer that stays in
the processor's cache, and its texts hashed where they lie (compiled:
:func:`kundresa.store._distinct.plain_page_hashes`,
:func:`~kundresa.store._distinct.dictionary_page_gather`): the same hashes
:func:`~kundresa.store._distinct.text_hashes` gives the same texts, no text column.

Only what the check needs is taken: a flat, optional or required ``BYTE_ARRAY`` column of
data pages (version 1 or 2) whose values are PLAIN or dictionary-coded (the
PLAIN_DICTIONARY and RLE_DICTIONARY encodings, the dictionary page PLAIN), compressed by
none, Snappy, gzip, Brotli or Zstandard, with no null and every text plain (no trimming
needed). Anything else (another encoding or codec, a null, a text that may need trimming, a
page that does not parse or does not fit) answers False, and the caller reads the column
with Arrow, whose rules then decide.

The format: Apache Parquet's ``parquet.thrift`` (the page headers, in Thrift's compact
protocol) and its "Encodings" document (PLAIN byte arrays, the RLE / bit-packing hybrid of
definition levels and dictionary indices).
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

if TYPE_CHECKING:
    import pyarrow.parquet as pq

__all__ = ["IdHashes"]

_CODECS = {"SNAPPY": "snappy", "ZSTD": "zstd"}
"""Parquet's codecs decompressed by Arrow's codec (by its name), whose output's true length
each page's own bytes tell (Snappy's preamble, a Zstandard frame's content size, which zstd
checks): Arrow's ``Codec.decompress`` does not say how many bytes it wrote. GZIP is
decompressed by Python's ``zlib`` (which says); ``UNCOMPRESSED`` is taken as it is; others
(Brotli, LZ4) are read by Arrow."""

_DATA, _DICTIONARY, _DATA_V2, _INDEX = 0, 2, 3, 1  # PageType
_PLAIN, _PLAIN_DICTIONARY, _RLE, _RLE_DICTIONARY = 0, 2, 3, 8  # Encoding

# The fields read from a PageHeader, by field id: ``_I32`` an i32, ``_BOOL`` a boolean, a dict
# a struct (its own fields read). A field read with another wire type, or given twice, is
# refused: Arrow's Thrift reader would skip it (then miss it or take its default), so the
# walk could read the page otherwise.
_I32, _BOOL = "i32", "bool"
_HEADER: dict[int, Any] = {
    1: _I32,  # type
    2: _I32,  # uncompressed_page_size
    3: _I32,  # compressed_page_size
    # data_page_header: num_values, encoding, the definition and repetition levels' encodings
    5: {1: _I32, 2: _I32, 3: _I32, 4: _I32},
    7: {1: _I32, 2: _I32},  # dictionary_page_header: num_values, encoding
    # data_page_header_v2: num_values, num_nulls, num_rows, encoding, the levels' byte
    # lengths (definition, repetition), is_compressed
    8: {1: _I32, 2: _I32, 3: _I32, 4: _I32, 5: _I32, 6: _I32, 7: _BOOL},
}

_HEADER_LIMIT = 16 * 1024 * 1024
"""The largest page header Arrow reads (its ``kDefaultMaxPageHeaderSize``)."""

_STRING_LIMIT = 100_000_000
_CONTAINER_LIMIT = 1_000_000
"""Arrow's limits on a Thrift string's bytes and a container's elements in Parquet metadata
(``ReaderProperties``' defaults): a header beyond them Arrow refuses, so the walk does."""

_REQUIRED = {5: (1, 2, 3, 4), 7: (1, 2), 8: (1, 2, 3, 4, 5, 6)}
"""Each page header's fields that ``parquet.thrift`` requires (Arrow refuses a header without
one)."""


class _Bad(Exception):
    """A page header that does not parse."""


def _varint(b: bytes, i: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if i >= len(b) or shift > 63:
            raise _Bad
        x = b[i]
        i += 1
        value |= (x & 0x7F) << shift
        shift += 7
        if not x & 0x80:
            return value, i


def _zigzag(v: int) -> int:
    return (v >> 1) ^ -(v & 1)


def _skip(b: bytes, i: int, kind: int, depth: int) -> int:
    """Past a value of compact type ``kind`` at ``b[i]`` (a field's: a boolean's value is in
    its type)."""
    if kind in (1, 2):
        return i
    if kind == 3:
        return i + 1
    if kind in (4, 5, 6):
        return _varint(b, i)[1]
    if kind == 7:
        return i + 8
    if kind == 8:
        n, i = _varint(b, i)
        if i + n > len(b) or n > _STRING_LIMIT:
            raise _Bad
        return i + n
    if kind in (9, 10):  # list, set
        if i >= len(b):
            raise _Bad
        head = b[i]
        i += 1
        n, element = head >> 4, head & 0x0F
        if n == 15:
            n, i = _varint(b, i)
        if n > len(b) - i or n > _CONTAINER_LIMIT or element not in range(1, 13):
            raise _Bad  # every element takes a byte at least
        if element in (1, 2):  # booleans in a list take a byte each
            return i + n
        for _ in range(n):
            i = _skip(b, i, element, depth)
        return i
    if kind == 11:  # map
        n, i = _varint(b, i)
        if n > len(b) - i or n > _CONTAINER_LIMIT:
            raise _Bad
        if n:
            if i >= len(b):
                raise _Bad
            kv = b[i]
            i += 1
            for _ in range(n):
                for kind_of in (kv >> 4, kv & 0x0F):  # a boolean takes a byte here
                    i = i + 1 if kind_of in (1, 2) else _skip(b, i, kind_of, depth)
        return i
    if kind == 12:
        return _struct(b, i, {}, depth + 1)[1]
    raise _Bad


def _struct(b: bytes, i: int, want: dict[int, Any], depth: int = 0) -> tuple[dict[int, Any], int]:
    """The fields ``want`` of the compact-protocol struct at ``b[i]`` (integers, booleans
    and structs), and where it ends."""
    if depth > 16:
        raise _Bad
    out: dict[int, Any] = {}
    last = 0
    while True:
        if i >= len(b):
            raise _Bad
        head = b[i]
        i += 1
        if head == 0:
            return out, i
        kind, delta = head & 0x0F, head >> 4
        if delta:
            field = last + delta
        else:
            raw, i = _varint(b, i)
            field = _zigzag(raw)
        if not 0 < field < 2**15:
            raise _Bad  # an i16 in Thrift: Arrow's reader would wrap it round
        last = field
        expected = want.get(field)
        if expected is None:
            i = _skip(b, i, kind, depth)
        elif field in out:
            raise _Bad  # given twice
        elif isinstance(expected, dict):
            if kind != 12:
                raise _Bad
            out[field], i = _struct(b, i, expected, depth + 1)
        elif expected == _BOOL:
            if kind not in (1, 2):
                raise _Bad
            out[field] = kind == 1
        else:
            if kind != 5:
                raise _Bad
            raw, i = _varint(b, i)
            value = _zigzag(raw)
            if not -(2**31) <= value < 2**31:
                raise _Bad
            out[field] = value


def _snappy_length(body: memoryview) -> int:
    """The uncompressed length a Snappy block states in its preamble (a little-endian base-128
    number)."""
    value = shift = 0
    for x in body[:5]:
        value |= (x & 0x7F) << shift
        shift += 7
        if not x & 0x80:
            return value
    raise _Bad


def _zstd_length(body: memoryview) -> int:
    """The content size the first Zstandard frame of ``body`` states in its header (RFC 8878,
    3.1.1.1); zstd checks the frame's output against it. A frame without one is refused."""
    if len(body) < 6 or bytes(body[:4]) != b"\x28\xb5\x2f\xfd":
        raise _Bad
    descriptor = body[4]
    size_flag, single, dictionary_flag = descriptor >> 6, (descriptor >> 5) & 1, descriptor & 3
    at = 5 + (0 if single else 1) + (0, 1, 2, 4)[dictionary_flag]
    width = (1 if single else 0, 2, 4, 8)[size_flag]
    if not width or at + width > len(body):
        raise _Bad  # no content size
    value = int.from_bytes(bytes(body[at : at + width]), "little")
    return value + 256 if width == 2 else value


def _decompressed(name: str, body: memoryview, size: int) -> npt.NDArray[np.uint8]:
    """``body`` (compressed by Parquet's codec ``name``) decompressed, when it gives exactly
    ``size`` bytes."""
    if name == "UNCOMPRESSED":
        data: Any = body
    elif name == "GZIP":
        import zlib

        stream = zlib.decompressobj(wbits=47)  # a gzip or zlib header, as Arrow's reader takes
        data = stream.decompress(body, size + 1)
        if not stream.eof or stream.unused_data or stream.unconsumed_tail:
            raise _Bad
    else:
        import pyarrow as pa

        told = _snappy_length(body) if name == "SNAPPY" else _zstd_length(body)
        if told != size:
            raise _Bad
        data = pa.Codec(_CODECS[name]).decompress(body, size)
    page = np.frombuffer(data, np.uint8)
    if len(page) != size:
        raise _Bad
    return page


class IdHashes:
    """The hashes of a Parquet file's text column ``name``, row group by row group
    (:meth:`group`, thread-safe: each call reads and writes its own part), into
    :attr:`hashes` (``uint64[rows]``, in row order). :meth:`group` answers False for anything
    it does not take (see the module notes); then the column must be read with Arrow.

    ``fd`` is the open file (read with ``os.pread``), ``meta`` its metadata, from the same open
    file.
    """

    def __init__(self, fd: int, meta: pq.FileMetaData, name: str) -> None:
        self.fd = fd
        self.meta = meta
        names = [meta.schema.column(i).path for i in range(meta.num_columns)]
        self.at = names.index(name) if names.count(name) == 1 else -1
        self.rows = int(meta.num_rows)
        starts = [0]
        for g in range(meta.num_row_groups):
            starts.append(starts[-1] + int(meta.row_group(g).num_rows))
        self.starts = starts
        self.hashes = np.empty(self.rows, np.uint64)
        self.taken = self.at >= 0 and starts[-1] == self.rows and self._flat()
        # Whether a version 2 page's "not compressed" is taken at its word: written by Arrow's
        # own writer (parquet-cpp-arrow), not by parquet-cpp before 2.0.0, whose pages Arrow
        # decompresses whatever the flag says (its ApplicationVersion workaround).
        writer = (meta.created_by or "").strip().lower()
        self.flag_trusted = writer.split(" version", 1)[0].strip() == "parquet-cpp-arrow"

    def _flat(self) -> bool:
        column = self.meta.schema.column(self.at)
        return (
            column.physical_type == "BYTE_ARRAY"
            and column.max_repetition_level == 0
            and column.max_definition_level in (0, 1)
        )

    def group(self, g: int) -> bool:
        """Hash the texts of row group ``g`` into their places of :attr:`hashes`: True when
        every one is hashed (present and plain), False otherwise (nothing to rely on)."""
        if not self.taken:
            return False
        try:
            return self._group(g)
        except (_Bad, OSError, ValueError, OverflowError, IndexError, MemoryError):
            return False
        except Exception:  # Arrow's codec errors (pyarrow.ArrowException is an Exception)
            return False

    def _group(self, g: int) -> bool:
        chunk = self.meta.row_group(g).column(self.at)
        rows = self.starts[g + 1] - self.starts[g]
        if chunk.file_path or chunk.num_values != rows:
            return False
        if not rows:
            return True  # nothing of it is read
        codec = chunk.compression
        if codec not in ("UNCOMPRESSED", "GZIP", *_CODECS):
            return False
        start = chunk.data_page_offset
        if chunk.has_dictionary_page and chunk.dictionary_page_offset:
            start = min(start, chunk.dictionary_page_offset)
        size = chunk.total_compressed_size
        if start < 4 or size <= 0:
            return False
        raw = os.pread(self.fd, size, start)
        if len(raw) != size:
            return False
        view = memoryview(raw)
        optional = self.meta.schema.column(self.at).max_definition_level == 1
        out = self.hashes[self.starts[g] : self.starts[g + 1]]
        dictionary: npt.NDArray[np.uint64] | None = None
        done = 0
        at = 0
        while done < rows:
            begun = at
            header, at = _struct(raw, at, _HEADER)
            if at - begun > _HEADER_LIMIT:
                return False
            for struct, fields in _REQUIRED.items():
                if struct in header and any(f not in header[struct] for f in fields):
                    return False
            kind, full, stored = header.get(1), header.get(2), header.get(3)
            if kind is None or full is None or stored is None or full < 0 or stored < 0:
                return False
            if at + stored > size:
                return False
            body = view[at : at + stored]
            at += stored
            if kind == _DICTIONARY:
                told = header.get(7)
                if dictionary is not None or told is None or told.get(2) not in (0, 2):
                    return False
                entries = told.get(1)
                if entries is None or entries < 0 or entries > full // 4:
                    return False  # each entry takes four bytes at least
                dictionary = self._dictionary(_decompressed(codec, body, full), entries)
                if dictionary is None:
                    return False
            elif kind in (_DATA, _DATA_V2):
                got = self._data(
                    kind, header, body, codec, full, optional, dictionary, self.flag_trusted
                )
                if got is None or done + len(got[1]) > rows:
                    return False
                page, values, encoding, begin = got
                part = out[done : done + len(values)]
                if not self._values(page, begin, encoding, dictionary, part):
                    return False
                done += len(part)
            elif kind != _INDEX:
                return False
        return done == rows

    @staticmethod
    def _dictionary(page: npt.NDArray[np.uint8], entries: int) -> npt.NDArray[np.uint64] | None:
        from kundresa.store._distinct import plain_page_hashes

        hashes = np.empty(entries, np.uint64)
        return hashes if plain_page_hashes(page, 0, hashes) == len(page) else None

    @staticmethod
    def _data(
        kind: int,
        header: dict[int, Any],
        body: memoryview,
        codec: Any,
        full: int,
        optional: bool,
        dictionary: npt.NDArray[np.uint64] | None,
        trusted: bool = False,
    ) -> tuple[npt.NDArray[np.uint8], range, int, int] | None:
        """A data page's bytes (the values' part decompressed), its values (as a range), their
        encoding and where they start; None when a value is null or the page is not taken."""
        from kundresa.store._distinct import levels_all_one

        if kind == _DATA:
            told = header.get(5)
            if told is None:
                return None
            n, encoding = told.get(1), told.get(2)
            if n is None or n <= 0 or encoding is None:
                return None  # Arrow takes a page of no values as the chunk's end
            page = _decompressed(codec, body, full)
            begin = 0
            if optional:
                if told.get(3) != _RLE or len(page) < 4:
                    return None
                length = int.from_bytes(page[:4].tobytes(), "little")
                if levels_all_one(page, 4, 4 + length, n) != 1:
                    return None
                begin = 4 + length
            return page, range(n), encoding, begin
        told = header.get(8)
        if told is None:
            return None
        n, nulls, rows, encoding = told.get(1), told.get(2), told.get(3), told.get(4)
        defined, repeated = told.get(5), told.get(6)
        if n is None or n <= 0 or nulls != 0 or rows != n or encoding is None:
            return None  # a flat column: a row a value; no values: Arrow's chunk end
        if defined is None or repeated != 0 or defined < 0 or defined > len(body):
            return None
        levels = np.frombuffer(body[:defined], np.uint8)
        if optional and levels_all_one(levels, 0, defined, n) != 1:
            return None
        if not optional and defined:
            return None
        compressed = told.get(7, True)
        if not compressed and codec != "UNCOMPRESSED" and not trusted:
            # Arrow decompresses such a page anyway for files of parquet-cpp before 2.0.0
            # (which wrote the flag wrong): only Arrow's own writer's flag is taken here.
            return None
        rest = body[defined:]
        values = (
            _decompressed(codec, rest, full - defined)
            if compressed
            else np.frombuffer(rest, np.uint8)
        )
        if not compressed and len(values) != full - defined:
            return None
        return values, range(n), encoding, 0

    @staticmethod
    def _values(
        page: npt.NDArray[np.uint8],
        begin: int,
        encoding: int,
        dictionary: npt.NDArray[np.uint64] | None,
        out: npt.NDArray[np.uint64],
    ) -> bool:
        from kundresa.store._distinct import dictionary_page_gather, plain_page_hashes

        if encoding == _PLAIN:
            return plain_page_hashes(page, begin, out) == len(page)
        if encoding in (_PLAIN_DICTIONARY, _RLE_DICTIONARY) and dictionary is not None:
            return dictionary_page_gather(page, begin, dictionary, out) >= 0
        return False
