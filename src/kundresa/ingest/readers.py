"""Stream event files as batches of string columns, each row tagged with its line number.

Every reader yields :class:`RawBatch` objects whose columns are all strings (or null), so
that parsing, type checks and quarantine happen in one place, the same for every format.
Files are read in bounded batches: a 10-million-row file never sits in memory at once.

Text files (CSV, TSV, JSON Lines) are read in the encoding people save them in: UTF-8 (with
or without a byte order mark), UTF-16 with a byte order mark (Excel's "Unicode text"), and
Windows-1252 when the bytes are not UTF-8 (Excel's "CSV" on Western European Windows). The
encoding is told from the first :data:`SNIFF_BYTES` bytes (:func:`sniff_encoding`); anything
other than UTF-8 is transcoded to UTF-8 while streaming. One row (a CSV record or a JSON
line) may hold up to :data:`MAX_ROW_BYTES`; a longer one refuses the file.

CSV quoting is checked as RFC 4180 has it before pyarrow parses the records
(:class:`_QuoteChecker`); a JSON file whose first character is ``[`` is one array, read
element by element (:func:`_json_array_items`); a JSON object holding a top-level key twice
is quarantined (:class:`_RepeatedKeys`). Paths that are not regular files (a named pipe) are
refused before they are opened.
"""

from __future__ import annotations

import array
import bisect
import codecs
import gzip
import io
import itertools
import json
import os
import re
import threading
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from kundresa._files import not_a_regular_file
from kundresa.errors import InputError
from kundresa.ingest.columns import _key

__all__ = [
    "FORMATS",
    "MAX_ROW_BYTES",
    "SNIFF_BYTES",
    "RawBatch",
    "ReadError",
    "Rejected",
    "TextFile",
    "archive_members",
    "archive_size",
    "detect_format",
    "is_unnamed",
    "iter_parts",
    "iter_raw_batches",
    "named_columns",
    "read_header",
    "sniff_encoding",
    "sniff_text_file",
    "text_encoding",
]

FORMATS = ("csv", "tsv", "parquet", "jsonl", "zip")
BATCH_ROWS = 200_000
BATCH_BYTES = 64 << 20
"""About the most text one batch of a Parquet file holds (:func:`_parquet_batch_rows`)."""
_OBJECT_ROWS = 25_000
"""Rows of a map column turned into JSON text at a time (Python objects held at once)."""
MAX_ROW_BYTES = 8 << 20
"""The longest CSV record or JSON line read (8 MiB); a longer one refuses the file."""
_CSV_BLOCK = MAX_ROW_BYTES
_TOO_DEEP = "nested deeper than Python's JSON parser goes (about 1,000 levels)"
"""Why a JSON line whose parsing hit the recursion limit is quarantined."""
SNIFF_BYTES = 64 << 10
"""How much of a text file's start the encoding and delimiter are told from."""

Progress = Callable[[int], None]
"""Called with the number of bytes of the file consumed so far."""


class ReadError(InputError):
    """A file cannot be read at all (missing, unknown format, broken header). The message is
    one line: a library's message over several lines (Arrow's about a damaged Parquet page
    header, say) has its lines joined by "; "."""

    def __init__(self, message: object = "") -> None:
        lines = [line.strip() for line in str(message).splitlines()]
        super().__init__("; ".join(line for line in lines if line))


@dataclass(frozen=True)
class Rejected:
    """A row the reader could not split into fields; it goes to quarantine as it is."""

    line: int
    reason: str
    text: str


class NumberText(str):
    """The text of a value that was a number in the source (a JSON number, ``1.234``), as
    opposed to text that reads as one (``"1,5"``): a record source (:mod:`kundresa.ingest
    .sources`) gets a record's JSON numbers as this str subclass, so that the value it maps
    one to stays a number (:attr:`RawBatch.number_rows`), never read with a decimal comma."""

    __slots__ = ()


def is_number_value(value: object) -> bool:
    """Whether ``value`` (a record's value, as a source has it) was a number in the source: a
    JSON number parsed (``int``, ``float``, not ``bool``) or its text (:class:`NumberText`)."""
    kind = type(value)
    return kind is NumberText or kind is float or kind is int


@dataclass
class RawBatch:
    """String columns of consecutive rows, with each row's line (CSV, JSON Lines) or row
    number (Parquet) in the source file. ``numbers`` names the columns whose every value
    was a number in the source (a Parquet column of a numeric type; a JSON Lines key whose
    values in the batch are JSON numbers or null): their text is Arrow's or JSON's own
    (``19.99``), never to be read with a decimal comma. ``number_rows`` marks the values
    one by one, for a column that holds some numbers (a JSON key written ``1.234`` in one
    record and ``"1,5"`` in another): a boolean array per column, true where the value was
    a number in the source, so that only the texts follow the column's decimal mark."""

    columns: dict[str, pa.Array]
    lines: pa.Array
    rejected: list[Rejected] = field(default_factory=list)
    numbers: frozenset[str] = frozenset()
    number_rows: dict[str, pa.Array] = field(default_factory=dict)

    def table(self) -> pa.Table:
        cols = dict(self.columns)
        cols["_line"] = self.lines
        return pa.table(cols)


def is_unnamed(name: str) -> bool:
    """Whether a column name (or a JSON key) is empty, or only spaces or a byte order mark:
    Excel writes one for the delimiter it leaves at the end of every line (``a;b;c;``).

    Examples
    --------
    >>> is_unnamed(""), is_unnamed(" \ufeff "), is_unnamed("belopp")
    (True, True, False)
    """
    return not _key(name)


def _drop_unnamed(
    label: str, unit: str, names: list[str], columns: list[pa.Array], lines: Any
) -> dict[str, pa.Array]:
    """The named columns of a batch; a column without a name must hold no value in any row
    (only empty cells, as Excel's trailing delimiter leaves), else :class:`ReadError`
    naming its position (from 1) and the first ``unit`` (line or row) holding one."""
    for i, name in enumerate(names):
        if not is_unnamed(name):
            continue
        text = _to_string(columns[i])
        trimmed = pc.utf8_trim_whitespace(text)
        held = pc.fill_null(pc.not_equal(trimmed, ""), False)
        if not pc.any(held).as_py():
            continue
        j = int(pc.index(held, True).as_py())
        value = str(text[j].as_py())
        shown = value if len(value) <= 40 else value[:40] + "…"
        raise ReadError(
            f"{label}: column {i + 1} has no name, but {unit} {int(lines[j])} holds a value "
            f"in it ({shown!r}); give the column a name, or delete it"
        )
    return {n: c for n, c in zip(names, columns, strict=True) if not is_unnamed(n)}


def detect_format(path: str | os.PathLike[str]) -> tuple[str, bool]:
    """Return ``(format, gzipped)`` from a file name.

    Examples
    --------
    >>> detect_format("events.csv.gz")
    ('csv', True)
    >>> detect_format("export.ndjson")
    ('jsonl', False)
    >>> detect_format("amplitude-export.zip")
    ('zip', False)
    """
    name = Path(path).name.lower()
    gz = name.endswith(".gz")
    if gz:
        name = name[:-3]
    suffix = name.rsplit(".", 1)[-1] if "." in name else ""
    fmt = {
        "csv": "csv",
        "txt": "csv",
        "tsv": "tsv",
        "parquet": "parquet",
        "pq": "parquet",
        "jsonl": "jsonl",
        "ndjson": "jsonl",
        "json": "jsonl",
        "zip": "zip",
    }.get(suffix)
    if fmt is None:
        raise ReadError(
            f"{path}: unknown file type {suffix!r}; expected one of .csv, .tsv, .parquet, "
            ".jsonl, .ndjson or .json (each optionally .gz), or a .zip of them"
        )
    if fmt in ("parquet", "zip") and gz:
        what = "Parquet files" if fmt == "parquet" else "Zip archives"
        raise ReadError(f"{path}: {what} are compressed inside; do not gzip them")
    return fmt, gz


def _member_format(name: str) -> tuple[str, bool] | None:
    """The format of an archive member, or ``None`` for members that are skipped:
    folders, macOS resource forks (``__MACOSX/``, ``._name``) and unsupported types."""
    base = name.rsplit("/", 1)[-1]
    if name.endswith("/") or name.startswith("__MACOSX/") or base.startswith(".") or not base:
        return None
    try:
        fmt, gz = detect_format(base)
    except ReadError:
        return None
    # A .txt inside an archive is a README or a licence far more often than data.
    if fmt == "zip" or base.lower().removesuffix(".gz").endswith(".txt"):
        return None
    return fmt, gz


def archive_members(path: str | os.PathLike[str]) -> list[str]:
    """The members of a ``.zip`` that are read, in archive order.

    Folders, ``__MACOSX`` entries and files of other types are skipped; an archive with no
    readable member raises :class:`ReadError`.
    """
    p = Path(path)
    _check_file(p)
    try:
        with zipfile.ZipFile(p) as zf:
            names = [i.filename for i in zf.infolist() if _member_format(i.filename)]
    except (OSError, zipfile.BadZipFile) as exc:
        raise ReadError(f"{p}: cannot read the zip archive: {exc}") from exc
    if not names:
        raise ReadError(
            f"{p}: the zip archive holds no .csv, .tsv, .parquet or .jsonl/.json file "
            "(optionally .gz)"
        )
    return names


