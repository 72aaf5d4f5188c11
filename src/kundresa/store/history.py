"""Versions of the journey file: save with history, list, read, compare and restore.

A save writes ``journey.yaml`` atomically (a temporary file renamed over it) after copying the
previous version to ``.kundresa/journeys/<timestamp>.yaml`` (UTC, e.g.
``20250301T101500.123456Z``); only a file without errors is saved or restored, checked by the
same parser as ``kundresa validate``. Used by ``kundresa history`` / ``kundresa restore`` and
by the web app's editor.
"""

from __future__ import annotations

import difflib
import hashlib
import re
from collections.abc import Collection
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from kundresa.errors import KundresaError, NotFoundError
from kundresa.model.parse import parse_journey

__all__ = [
    "HISTORY_DIR",
    "HistoryError",
    "JourneyChanged",
    "VersionNotFound",
    "check",
    "diff_versions",
    "file_sha256",
    "history",
    "read_version",
    "restore_version",
    "save_journey",
]

JOURNEY_FILE = "journey.yaml"
STORE_DIR = ".kundresa"
HISTORY_DIR = "journeys"
_VERSION = re.compile(r"^(\d{8}T\d{6})(\.\d+)?Z(-\d+)?$")


class HistoryError(KundresaError, ValueError):
    """A version name that is not one, or a version that cannot be restored (it has errors):
    exit code 1, HTTP 400."""


class VersionNotFound(HistoryError, NotFoundError):
    """A version that is not kept: exit code 1, HTTP 404."""


class JourneyChanged(KundresaError):
    """The journey file is no longer the one an edit was made from (changed by another tab,
    the command line or an editor): nothing is saved. HTTP 409 (the web's ``If-Match``
    answers 412 itself).

    Attributes
    ----------
    current : str or None
        The SHA-256 (hex) of the file as it is now; None when there is no file.
    """

    http_status = 409

    def __init__(self, message: str, current: str | None) -> None:
        super().__init__(message)
        self.current = current


def file_sha256(root: Path) -> str | None:
    """The SHA-256 (64 hex digits) of the project's journey file's bytes, None without one:
    what the web editor's pages carry and ``/api/journey``'s ETag is made of.

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as d:
    ...     _ = (Path(d) / "journey.yaml").write_bytes(b"")
    ...     file_sha256(Path(d))[:12], file_sha256(Path(d) / "nowhere")
    ('e3b0c44298fc', None)
    """
    try:
        data = (Path(root) / JOURNEY_FILE).read_bytes()
    except FileNotFoundError:
        return None
    return hashlib.sha256(data).hexdigest()


def check(text: str) -> list[dict[str, Any]]:
    """Every problem in a journey text, as ``kundresa validate`` reports them.

    Examples
    --------
    >>> check("kundresa: 1\\nname: Shop\\ntemplate: kundresa-5\\nreview_by: 2999-01-01")
    []
    >>> [p["line"] for p in check("kundresa: 1\\nname: Shop\\nstages: 3")]
    [3]
    """
    _, problems = parse_journey(text, JOURNEY_FILE)
    return [
        {
            "severity": p.severity,
            "line": p.line,
            "column": p.column,
            "path": p.path,
            "message": p.message,
            "text": str(p),
        }
        for p in problems
    ]


def history_dir(root: Path) -> Path:
    """Where the kept versions of a project's journey file are."""
    return Path(root) / STORE_DIR / HISTORY_DIR


def _keep(root: Path, target: Path) -> str:
    folder = history_dir(root)
    folder.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S.%fZ")
    keep = folder / f"{stamp}.yaml"
    n = 1
    while keep.exists():
        keep = folder / f"{stamp}-{n}.yaml"
        n += 1
    keep.write_bytes(target.read_bytes())
    return keep.stem


