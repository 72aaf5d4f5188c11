"""Read a paths file: the attribution input format that other tools read and write.

The format (ChannelAttribution's, among others) is a CSV file with a header and the columns
``path,total_conversions,total_conversion_value,total_null``:

- ``path``: the channels of a journey in order, joined by a separator (``>`` by default);
  spaces around channel names are stripped (``search > email`` is ``search>email``);
- ``total_conversions``, ``total_null``: how many journeys took this path and converted, and
  how many did not; ``total_conversion_value``: the value of those conversions. This column
  may be left out (the value is then 0 everywhere); the other three are required. Any
  further columns are ignored. An empty cell in a number column counts as 0.

Column names are matched without regard to case or surrounding spaces. The file may start
with a UTF-8 byte-order mark; fields may be quoted; the field delimiter is whatever the header
uses among ``,``, ``;`` and tab (ChannelAttribution's own sample data uses ``;``). Blank lines
are skipped. Rows need not be distinct.

Bad input raises :class:`PathsFileError` (a ValueError) naming the file and the line, e.g.
``paths.csv line 7: empty path``. "A separator that does not split": when the separator
splits no path of the file into more than one channel while some path holds another common
separator (``>``, ``|``, ``,``, ``;``, ``→`` or tab), the first such line is named:
``paths.csv line 2: the separator '|' splits no path; paths look joined by '>'``. A file
whose paths all have one channel and no such character is fine.
"""

from __future__ import annotations

import csv
import io
import math
import os
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import pandas as pd

from kundresa._files import not_a_regular_file
from kundresa.errors import InputError

__all__ = ["PATHS_FILE_COLUMNS", "PathsFileError", "read_paths_file"]

PATH, CONVERSIONS, VALUE, NULLS = (
    "path",
    "total_conversions",
    "total_conversion_value",
    "total_null",
)
PATHS_FILE_COLUMNS = (PATH, CONVERSIONS, VALUE, NULLS)
REQUIRED = (PATH, CONVERSIONS, NULLS)
COMMON_SEPARATORS = (">", "|", ",", ";", "→", "\t")
DELIMITERS = (",", ";", "\t")


class PathsFileError(InputError, ValueError):
    """A paths file that cannot be read: the message names the file and, where it can, the
    line."""


def _name(file: str | os.PathLike[str] | IO[str] | IO[bytes]) -> str:
    if isinstance(file, str | os.PathLike):
        return os.fspath(file)
    return str(getattr(file, "name", "<paths file>"))


def _text(file: str | os.PathLike[str] | IO[str] | IO[bytes], name: str) -> str:
    try:
        if isinstance(file, str | os.PathLike):
            kind = not_a_regular_file(file)
            if kind not in (None, "a folder"):  # a named pipe would wait for a writer forever
                raise PathsFileError(f"{name}: is {kind}, not a file; name a paths file")
            data: str | bytes = Path(file).read_bytes()
        else:
            data = file.read()
        if isinstance(data, bytes):
            return data.decode("utf-8-sig")
        return data.removeprefix("\ufeff")
    except UnicodeDecodeError as exc:
        raise PathsFileError(f"{name}: cannot read the file: not UTF-8 text ({exc})") from None
    except OSError as exc:
        raise PathsFileError(f"{name}: cannot read the file ({exc.strerror or exc})") from None