class _CountingFile(io.RawIOBase):
    """Wraps a binary file and reports how many bytes were read (for progress bars)."""

    def __init__(self, raw: IO[bytes], progress: Progress | None) -> None:
        self._raw = raw
        self._progress = progress

    def readable(self) -> bool:
        return True

    def readinto(self, b: Any) -> int:
        n = self._raw.readinto(b)  # type: ignore[attr-defined]
        if self._progress is not None and n:
            self._progress(self._raw.tell())
        return int(n or 0)

    def close(self) -> None:
        self._raw.close()
        super().close()


def _open_binary(path: Path, gz: bool, progress: Progress | None) -> IO[bytes]:
    raw = _CountingFile(open(path, "rb"), progress)  # noqa: SIM115 - closed by the caller
    return _decompressed(raw, gz)


class _GzipReader(gzip.GzipFile):
    """A gzip stream that closes the stream it reads when it is closed (``GzipFile`` given a
    ``fileobj`` leaves it open, which leaked the file's handle until garbage collection)."""

    def __init__(self, inner: IO[bytes]) -> None:
        super().__init__(fileobj=inner, mode="rb")
        self._inner = inner

    def close(self) -> None:
        try:
            super().close()
        finally:
            self._inner.close()


def _decompressed(raw: io.RawIOBase, gz: bool) -> IO[bytes]:
    buffered = io.BufferedReader(raw, buffer_size=1 << 20)
    if gz:
        return _GzipReader(buffered)  # type: ignore[return-value]
    return buffered


# Magic numbers of files people rename to .csv by mistake, and what to tell them.
_BINARY_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"\x89PNG", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"%PDF", "a PDF document"),
    (b"\xd0\xcf\x11\xe0", "an Excel 97-2003 workbook (.xls) or another Office file"),
    (b"\x1f\x8b", "gzip-compressed (name it .gz, e.g. events.csv.gz)"),
    (b"PAR1", "a Parquet file (name it .parquet)"),
)
_SAVE_AS_CSV = "open it in Excel and use File > Save As > CSV UTF-8 (Comma delimited)"


@dataclass(frozen=True)
class TextFile:
    """What :func:`sniff_text_file` learnt from the start of a CSV, TSV or JSON Lines file."""

    encoding: str
    """A Python codec name: ``utf-8``, ``utf-8-sig``, ``utf-16``, ``cp1252``, ``latin-1``…"""
    delimiter: str
    """The field delimiter (CSV/TSV; ``,`` for JSON Lines)."""
    empty: bool = False
    """The file (an archive member) holds nothing."""
    hint_lines: int = 0
    """Lines before the header: 1 for Excel's delimiter line (``sep=;``), else 0."""


def sniff_encoding(head: bytes, *, complete: bool = False) -> str:
    """The encoding of a text file whose first bytes are ``head``.

    A byte order mark decides (UTF-8, UTF-16 LE/BE); UTF-16 without one is recognised from
    its zero bytes; otherwise ``head`` is UTF-8 when it decodes as UTF-8 (a multi-byte
    character cut at the end of ``head`` is allowed unless ``complete``), else Windows-1252,
    else Latin-1 (which decodes any byte).

    Examples
    --------
    >>> sniff_encoding(b"\\xef\\xbb\\xbfcustomer_id,ts")
    'utf-8-sig'
    >>> sniff_encoding("id;belopp\\n1;1 234,50 kr\\n".encode("utf-16"))
    'utf-16'
    >>> sniff_encoding("kund;händelse".encode("cp1252"))
    'cp1252'
    >>> sniff_encoding("kund;händelse".encode("utf-8"))
    'utf-8'
    """
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    if len(head) >= 8 and b"\x00" in head:
        even, odd = head[0::2], head[1::2]
        if odd.count(0) > len(odd) // 3 and even.count(0) == 0:
            return "utf-16-le"
        if even.count(0) > len(even) // 3 and odd.count(0) == 0:
            return "utf-16-be"
    try:
        codecs.getincrementaldecoder("utf-8")().decode(head, final=complete)
        return "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        head.decode("cp1252")
        return "cp1252"
    except UnicodeDecodeError:
        return "latin-1"


def _binary_kind(path: Path, head: bytes, gz: bool) -> str | None:
    """What a file that is not text is (a workbook, an image…), or None for text."""
    if head.startswith(b"PK\x03\x04"):
        kind = "a ZIP archive (name it .zip)"
        if not gz and path.exists():
            try:
                with zipfile.ZipFile(path) as z:
                    if any(n.startswith("xl/") for n in z.namelist()):
                        kind = "an Excel workbook (.xlsx)"
            except (zipfile.BadZipFile, OSError):
                pass
        return kind
    for magic, kind in _BINARY_MAGIC:
        if head.startswith(magic):
            return kind
    if b"\x00" in head:
        return "a binary file"
    return None


def text_encoding(name: str) -> str:
    """The codec name of the text encoding ``name``; :class:`ValueError` when Python knows no
    such codec or it is not a text encoding (``rot13``, ``base64``, ``zlib``…).

    Examples
    --------
    >>> text_encoding("UTF8")
    'utf-8'
    >>> text_encoding("rot13")
    Traceback (most recent call last):
    ...
    ValueError: 'rot13' is not a text encoding (use e.g. utf-8, utf-16, cp1252, latin-1)
    """
    try:
        info = codecs.lookup(name)
    except LookupError:
        info = None
    # Bytes-to-bytes and text-to-text codecs (rot13, base64) are flagged as not text
    # encodings; str.decode refuses them, as here.
    if info is None or not getattr(info, "_is_text_encoding", True):
        raise ValueError(
            f"{name!r} is not a text encoding (use e.g. utf-8, utf-16, cp1252, latin-1)"
        )
    return info.name


def _check_encoding(path: Path, encoding: str) -> str:
    try:
        return text_encoding(encoding)
    except ValueError as exc:
        raise ReadError(f"{path}: {exc}") from None


def sniff_text_file(path: str | os.PathLike[str], encoding: str | None = None) -> TextFile:
    """Tell a text file's encoding and delimiter from its start; refuse what is not text.

    ``encoding`` (a Python codec name) skips the guess. Raises :class:`ReadError` for a
    missing, empty or binary file (an Excel workbook, an image…) and an unknown encoding.
    For a ``.zip``, its first readable member is looked at.
    """
    p = Path(path)
    fmt, _gz = detect_format(p)
    _check_file(p)
    if fmt == "zip":
        # The first member with content speaks for the archive (some may be empty).
        for member in archive_members(p):
            part = _Input(p, member)
            if part.fmt != "parquet":
                info = _sniff(part, encoding, allow_empty=True)
                if not info.empty:
                    return info
        return TextFile(encoding or "utf-8", ",", empty=True)
    return _sniff(_Input(p), encoding)


def _sniff(p: _Input, encoding: str | None, allow_empty: bool = False) -> TextFile:
    label = p.label
    try:
        with p.open_binary(None) as fh:
            head = fh.read(SNIFF_BYTES)
            complete = len(head) < SNIFF_BYTES
    except (OSError, EOFError, zipfile.BadZipFile) as exc:
        raise ReadError(f"{label}: cannot read the file: {exc}") from exc
    if encoding is not None:
        encoding = _check_encoding(Path(label), encoding)
    else:
        encoding = sniff_encoding(head, complete=complete)
    if not encoding.startswith("utf-16"):
        kind = _binary_kind(p.path if p.member is None else Path(label), head, p.gz)
        if kind is not None:
            if "(name it" in kind:
                raise ReadError(f"{label}: this file is {kind}")
            hint = _SAVE_AS_CSV if "Excel" in kind else "save the data as CSV or JSON Lines"
            raise ReadError(f"{label}: this is {kind}, not {p.fmt.upper()} text; {hint}")
    text = head.decode(encoding, "replace")
    if not text.lstrip("\ufeff").strip():
        if allow_empty:
            return TextFile(encoding, ",", empty=True)
        raise ReadError(f"{label}: the file is empty or has no header line")
    first = re.split("[\r\n]", text.lstrip("\ufeff"), maxsplit=1)[0]
    sep_line = _SEP_LINE.fullmatch(first) if p.fmt in ("csv", "tsv") else None
    if sep_line is not None:
        # Excel's first line naming the delimiter (``sep=;``), written so that Excel splits
        # the columns whatever the computer's list separator: the header is the next line.
        return TextFile(encoding, sep_line[1], hint_lines=1)
    if p.fmt == "tsv":
        delimiter = "\t"
    elif p.fmt == "csv":
        delimiter = _sniff_delimiter(first)
    else:
        delimiter = ","
    return TextFile(encoding, delimiter)


