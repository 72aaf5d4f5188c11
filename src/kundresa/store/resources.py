"""Bounded memory for every DuckDB connection the project opens.

``KUNDRESA_MEMORY_LIMIT`` (default ``6GB``) caps each connection (DuckDB's ``memory_limit``);
what does not fit spills to a temporary folder this process owns (``temp_directory``),
created on first use and removed when the process exits (or, if it was killed, by the next
process that creates one). Without the cap DuckDB would
allow itself 80% of the machine's memory, and spill next to the database file.
"""

from __future__ import annotations

import atexit
import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import Any

from kundresa.errors import UsageError

__all__ = [
    "DEFAULT_MEMORY_LIMIT",
    "MEMORY_VARIABLE",
    "configure",
    "memory_bytes",
    "memory_limit",
    "spill_folder",
    "sweep_spill_folders",
]

MEMORY_VARIABLE = "KUNDRESA_MEMORY_LIMIT"
DEFAULT_MEMORY_LIMIT = "6GB"

# DuckDB's memory sizes: a number and a unit (decimal or binary), e.g. 4GB, 512 MiB, 1.5GB.
_SIZE = re.compile(r"^\s*\d+(\.\d+)?\s*(B|[KMGT]B|[KMGT]iB|bytes)\s*$", re.IGNORECASE)

_spill: dict[int, Path] = {}


def memory_limit() -> str:
    """The memory cap of each DuckDB connection: ``KUNDRESA_MEMORY_LIMIT`` or ``6GB``.

    Raises
    ------
    UsageError
        The variable is set to something that is not a size with a unit (one line, naming
        the variable).

    Examples
    --------
    >>> import os
    >>> os.environ["KUNDRESA_MEMORY_LIMIT"] = "2GB"
    >>> memory_limit()
    '2GB'
    >>> os.environ["KUNDRESA_MEMORY_LIMIT"] = "lots"
    >>> memory_limit()
    Traceback (most recent call last):
    ...
    kundresa.errors.UsageError: KUNDRESA_MEMORY_LIMIT='lots' is not a memory size (e.g. 4GB, 512MB)
    >>> del os.environ["KUNDRESA_MEMORY_LIMIT"]
    """
    value = os.environ.get(MEMORY_VARIABLE, "").strip() or DEFAULT_MEMORY_LIMIT
    if not _SIZE.match(value):
        raise UsageError(f"{MEMORY_VARIABLE}={value!r} is not a memory size (e.g. 4GB, 512MB)")
    return value


_UNITS = {"b": 1, "bytes": 1, "kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12}
_UNITS.update({"kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40})


def memory_bytes() -> int:
    """:func:`memory_limit` in bytes (for engines other than DuckDB: Spark's driver memory).

    Examples
    --------
    >>> import os
    >>> os.environ["KUNDRESA_MEMORY_LIMIT"] = "1.5GiB"
    >>> memory_bytes()
    1610612736
    >>> del os.environ["KUNDRESA_MEMORY_LIMIT"]
    """
    match = re.match(r"^\s*(\d+(?:\.\d+)?)\s*([a-z]+)\s*$", memory_limit().lower())
    assert match is not None  # memory_limit() checked the form
    return int(float(match.group(1)) * _UNITS[match.group(2)])


def _remove(folder: Path, owner: int) -> None:
    if os.getpid() == owner:  # a forked child must not remove its parent's folder
        shutil.rmtree(folder, ignore_errors=True)


_PREFIX = "kundresa-spill-"


def spill_folder() -> Path:
    """This process's temporary folder for data that does not fit in memory (created on first
    use, removed at exit). Creating it also removes the folders that processes no longer
    running left behind (:func:`sweep_spill_folders`: a process killed outright runs no exit
    handler)."""
    pid = os.getpid()
    folder = _spill.get(pid)
    if folder is None or not folder.is_dir():
        sweep_spill_folders()
        folder = Path(tempfile.mkdtemp(prefix=f"{_PREFIX}{pid}-"))
        _spill[pid] = folder
        atexit.register(_remove, folder, pid)
    return folder


def sweep_spill_folders(parent: str | os.PathLike[str] | None = None) -> list[Path]:
    """Remove the spill folders in ``parent`` (the temporary folder by default) whose process
    is no longer running: named ``kundresa-spill-<pid>-...``, owned by this user, and no
    process ``pid`` exists. Returns the folders removed. A folder whose pid now belongs to
    another running process is left (it is only a leftover, never in the way)."""
    removed: list[Path] = []
    where = Path(parent if parent is not None else tempfile.gettempdir())
    try:
        names = [n for n in os.listdir(where) if n.startswith(_PREFIX)]
    except OSError:
        return removed
    for name in names:
        pid_text, sep, _ = name[len(_PREFIX) :].partition("-")
        if not sep or not pid_text.isdigit() or int(pid_text) == os.getpid():
            continue
        folder = where / name
        try:
            if folder.is_symlink() or not folder.is_dir() or folder.stat().st_uid != os.getuid():
                continue
            os.kill(int(pid_text), 0)  # raises when no such process
        except ProcessLookupError:
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder)
        except (OSError, OverflowError):  # another user's process, or an odd name
            continue
    return removed


def configure(con: Any) -> None:
    """Set the memory cap and the spill folder on a DuckDB connection ``con``.

    Raises
    ------
    UsageError
        ``KUNDRESA_MEMORY_LIMIT`` is not a size DuckDB accepts.
    """
    limit = memory_limit()
    try:
        con.execute(f"SET memory_limit = '{limit}'")
    except Exception as exc:  # duckdb.Error; the module does not import DuckDB
        raise UsageError(
            f"{MEMORY_VARIABLE}={limit!r} is not a memory size (e.g. 4GB, 512MB)"
        ) from exc
    folder = str(spill_folder()).replace("'", "''")
    con.execute(f"SET temp_directory = '{folder}'")
