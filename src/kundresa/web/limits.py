"""The web app's limits on what a request may ask, checked in one place.

:func:`check_query` runs for every request (pages and API) before any route: a parameter with
a control character, longer than :data:`MAX_PARAM_LENGTH`, a duration past
:data:`MAX_WINDOW_DAYS` or a funnel with more than :data:`MAX_FUNNEL_STEPS` steps is refused
with 422 naming the parameter, before it reaches an analysis. Uploads get a file name that is
safe and short (:func:`upload_name`) and are measured before they are loaded
(:func:`measure_upload`: decompressed bytes and rows). Answers show paths relative to the
project (:func:`relative_paths`), never where the server keeps it.
"""

from __future__ import annotations

import gzip
import json
import math
import os
import re
import unicodedata
import zlib
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import parse_qsl

from kundresa.analyses._registry import MAX_DURATION_DAYS
from kundresa.web.i18n import LANGUAGES

__all__ = [
    "DEFAULT_UPLOAD_MAX_BYTES",
    "DEFAULT_UPLOAD_MAX_ROWS",
    "MAX_FUNNEL_STEPS",
    "MAX_PARAM_LENGTH",
    "MAX_QUERY_LENGTH",
    "MAX_SHOWN",
    "MAX_WINDOW_DAYS",
    "ParameterError",
    "UploadTooLarge",
    "check_form_value",
    "check_query",
    "measure_upload",
    "relative_paths",
    "shown_value",
    "upload_name",
    "validation_message",
]

MAX_PARAM_LENGTH = 1000
"""Longest value of one query parameter, in characters."""
MAX_QUERY_LENGTH = 16 * 1024
"""Longest query string, in bytes."""
MAX_FUNNEL_STEPS = 20
"""Most steps (and most exclusions) an event funnel may have."""
MAX_WINDOW_DAYS = MAX_DURATION_DAYS
"""Longest funnel window, attribution lookback or session gap: ten years (the registry's
bound, :data:`kundresa.analyses._registry.MAX_DURATION_DAYS`)."""
DEFAULT_UPLOAD_MAX_BYTES = 1024**3
"""Most bytes an uploaded file may hold once decompressed (``KUNDRESA_UPLOAD_MAX_BYTES``)."""
DEFAULT_UPLOAD_MAX_ROWS = 2_000_000
"""Most rows (lines of a text file, rows of a Parquet file) an upload may hold
(``KUNDRESA_UPLOAD_MAX_ROWS``); bigger files are for ``kundresa ingest``."""

_MULTILINE = frozenset({"steps", "exclusions"})
_DURATIONS = frozenset({"window", "lookback", "session_gap"})
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_LINE_BREAKS = re.compile(r"[\t\n\r]")
_DURATION = re.compile(r"^\s*(\d+(?:\.\d*)?|\.\d+)\s*([smhdw]?)\s*$", re.IGNORECASE)
_UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}


class ParameterError(ValueError):
    """A request parameter outside the limits (HTTP 422); ``field`` names it."""

    status = 422

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = f"{field}: {message}"


class UploadTooLarge(ValueError):
    """An upload past the decompressed-size or row limit (HTTP 413)."""


def _text_rules(name: str, value: str, *, multiline: bool) -> None:
    bad = _CONTROL.search(value) or (None if multiline else _LINE_BREAKS.search(value))
    if bad is not None:
        raise ParameterError(name, f"control character U+{ord(bad.group()):04X} is not allowed")