class _Utf8Recoder(io.RawIOBase):
    """A binary stream of UTF-8 read from a binary stream in another encoding, decoded in
    64 KiB pieces (bounded memory)."""

    def __init__(self, raw: IO[bytes], encoding: str, path: Path) -> None:
        self._raw = raw
        self._decoder = codecs.getincrementaldecoder(encoding)("strict")
        self._encoding = encoding
        self._path = path
        self._buf = b""
        self._consumed = 0
        self._lines = 0
        self._eof = False

    def readable(self) -> bool:
        return True

    def _line_of(self, state: tuple[bytes, int], chunk: bytes, start: int) -> int | None:
        """The line of the bad byte at ``start`` of what the decoder saw (its buffered
        bytes, then ``chunk``): the lines before it, plus those in the good bytes before it."""
        try:
            before = codecs.getincrementaldecoder(self._encoding)("strict")
            before.setstate(state)
            good = before.decode(chunk[: max(start - len(state[0]), 0)])
        except (UnicodeError, ValueError, TypeError):
            return None
        return self._lines + good.count("\n") + 1

    def readinto(self, b: Any) -> int:
        while not self._buf and not self._eof:
            chunk = self._raw.read(1 << 16)
            self._eof = not chunk
            state = self._decoder.getstate()
            try:
                text = self._decoder.decode(chunk, final=self._eof)
            except UnicodeDecodeError as exc:
                line = self._line_of(state, chunk, exc.start)
                where = f"{self._path}:{line}" if line is not None else str(self._path)
                raise ReadError(
                    f"{where}: byte {self._consumed + exc.start - len(state[0]) + 1} is not "
                    f"valid {self._encoding}; name the file's encoding with --encoding "
                    "(e.g. utf-8, cp1252, latin-1)"
                ) from None
            except UnicodeError as exc:  # UTF-16 or UTF-32 without a byte order mark
                raise ReadError(
                    f"{self._path}: not valid {self._encoding}: {exc}; name the file's "
                    "encoding with --encoding (e.g. utf-16-le, utf-16-be, utf-8)"
                ) from None
            self._consumed += len(chunk)
            self._lines += text.count("\n")
            self._buf = text.encode("utf-8")
        n = min(len(b), len(self._buf))
        b[:n] = self._buf[:n]
        self._buf = self._buf[n:]
        return n

    def close(self) -> None:
        self._raw.close()
        super().close()


def _utf8(fh: IO[bytes], encoding: str, label: str) -> IO[bytes]:
    """``fh`` as a binary stream of UTF-8 (a BOM, if any, left in front for UTF-8)."""
    if encoding in ("utf-8", "utf-8-sig"):
        return fh
    return io.BufferedReader(_Utf8Recoder(fh, encoding, Path(label)), buffer_size=1 << 20)


def _first_line(fh: IO[bytes], path: Path) -> str:
    line = fh.readline(MAX_ROW_BYTES + 1)
    cr = line.find(b"\r")
    if cr >= 0:  # a CR ends the line too (CR LF, or an old Mac's lone CR)
        line = line[:cr]
    elif len(line) > MAX_ROW_BYTES:
        raise ReadError(_too_long(path, 1))
    try:
        return line.decode("utf-8-sig").rstrip("\n")
    except UnicodeDecodeError:
        raise ReadError(
            f"{path}:1: the header is not valid UTF-8; name the file's encoding with "
            "--encoding (e.g. cp1252, latin-1)"
        ) from None


def _too_long(path: Path, line: int | None) -> str:
    where = f"{path}:{line}" if line is not None else str(path)
    return (
        f"{where}: a row is longer than {MAX_ROW_BYTES >> 20} MiB (the limit for one CSV "
        "record or JSON line); is this really an events file?"
    )


class _Input:
    """One readable stream of rows: a file, or a member of a zip archive."""

    def __init__(self, path: Path, member: str | None = None) -> None:
        self.path = path
        self.member = member
        self.label = str(path) if member is None else f"{path}:{member}"
        found = detect_format(path) if member is None else _member_format(member)
        assert found is not None
        self.fmt, self.gz = found

    def open_binary(self, progress: Progress | None) -> IO[bytes]:
        if self.member is None:
            return _open_binary(self.path, self.gz, progress)
        zf = zipfile.ZipFile(self.path)
        raw = _CountingFile(_ZipMember(zf, zf.open(self.member)), progress)  # type: ignore[arg-type]
        return _decompressed(raw, self.gz)

    def open_utf8(self, encoding: str, progress: Progress | None) -> IO[bytes]:
        """The stream as UTF-8, transcoded while read when it is in another encoding."""
        return _utf8(self.open_binary(progress), encoding, self.label)

    def parquet_source(self) -> Any:
        if self.member is None:
            return self.path
        with zipfile.ZipFile(self.path) as zf:
            # Parquet needs random access; a member is read into memory once.
            return pa.BufferReader(zf.read(self.member))

    def size(self) -> int:
        if self.member is None:
            return self.path.stat().st_size
        with zipfile.ZipFile(self.path) as zf:
            return zf.getinfo(self.member).file_size


class _ZipMember(io.RawIOBase):
    """A zip member that closes its archive with it (and tells how far it has read)."""

    def __init__(self, zf: zipfile.ZipFile, fh: IO[bytes]) -> None:
        self._zf = zf
        self._fh = fh
        self._pos = 0

    def readable(self) -> bool:
        return True

    def readinto(self, b: Any) -> int:
        data = self._fh.read(len(b))
        b[: len(data)] = data
        self._pos += len(data)
        return len(data)

    def tell(self) -> int:
        return self._pos

    def close(self) -> None:
        self._fh.close()
        self._zf.close()
        super().close()


def _check_file(p: Path) -> None:
    """Refuse a path that is missing or not a regular file, before it is opened (a named
    pipe would wait for a writer forever)."""
    kind = not_a_regular_file(p)
    if kind is not None:
        raise ReadError(f"{p}: is {kind}, not a file; name a regular file to read")
    if not p.exists():
        raise ReadError(f"{p}: no such file")


def read_header(path: str | os.PathLike[str], encoding: str | None = None) -> list[str]:
    """Column names of a file, read without loading its rows; a column without a name
    (:func:`is_unnamed`) is left out, as the rows' readers leave it out.

    For JSON Lines the keys of the first 1,000 records are collected in order of appearance.
    ``encoding`` forces the text encoding (else it is sniffed, see :func:`sniff_encoding`).
    """
    p = Path(path)
    fmt, _gz = detect_format(p)
    _check_file(p)
    if fmt == "zip":
        # The first member with columns speaks for the archive (exports split one table
        # into many files of the same shape; some of them may be empty).
        members = (
            _read_header(_Input(p, m), encoding, allow_empty=True) for m in archive_members(p)
        )
        header = next((h for h in members if h), None)
        if header is None:
            raise ReadError(f"{p}: every file in the zip archive is empty")
    else:
        header = _read_header(_Input(p), encoding)
    return [n for n in header if not is_unnamed(n)]


def _read_header(p: _Input, encoding: str | None, allow_empty: bool = False) -> list[str]:
    fmt, label = p.fmt, p.label
    try:
        if fmt == "parquet":
            if p.size() == 0:
                if allow_empty:
                    return []
                raise ReadError(f"{label}: the file is empty or has no header line")
            return list(pq.ParquetFile(p.parquet_source()).schema_arrow.names)
        info = _sniff(p, encoding, allow_empty=allow_empty)
        with p.open_utf8(info.encoding, None) as fh:
            if fmt in ("csv", "tsv"):
                first = _first_line(_skip_line(fh) if info.hint_lines else fh, Path(label))
                if not first.strip() and allow_empty:
                    return []
                if not first.strip():
                    raise ReadError(f"{label}:1: the file is empty or has no header line")
                import csv

                return next(csv.reader([first], delimiter=info.delimiter))
            names: dict[str, None] = {}
            # The first record that is no object, and why: when no record is one, the file
            # has no columns, and that is said instead of "no customer_id column".
            first_bad: tuple[int, str] | None = None
            objects = False
            if _is_json_array(p, info.encoding):
                for i, (line_no, value, _rep, _src) in enumerate(
                    _json_array_items(p, info.encoding, None)
                ):
                    if isinstance(value, dict):
                        names.update(dict.fromkeys(value))
                        objects = True
                    elif first_bad is None:
                        found = _json_kind(value)  # as the rows' reader says it
                        first_bad = (line_no, f"expected a JSON object, found {found}")
                    if i >= 999:
                        break
                capped = first_bad is not None and i >= 999
                _no_objects(label, objects, first_bad, "element", capped)
                return list(names)
            capped = True
            for i in range(1000):
                line = fh.readline(MAX_ROW_BYTES + 1)
                if not line:
                    capped = False
                    break
                if len(line) > MAX_ROW_BYTES:
                    raise ReadError(_too_long(Path(label), i + 1))
                try:
                    obj = json.loads(line) if line.strip() else None
                except (ValueError, RecursionError) as exc:  # the rows' reader says why
                    if first_bad is None:
                        why = exc if isinstance(exc, ValueError) else _TOO_DEEP
                        first_bad = (i + 1, f"invalid JSON: {why}")
                    continue
                if isinstance(obj, dict):
                    names.update(dict.fromkeys(obj))
                    objects = True
                elif obj is not None and first_bad is None:
                    first_bad = (i + 1, f"expected a JSON object, found {_json_kind(obj)}")
            _no_objects(label, objects, first_bad, "line", capped and bool(fh.readline(1)))
            return list(names)
    except (OSError, EOFError, pa.ArrowInvalid, zipfile.BadZipFile) as exc:
        raise ReadError(f"{label}: cannot read the file: {exc}") from exc


