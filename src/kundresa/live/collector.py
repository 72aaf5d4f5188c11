"""The collector: Segment's HTTP Tracking API, so Segment and RudderStack libraries can send here.

``POST /v1/track``, ``/v1/page``, ``/v1/screen``, ``/v1/identify``, ``/v1/alias``, ``/v1/group``
(one message each) and ``/v1/batch`` (``{"batch": [...]}``) — and the short paths analytics.js
uses, ``/v1/t``, ``/v1/p``, ``/v1/s``, ``/v1/i``, ``/v1/a``, ``/v1/g`` and ``/v1/b`` — take
messages in the shapes of Segment's HTTP Tracking API
(segment.com/docs/connections/sources/catalog/libraries/server/http-api). They are
authenticated with the project's **write key**: HTTP Basic auth with the key as the user
name and an empty password, or — as analytics.js sends from a browser, to avoid a CORS
preflight — a ``writeKey`` field in the JSON body; anything else is 401.

Each message is mapped when it arrives by the same function as the ``segment`` file source
(:func:`kundresa.ingest.sources.segment.message_row`: ``page`` → ``page_view``, ``identify``
and ``alias`` → identity links and traits), and its time and revenue are checked, so a bad
message is refused at once with 400 naming the field; the other messages of a batch are kept
(the answer counts them). The accepted messages of a request are appended to the durable log
(:mod:`kundresa.live.log`) and the answer, ``200 {"success": true}``, is sent only once they
are on disk. The loader (:mod:`kundresa.live.loader`) moves them into the warehouse within
about a second.

Limits (Segment's): 32 KB per message and 500 KB per request (413 beyond); a gzip body
(``Content-Encoding: gzip``) is decompressed up to 500 KB.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import functools
import hmac
import json
import math
import re
import threading
import zlib
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from kundresa.ingest.columns import EPOCH_MIN, MAX_OFFSET_HOURS, TIME_RANGE
from kundresa.ingest.sources._records import PROPS, BadRow, blank, check_props
from kundresa.ingest.sources.segment import VALUE_FIELDS, message_row
from kundresa.live.loader import AfterLoad, Loader, read_json
from kundresa.live.log import LogError, WriteAheadLog
from kundresa.model.events import plain_number
from kundresa.store.warehouse import IngestReport, Warehouse

__all__ = [
    "BATCH_LIMIT",
    "FUTURE_SKEW",
    "INLINE_MESSAGES",
    "KINDS",
    "LOG_DIR",
    "MESSAGE_LIMIT",
    "SHORT_PATHS",
    "WRITE_KEY_ENV",
    "Collector",
    "MessageError",
    "check_message",
    "router",
]

MESSAGE_LIMIT = 32 * 1024
"""Largest message, in bytes of JSON (Segment's limit)."""
BATCH_LIMIT = 500 * 1024
"""Largest request body, in bytes, after gzip decompression (Segment's limit)."""
KINDS = ("track", "page", "screen", "identify", "alias", "group")
"""The single-message endpoints (``/v1/KIND``); ``/v1/batch`` takes any of them."""
SHORT_PATHS = {
    "t": "track",
    "p": "page",
    "s": "screen",
    "i": "identify",
    "a": "alias",
    "g": "group",
}
"""The paths analytics.js (Segment's browser library) posts to: ``/v1/t`` for a track call
and so on, and ``/v1/b`` for a batch."""
INLINE_MESSAGES = 1000
"""A request with more messages is checked in a worker thread, off the event loop (Segment's
libraries send at most 100 or so per batch; a 500 KB body can hold 170,000 tiny ones)."""
LOG_DIR = "collector"
"""The log's folder inside the project's ``.kundresa``."""
WRITE_KEY_ENV = "KUNDRESA_WRITE_KEY"

_CORS = {
    "access-control-allow-origin": "*",
    "access-control-allow-methods": "POST, OPTIONS",
    "access-control-allow-headers": "Authorization, Content-Type, Content-Encoding",
    "access-control-max-age": "86400",
}


class MessageError(ValueError):
    """A message the collector refuses; ``field`` names what is wrong."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


_TIME_BOUNDS = tuple(datetime.fromisoformat(t) for t in TIME_RANGE)
""":data:`~kundresa.ingest.columns.TIME_RANGE` as times, read once (the ack path checks every
message's times against it)."""
_EPOCH = re.compile(r"[+-]?[0-9]+(?:\.[0-9]+)?")
"""A time the loader reads as a Unix epoch (``store.warehouse``: ``_epoch``)."""
_COMPACT_DATE = re.compile(r"[0-9]{8}")
"""An 8-digit number the loader reads as a date YYYYMMDD when it is one in TIME_RANGE."""
_EPOCH_END_US = (_TIME_BOUNDS[1] - datetime(1970, 1, 1)) // timedelta(microseconds=1)
_SPAN = f"between {_TIME_BOUNDS[0].year} and {_TIME_BOUNDS[1].year - 1}"
_ISO_SHAPE = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}"
    r"(?:[T ][0-9]{2}:[0-9]{2}(?::[0-9]{2}(?:\.[0-9]+)?)?"
    r"(?:Z|[+-][0-9]{2}(?::?[0-9]{2})?|[+-][0-9]{2}:[0-9]{2}:[0-9]{2}| [+-][0-9]{2}:?[0-9]{2})?)?"
)
"""The ISO 8601 texts the loader's SQL reads (DuckDB's ``TIMESTAMPTZ`` cast, and its second
try with a space before the offset, and its third with the seconds of a time to the minute):
a date, or a date and a time to the minute or second and an optional offset
(``tests/live/test_collector_times.py`` loads every shape). Python reads more
(``2026-W05``, ``T10`` without minutes); a time of such a shape would be acked and then
quarantined by the load, so it is refused when it arrives. The load of a file also reads the
basic format (``20260201T100000``) and a decimal comma (docs/sources.md); the collector
keeps to the extended form with a point, as Segment's libraries send it."""