def _rows(text: str, delimiter: str) -> Iterator[tuple[int, list[str]]]:
    """CSV records with the line each starts on (1-based), blank lines left out."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    line = 1
    try:
        for record in reader:
            if record and any(field.strip() for field in record):
                yield line, record
            line = reader.line_num + 1
    except csv.Error as exc:
        raise PathsFileError(f"line {reader.line_num}: not valid CSV ({exc})") from None


def _delimiter(header: str) -> str:
    """The delimiter the header line uses: the one that splits out the most known columns."""

    def known(d: str) -> int:
        fields = {f.strip().strip('"').strip().lower() for f in header.split(d)}
        return len(fields & set(PATHS_FILE_COLUMNS))

    return max(DELIMITERS, key=known)


def _number(text: str, column: str, where: str) -> float:
    text = text.strip()
    if not text:
        return 0.0
    try:
        x = float(text)
    except ValueError:
        raise PathsFileError(f"{where}: {column} is not a number ({text!r})") from None
    if not math.isfinite(x):
        raise PathsFileError(f"{where}: {column} is not a finite number ({text!r})")
    if x < 0:
        raise PathsFileError(f"{where}: {column} is negative ({text})")
    return x


def read_paths_file(
    file: str | os.PathLike[str] | IO[str] | IO[bytes], *, sep: str = ">"
) -> pd.DataFrame:
    """Read a paths file into a paths frame (see the module docstring for the format).

    Parameters
    ----------
    file
        A path, or an open text or binary file.
    sep
        What joins the channels of a path (``>`` by default; any non-empty string).

    Returns
    -------
    pandas.DataFrame
        A paths frame, one row per line: ``path`` (tuple of channel names), ``conversions``,
        ``value`` (0 when the file has no ``total_conversion_value`` column) and ``nulls``,
        all float; no ``ages`` (a file does not tell when the touches were).

    Raises
    ------
    PathsFileError
        For an unreadable or empty file, a missing column, a row with too few fields, an empty
        path or channel name, a count that is not a number or is negative, a separator that
        splits no path, or a file without rows; the message names the file and the line.

    Examples
    --------
    >>> import io
    >>> text = "path,total_conversions,total_conversion_value,total_null\\n"
    >>> text += "search > email,2,80.5,10\\nsocial,0,0,4\\n"
    >>> read_paths_file(io.StringIO(text))
                  path  conversions  value  nulls
    0  (search, email)          2.0   80.5   10.0
    1        (social,)          0.0    0.0    4.0
    """
    name = _name(file)
    if not isinstance(sep, str) or not sep:
        raise PathsFileError(f"{name}: the separator must be a non-empty string, not {sep!r}")
    text = _text(file, name)
    if not text.strip():
        raise PathsFileError(f"{name}: the file is empty")
    first_line = next(line for line in text.splitlines() if line.strip())
    rows = _rows(text, _delimiter(first_line))
    try:
        header_line, header = next(rows)
        columns = [c.strip().lower() for c in header]
        missing = [c for c in REQUIRED if c not in columns]
        if missing:
            shown = ", ".join(c.strip() for c in header)
            raise PathsFileError(
                f"{name} line {header_line}: missing column {missing[0]} (columns are: {shown})"
            )
        at = {c: columns.index(c) for c in PATHS_FILE_COLUMNS if c in columns}
        width = max(at.values()) + 1
        paths: list[tuple[str, ...]] = []
        lines: list[int] = []
        raw: list[str] = []
        amounts: dict[str, list[float]] = {CONVERSIONS: [], VALUE: [], NULLS: []}
        for line, record in rows:
            where = f"{name} line {line}"
            if len(record) < width:
                raise PathsFileError(
                    f"{where}: {len(record)} fields, expected {len(header)} ({', '.join(header)})"
                )
            cell = record[at[PATH]]
            if not cell.strip():
                raise PathsFileError(f"{where}: empty path")
            channels = tuple(part.strip() for part in cell.split(sep))
            if any(not c for c in channels):
                raise PathsFileError(f"{where}: empty channel name in path {cell.strip()!r}")
            paths.append(channels)
            lines.append(line)
            raw.append(cell)
            for column in (CONVERSIONS, NULLS):
                amounts[column].append(_number(record[at[column]], column, where))
            amounts[VALUE].append(_number(record[at[VALUE]], VALUE, where) if VALUE in at else 0.0)
    except PathsFileError as exc:
        message = str(exc)
        if message.startswith("line "):  # from the CSV reader, which does not know the name
            message = f"{name} {message}"
        raise PathsFileError(message) from None
    if not paths:
        raise PathsFileError(f"{name}: no paths (the file has a header but no rows)")
    if all(len(p) == 1 for p in paths):
        _check_separator(name, sep, raw, lines)
    return pd.DataFrame(
        {
            "path": pd.Series(paths, dtype="object"),
            "conversions": amounts[CONVERSIONS],
            "value": amounts[VALUE],
            "nulls": amounts[NULLS],
        }
    )


def _check_separator(name: str, sep: str, raw: list[str], lines: list[int]) -> None:
    """Raise when ``sep`` splits no path while some path holds another common separator."""
    found = {s: sum(s in cell.strip() for cell in raw) for s in COMMON_SEPARATORS if s != sep}
    best = max(found, key=lambda s: found[s], default=None)
    if best is None or found[best] == 0:
        return
    line = next(n for n, cell in zip(lines, raw, strict=True) if best in cell.strip())
    raise PathsFileError(
        f"{name} line {line}: the separator {sep!r} splits no path; paths look joined by {best!r}"
    )