_SEP_LINE = re.compile(r"(?i:sep)=([,;\t|])[ \t]*")
"""Excel's delimiter line, the first of a file: ``sep=;`` (``sep=,``, ``sep=|``, a tab)."""


def _skip_line(fh: IO[bytes]) -> IO[bytes]:
    """``fh`` after its first line (whatever ends it: CR LF, LF or a lone CR)."""
    line = fh.readline(MAX_ROW_BYTES + 1)
    end = re.match(rb"[^\r\n]*+(?:\r\n|\n|\r)?+", line)
    assert end is not None  # the pattern matches the empty string
    rest = line[end.end() :]
    return io.BytesIO(rest) if rest else fh  # (a lone CR: the next lines came with it)


def _no_objects(
    label: str, objects: bool, first_bad: tuple[int, str] | None, what: str, capped: bool
) -> None:
    """:class:`ReadError` for a JSON file none of whose records (of the first 1,000:
    ``capped``) is an object: it has no columns to map, and naming the first record's fault
    says more than "no customer_id column (columns: none)"."""
    if objects or first_bad is None:
        return
    line, why = first_bad
    scope = "of the first 1,000" if capped else ("of the file" if what == "line" else "")
    raise ReadError(
        f"{label}:{line}: {why}, and no {what} {scope}".rstrip()
        + f" is a JSON object: each {what} is one "
        'event, {"customer_id": …, "timestamp": …, "event": …}'
    )


def _sniff_delimiter(header_line: str) -> str:
    counts = {d: header_line.count(d) for d in (",", ";", "\t", "|")}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] > 0 else ","


def iter_parts(
    path: str | os.PathLike[str],
    progress: Progress | None = None,
    *,
    encoding: str | None = None,
) -> Iterator[tuple[str, Iterator[RawBatch]]]:
    """The parts of a file, each as ``(label, batches)``: the file itself (label = its
    path), or for a ``.zip`` each readable member (label ``archive.zip:member``), so that
    quarantined rows name the member and its line.

    ``progress`` gets the bytes consumed of the whole file (for a zip: of the uncompressed
    members, counted as they are read). ``encoding`` forces the text encoding of CSV, TSV
    and JSON Lines (else it is sniffed per file or member).
    """
    p = Path(path)
    _check_file(p)
    fmt, _gz = detect_format(p)
    if fmt != "zip":
        yield str(p), _batches(_Input(p), progress, encoding)
        return
    done = 0
    for member in archive_members(p):
        part = _Input(p, member)
        size = part.size()

        def member_progress(n: int, base: int = done) -> None:
            if progress is not None:
                progress(base + n)

        yield part.label, _batches(part, member_progress, encoding)
        done += size


def archive_size(path: str | os.PathLike[str]) -> int:
    """Bytes :func:`iter_parts` reports in total: the file's size, or for a zip the
    uncompressed size of its readable members."""
    p = Path(path)
    if detect_format(p)[0] != "zip":
        return p.stat().st_size
    with zipfile.ZipFile(p) as zf:
        return sum(zf.getinfo(m).file_size for m in archive_members(p))


def iter_raw_batches(
    path: str | os.PathLike[str],
    progress: Progress | None = None,
    *,
    encoding: str | None = None,
) -> Iterator[RawBatch]:
    """Yield the rows of an event file as string batches tagged with line numbers (for a
    zip: every member's, one after the other; lines count from 1 in each member).

    ``encoding`` forces the text encoding of a CSV, TSV or JSON Lines file (else it is
    sniffed). Raises :class:`ReadError` for a file that cannot be read at all.
    """
    for _label, batches in iter_parts(path, progress, encoding=encoding):
        yield from batches


def _batches(p: _Input, progress: Progress | None, encoding: str | None) -> Iterator[RawBatch]:
    try:
        if p.fmt == "parquet":
            yield from _parquet_batches(p, progress)
            return
        info = _sniff(p, encoding, allow_empty=p.member is not None)
        if p.fmt == "jsonl" and _is_json_array(p, info.encoding):
            yield from _json_array_batches(p, info.encoding, progress)
        elif p.fmt == "jsonl":
            yield from _jsonl_batches(p, info.encoding, progress)
        else:
            yield from _csv_batches(p, info, progress)
    except pa.ArrowInvalid as exc:
        text = str(exc)
        if "straddl" in text:
            raise ReadError(_too_long(Path(p.label), None)) from exc
        if "UTF8" in text or "UTF-8" in text:
            raise ReadError(_not_utf8(p, sniffed=encoding is None)) from exc
        raise ReadError(f"{p.label}: cannot read the file: {exc}") from exc
    except (OSError, EOFError, zipfile.BadZipFile) as exc:
        raise ReadError(f"{p.label}: cannot read the file: {exc}") from exc


def _not_utf8(p: _Input, *, sniffed: bool) -> str:
    """The message for a file pyarrow found not to be UTF-8: where the first bad byte is
    (found by reading the file again, in pieces: this is the error path)."""
    decoder = codecs.getincrementaldecoder("utf-8")("strict")
    line, done, at = 1, 0, 0
    where = ""
    try:
        with p.open_binary(None) as fh:
            while chunk := fh.read(1 << 20):
                try:
                    decoder.decode(chunk)
                except UnicodeDecodeError as exc:
                    start = exc.start - len(exc.object) + len(chunk)  # into chunk
                    line += chunk.count(b"\n", 0, max(start, 0))
                    at = done + start + 1
                    where = f":{line}: byte {at}"
                    break
                line += chunk.count(b"\n")
                done += len(chunk)
    except (OSError, EOFError, zipfile.BadZipFile):
        pass  # the file cannot be read again: the message goes without the bad byte's place
    told = (
        f" (the encoding was told from the first {SNIFF_BYTES >> 10} KiB)"
        if sniffed and at > SNIFF_BYTES
        else ""
    )
    return (
        f"{p.label}{where or ':'} is not valid UTF-8{told}; name the file's encoding with "
        "--encoding (e.g. cp1252, latin-1)"
    )


def _csv_batches(p: _Input, info: TextFile, progress: Progress | None) -> Iterator[RawBatch]:
    names = _read_header(p, info.encoding, allow_empty=p.member is not None)
    if not names:  # an empty member of an archive holds no rows
        return
    # A column without a name is read under a name of its own (pyarrow needs the names
    # apart) and dropped from every batch, which it must leave empty (_drop_unnamed).
    header = names
    names = [f"\x00unnamed {i + 1}" if is_unnamed(n) else n for i, n in enumerate(names)]
    delimiter = info.delimiter
    rejected: list[Rejected] = []

    skipped: list[int] = []
    """The records the handler skipped that no batch has numbered past (ascending)."""
    checker: _QuoteChecker | None = None

    lock = threading.Lock()
    """pyarrow parses the next blocks, calling :func:`on_invalid`, on threads of its own
    while this generator hands out the current batch: ``skipped`` and ``rejected`` are
    shared, and taken under this lock."""

    def on_invalid(row: Any) -> str:
        with lock:
            return _on_invalid(row)

    def _on_invalid(row: Any) -> str:
        # pyarrow numbers records from 1, the header included, and skips blank lines (it
        # knows the number only when reading with one thread; parsing is still fast enough,
        # the staging insert dominates). The checker maps records to physical lines.
        assert checker is not None
        line = -1
        if row.number is not None:
            record = int(row.number) - 1
            line = int(checker.lines_of(np.array([record], dtype=np.int64))[0])
            skipped.append(record)
        if row.text.startswith("\x01"):
            # A badly quoted record the checker took out: it knows its line and reason.
            key = int(row.text[1:].split(delimiter, 1)[0])
            bad = checker.bad.pop(key, None)
            if bad is not None:
                rejected.append(bad)
            return "skip"
        rejected.append(
            Rejected(
                line,
                f"expected {row.expected_columns} fields, found {row.actual_columns}",
                row.text,
            )
        )
        return "skip"

    read_options = pacsv.ReadOptions(
        use_threads=False, block_size=_CSV_BLOCK, column_names=names, skip_rows=1
    )
    parse_options = pacsv.ParseOptions(
        delimiter=delimiter, invalid_row_handler=on_invalid, newlines_in_values=True
    )
    convert_options = pacsv.ConvertOptions(
        column_types={n: pa.string() for n in names},
        # Only an empty unquoted field is missing: pyarrow's default markers (NA, N/A, null,
        # NaN…) would turn the text NA (an id, a country code, a property) into nothing in
        # every column. The value column reads such markers as missing on its own
        # (kundresa.ingest.columns.MISSING_NUMBERS).
        null_values=[""],
        strings_can_be_null=True,
        quoted_strings_can_be_null=False,
    )
    checker = _QuoteChecker(
        p.open_utf8(info.encoding, progress), delimiter, len(names), p.label, info.hint_lines
    )
    fh = io.BufferedReader(checker, buffer_size=1 << 20)
    try:
        reader = pacsv.open_csv(
            fh,
            read_options=read_options,
            parse_options=parse_options,
            convert_options=convert_options,
        )
        next_record = 1
        for batch in reader:
            n = batch.num_rows
            with lock:
                # Rows the handler skipped do not appear in the batch: number the kept
                # records around the skipped ones (those of blocks parsed ahead come after
                # them), then find the line each starts at.
                records = _kept_records(next_record, n, np.array(skipped, dtype=np.int64))
                lines = checker.lines_of(records)
                if n:
                    next_record = int(records[-1]) + 1
                    skipped[:] = [x for x in skipped if x >= next_record]
                    checker.forget_before(next_record)
                found, rejected[:] = rejected[:], []
            too_long = _first_too_long(batch)
            if too_long is not None:
                raise ReadError(_too_long(Path(p.label), int(lines[too_long])))
            out = RawBatch(
                _drop_unnamed(p.label, "line", header, batch.columns, lines),
                pa.array(lines, pa.int64()),
                found,
            )
            yield out
        if rejected:
            yield RawBatch(
                {name: pa.array([], pa.string()) for name in header if not is_unnamed(name)},
                pa.array([], pa.int64()),
                rejected[:],
            )
    finally:
        fh.close()