FUTURE_SKEW = timedelta(days=1)
"""How far after the server received it a message's time may be: a device clock a time zone
or so off is taken as it is; a later time (a clock set to 2099, an epoch in the wrong unit) is
refused, as it cannot be when something happened and would stretch every trend and
cohort up to it."""
_EPOCH_START = datetime(1970, 1, 1)


@functools.lru_cache(maxsize=16)
def _latest(received_at: str) -> datetime:
    """The latest time a message received at ``received_at`` (ISO 8601) may have, naive UTC."""
    at = datetime.fromisoformat(received_at.replace("Z", "+00:00"))
    return at.astimezone(UTC).replace(tzinfo=None) + FUTURE_SKEW


def _check_time(value: str, field: str = "timestamp") -> datetime:
    """Refuse a mapped row's time (text) that the load would quarantine, naming ``field``;
    else the time, as the load reads it (naive UTC).

    The same rules as the loader's SQL (``kundresa.store.warehouse``): digits (with an
    optional fraction) are a Unix epoch whose magnitude tells the unit (seconds below 1e11,
    then milliseconds, microseconds, nanoseconds) and must be at least
    :data:`~kundresa.ingest.columns.EPOCH_MIN`, unless they are an 8-digit date YYYYMMDD;
    an offset may be at most :data:`~kundresa.ingest.columns.MAX_OFFSET_HOURS`; other text must be
    ISO 8601 of a shape DuckDB reads (:data:`_ISO_SHAPE`); either must fall in
    :data:`~kundresa.ingest.columns.TIME_RANGE` (UTC).
    """
    text = value.strip()
    first, end = _TIME_BOUNDS
    if _EPOCH.fullmatch(text):
        if _COMPACT_DATE.fullmatch(text):
            try:
                day = datetime.strptime(text, "%Y%m%d")
            except ValueError:
                day = None
            if day is not None and first <= day < end:
                return day
        number = float(text)
        if not number > 0:
            raise MessageError(field, f"{text[:40]!r} is not a time after 1970")
        if number < EPOCH_MIN:
            raise MessageError(
                field,
                f"{text[:40]!r} is too small for a Unix epoch (before 1973-03-03) and may be "
                "a spreadsheet's date serial: send the time as ISO 8601 text",
            )
        size = abs(number)
        micros = (
            number * 1e6
            if size < 1e11
            else number * 1e3
            if size < 1e14
            else number
            if size < 1e17
            else number / 1e3
        )
        if math.floor(micros + 0.5) >= _EPOCH_END_US:
            raise MessageError(
                field,
                f"{text[:40]!r} is not {_SPAN} as an epoch in seconds, milliseconds, "
                "microseconds or nanoseconds (told apart by magnitude)",
            )
        return _EPOCH_START + timedelta(microseconds=math.floor(micros + 0.5))
    try:
        if not _ISO_SHAPE.fullmatch(text):
            raise ValueError(text)
        at = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise MessageError(
            field,
            f"{text[:40]!r} is not an ISO 8601 date-time (YYYY-MM-DDTHH:MM:SS[.f][Z|+HH:MM]) "
            "or an epoch",
        ) from None
    # A placeholder date (0001-01-01, 9999-12-31) is refused as a file's row is quarantined
    # (TIME_RANGE): one such event would stretch every cohort over centuries.
    offset = at.utcoffset()
    if offset is not None and abs(offset) > timedelta(hours=MAX_OFFSET_HOURS):
        raise MessageError(
            field, f"{text[:40]!r} has a UTC offset beyond ±{MAX_OFFSET_HOURS:02d}:00"
        )
    try:
        utc = at.astimezone(UTC).replace(tzinfo=None) if at.tzinfo is not None else at
    except OverflowError:  # an offset that moves year 1 or 9999 past the calendar's ends
        utc = first.replace(year=1)
    if not first <= utc < end:
        raise MessageError(
            field, f"{text[:40]!r} is not {_SPAN}: a placeholder date, not when something happened"
        )
    return utc


