"""What the in-place check proved about a Parquet file's event ids, remembered by their bytes.

Reading a file in place (:func:`kundresa.store.in_place.read_in_place`) needs a proof that
the ingest's deduplication would drop nothing: every event id present, distinct, and stored
as it is. For a 10M-row file that proof is most of the check's cost (the event ids read,
decoded, hashed and set-tested: ~1 s of CPU), and it is the same on every run over the same
event ids, while a person exploring an export runs one command after another on it. So a
file that passed gets one small entry in the check cache (:func:`folder`), and the next check
of a file with the same event ids skips them (it still reads and checks the customer ids,
event names and times, which the analyses read anyway).

An entry is named by the digest of the event ids as stored (:func:`identity`): the SHA-256
of the ``event_id`` column's bytes in every row group (its pages exactly as written, ~10-20 ms
for 10M ids compressed to 7 MB) with what decodes them (row counts, physical and logical
type, codec, encodings, sizes). Any change to an event id, a row added or removed, changes
the digest, whatever the file's times say; a copy of the file (same bytes) finds the entry.
The cache is only a shortcut: an entry that cannot be read, written or parsed is passed over,
and ``KUNDRESA_CHECK_CACHE=0`` turns it off; ``KUNDRESA_CHECK_CACHE`` may also name the
folder to use. Entries are a few hundred bytes, one per distinct set of event ids checked.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from kundresa._env import OFF, ON

if TYPE_CHECKING:
    import pyarrow.parquet as pq

__all__ = [
    "EVENT_ID_RULE",
    "Identity",
    "digest_of",
    "folder",
    "identity",
    "proven_distinct_ids",
    "remember_distinct_ids",
]

_VERSION = 3
"""The digest's layout (3: the 100 bytes past each column chunk and the writer's version
digested too, and the proofs made by the first page walk, which could be fooled by a crafted
page header, no longer found)."""

_PAST = 100
"""The bytes past a column chunk's stated size that Arrow may read (its ``kMaxDictHeaderSize``
for files of parquet-mr before 1.2.9), digested with it."""

EVENT_ID_RULE = "355994bb"
"""The first digits of the SHA-256 of the in-place check's SQL test of an event id
(``kundresa.store.in_place._clean_parts()["event_id"]``), part of every digest: a test pins
it, so a change to what passes as an event id changes it, and proofs made under the old
rule are never found."""
_VERDICT = "present, distinct, stored as they are"


@dataclass(frozen=True)
class Identity:
    """A file's event ids as stored: ``digest``, a SHA-256 (hex)."""

    digest: str


def folder() -> Path | None:
    """The check cache's folder: ``KUNDRESA_CHECK_CACHE`` when it names one (``~`` expanded;
    a relative path is taken from the current folder), None when it turns the cache off
    (``0``, ``off``, ``no``, ``false``, any case), else ``$XDG_CACHE_HOME/kundresa/checks``
    (also for ``1``, ``on``, ``yes``, ``true``); ``~/.cache`` when ``XDG_CACHE_HOME`` is unset
    or relative (invalid by the XDG Base Directory Specification); None when the home folder
    is unknown or relative."""
    named = os.environ.get("KUNDRESA_CHECK_CACHE", "").strip()
    if named.lower() in OFF:
        return None
    if named and named.lower() not in ON:
        return Path(os.path.abspath(os.path.expanduser(named)))
    cache = os.environ.get("XDG_CACHE_HOME", "").strip()
    if os.path.isabs(cache):
        return Path(cache) / "kundresa" / "checks"
    raw = os.environ.get("HOME")
    if raw is not None:  # set: used as it is (an empty or relative one is no home folder)
        return Path(raw) / ".cache" / "kundresa" / "checks" if os.path.isabs(raw) else None
    try:
        home = Path.home()  # the user database's
    except RuntimeError:  # no home folder to be found
        return None
    return home / ".cache" / "kundresa" / "checks" if home.is_absolute() else None