_UNTERMINATED = "an unterminated quote (a quoted field that is never closed)"


class _QuoteChecker(io.RawIOBase):
    """A CSV stream with its badly quoted records taken out (RFC 4180).

    pyarrow's parser is lenient: an unterminated quote swallows every line after it into one
    field, and a quote inside an unquoted field (``a"b"``) is read as text. Records are checked
    here first: each bad one is replaced by a marker row with one field too many (which
    pyarrow hands to the invalid-row handler) and kept in :attr:`bad` with its line and reason;
    reading goes on at the next physical line, so the rows after it are not lost. Blocks with
    no quote at all pass unchanged (the usual case); the rest are checked by one regular
    expression per run of good records, in C. Memory: one block plus one record (at most
    :data:`MAX_ROW_BYTES`).

    It also counts lines (CR LF, LF or a lone CR end one) and notes where records stop being
    one line each (a blank line, which pyarrow skips; a quoted line break), so that
    :meth:`lines_of` tells the line each record starts at from pyarrow's record number."""

    _BLOCK = 1 << 20

    def __init__(
        self, raw: IO[bytes], delimiter: str, columns: int, label: str, skip: int = 0
    ) -> None:
        self._raw = raw
        self._skip = skip
        """Lines to take out before the header (:attr:`TextFile.hint_lines`); they still
        count in the line numbers."""
        self._label = label
        d = re.escape(delimiter.encode())
        quoted = rb'"[^"]*+(?:""[^"]*+)*+"'
        quoted_one_line = rb'"[^"\r\n]*+(?:""[^"\r\n]*+)*+"'
        if delimiter == "\t":
            # Tab-separated text has no quoting of its own (IANA's text/tab-separated-values;
            # Snowplow's atomic events hold raw JSON): a quote is text unless it opens the
            # field, as Excel's "Unicode text" quotes a field with a tab or a line break.
            unquoted = rb'(?:[^"\t\r\n][^\t\r\n]*+)?+'
        else:
            unquoted = rb'[^"' + d + rb"\r\n]*+"
        self._unquoted = re.compile(unquoted)
        self._quoted = re.compile(quoted)
        end = rb"(?:\r\n|\n|\r)"

        def record(field: bytes) -> bytes:
            return field + rb"(?:" + d + field + rb")*+" + end

        self._one_line_records = re.compile(
            rb"(?:(?![\r\n])"
            + record(rb"(?:" + quoted_one_line + rb"|" + unquoted + rb")")
            + rb")*+"
        )
        """A run of records of one (not blank) line each: the usual case, matched in C."""
        self._record = re.compile(record(rb"(?:" + quoted + rb"|" + unquoted + rb")"))
        """One well quoted record (its quoted fields may hold line breaks)."""
        self._records = re.compile(
            rb"(?:" + record(rb"(?:" + quoted + rb"|" + unquoted + rb")") + rb")*+"
        )
        """A run of well quoted records and blank lines: in CSV (not TSV) every quote in
        it opens or closes a quoted field, so :meth:`_note_run` tells its records apart."""
        self._blank_lines = re.compile(end + rb"++")
        self._rest_of_line = re.compile(rb"[^\r\n]*+" + end + rb"?+")
        self._delim = delimiter.encode()
        self._marker_tail = delimiter.encode() * columns + b"\n"
        self._carry = b""
        self._out = b""
        self._eof = False
        self._line = 1 + skip
        """The physical line at which :attr:`_carry` starts."""
        self._rec = 0
        """The number of records (as pyarrow counts them: blank lines are none) before
        :attr:`_carry`; the header is record 0."""
        self._records_at = array.array("q", [0])
        self._shifts = array.array("q", [skip])
        """Record ``_records_at[i]`` and those after it (up to the next note) start
        ``_shifts[i]`` lines further on than one line per record would put them: the lines
        of blank lines and of records over several lines before them. Sparse: a file of
        one-line records has one note. Written by the thread pyarrow reads on, read by the
        threads it parses on: under :attr:`_notes_lock`."""
        self._notes_lock = threading.Lock()
        self.bad: dict[int, Rejected] = {}
        """The badly quoted records not yet handed over, by the key in their marker row."""
        self._keys = itertools.count()
        """Marker keys: never reused (the parsing threads pop from :attr:`bad` while this
        one adds to it, so its size is no key)."""
        self._open_quote = False
        """Whether the record :meth:`_fault` last looked at ran on in an open quote."""

    def readable(self) -> bool:
        return True

    def readinto(self, b: Any) -> int:
        while not self._out and not (self._eof and not self._carry):
            self._fill()
        n = min(len(b), len(self._out))
        b[:n] = self._out[:n]
        self._out = self._out[n:]
        return n

    def _fill(self) -> None:
        chunk = self._raw.read(self._BLOCK)
        if not chunk:
            self._eof = True
            if self._carry and not self._carry.endswith((b"\n", b"\r")):
                self._carry += b"\n"
        buf = self._carry + chunk if self._carry else chunk
        held = b""
        if not self._eof and buf.endswith(b"\r"):
            # A \r\n may be cut between blocks: the \r waits for the next block.
            buf, held = buf[:-1], b"\r"
        while self._skip:
            m = self._rest_of_line.match(buf)
            assert m is not None  # the pattern matches the empty string
            if m.end() == len(buf) and not self._eof and buf[-1:] not in (b"\n", b"\r"):
                self._carry, self._out = buf + held, b""  # the line ends in a later block
                return
            buf = buf[m.end() :]
            self._skip -= 1
        if not self._eof and b'"' not in buf:
            # No quote: every complete line is a record, one line each, unless a line is
            # blank (pyarrow skips it, so the records after it start one line further on).
            end = max(buf.rfind(b"\n"), buf.rfind(b"\r")) + 1
            n, blank = _line_ends(buf, 0, end) if end else (0, False)
            if blank:
                self._note_run(buf, 0, end)
            else:
                self._rec += n
                self._line += n
            self._out = buf[:end]
            self._carry = buf[end:] + held
            return
        out: list[bytes] = []
        pos = 0
        while pos < len(buf):
            if self._delim != b"\t":
                m = self._records.match(buf, pos)
                assert m is not None  # the pattern matches the empty string
                if m.end() > pos:
                    out.append(buf[pos : m.end()])
                    self._note_run(buf, pos, m.end())
                    pos = m.end()
                    continue
            m = self._one_line_records.match(buf, pos)
            assert m is not None  # the pattern matches the empty string
            if m.end() > pos:  # the usual case: a run of records of one line each
                n = _count_lines(buf, pos, m.end())
                out.append(buf[pos : m.end()])
                self._rec += n
                self._line += n
                pos = m.end()
                continue
            m = self._blank_lines.match(buf, pos) or self._record.match(buf, pos)
            if m is not None:  # blank lines (no record), or one record over several lines
                out.append(buf[pos : m.end()])
                self._rec += buf[pos] not in b"\r\n"
                self._line += _count_lines(buf, pos, m.end())
                self._mark()
                pos = m.end()
                continue
            why = self._fault(buf, pos)
            if why is None:  # the record goes on past this block
                if len(buf) - pos <= MAX_ROW_BYTES:
                    break
                if not self._open_quote:
                    raise ReadError(_too_long(Path(self._label), self._line))
                # A quote left open for longer than a row may be is one never closed.
                why = _UNTERMINATED
            if why == "":  # a good last record cut by the block
                break
            line_end = self._rest_of_line.match(buf, pos).end()  # type: ignore[union-attr]
            if line_end == len(buf) and not self._eof and buf[line_end - 1 :] not in (b"\n", b"\r"):
                if len(buf) - pos <= MAX_ROW_BYTES:
                    break  # the bad record's line goes on in the next block
                raise ReadError(_too_long(Path(self._label), self._line))
            text = buf[pos:line_end].decode("utf-8", "replace").rstrip("\r\n")
            key = next(self._keys)
            self.bad[key] = Rejected(self._line, why, text)
            out.append(b"\x01" + str(key).encode() + self._marker_tail)
            self._rec += 1
            self._line += 1
            pos = line_end
        self._carry = buf[pos:] + held
        if self._eof and self._carry:
            out.append(self._carry)  # pyarrow says what is wrong with it, if anything
            self._rec += 1
            self._line += _count_lines(self._carry, 0, len(self._carry))
            self._mark()
            self._carry = b""
        self._out = b"".join(out)

    def _note_run(self, buf: bytes, start: int, end: int) -> None:
        """Count the records and lines of ``buf[start:end]``, well quoted records and blank
        lines in which every quote opens or closes a quoted field, and note where they stop
        being one line each; in numpy, without a step per record."""
        a = np.frombuffer(buf, np.uint8, count=end - start, offset=start)
        lf = a == 10
        breaks = lf | (a == 13)
        last = breaks.copy()  # the last byte of each line end (the LF of a CR LF)
        last[:-1] &= ~(breaks[:-1] & ~lf[:-1] & lf[1:])
        ends = np.flatnonzero(last)
        if buf.find(b'"', start, end) >= 0:
            # A line end after an odd number of quotes is inside a quoted field.
            quotes = np.flatnonzero(a == 34)
            record_ends = np.flatnonzero((np.searchsorted(quotes, ends) & 1) == 0)
        else:
            record_ends = np.arange(len(ends))
        if not len(record_ends):
            return
        # Each record (or blank line) starts on the line after the previous one ends.
        first = np.empty(len(record_ends), dtype=np.int64)
        first[0] = 0
        first[1:] = record_ends[:-1] + 1
        starts = np.zeros(len(record_ends), dtype=np.int64)
        starts[1:] = ends[record_ends[:-1]] + 1
        kept = ~breaks[starts]  # a blank line is no record
        lines = self._line + first[kept]
        records = self._rec + np.arange(int(np.count_nonzero(kept)), dtype=np.int64)
        shifts = lines - records - 1
        change = np.empty(len(shifts), dtype=bool)
        if len(shifts):
            change[0] = shifts[0] != self._shifts[-1]
            change[1:] = shifts[1:] != shifts[:-1]
        with self._notes_lock:
            self._records_at.frombytes(records[change].tobytes())
            self._shifts.frombytes(shifts[change].tobytes())
        self._rec += len(records)
        self._line += len(ends)
        self._mark()  # blank lines at the end shift the next record

    def _mark(self) -> None:
        """Note where record :attr:`_rec` starts when that is not one line per record on
        from the last note."""
        shift = self._line - self._rec - 1
        if shift != self._shifts[-1]:
            with self._notes_lock:
                self._records_at.append(self._rec)
                self._shifts.append(shift)

    def lines_of(self, records: np.ndarray) -> np.ndarray:
        """The physical line (1-based, the header is line 1) at which each of ``records``
        (pyarrow's row numbers less one: the header is record 0) starts."""
        with self._notes_lock:  # copies: a view would stop the reading thread's appends
            at = np.array(self._records_at, dtype=np.int64)
            shifts = np.array(self._shifts, dtype=np.int64)
        return records + 1 + shifts[np.searchsorted(at, records, side="right") - 1]

    def forget_before(self, record: int) -> None:
        """Drop the notes no record from ``record`` on needs (bounded memory)."""
        with self._notes_lock:
            i = bisect.bisect_right(self._records_at, record) - 1
            if i > 0:
                del self._records_at[:i]
                del self._shifts[:i]

    def close(self) -> None:
        self._raw.close()
        super().close()

    def _fault(self, buf: bytes, pos: int) -> str | None:
        """Why the record at ``pos`` is badly quoted; None when it runs past the end of
        ``buf`` before that is known, "" when it is good but not yet complete."""
        i = pos
        self._open_quote = False
        while True:
            if buf[i : i + 1] == b'"':
                m = self._quoted.match(buf, i)
                if m is None:
                    if not self._eof:
                        self._open_quote = True
                        return None
                    return _UNTERMINATED
                j = m.end()
                after = buf[j : j + 1]
                if after == b"" and not self._eof:
                    return None
                if after == self._delim:
                    i = j + 1
                    continue
                if after in (b"\n", b"\r", b""):
                    return ""
                return (
                    "a quote followed by text inside a field (RFC 4180: a quoted field "
                    'ends at its closing quote; write a quote inside a field as "")'
                )
            j = self._unquoted.match(buf, i).end()  # type: ignore[union-attr]
            after = buf[j : j + 1]
            if after == b"" and not self._eof:
                return None
            if after == self._delim:
                i = j + 1
                continue
            if after == b'"':
                return (
                    "a quote inside an unquoted field (RFC 4180: quote the whole field and "
                    'double the quote, "a""b")'
                )
            return ""