_ID_FIELDS = ("userId", "anonymousId", "previousId", "messageId", "groupId")
"""Fields that hold an id: text or a number (as Segment's libraries send either)."""
_TEXT_FIELDS = ("type", "event")
_TIME_FIELDS = ("timestamp", "originalTimestamp", "sentAt")


_NUL = (
    "text with a NUL character (\\u0000), which PostgreSQL cannot store and a file "
    "ingest refuses as binary"
)


def _unstorable(msg: dict[str, Any]) -> MessageError | None:
    """The first field of ``msg`` (a dotted path) holding text that is not Unicode (a lone
    UTF-16 surrogate, as a ``\\udc00`` escape in the JSON), text or a name with a NUL
    character (``\\u0000``) or a number that is not finite
    (``Infinity``, ``NaN``, ``1e400``); ``None`` when there is none. Walked without recursion,
    so any nesting the JSON parser took is fine."""
    stack: list[tuple[str, Any]] = [(k, v) for k, v in reversed(msg.items())]
    while stack:
        path, value = stack.pop()
        try:
            path.encode()
        except UnicodeEncodeError:
            return MessageError(
                path.encode(errors="replace").decode(), "a name that is not Unicode text"
            )
        if "\x00" in path:
            return MessageError(path.replace("\x00", "\\u0000"), _NUL)
        if isinstance(value, str):
            try:
                value.encode()
            except UnicodeEncodeError:
                return MessageError(path, "text that is not Unicode (a lone UTF-16 surrogate)")
            if "\x00" in value:
                return MessageError(path, _NUL)
        elif isinstance(value, float) and not math.isfinite(value):
            return MessageError(path, f"{value!r} is not a finite number")
        elif isinstance(value, dict):
            stack.extend((f"{path}.{k}", v) for k, v in reversed(value.items()))
        elif isinstance(value, list):
            stack.extend((f"{path}[{i}]", v) for i, v in reversed(list(enumerate(value))))
    return None


def parse_body(body: bytes) -> tuple[Any, bool]:
    """A request body's JSON value, and whether every text and number in it is storable.

    orjson parses the body when it can (several times faster than the standard library);
    it refuses exactly what :func:`_unstorable` looks for — a lone UTF-16 surrogate,
    ``NaN``/``Infinity``, a number too large for a float — and some things the standard
    library accepts (nesting past 1024). A body it refuses, or one with 19 digits in a row
    (orjson reads an integer beyond 64 bits as the nearest float; the standard library keeps
    it exact), is parsed by the standard library, and then each message is walked so that
    only the message holding an unstorable value is refused, naming the field.

    Raises
    ------
    ValueError, UnicodeDecodeError, RecursionError
        When the body is not JSON.

    Examples
    --------
    >>> parse_body(b'{"batch": [{"event": "signup"}]}')
    ({'batch': [{'event': 'signup'}]}, True)
    >>> parse_body(b'{"batch": [{"properties": {"revenue": NaN}}]}')[1]
    False
    """
    data, storable = read_json(body)
    # orjson reads a NUL (``\u0000``) as any other character; the walk refuses it by field.
    return data, storable and b"\\u0000" not in body


