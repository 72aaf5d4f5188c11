"""The numbers of each review of the map, kept so the next review can compare.

One JSON file, ``.kundresa/reviews.json`` in the project folder: a list of reviews, oldest
first, each the snapshot :func:`kundresa.report.review.snapshot` made (the date, the stage
funnel, the KPIs, touchpoint counts and the lanes of the journey file at that time). It is
written to a temporary file and renamed into place, so a failed write keeps the old one.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

from kundresa.errors import KundresaError
from kundresa.store.history import STORE_DIR

__all__ = ["REVIEWS_FILE", "ReviewStoreError", "add_review", "load_reviews"]

REVIEWS_FILE = "reviews.json"


class ReviewStoreError(KundresaError):
    """The reviews file cannot be read or written (the message names it). Exit code 1."""

    exit_code = 1
    http_status = 409


def _path(root: Path) -> Path:
    return Path(root) / STORE_DIR / REVIEWS_FILE


def load_reviews(root: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """The project's reviews, oldest first (an empty list before the first).

    Raises
    ------
    ReviewStoreError
        The file is not a JSON list of reviews.
    """
    path = _path(Path(root))
    if not path.exists():
        return []
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ReviewStoreError(f"{path}: cannot read the reviews ({exc})") from None
    if not isinstance(data, list) or not all(isinstance(r, dict) for r in data):
        raise ReviewStoreError(f"{path}: not a list of reviews")
    return data


def add_review(root: str | os.PathLike[str], review: dict[str, Any]) -> Path:
    """Append ``review`` (JSON-ready) to the project's reviews, atomically.

    Raises
    ------
    ReviewStoreError
        The reviews cannot be read or the file cannot be written.
    """
    path = _path(Path(root))
    reviews = [*load_reviews(root), review]
    text = json.dumps(reviews, ensure_ascii=False, indent=1, sort_keys=True) + "\n"
    tmp: str | None = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{REVIEWS_FILE}.", suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes the temporary file 0600
        os.replace(tmp, path)
    except OSError as exc:
        raise ReviewStoreError(f"{path}: cannot write the reviews ({exc.strerror})") from None
    finally:
        if tmp is not None and os.path.exists(tmp):
            os.unlink(tmp)
    return path