def _first_too_long(batch: pa.RecordBatch) -> int | None:
    """The index of the first row of ``batch`` (text columns) whose fields hold more than
    :data:`MAX_ROW_BYTES` together, else None. pyarrow's CSV reader refuses a record only when
    it straddles two blocks of that size, so a record up to twice as long could pass it."""
    lengths = [pc.fill_null(pc.binary_length(col), 0) for col in batch.columns]
    if sum(pc.max(x).as_py() or 0 for x in lengths) <= MAX_ROW_BYTES:
        return None  # no row can be over: the usual case, one pass per column
    total = lengths[0]
    for x in lengths[1:]:
        total = pc.add(total, x)
    over = pc.greater(total, MAX_ROW_BYTES)
    return int(pc.index(over, True).as_py()) if pc.any(over).as_py() else None


def _count_lines(buf: bytes, start: int, end: int) -> int:
    """The line ends (CR LF, LF or a lone CR) in ``buf[start:end]``, which does not end
    between a CR and an LF."""
    if end - start < 4096:
        n = buf.count(b"\n", start, end)
        cr = buf.count(b"\r", start, end)
        return n + cr - buf.count(b"\r\n", start, end) if cr else n
    return _line_ends(buf, start, end)[0]


def _line_ends(buf: bytes, start: int, end: int) -> tuple[int, bool]:
    """The line ends in ``buf[start:end]`` (whole lines, ``start`` at the start of one), and
    whether one of those lines is blank; in numpy (``bytes.count`` is slower)."""
    a = np.frombuffer(buf, np.uint8, count=end - start, offset=start)
    lf = a == 10
    if buf.find(b"\r", start, end) < 0:
        blank = bool(lf[0]) or bool(np.any(lf[1:] & lf[:-1]))
        return int(np.count_nonzero(lf)), blank
    cr = a == 13
    ends = lf | cr
    crlf = cr[:-1] & lf[1:]
    after_end = lf[:-1] | (cr[:-1] & ~lf[1:])  # a line starts after this byte
    blank = bool(ends[0]) or bool(np.any(after_end & ends[1:]))
    return int(np.count_nonzero(ends)) - int(np.count_nonzero(crlf)), blank


def _kept_records(start: int, n: int, skipped: np.ndarray) -> np.ndarray:
    """The first ``n`` record numbers from ``start`` on that are not in ``skipped`` (sorted,
    none below ``start``): the records of a batch, around those the parser rejected."""
    candidates = np.arange(start, start + n + len(skipped), dtype=np.int64)
    keep = np.ones(len(candidates), dtype=bool)
    at = skipped - start
    keep[at[at < len(keep)]] = False
    return candidates[keep][:n]


def _parquet_batch_rows(pf: pq.ParquetFile) -> int:
    """Rows per batch of a Parquet file: :data:`BATCH_ROWS`, fewer when its rows are wide,
    so that a batch stays near :data:`BATCH_BYTES` as Arrow holds it (measured on the first
    1,000 rows; at least 1,000 rows)."""
    if pf.metadata.num_rows <= 1_000:
        return BATCH_ROWS
    sample = next(pf.iter_batches(batch_size=1_000))
    per_row = max(sample.nbytes / max(sample.num_rows, 1), 1.0)
    return int(max(1_000, min(BATCH_ROWS, BATCH_BYTES / per_row)))


def _parquet_batches(p: _Input, progress: Progress | None) -> Iterator[RawBatch]:
    pf = pq.ParquetFile(p.parquet_source())
    size = p.size()
    total = max(pf.metadata.num_rows, 1)
    row = 1
    for batch in pf.iter_batches(batch_size=_parquet_batch_rows(pf)):
        n = batch.num_rows
        yield text_batch(named_columns(batch, p.label, row), row)
        row += n
        if progress is not None:
            progress(int(size * min(row - 1, total) / total))


def _is_bytes(t: pa.DataType) -> bool:
    """Whether ``t`` holds bytes (Parquet's BYTE_ARRAY without a UTF-8 annotation, or a
    FIXED_LEN_BYTE_ARRAY that is no UUID)."""
    if pa.types.is_dictionary(t):
        t = t.value_type
    return bool(
        pa.types.is_binary(t) or pa.types.is_large_binary(t) or pa.types.is_fixed_size_binary(t)
    )


def _is_text(t: pa.DataType) -> bool:
    """Whether ``t`` holds text (UTF-8 by its type, not checked by the file's reader)."""
    if pa.types.is_dictionary(t):
        t = t.value_type
    return bool(pa.types.is_string(t) or pa.types.is_large_string(t))