def _not_json(exc: Exception) -> str:
    """Why a body is not JSON, in one line with where (:func:`parse_body`'s error).

    Examples
    --------
    >>> try:
    ...     parse_body(b'{"batch": [}')
    ... except ValueError as exc:
    ...     _not_json(exc)
    'body: not JSON: Expecting value at line 1, column 12'
    """
    if isinstance(exc, json.JSONDecodeError):
        return f"body: not JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}"
    if isinstance(exc, UnicodeDecodeError):
        return f"body: not UTF-8 text (byte {exc.start:,})"
    if isinstance(exc, RecursionError):
        return "body: not JSON the collector reads: nested too deeply"
    if "digits" in str(exc):  # Python's limit on integer text (sys.get_int_max_str_digits)
        return "body: not JSON the collector reads: a number with more than 4,300 digits"
    return f"body: not JSON ({str(exc)[:200]})"


def dump_rows(rows: list[dict[str, Any]]) -> bytes:
    """Mapped rows as one log record: compact UTF-8 JSON (orjson; the standard library for
    a value orjson cannot write, such as an integer beyond 64 bits)."""
    try:
        return orjson.dumps(rows)
    except TypeError:
        return json.dumps(rows, ensure_ascii=False, separators=(",", ":"), default=str).encode()


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _check_types(msg: dict[str, Any]) -> None:
    """Refuse a field of the wrong JSON type rather than store its text as junk."""
    for name in ("properties", "traits", "context"):
        if msg.get(name) is not None and not isinstance(msg[name], dict):
            raise MessageError(name, "not a JSON object")
    for name in _ID_FIELDS:
        value = msg.get(name)
        if value is not None and not isinstance(value, str) and not _is_number(value):
            raise MessageError(name, f"an id is text or a number, not {_json_type(value)}")
    for name in _TEXT_FIELDS:
        value = msg.get(name)
        if value is not None and not isinstance(value, str):
            raise MessageError(name, f"not text but {_json_type(value)}")
    for name in _TIME_FIELDS:
        value = msg.get(name)
        if value is not None and not isinstance(value, str) and not _is_number(value):
            raise MessageError(
                name, f"a time is ISO 8601 text or an epoch, not {_json_type(value)}"
            )
    props = msg.get("properties") or {}
    for name in VALUE_FIELDS:
        value = props.get(name)
        if value is None or (isinstance(value, str) and not value.strip()):
            continue
        if (isinstance(value, str) or _is_number(value)) and _finite_number(value):
            continue
        shown = repr(value) if isinstance(value, str) else _json_type(value)
        raise MessageError(f"properties.{name}", f"{shown[:40]} is not a finite number")


def _finite_number(value: str | float) -> bool:
    """Whether the load reads ``value`` (JSON number or text) as a finite double
    (:func:`kundresa.model.events.plain_number`)."""
    number = plain_number(value)
    return number is not None and math.isfinite(number)