def check_query(path: str, query_string: bytes) -> None:
    """Check a request's query parameters; raise :class:`ParameterError` for a bad one.

    Examples
    --------
    >>> check_query("/api/funnel", b"window=7d&steps=a%0Ab")
    >>> check_query("/api/customer", b"id=a%00b")
    Traceback (most recent call last):
    ...
    kundresa.web.limits.ParameterError: id: control character U+0000 is not allowed
    >>> check_query("/api/funnel", b"window=99999999999999999999d")
    Traceback (most recent call last):
    ...
    kundresa.web.limits.ParameterError: window: at most 3650 days
    """
    if len(query_string) > MAX_QUERY_LENGTH:
        raise ParameterError("query", f"longer than {MAX_QUERY_LENGTH:,} bytes")
    if not query_string:
        return
    counts = {"steps": 0, "exclusions": 0}
    for name, value in parse_qsl(
        query_string.decode("latin-1"), keep_blank_values=True, encoding="utf-8"
    ):
        label = name if name.isprintable() and len(name) <= 40 else "query"
        _text_rules(label, name, multiline=False)
        _text_rules(label, value, multiline=name in _MULTILINE)
        if len(value) > MAX_PARAM_LENGTH:
            raise ParameterError(label, f"longer than {MAX_PARAM_LENGTH} characters")
        if name in counts:
            counts[name] += sum(1 for line in value.splitlines() if line.strip())
            if counts[name] > MAX_FUNNEL_STEPS:
                raise ParameterError(name, f"at most {MAX_FUNNEL_STEPS} in a funnel")
        if name == "lang" and value and value not in LANGUAGES:
            # Pages and their twins alike: FastAPI refused it at /api/..., pages ignored it.
            raise ParameterError(
                name, f"expected one of {', '.join(LANGUAGES)}, got {shown_value(value)}"
            )
        if name in _DURATIONS and value.strip():
            match = _DURATION.match(value)
            if match is not None:  # other text: the analysis says what a duration is (422)
                seconds = float(match.group(1)) * _UNITS[match.group(2).lower() or "s"]
                if not math.isfinite(seconds) or seconds > MAX_WINDOW_DAYS * 86400:
                    raise ParameterError(name, f"at most {MAX_WINDOW_DAYS} days")


MAX_SHOWN = 40
"""The most characters of a refused value an error message repeats."""


def shown_value(value: Any) -> str:
    """A refused value as an error message repeats it: quoted, at most :data:`MAX_SHOWN`
    characters of it (then ``…`` and its length).

    >>> shown_value("xx"), shown_value("y" * 600)[-22:]
    ("'xx'", "yyy…' (600 characters)")
    """
    text = value if isinstance(value, str) else str(value)
    if len(text) <= MAX_SHOWN:
        return repr(text)
    return f"{text[:MAX_SHOWN]!r}"[:-1] + f"…' ({len(text):,} characters)"


def validation_message(errors: Sequence[Mapping[str, Any]]) -> str:
    """FastAPI's list of validation errors as one line naming each parameter, with the
    value given cut short (:func:`shown_value`), as every other error of the app.

    >>> validation_message([{"loc": ("query", "limit"), "msg": "Input should be greater "
    ...     "than or equal to 1", "input": "0"}])
    "limit: Input should be greater than or equal to 1 (got '0')"
    """
    parts = []
    for e in errors:
        loc = [str(x) for x in e.get("loc") or () if x not in ("query", "path", "body")]
        name = loc[-1] if loc else ""
        given = e.get("input")
        got = f" (got {shown_value(given)})" if isinstance(given, str | int | float) else ""
        line = " ".join(f"{name}: {e.get('msg', '')}{got}".split())  # one line
        parts.append(line if name else line.removeprefix(": "))
    return "; ".join(dict.fromkeys(parts))


def check_form_value(name: str, value: str) -> None:
    """A form field's value: no control characters other than tab and line breaks.

    Examples
    --------
    >>> check_form_value("text", "kundresa: 1\\nname: x\\n")
    >>> check_form_value("text", "x\\x00")
    Traceback (most recent call last):
    ...
    kundresa.web.limits.ParameterError: text: control character U+0000 is not allowed
    """
    label = name if name.isprintable() and len(name) <= 60 else "form"
    _text_rules(label, value, multiline=True)


_UPLOAD_SUFFIX = re.compile(r"\.((csv|tsv|parquet|jsonl|ndjson|json)(\.gz)?|zip)$", re.IGNORECASE)