_HEX = np.frombuffer(b"0123456789abcdef", np.uint8)
_UUID_DIGITS = np.array([*range(8), *range(9, 13), *range(14, 18), *range(19, 23), *range(24, 36)])


def _uuid_text(arr: pa.ExtensionArray) -> pa.Array:
    """A UUID column (Parquet's UUID type, Arrow's ``arrow.uuid``) as its canonical text,
    ``6ba7b810-9dad-11d1-80b4-00c04fd430c8`` (RFC 9562, lower case), nulls kept: the 16 bytes
    of every row written as hex at once (``str(uuid.UUID(...))`` per row: ~1 s a million)."""
    storage = arr.storage
    n = len(storage)
    raw = np.frombuffer(storage.buffers()[1], np.uint8, n * 16, storage.offset * 16)
    digits = np.empty((n, 32), np.uint8)
    digits[:, 0::2] = _HEX[raw.reshape(n, 16) >> 4]
    digits[:, 1::2] = _HEX[raw.reshape(n, 16) & 15]
    text = np.full((n, 36), ord("-"), np.uint8)
    text[:, _UUID_DIGITS] = digits
    offsets = np.arange(0, 36 * n + 1, 36, dtype=np.int32)
    strings = pa.Array.from_buffers(
        pa.string(), n, [None, pa.py_buffer(offsets), pa.py_buffer(text)]
    )
    if not storage.null_count:
        return strings
    return pc.if_else(storage.is_valid(), strings, pa.scalar(None, pa.string()))


def _bytes_text(value: Any) -> str:
    """``json.dumps``' fallback for values inside nested columns: bytes as UTF-8 text (a byte
    that is not UTF-8 written as ``\\xff``), anything else as ``str``; never ``b'...'``."""
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).decode("utf-8", "backslashreplace")
    return str(value)


def named_columns(batch: pa.RecordBatch, label: str, first_row: int) -> pa.RecordBatch:
    """``batch`` (of a Parquet file or a DataFrame, rows numbered from ``first_row``)
    without its columns that have no name (:func:`is_unnamed`), which must hold no value:
    else :class:`ReadError` naming the column's position and the first row holding one."""
    names = list(batch.schema.names)
    named = [i for i, n in enumerate(names) if not is_unnamed(n)]
    if len(named) == len(names):
        return batch
    rows = range(first_row, first_row + batch.num_rows)
    _drop_unnamed(label, "row", names, batch.columns, rows)
    return batch.select(named)


def text_batch(batch: pa.RecordBatch, first_line: int) -> RawBatch:
    """A record batch (Parquet, a DataFrame) as text columns, its rows numbered from
    ``first_line``. Bytes columns are decoded as UTF-8; a row with bytes that are not UTF-8
    is rejected naming the column (never stored as Python's ``b'...'`` text)."""
    lines = pa.array(range(first_line, first_line + batch.num_rows), pa.int64())
    bad: dict[int, str] = {}
    shown = list(batch.columns)  # the columns as the rejected rows' text shows them
    for i, name in enumerate(batch.schema.names):
        col = batch.column(i)
        if _is_text(col.type):
            # A text column's bytes are not checked by Parquet's readers: one that is not
            # UTF-8 is read as bytes here, and its bad rows rejected like a bytes column's.
            try:
                col.validate(full=True)
            except pa.ArrowInvalid:
                if pa.types.is_dictionary(col.type):
                    col = col.dictionary_decode()
                col = col.cast(
                    pa.large_binary() if pa.types.is_large_string(col.type) else pa.binary()
                )
                shown[i] = col
        if _is_bytes(col.type):
            if pa.types.is_dictionary(col.type):
                col = col.dictionary_decode()
            if pa.types.is_fixed_size_binary(col.type):
                col = col.cast(pa.binary())
            try:
                col.cast(pa.string())
            except pa.ArrowInvalid:
                for j, v in enumerate(col.to_pylist()):
                    if v is not None and j not in bad:
                        try:
                            v.decode("utf-8")
                        except UnicodeDecodeError:
                            bad[j] = name
    rejected = []
    if bad:
        rows = pa.RecordBatch.from_arrays(shown, names=batch.schema.names).to_pylist()
        for j, name in sorted(bad.items()):
            text = json.dumps(
                {
                    k: v.decode("utf-8", "backslashreplace") if isinstance(v, bytes) else v
                    for k, v in rows[j].items()
                },
                default=str,
                ensure_ascii=False,
            )
            rejected.append(
                Rejected(first_line + j, f"column {name!r} holds bytes that are not UTF-8", text)
            )
        keep = pa.array([j not in bad for j in range(batch.num_rows)])
        batch, lines = batch.filter(keep), lines.filter(keep)
    cols = {name: _to_string(batch.column(i)) for i, name in enumerate(batch.schema.names)}
    numbers = frozenset(f.name for f in batch.schema if _is_number_type(f.type))
    return RawBatch(cols, lines, rejected, numbers)


def _is_number_type(t: pa.DataType) -> bool:
    return bool(pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_decimal(t))


def _to_string(arr: pa.Array) -> pa.Array:
    t = arr.type
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        return arr.cast(pa.string())
    if pa.types.is_map(t):
        # Map columns (e.g. Kundresa's own ``properties``) become JSON objects, as
        # ``json.dumps(dict(entries))``: built from the flat keys and values (the offsets of
        # even a sliced array point into its whole children), a third faster than a list of
        # entries per row; in slices of _OBJECT_ROWS rows, which bounds the Python objects
        # held at once.
        if len(arr) > _OBJECT_ROWS:
            return pa.concat_arrays(
                [
                    _to_string(arr.slice(start, _OBJECT_ROWS))
                    for start in range(0, len(arr), _OBJECT_ROWS)
                ]
            )
        offsets = arr.offsets.to_numpy()
        base, end = int(offsets[0]), int(offsets[-1])
        keys = arr.keys.slice(base, end - base).to_pylist()
        items = arr.items.slice(base, end - base).to_pylist()
        bounds = (offsets - base).tolist()
        encode = json.JSONEncoder(default=str).encode

        def text(a: int, b: int) -> str:
            entries = dict(zip(keys[a:b], items[a:b], strict=True))
            if len(entries) == b - a:
                return encode(entries)
            # A key twice (a map's entries need not be distinct): every entry written, so that
            # the load quarantines the row as it does a JSON object naming a key twice.
            pairs = (encode({k: v})[1:-1] for k, v in zip(keys[a:b], items[a:b], strict=True))
            return "{" + ", ".join(pairs) + "}"

        return pa.array(
            [
                text(a, b) if valid else None
                for valid, a, b in zip(
                    arr.is_valid().to_pylist(), bounds[:-1], bounds[1:], strict=True
                )
            ],
            pa.string(),
        )
    if pa.types.is_nested(t):
        return pa.array(
            [None if v is None else json.dumps(v, default=_bytes_text) for v in arr.to_pylist()],
            pa.string(),
        )
    if pa.types.is_dictionary(t):
        return _to_string(arr.dictionary_decode())
    if isinstance(t, pa.UuidType):
        return _uuid_text(arr)
    if pa.types.is_fixed_size_binary(t):
        return arr.cast(pa.binary()).cast(pa.string())  # UTF-8 checked by text_batch
    try:
        return arr.cast(pa.string())
    except (pa.ArrowNotImplementedError, pa.ArrowInvalid):
        return pa.array([None if v is None else str(v) for v in arr.to_pylist()], pa.string())


def _json_kind(v: Any) -> str:
    """What a parsed JSON value is, in JSON's words (for a quarantine reason).

    >>> _json_kind(None), _json_kind([1]), _json_kind(2.5), _json_kind("x"), _json_kind(True)
    ('null', 'an array', 'a number', 'a string', 'true')
    """
    if v is None or isinstance(v, bool):
        return json.dumps(v)
    if isinstance(v, int | float):
        return "a number"
    return "a string" if isinstance(v, str) else "an array"


def _json_scalar(v: Any) -> str | None:
    if v is None:
        return None
    if isinstance(v, str):
        return v
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int | float):
        return repr(v)
    return json.dumps(v, ensure_ascii=False, separators=(",", ":"))