def _json_type(value: Any) -> str:
    """A JSON value's type, in the words of JSON."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "an array"
    return "a number" if _is_number(value) else "text"


def check_message(
    msg: Any, received_at: str, sent_at: Any = None, *, storable: bool = False
) -> dict[str, Any]:
    """One message as a canonical row, or :class:`MessageError` naming the field.

    ``received_at`` is the server's time (the message's ``receivedAt``, used when the message
    has no ``timestamp``, ``originalTimestamp`` or ``sentAt``); ``sent_at`` the batch's
    ``sentAt``. ``storable``: the caller knows that no text or number in the message is
    unstorable (:func:`parse_body` said so of the body it came from), so the walk looking
    for them is skipped.

    Examples
    --------
    >>> row = check_message({"type": "track", "event": "signup", "userId": "u1",
    ...                      "properties": {"revenue": 9.5}}, "2025-01-02T03:04:05Z")
    >>> row["event"], row["timestamp"], row["value"]
    ('signup', '2025-01-02T03:04:05Z', 9.5)
    >>> check_message({"type": "track", "userId": "u1"}, "2025-01-02T03:04:05Z")
    Traceback (most recent call last):
    ...
    kundresa.live.collector.MessageError: event: missing event (a track call)
    """
    if not isinstance(msg, dict):
        raise MessageError("message", "not a JSON object")
    if sent_at is not None and "sentAt" not in msg:
        msg["sentAt"] = sent_at
    msg["receivedAt"] = received_at
    bad = None if storable else _unstorable(msg)
    if bad is not None:
        raise bad
    _check_types(msg)
    try:
        row = message_row(msg)
    except BadRow as exc:
        text = str(exc)
        raise MessageError(_field_of(text), text) from None
    try:
        check_props(row[PROPS])
    except BadRow as exc:
        field = "traits" if row.get("_kind") else "properties"  # identify, group: traits
        raise MessageError(field, str(exc).removeprefix("properties: ")) from None
    try:
        if _check_time(row["timestamp"]) > _latest(received_at):
            raise MessageError(
                "timestamp",
                f"{row['timestamp'][:40]!r} is more than a day after the server received the "
                f"message ({received_at}): a device clock set wrong, not when something happened",
            )
    except MessageError as exc:  # name the field the time came from (message_row's order)
        field = next((f for f in _TIME_FIELDS if not blank(msg.get(f))), "receivedAt")
        raise MessageError(field, str(exc).removeprefix("timestamp: ")) from None
    return row


def _field_of(reason: str) -> str:
    """The message field a mapping error names (its first word that is a field)."""
    for name in ("previousId", "userId", "anonymousId", "timestamp", "event", "type"):
        if name in reason:
            return name
    return "message"


def _basic_user(header: str) -> tuple[str, str] | None:
    if not header.lower().startswith("basic "):
        return None
    try:
        decoded = base64.b64decode(header[6:].strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    user, _, password = decoded.partition(":")
    return user, password


class Collector:
    """The collector of one served project: its write key, log and loader.

    Parameters
    ----------
    write_key
        The key senders must present.
    log_dir
        The log's folder (``PROJECT/.kundresa/collector``).
    open_writer
        Gives the warehouse opened for writing, one load cycle at a time.
    after_load
        See :mod:`kundresa.live.loader` (called inside each load's transaction).
    after_commit, beside
        See :class:`~kundresa.live.loader.Loader` (the follower, beside the loads).
    loaded
        Called after each committed load with its report.
    interval
        Seconds between load cycles.
    release
        Closes a write connection ``open_writer(keep=True)`` kept open: the loader then
        keeps it across the cycles of a burst (:mod:`kundresa.live.loader`).
    """

    def __init__(
        self,
        write_key: str,
        log_dir: str | Path,
        open_writer: Callable[..., contextlib.AbstractContextManager[Warehouse]],
        *,
        after_load: AfterLoad | None = None,
        after_commit: AfterLoad | None = None,
        beside: threading.Lock | None = None,
        loaded: Callable[[IngestReport], None] | None = None,
        interval: float = 0.5,
        release: Callable[[], None] | None = None,
    ) -> None:
        if not write_key:
            raise ValueError("the write key is empty")
        self.write_key = write_key
        self.log = WriteAheadLog(log_dir)
        self.loader = Loader(
            self.log,
            open_writer,
            after_load=after_load,
            after_commit=after_commit,
            beside=beside,
            loaded=loaded,
            interval=interval,
            release=release,
        )
        self.loader.start()

    def close(self) -> None:
        """Stop the loader after a last cycle, then close the log."""
        self.loader.stop()
        self.log.close()

    def authorised(self, header: str | None, body_key: Any = None) -> bool:
        """Whether a request carries the write key (Basic auth, else ``writeKey`` in the
        body)."""
        key = self.write_key.encode()
        if header:
            basic = _basic_user(header)
            return (
                basic is not None and hmac.compare_digest(basic[0].encode(), key) and basic[1] == ""
            )
        if not isinstance(body_key, str):
            return False
        try:
            given = body_key.encode()
        except UnicodeEncodeError:  # a lone surrogate: not the key
            return False
        return hmac.compare_digest(given, key)

    async def accept(self, rows: list[dict[str, Any]]) -> None:
        """Append the rows of one request to the log; returns once they are on disk."""
        await asyncio.wrap_future(self.log.submit(dump_rows(rows)))
        self.loader.wake()


def _answer(status: int, content: dict[str, Any]) -> JSONResponse:
    return JSONResponse(content, status_code=status, headers=_CORS)


def _refuse(status: int, message: str, **extra: Any) -> JSONResponse:
    return _answer(status, {"success": False, "message": message, **extra})


def _decode(body: bytes, encoding: str) -> bytes:
    if encoding in ("", "identity"):
        return body
    if encoding not in ("gzip", "x-gzip", "deflate"):
        raise MessageError("Content-Encoding", f"{encoding!r} is not gzip")
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS if encoding != "deflate" else 0)
    try:
        out = inflater.decompress(body, BATCH_LIMIT + 1)
    except zlib.error as exc:
        raise MessageError("body", f"not valid {encoding} data ({exc})") from None
    if len(out) > BATCH_LIMIT or inflater.unconsumed_tail:
        raise OverflowError
    return out


_MESSAGE_SCHEMA = {
    "type": "object",
    "description": "A message in the Segment Spec (userId or anonymousId, timestamp, "
    "event for track, properties, traits, context, messageId); at most 32 KB.",
    "additionalProperties": True,
}
_BATCH_SCHEMA = {
    "type": "object",
    "required": ["batch"],
    "properties": {
        "batch": {"type": "array", "items": _MESSAGE_SCHEMA},
        "sentAt": {"type": "string"},
        "context": {"type": "object"},
        "writeKey": {"type": "string"},
    },
}
_OK = {
    "type": "object",
    "properties": {"success": {"type": "boolean", "const": True}},
}
_REFUSED = {
    "type": "object",
    "properties": {
        "success": {"type": "boolean"},
        "message": {"type": "string"},
        "accepted": {"type": "integer"},
        "errors": {"type": "array", "items": {"type": "object"}},
    },
}


def _openapi(schema: dict[str, Any], summary: str) -> dict[str, Any]:
    return {
        "summary": summary,
        "security": [{"writeKey": []}],
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": schema}, "text/plain": {"schema": schema}},
        },
        "responses": {
            "200": {
                "description": "Accepted and on disk",
                "content": {"application/json": {"schema": _OK}},
            },
            "400": {
                "description": "A malformed message (named); the batch's other messages are kept",
                "content": {"application/json": {"schema": _REFUSED}},
            },
            "401": {
                "description": "No write key, or the wrong one",
                "content": {"application/json": {"schema": _REFUSED}},
            },
            "413": {
                "description": "A message over 32 KB or a body over 500 KB",
                "content": {"application/json": {"schema": _REFUSED}},
            },
            "503": {
                "description": "Not stored (the log cannot be written); send again later",
                "content": {"application/json": {"schema": _REFUSED}},
            },
        },
    }


def _check_all(
    messages: list[Any],
    received: str,
    sent_at: Any,
    shared: Any,
    storable: bool,
    big: bool,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """A request's messages checked one by one: the accepted rows and the refusals (each
    ``index``, ``messageId``, ``field``, ``message``). ``shared`` is the batch's
    ``context`` (a message without one takes it); ``big``: the body is over
    :data:`MESSAGE_LIMIT`, so each message's own size is checked."""
    rows: list[dict[str, Any]] = []
    errors: list[dict[str, Any]] = []
    for index, msg in enumerate(messages):
        try:
            if big and len(json.dumps(msg, separators=(",", ":"))) > MESSAGE_LIMIT:
                raise MessageError("message", f"larger than {MESSAGE_LIMIT:,} bytes")
            if isinstance(msg, dict) and isinstance(shared, dict) and "context" not in msg:
                msg["context"] = shared
            rows.append(check_message(msg, received, sent_at, storable=storable))
        except MessageError as exc:
            mid = msg.get("messageId") if isinstance(msg, dict) else None
            if _unstorable({"messageId": mid}) or not isinstance(mid, str | int):
                mid = None  # only an id that can be echoed as JSON
            errors.append(
                {"index": index, "messageId": mid, "field": exc.field, "message": str(exc)}
            )
    return rows, errors