def upload_name(filename: str | None, max_stem: int = 80) -> str:
    """A safe, short file name for an upload: no folders, ASCII letters, digits, ``._-``.

    Examples
    --------
    >>> upload_name("../../etc/Försäljning 2025.csv.gz")
    'Forsaljning_2025.csv.gz'
    >>> len(upload_name("å" * 150 + ".csv")), upload_name("x" * 300 + ".parquet")[-12:]
    (84, 'xxxx.parquet')
    >>> upload_name(None), upload_name("<img src=x onerror=alert(1)>.csv")
    ('', 'img_src_x_onerror_alert_1_.csv')
    """
    name = PurePosixPath((filename or "").replace("\\", "/")).name
    name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
    name = re.sub(r"[^A-Za-z0-9._-]+", "_", name).lstrip("._")
    match = _UPLOAD_SUFFIX.search(name)
    suffix = match.group(0) if match else ""
    stem = name[: len(name) - len(suffix)] if suffix else name
    return stem[:max_stem] + suffix


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError as exc:
        raise ValueError(f"{name}={raw!r}: expected a whole number") from exc
    if value < 1:
        raise ValueError(f"{name}={raw!r}: expected a positive number")
    return value


def upload_limits() -> tuple[int, int]:
    """``(decompressed bytes, rows)`` an upload may hold, from the environment or defaults."""
    return (
        _env_int("KUNDRESA_UPLOAD_MAX_BYTES", DEFAULT_UPLOAD_MAX_BYTES),
        _env_int("KUNDRESA_UPLOAD_MAX_ROWS", DEFAULT_UPLOAD_MAX_ROWS),
    )


def measure_upload(
    path: Path,
    *,
    max_bytes: int,
    max_rows: int,
    progress: Callable[[float], None] | None = None,
    name: str | None = None,
) -> dict[str, int]:
    """Decompressed bytes and rows of an uploaded file, stopping at the first limit passed.

    Text files (CSV, TSV, JSON Lines, optionally gzipped) are streamed and their lines
    counted (a line break inside a quoted CSV field counts too: the count is an upper bound);
    Parquet files are measured from their footer. ``progress(fraction)`` is called as the
    file is read (it may raise to stop). Raises :class:`UploadTooLarge` naming the limit,
    ``ValueError`` when a gzip file is broken.
    """
    shown = name or path.name
    if path.name.lower().endswith(".parquet"):
        import pyarrow.parquet as pq

        try:
            meta = pq.ParquetFile(path).metadata
        except Exception as exc:  # pyarrow's errors vary by version; the ingest says more
            raise ValueError(f"{shown}: not a Parquet file ({exc.__class__.__name__})") from exc
        rows = meta.num_rows
        size = sum(meta.row_group(i).total_byte_size for i in range(meta.num_row_groups))
        _check_limits(shown, size, rows, max_bytes, max_rows)
        return {"bytes": size, "rows": rows}
    total = max(path.stat().st_size, 1)
    size = rows = 0
    last = b"\n"
    with path.open("rb") as raw:
        stream: Any = gzip.GzipFile(fileobj=raw) if path.name.lower().endswith(".gz") else raw
        try:
            while chunk := stream.read(1 << 20):
                size += len(chunk)
                rows += chunk.count(b"\n")
                last = chunk[-1:]
                _check_limits(shown, size, rows, max_bytes, max_rows)
                if progress is not None:
                    progress(min(raw.tell() / total, 1.0))
        except (OSError, EOFError, zlib.error) as exc:
            raise ValueError(f"{shown}: not a readable gzip file ({exc})") from exc
    if last != b"\n":
        rows += 1
    _check_limits(shown, size, rows, max_bytes, max_rows)
    return {"bytes": size, "rows": rows}


def _check_limits(name: str, size: int, rows: int, max_bytes: int, max_rows: int) -> None:
    # Rows are lines: the header is one of them.
    if rows - 1 > max_rows:
        raise UploadTooLarge(
            f"file: {name}: more than {max_rows:,} rows, the upload limit "
            "(KUNDRESA_UPLOAD_MAX_ROWS; ingest big files with `kundresa ingest`)"
        )
    if size > max_bytes:
        raise UploadTooLarge(
            f"file: {name}: more than {max_bytes:,} bytes once decompressed, the upload limit "
            "(KUNDRESA_UPLOAD_MAX_BYTES; ingest big files with `kundresa ingest`)"
        )