def digest_of(fd: int, meta: pq.FileMetaData) -> Identity | None:
    """The digest of the ``event_id`` column as stored in the open Parquet file ``fd``
    (metadata ``meta``, read from the same open file), or None: no such column, a column
    kept in another file, a file that cannot be read or does not match ``meta``, or the
    check cache off."""
    names = [meta.schema.column(i).path for i in range(meta.num_columns)]
    if names.count("event_id") != 1 or folder() is None:
        return None
    at = names.index("event_id")
    try:
        size_of_file = os.fstat(fd).st_size
        column = meta.schema.column(at)
        digest = hashlib.sha256(f"kundresa event ids {_VERSION} {EVENT_ID_RULE}".encode())
        schema = (
            column.physical_type, str(column.logical_type), column.converted_type,
            column.length, column.max_definition_level, column.max_repetition_level,
        )  # fmt: skip
        digest.update(repr(schema).encode())
        # The writer's version: Arrow reads the same bytes otherwise for some old writers.
        digest.update(repr(meta.created_by).encode())
        for g in range(meta.num_row_groups):
            c = meta.row_group(g).column(at)
            start = c.data_page_offset
            if c.has_dictionary_page and c.dictionary_page_offset:
                start = min(start, c.dictionary_page_offset)
            size = c.total_compressed_size
            rows = meta.row_group(g).num_rows
            told = (rows, c.physical_type, c.compression, c.encodings)
            if not rows:  # nothing of it is read (its offsets may be 0)
                digest.update(repr((*told, c.num_values, size)).encode())
                continue
            if c.file_path or start < 4 or size < 0 or start + size > size_of_file:
                return None
            pages = (c.dictionary_page_offset or 0) - start, c.data_page_offset - start
            digest.update(repr((*told, c.num_values, size, pages)).encode())
            # And the bytes just past it: Arrow reads up to 100 more for files of old writers
            # (parquet-mr before 1.2.9 left a dictionary page's header out of the size).
            whole = min(size + _PAST, size_of_file - start)
            data = os.pread(fd, whole, start)
            if len(data) != whole:
                return None
            digest.update(data)
    except (OSError, ValueError, OverflowError):
        return None
    return Identity(digest.hexdigest())


def identity(path: str | os.PathLike[str]) -> Identity | None:
    """:func:`digest_of` the Parquet file at ``path`` (opened once: its metadata and event
    ids from the same open file), or None."""
    import pyarrow.parquet as pq

    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
    except (OSError, ValueError):
        return None
    try:
        with open(os.dup(fd), "rb") as f:
            meta = pq.read_metadata(f)
        return digest_of(fd, meta)
    except (OSError, ValueError):
        return None
    finally:
        os.close(fd)


def _entry(where: Path, ident: Identity) -> Path:
    return where / f"{ident.digest[:40]}.txt"


def proven_distinct_ids(ident: Identity | None) -> bool:
    """Whether the check cache holds the proof that the event ids with this ``ident``
    (:func:`identity`) are all present, distinct and stored as they are. False for no entry,
    an unreadable or other entry, or the cache off."""
    where = folder()
    if where is None or ident is None:
        return False
    try:
        # Without blocking: a named pipe put in an entry's place would wait for a writer.
        fd = os.open(_entry(where, ident), os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
        with open(fd, "rb") as f:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                return False
            text = f.read(4096).decode()
    except (OSError, ValueError):
        return False
    return text == f"{ident.digest}\n{_VERDICT}\n"


def remember_distinct_ids(ident: Identity | None) -> None:
    """Write the check cache's entry for the event ids with this ``ident``: proven present,
    distinct and stored as they are. Written whole or not at all (a temporary file renamed);
    any failure (a read-only home, a full disk) is passed over."""
    where = folder()
    if where is None or ident is None:
        return
    import tempfile

    with contextlib.suppress(OSError, ValueError):
        where.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd, tmp = tempfile.mkstemp(dir=where, prefix=".entry-", suffix=".tmp")
        try:
            with os.fdopen(fd, "w") as f:
                f.write(f"{ident.digest}\n{_VERDICT}\n")
            os.replace(tmp, _entry(where, ident))
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