def router(collector: Collector) -> APIRouter:
    """The ``/v1`` routes of ``collector`` (module docstring)."""
    r = APIRouter(tags=["collector"])

    async def receive(request: Request, kind: str | None) -> Response:
        auth = request.headers.get("authorization")
        if auth and not collector.authorised(auth):
            return _refuse(
                401, "wrong write key (Basic auth: the key as the user name, an empty password)"
            )
        raw = await request.body()
        try:
            body = _decode(raw, request.headers.get("content-encoding", "").strip().lower())
        except OverflowError:
            return _refuse(413, f"body: larger than {BATCH_LIMIT:,} bytes")
        except MessageError as exc:
            return _refuse(400, str(exc), field=exc.field)
        if len(body) > BATCH_LIMIT:
            return _refuse(413, f"body: larger than {BATCH_LIMIT:,} bytes")
        if kind is not None and len(body) > MESSAGE_LIMIT:
            return _refuse(413, f"message: larger than {MESSAGE_LIMIT:,} bytes")
        try:
            data, storable = parse_body(body)
        except (ValueError, UnicodeDecodeError, RecursionError) as exc:
            return _refuse(400, _not_json(exc), field="body")
        if not isinstance(data, dict):
            return _refuse(400, "body: not a JSON object")
        if not auth:
            # Missing and wrong are told apart; the key itself is never echoed, and the
            # compare takes the same time wherever a wrong key differs (hmac.compare_digest).
            given = data.get("writeKey")
            if given is None or given == "":
                return _refuse(
                    401,
                    "write key required: HTTP Basic auth with the key as the user name, "
                    "or writeKey in the JSON body",
                )
            if not collector.authorised(None, given):
                return _refuse(401, "wrong write key (writeKey in the body)")
        received = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        if kind is None:
            messages = data.get("batch")
            if not isinstance(messages, list):
                return _refuse(400, "batch: not a JSON array of messages", field="batch")
            sent_at = data.get("sentAt")
            shared = data.get("context")
        else:
            data["type"] = kind
            data.pop("writeKey", None)
            messages, sent_at, shared = [data], None, None
        big = len(body) > MESSAGE_LIMIT and kind is None
        args = (messages, received, sent_at, shared, storable, big)
        if len(messages) > INLINE_MESSAGES:
            # A 500 KB body can hold 170,000 tiny messages (seconds of checking): off the
            # event loop, so other requests' acks and pages are not held up meanwhile.
            rows, errors = await run_in_threadpool(_check_all, *args)
        else:
            rows, errors = _check_all(*args)
        if rows:
            try:
                await collector.accept(rows)
            except LogError as exc:  # a full or failing disk, or the server stopping
                # Nothing of this request is acknowledged; SDKs send it again after a 5xx.
                return _refuse(503, f"not stored, send again later: {exc}")
        if errors:
            first = errors[0]
            where = f"message {first['index']}: " if kind is None else ""
            return _refuse(
                400, f"{where}{first['message']}", accepted=len(rows), errors=errors[:100]
            )
        return _answer(200, {"success": True})

    def endpoint(kind: str | None) -> Callable[[Request], Any]:
        async def handle(request: Request) -> Response:
            return await receive(request, kind)

        handle.__name__ = f"collect_{kind or 'batch'}"
        return handle

    async def preflight() -> Response:
        return Response(status_code=204, headers=_CORS)

    paths: list[tuple[str, str | None, str]] = [
        (kind, kind, f"Collect one {kind} message") for kind in KINDS
    ]
    paths.append(("batch", None, "Collect a batch of messages"))
    paths += [
        (short, kind, f"Collect one {kind} message (analytics.js's path)")
        for short, kind in SHORT_PATHS.items()
    ]
    paths.append(("b", None, "Collect a batch of messages (analytics.js's path)"))
    for name, kind, summary in paths:
        schema = _BATCH_SCHEMA if kind is None else _MESSAGE_SCHEMA
        r.add_api_route(
            f"/v1/{name}",
            endpoint(kind),
            methods=["POST"],
            name=f"collect_{name}",
            openapi_extra=_openapi(schema, summary),
        )
        r.add_api_route(f"/v1/{name}", preflight, methods=["OPTIONS"], include_in_schema=False)
    return r