_PATH_KEYS = frozenset({"root", "source", "sources", "path", "file"})
_JSON_KEYS = frozenset({"options"})


def relative_paths(value: Any, root: Path) -> Any:
    """``value`` (text, or JSON-ready data) with the project folder written as ``.``-relative
    paths, and other absolute file paths under path-like keys reduced to their file name.

    Examples
    --------
    >>> relative_paths({"root": "/srv/p", "sources": ["/srv/p/.kundresa/uploads/a.csv",
    ...     "/tmp/b.csv"], "detail": "/srv/p/journey.yaml: line 3"}, Path("/srv/p"))
    {'root': '.', 'sources': ['.kundresa/uploads/a.csv', 'b.csv'], 'detail': 'journey.yaml: line 3'}
    """
    prefixes = sorted({str(root), str(Path(root).resolve())}, key=len, reverse=True)

    def text(s: str, path_like: bool) -> str:
        for p in prefixes:
            s = s.replace(p + os.sep, "").replace(p, ".")
        if path_like and os.path.isabs(s):
            s = os.path.basename(s)
        return s

    def walk(v: Any, path_like: bool, key: str = "") -> Any:
        if isinstance(v, str):
            if key in _JSON_KEYS and v.startswith("{"):
                try:
                    inner = json.loads(v)
                except ValueError:
                    return text(v, path_like)
                return json.dumps(walk(inner, False))
            return text(v, path_like)
        if isinstance(v, dict):
            # Keys that are file paths (ingest options map each file to its columns).
            return {
                text(k, os.path.isabs(k)) if isinstance(k, str) else k: walk(
                    x, str(k) in _PATH_KEYS, str(k)
                )
                for k, x in v.items()
            }
        if isinstance(v, list | tuple):
            return [walk(x, path_like) for x in v]
        return v

    return walk(value, False)


_DETAIL = {
    "type": "object",
    "properties": {"detail": {}},
    "required": ["detail"],
}
_ANSWERS = {
    "400": "A parameter or body value the analysis cannot use; `detail` names it.",
    "401": "The server has an access token and the request did not carry it.",
    "409": "The project cannot be read now (the journey file has errors, or another process "
    "holds the warehouse); `detail` says why.",
    "422": "A parameter outside its type or limits (control characters, length, ranges); "
    "`detail` names it.",
}
_WRITE_ANSWERS = {
    "403": "A forged request: from another site, or without the anti-forgery token, the "
    "access token or a JSON body.",
    "413": "The request body is larger than the limit (or an upload expands past the upload "
    "limits).",
}
_TEXT_BODY = {
    "required": True,
    "content": {
        "application/yaml": {"schema": {"type": "string"}},
        "application/json": {
            "schema": {
                "type": "object",
                "properties": {"text": {"type": "string"}},
                "required": ["text"],
            }
        },
    },
}


def document_responses(app: Any) -> None:
    """Make the app's OpenAPI description list every 4xx its operations can answer (the
    guard's 401, 403, 413 and 422 included) and the journey endpoints' request bodies."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        schema: dict[str, Any] = generate()
        if schema.get("x-kundresa-limits"):
            return schema
        for path, operations in schema.get("paths", {}).items():
            for method, op in operations.items():
                answers = dict(_ANSWERS)
                if method in ("post", "put", "patch", "delete"):
                    answers.update(_WRITE_ANSWERS)
                responses = op.setdefault("responses", {})
                responses.pop("422", None)  # FastAPI's list of errors: answered as one line
                for code, text in answers.items():
                    responses.setdefault(
                        code,
                        {
                            "description": text,
                            "content": {"application/json": {"schema": _DETAIL}},
                        },
                    )
                if (
                    path in ("/api/journey", "/api/journey/validate")
                    and method in ("post", "put")
                    and "requestBody" not in op
                ):
                    op["requestBody"] = _TEXT_BODY
        schema["x-kundresa-limits"] = True
        return schema

    app.openapi = openapi
