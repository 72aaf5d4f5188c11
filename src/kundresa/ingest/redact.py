"""Rewriting an event file without the rows that mention some ids (forgetting a person).

A row *mentions* an id when one of its fields, trimmed, equals the id, or a field holding JSON
contains the id as a JSON string (``"anon-1"``, e.g. inside a GA4 ``user_properties`` array).
Rows of CSV, TSV and JSON Lines files are lines, so the other lines are copied byte for byte;
Parquet files are read and written again with the same schema.
"""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from kundresa.ingest.readers import (
    ReadError,
    _open_binary,
    _sniff_delimiter,
    _to_string,
    detect_format,
)

__all__ = ["redact_file"]


def redact_file(path: str | os.PathLike[str], ids: Collection[str]) -> tuple[Path | None, int]:
    """Write a copy of ``path`` without the rows that mention any of ``ids``.

    The copy is written next to the file (``NAME.redacted``, same format and compression);
    the caller replaces the original with it (an atomic rename) or removes it. Nothing is
    written when no row mentions the ids.

    Parameters
    ----------
    path
        A CSV, TSV, JSON Lines (optionally gzipped) or Parquet file.
    ids
        The ids to remove (compared exactly, after trimming the field).

    Returns
    -------
    tuple
        ``(copy, rows removed)``; ``copy`` is ``None`` when no row mentions the ids.

    Raises
    ------
    ReadError
        When the file cannot be read or its type is unknown.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> f = pathlib.Path(tempfile.mkdtemp()) / "e.csv"
    >>> _ = f.write_text("user_id,timestamp,event\\nu1,2025-01-01,a\\nu2,2025-01-01,b\\n")
    >>> copy, removed = redact_file(f, {"u1"})
    >>> removed, copy.read_text()
    (1, 'user_id,timestamp,event\\nu2,2025-01-01,b\\n')
    """
    source = Path(path)
    fmt, gz = detect_format(source)
    wanted = {i.strip() for i in ids}
    target = source.with_name(source.name + ".redacted")
    try:
        if fmt == "parquet":
            removed = _parquet(source, target, wanted)
        else:
            removed = _lines(source, target, fmt, gz, wanted)
    except BaseException:
        target.unlink(missing_ok=True)
        raise
    if removed == 0:
        target.unlink(missing_ok=True)
        return None, 0
    return target, removed


def _mentions(value: Any, wanted: set[str], quoted: list[str]) -> bool:
    """Whether a parsed value (JSON-like) mentions one of ``wanted``."""
    if value is None or isinstance(value, bool):
        return False
    if isinstance(value, str):
        return value.strip() in wanted or any(q in value for q in quoted)
    if isinstance(value, int | float):
        return repr(value) in wanted
    if isinstance(value, dict):
        return any(_mentions(v, wanted, quoted) for v in value.values())
    if isinstance(value, list):
        return any(_mentions(v, wanted, quoted) for v in value)
    return False


@contextmanager
def _output(target: Path, gz: bool) -> Iterator[IO[bytes]]:
    import gzip

    with target.open("wb") as raw:
        if gz:
            with gzip.GzipFile(fileobj=raw, mode="wb") as out:
                yield out  # type: ignore[misc]
        else:
            yield raw


def _lines(source: Path, target: Path, fmt: str, gz: bool, wanted: set[str]) -> int:
    quoted = [json.dumps(i, ensure_ascii=False) for i in wanted]
    removed = 0
    try:
        with _open_binary(source, gz, None) as fh, _output(target, gz) as out:
            delimiter = None
            if fmt != "jsonl":
                header = fh.readline()
                out.write(header)
                text = header.decode("utf-8-sig", "replace").rstrip("\r\n")
                delimiter = "\t" if fmt == "tsv" else _sniff_delimiter(text)
            for raw in fh:
                text = raw.decode("utf-8", "replace").rstrip("\r\n")
                if delimiter is None:
                    try:
                        value: Any = json.loads(text) if text.strip() else None
                    except (ValueError, RecursionError):  # an invalid line: its parts
                        value = [p.strip(" \"'{}[]:") for p in text.split(",")]
                else:
                    try:
                        value = next(csv.reader([text], delimiter=delimiter), [])
                    except csv.Error:
                        value = text.split(delimiter)
                if _mentions(value, wanted, quoted):
                    removed += 1
                else:
                    out.write(raw)
    except OSError as exc:
        raise ReadError(f"{source}: cannot rewrite: {exc}") from exc
    return removed


def _parquet(source: Path, target: Path, wanted: set[str]) -> int:
    try:
        table = pq.read_table(source)
    except (OSError, pa.ArrowException) as exc:
        raise ReadError(f"{source}: cannot read as Parquet: {exc}") from exc
    value_set = pa.array(sorted(wanted), pa.string())
    mask = pa.array([False] * table.num_rows, pa.bool_())
    for column in table.columns:
        text = _to_string(column.combine_chunks())
        hit = pc.is_in(pc.utf8_trim_whitespace(text), value_set=value_set)
        for i in wanted:
            hit = pc.or_(hit, pc.match_substring(text, json.dumps(i, ensure_ascii=False)))
        mask = pc.or_(mask, pc.fill_null(hit, False))
    removed = int(pc.sum(mask).as_py() or 0)
    if removed:
        pq.write_table(table.filter(pc.invert(mask)), target)
    return removed
