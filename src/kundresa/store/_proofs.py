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

if TYPE_CHECKING:
    import pyarrow.parquet as pq

__all__ = ["Identity", "folder", "identity", "proven_distinct_ids", "remember_distinct_ids"]

_VERSION = 1
_OFF = ("0", "false", "no", "off")
_VERDICT = "present, distinct, stored as they are"


@dataclass(frozen=True)
class Identity:
    """A file's event ids as stored: ``digest``, a SHA-256 (hex)."""

    digest: str


def folder() -> Path | None:
    """The check cache's folder: ``KUNDRESA_CHECK_CACHE`` when it names one, None when it
    turns the cache off (``0``, ``off``, ``no``, ``false``), else
    ``$XDG_CACHE_HOME/kundresa/checks`` (default, or for a relative ``XDG_CACHE_HOME``,
    ``~/.cache``)."""
    named = os.environ.get("KUNDRESA_CHECK_CACHE", "").strip()
    if named.lower() in _OFF:
        return None
    if named:
        return Path(named)
    cache = os.environ.get("XDG_CACHE_HOME", "").strip()
    try:
        # A relative XDG_CACHE_HOME is invalid (the XDG Base Directory Specification).
        base = Path(cache) if os.path.isabs(cache) else Path.home() / ".cache"
    except RuntimeError:  # no home folder to be found
        return None
    return base / "kundresa" / "checks"


def identity(path: str | os.PathLike[str], meta: pq.FileMetaData) -> Identity | None:
    """The digest of the ``event_id`` column of the Parquet file at ``path`` (metadata
    ``meta``) as stored, or None: no such column, a column kept in another file, a file that
    cannot be read or does not match ``meta``."""
    names = [meta.schema.column(i).path for i in range(meta.num_columns)]
    if names.count("event_id") != 1 or folder() is None:
        return None
    at = names.index("event_id")
    try:
        with open(path, "rb") as f:
            st = os.fstat(f.fileno())
            digest = hashlib.sha256(f"kundresa event ids {_VERSION}".encode())
            digest.update(str(meta.schema.column(at).logical_type).encode())
            for g in range(meta.num_row_groups):
                c = meta.row_group(g).column(at)
                start = c.data_page_offset
                if c.has_dictionary_page and c.dictionary_page_offset:
                    start = min(start, c.dictionary_page_offset)
                size = c.total_compressed_size
                if c.file_path or start < 4 or size < 0 or start + size > st.st_size:
                    return None
                told = (meta.row_group(g).num_rows, c.physical_type, c.compression, c.encodings)
                digest.update(repr((*told, c.num_values, size)).encode())
                f.seek(start)
                if len(data := f.read(size)) != size:
                    return None
                digest.update(data)
    except (OSError, ValueError):
        return None
    return Identity(digest.hexdigest())


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