class _RepeatedKeys:
    """An ``object_pairs_hook`` that builds each object as ``json.loads`` does and notes the
    first key some object of one parse holds twice, at any depth (:meth:`reset` before each
    parse, :meth:`why` after it): ``json.loads`` would keep the last value silently
    (``{"customer_id": "c4", ..., "customer_id": "c5"}`` filed under c5, or a property
    ``{"plan": "free", "plan": "pro"}`` read as pro)."""

    def __init__(self) -> None:
        self.repeated: str | None = None
        self._holder: object = None

    def reset(self) -> None:
        self.repeated, self._holder = None, None

    def __call__(self, pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        obj = dict(pairs)
        if len(obj) != len(pairs) and self.repeated is None:
            seen: set[str] = set()
            for key, _ in pairs:
                if key in seen:
                    self.repeated, self._holder = key, obj
                    break
                seen.add(key)
        return obj

    def why(self, value: object) -> str | None:
        """The quarantine reason for the parsed ``value`` when a key was repeated in it."""
        if self.repeated is None:
            return None
        where = "the object" if self._holder is value else "an object nested in it"
        return f"the key {self.repeated!r} appears more than once in {where}"


def _unnamed_key(obj: dict[str, Any]) -> str | None:
    """Drop the keys of ``obj`` without a name (:func:`is_unnamed`) whose value is null or
    empty text; the quarantine reason when one holds a value (a field whose name was lost:
    no column to file it under)."""
    for key in [k for k in obj if is_unnamed(k)]:
        value = obj[key]
        if value is None or (isinstance(value, str) and not value.strip()):
            del obj[key]
        else:
            return f"the key {key!r} has no name but holds a value; name the field"
    return None


def _jsonl_batches(p: _Input, encoding: str, progress: Progress | None) -> Iterator[RawBatch]:
    names: dict[str, None] = {}
    keys = _RepeatedKeys()
    decode = json.JSONDecoder(object_pairs_hook=keys).decode
    with p.open_utf8(encoding, progress) as fh:
        rows: list[dict[str, Any]] = []
        lines: list[int] = []
        rejected: list[Rejected] = []
        lineno = 0
        while True:
            raw = fh.readline(MAX_ROW_BYTES + 1)
            if not raw:
                break
            lineno += 1
            if len(raw) > MAX_ROW_BYTES:
                raise ReadError(_too_long(Path(p.label), lineno))
            if not raw.strip():
                continue
            try:
                # utf-8-sig: the first line may start with the file's byte order mark.
                keys.reset()
                obj = decode(raw.decode("utf-8-sig", "surrogatepass"))
            except (ValueError, RecursionError) as exc:
                text = raw.decode("utf-8", "replace").rstrip("\r\n")
                why = exc if isinstance(exc, ValueError) else _TOO_DEEP
                rejected.append(Rejected(lineno, f"invalid JSON: {why}", text))
                continue
            if not isinstance(obj, dict):
                text = raw.decode("utf-8", "replace").rstrip("\r\n")
                rejected.append(
                    Rejected(lineno, f"expected a JSON object, found {_json_kind(obj)}", text)
                )
                continue
            unnamed = _unnamed_key(obj)
            if unnamed is not None:
                text = raw.decode("utf-8", "replace").rstrip("\r\n")
                rejected.append(Rejected(lineno, unnamed, text))
                continue
            names.update(dict.fromkeys(obj))  # the header has them: the batch has them too
            repeated = keys.why(obj)
            if repeated is not None:
                text = raw.decode("utf-8", "replace").rstrip("\r\n")
                rejected.append(Rejected(lineno, repeated, text))
                continue
            rows.append(obj)
            lines.append(lineno)
            if len(rows) >= BATCH_ROWS:
                yield _json_batch(rows, lines, rejected, list(names))
                rows, lines, rejected = [], [], []
        if rows or rejected:
            yield _json_batch(rows, lines, rejected, list(names))


def _is_json_array(p: _Input, encoding: str) -> bool:
    """Whether a JSON file is one array (its first character other than a space or a byte
    order mark is ``[``) rather than JSON Lines."""
    with p.open_utf8(encoding, None) as fh:
        head = fh.read(SNIFF_BYTES)
    return head.decode("utf-8", "replace").lstrip("\ufeff \t\r\n").startswith("[")


def _json_array_items(p: _Input, encoding: str, progress: Progress | None) -> Iterator[Any]:
    """The elements of a file that is one JSON array, each as ``(line, value, repeated)``
    (the line it starts on; the quarantine reason when an object in it holds a key twice, at
    any depth (:class:`_RepeatedKeys`), or None), read in
    pieces: at most one element (up to :data:`MAX_ROW_BYTES`) and one piece are held.

    An array that is not valid JSON raises :class:`ReadError` with the line: the elements'
    bounds are not known past a syntax error, so no element of such a file is loaded."""
    label = Path(p.label)
    keys = _RepeatedKeys()
    decoder = json.JSONDecoder(object_pairs_hook=keys)
    text = codecs.getincrementaldecoder("utf-8-sig")("strict")
    space = " \t\r\n"
    with p.open_utf8(encoding, progress) as fh:
        buf, pos, line, eof = "", 0, 1, False

        def more() -> bool:
            nonlocal buf, pos, eof
            if eof:
                return False
            chunk = fh.read(1 << 20)
            eof = not chunk
            try:
                add = text.decode(chunk, final=eof)
            except UnicodeDecodeError:
                raise ReadError(
                    f"{label}:{line + buf.count(chr(10), pos)}: not valid UTF-8; name the "
                    "file's encoding with --encoding (e.g. cp1252, latin-1)"
                ) from None
            buf = buf[pos:] + add
            pos = 0
            return True

        def skip_space() -> str:
            """The next character other than a space ("" at the end of the file)."""
            nonlocal pos, line
            while True:
                start = pos
                while pos < len(buf) and buf[pos] in space:
                    pos += 1
                line += buf.count("\n", start, pos)
                if pos < len(buf):
                    return buf[pos]
                if not more():
                    return ""

        def refuse(why: str) -> ReadError:
            return ReadError(
                f"{label}:{line}: {why}; the file is one JSON array and nothing of it was "
                "loaded (fix the JSON, or save it as JSON Lines, one object a line)"
            )

        if skip_space() != "[":
            raise refuse("expected [ to open the array")
        pos += 1
        first = True
        while True:
            c = skip_space()
            if c == "]" and first:
                pos += 1
                break
            if c == "":
                raise refuse("the array is never closed with ]")
            while True:  # one element, read on until it and what follows it are whole
                try:
                    keys.reset()
                    value, end = decoder.raw_decode(buf, pos)
                except RecursionError:
                    raise refuse(_TOO_DEEP) from None
                except json.JSONDecodeError as exc:
                    if len(buf) - pos > MAX_ROW_BYTES:
                        raise ReadError(_too_long(label, line)) from None
                    if more():
                        continue
                    raise refuse(f"invalid JSON: {exc.msg}") from None
                if end == len(buf) and more():
                    continue  # a number or a literal may go on in the next piece
                break
            if end - pos > MAX_ROW_BYTES:
                raise ReadError(_too_long(label, line))
            yield line, value, keys.why(value) if isinstance(value, dict) else None, buf[pos:end]
            line += buf.count("\n", pos, end)
            pos = end
            c = skip_space()
            pos += 1
            if c == "]":
                break
            if c != ",":
                raise refuse("expected , or ] after an element of the array")
            first = False
        if skip_space() != "":
            raise refuse("text after the end of the array")


def _json_array_batches(p: _Input, encoding: str, progress: Progress | None) -> Iterator[RawBatch]:
    """The objects of a file that is one JSON array, as the rows of JSON Lines (each
    numbered by the line its element starts on)."""
    names: dict[str, None] = {}
    rows: list[dict[str, Any]] = []
    lines: list[int] = []
    rejected: list[Rejected] = []
    for line, value, repeated, source in _json_array_items(p, encoding, progress):
        if not isinstance(value, dict):
            why = f"expected a JSON object, found {_json_kind(value)}"
            rejected.append(Rejected(line, why, source))
            continue
        unnamed = _unnamed_key(value)
        if unnamed is not None:
            rejected.append(Rejected(line, unnamed, source))
            continue
        names.update(dict.fromkeys(value))  # the header has them: the batch has them too
        if repeated is not None:
            rejected.append(Rejected(line, repeated, source))
            continue
        rows.append(value)
        lines.append(line)
        if len(rows) >= BATCH_ROWS:
            yield _json_batch(rows, lines, rejected, list(names))
            rows, lines, rejected = [], [], []
    if rows or rejected:
        yield _json_batch(rows, lines, rejected, list(names))


def _json_batch(
    rows: list[dict[str, Any]], lines: list[int], rejected: list[Rejected], names: list[str]
) -> RawBatch:
    cols, numbers, number_rows = {}, set(), {}
    for name in names:
        values = [r.get(name) for r in rows]
        cols[name], only_numbers, marks = _json_column(values)
        if only_numbers:
            numbers.add(name)
        if marks is not None:
            number_rows[name] = marks
    return RawBatch(cols, pa.array(lines, pa.int64()), rejected, frozenset(numbers), number_rows)


def _json_column(values: list[Any]) -> tuple[pa.Array, bool, pa.Array | None]:
    """JSON values as text (:func:`_json_scalar`; a JSON float as Arrow writes a double, as
    a Parquet file's column is read: ``1001.0`` is ``1001``, so that one id is one text
    from either file), whether every value is a number or null, and, when some value is a
    number, which ones are (:attr:`RawBatch.number_rows`)."""
    texts: list[str | None] = []
    floats: list[int] = []
    marks: list[bool] = []
    only = True
    for i, v in enumerate(values):
        kind = type(v)
        marks.append(kind is float or kind is int)
        if kind is float:
            floats.append(i)
            texts.append(None)
            continue
        only = only and (v is None or kind is int)
        texts.append(_json_scalar(v))
    if floats:
        arrow = pa.array([values[i] for i in floats], pa.float64()).cast(pa.string())
        for i, text in zip(floats, arrow.to_pylist(), strict=True):
            texts[i] = text
    return pa.array(texts, pa.string()), only, (pa.array(marks) if any(marks) else None)