def _write(target: Path, text: str) -> None:
    tmp = target.with_name(f".{JOURNEY_FILE}.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(target)


def save_journey(root: Path, text: str, *, base: Collection[str] | None = None) -> dict[str, Any]:
    """Check ``text`` and, when it has no errors, make it the project's journey file (the one
    it replaces kept in history).

    ``base``, when given, holds the SHA-256s (:func:`file_sha256`) of the file the text was
    made from (``"*"``: any existing file): the text is saved only while the file is still
    one of them, or already holds the text, so an edit never silently replaces a file that
    changed since it was opened. Without ``base`` the file is replaced whatever it holds.

    Returns ``{"saved": bool, "problems": [...], "previous": version or None}``; text the
    file holds already is saved as it is, adding no version to the history (``previous``
    None).

    Raises
    ------
    JourneyChanged
        The file is not one of ``base`` (or is missing) and does not hold ``text``; checked
        before the text is.
    """
    root = Path(root)
    if base is not None:
        current = file_sha256(root)
        fits = current is not None and ("*" in base or current in base)
        if not fits and current != hashlib.sha256(text.encode("utf-8")).hexdigest():
            why = "there is no journey.yaml" if current is None else "journey.yaml has changed"
            raise JourneyChanged(f"{why} since the text was loaded; nothing was saved", current)
    problems = check(text)
    if any(p["severity"] == "error" for p in problems):
        return {"saved": False, "problems": problems, "previous": None}
    target = root / JOURNEY_FILE
    try:
        if target.read_bytes() == text.encode("utf-8"):
            return {"saved": True, "problems": problems, "previous": None}
    except FileNotFoundError:
        pass
    previous = _keep(root, target) if target.exists() else None
    _write(target, text)
    return {"saved": True, "problems": problems, "previous": previous}


def _saved_at(version: str) -> str | None:
    m = _VERSION.match(version)
    if not m:
        return None
    when = datetime.strptime(m.group(1), "%Y%m%dT%H%M%S").replace(tzinfo=UTC)
    return when.isoformat().replace("+00:00", "Z")


def _changes(old: str | None, new: str) -> str:
    """What changed from ``old`` to ``new``: the top-level sections and the lines.

    >>> _changes("name: A\\nstages: [a]\\n", "name: B\\nstages: [a]\\nchannels: []\\n")
    'name, channels; +2 -1 lines'
    """
    if old is None:
        return "first version"
    import yaml

    def sections(text: str) -> dict[str, Any]:
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError:
            return {}
        return data if isinstance(data, dict) else {}

    a, b = sections(old), sections(new)
    changed = [k for k in dict.fromkeys([*a, *b]) if a.get(k) != b.get(k)]
    diff = list(difflib.unified_diff(old.splitlines(), new.splitlines(), lineterm="", n=0))
    plus = sum(1 for line in diff if line.startswith("+") and not line.startswith("+++"))
    minus = sum(1 for line in diff if line.startswith("-") and not line.startswith("---"))
    if not plus and not minus:
        return "no changes"
    what = ", ".join(str(k) for k in changed) or "comments and layout"
    return f"{what}; +{plus} -{minus} lines"


def history(root: Path) -> list[dict[str, Any]]:
    """The current file (``current``) and the kept versions, newest first.

    Each entry: ``version``, ``size`` (bytes), ``saved_at`` (ISO 8601 UTC; for ``current`` the
    file's modification time) and ``changes``: what that version changed from the one before
    it (top-level sections and lines added/removed).
    """
    root = Path(root)
    entries: list[tuple[dict[str, Any], Path]] = []
    current = root / JOURNEY_FILE
    if current.exists():
        mtime = datetime.fromtimestamp(current.stat().st_mtime, UTC).replace(microsecond=0)
        entries.append(
            (
                {
                    "version": "current",
                    "size": current.stat().st_size,
                    "saved_at": mtime.isoformat().replace("+00:00", "Z"),
                },
                current,
            )
        )
    folder = history_dir(root)
    if folder.is_dir():
        for p in sorted(folder.glob("*.yaml"), reverse=True):
            if _VERSION.match(p.stem):
                entry = {"version": p.stem, "size": p.stat().st_size, "saved_at": _saved_at(p.stem)}
                entries.append((entry, p))
    texts = [p.read_text(encoding="utf-8", errors="replace") for _, p in entries]
    out = []
    for i, (entry, _) in enumerate(entries):
        before = texts[i + 1] if i + 1 < len(texts) else None
        entry["changes"] = _changes(before, texts[i])
        out.append(entry)
    return out


def read_version(root: Path, version: str) -> str:
    """The text of a kept version (or ``current``).

    Raises
    ------
    HistoryError
        An unknown version (a ValueError).
    """
    root = Path(root)
    if version == "current":
        path = root / JOURNEY_FILE
    elif _VERSION.match(version):
        path = history_dir(root) / f"{version}.yaml"
    else:
        raise HistoryError(f"version: {version!r} is not a version name")
    if not path.exists():
        raise VersionNotFound(f"version: no version {version!r}")
    return path.read_text(encoding="utf-8")


def diff_versions(root: Path, a: str, b: str) -> list[str]:
    """A unified diff from version ``a`` to version ``b``, as lines."""
    old = read_version(root, a).splitlines()
    new = read_version(root, b).splitlines()
    return list(difflib.unified_diff(old, new, fromfile=a, tofile=b, lineterm=""))


def restore_version(root: Path, version: str) -> dict[str, Any]:
    """Make a kept version the journey file again; the current one is kept in history.

    Returns ``{"restored": version, "previous": the current file's new version name or None,
    "problems": warnings}``.

    Raises
    ------
    HistoryError
        The version does not exist, or has errors (nothing is changed then; the message names
        the first problem with its line).
    """
    root = Path(root)
    if version == "current":
        raise HistoryError("version: 'current' is the journey file already")
    text = read_version(root, version)
    problems = check(text)
    errors = [p for p in problems if p["severity"] == "error"]
    if errors:
        raise HistoryError(
            f"version {version} has {len(errors)} error(s) and is not restored; "
            f"first: {errors[0]['text']}"
        )
    result = save_journey(root, text)
    return {"restored": version, "previous": result["previous"], "problems": problems}
