"""What guards every request to the web app: access, forgery, sessions, headers, body size.

One ASGI middleware, :class:`Guard`, sits in front of every route (pages, API and static
files) and, in this order:

1. **Sessions.** A browser gets a random session id in an HttpOnly, SameSite=Strict cookie; the
   session itself (its anti-forgery token, whether it signed in) lives only in the server's
   memory (:class:`SessionStore`), so signing out ends it for good, and a restart ends them
   all. Signing in starts a new session (no fixation).
2. **Access.** With an access token, every page and API call needs ``Authorization: Bearer
   TOKEN`` or a signed-in session; the sign-in page and the static assets are open.
   The collector (``/v1/``, :mod:`kundresa.live.collector`) is open to senders on other
   sites by design: its routes check the project's write key instead, and its body limit is
   ``collector_limit``; the guard's refusals there have the collector's (Segment's) shape,
   ``{"success": false, "message": ...}``, with CORS allowed.
3. **Forgery** (POST, PUT, PATCH, DELETE, on every address): an ``Origin`` header, else a
   ``Referer``, must name this server's host; then the request must carry a proof that a page
   of this app sent it: the bearer token (browsers never add it by themselves), the
   session's anti-forgery token in the ``X-Kundresa-CSRF`` header (``fetch`` from app.js) or
   in the form field ``csrf_token`` (the first field of every form), or — for JSON API writes
   — a ``Content-Type`` that a cross-site form cannot send (``application/json``,
   ``application/yaml``): a browser asks before sending one, and the app never says yes. What
   fails is refused with 403 and a one-line reason. This follows OWASP's *Cross-Site Request
   Forgery Prevention Cheat Sheet* (verifying origin with standard headers, synchronizer token
   pattern, custom request headers).
4. **Body size.** ``Content-Length`` is checked before anything is read, then the bytes are
   counted while they arrive; past the limit the answer is 413 at once, before the rest of the
   body is read (uploads: ``upload_limit``; every other body: ``body_limit``).
5. **Parameters** (:mod:`.limits`): control characters, lengths and ranges are checked once
   for every route; a bad one is 422 naming the parameter.
6. **Headers** on every answer: a Content-Security-Policy without inline scripts
   (:data:`CSP`), ``X-Content-Type-Options: nosniff``, ``X-Frame-Options: DENY``,
   ``Referrer-Policy: same-origin``, and ``Cache-Control: no-store`` on pages and API answers.
"""

from __future__ import annotations

import contextvars
import hmac
import html
import json
import os
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import parse_qsl, quote, urlsplit

from kundresa.web import limits

__all__ = [
    "COLLECTOR_BODY_LIMIT",
    "COLLECTOR_PREFIX",
    "CSP",
    "CSRF_FIELD",
    "CSRF_HEADER",
    "DEFAULT_BODY_LIMIT",
    "NOT_COMPRESSED",
    "SESSION_COOKIE",
    "Guard",
    "Session",
    "SessionStore",
    "body_limit",
    "csrf_token",
    "json_text",
    "session_answer",
    "sign_in",
    "sign_out",
]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

SESSION_COOKIE = "kundresa_session"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-kundresa-csrf"
DEFAULT_BODY_LIMIT = 1024 * 1024
"""Largest request body other than an upload, in bytes (``KUNDRESA_BODY_LIMIT``): a journey
file is a few kilobytes; a megabyte is generous."""

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self'; connect-src 'self'; object-src 'none'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
"""The Content-Security-Policy of every answer: scripts only from the app's own files (no
inline script, no ``eval``); inline *styles* are allowed because ECharts positions its
tooltips and SVG with them."""

NOT_COMPRESSED = (
    "application/grpc",
    "application/gzip",
    "application/x-gzip",
    "text/event-stream",
    "text/html",
)
"""Answers the app does not gzip: pages carry the session's anti-forgery token next to text
from the request, and compressing both together would let an eavesdropper guess the token
from answer sizes (the BREACH attack). JSON answers and static files are compressed."""

_SECURITY_HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"same-origin"),
    (b"cross-origin-opener-policy", b"same-origin"),
]
_UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_SIMPLE_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data", "text/plain")
_PUBLIC = ("/login", "/static/")
COLLECTOR_PREFIX = "/v1/"
COLLECTOR_BODY_LIMIT = 500 * 1024
"""Largest body of a collector request on the wire (Segment's batch limit; a gzip body is
also held to it once decompressed, by the collector)."""
_NO_SESSION = ("/api/", "/static/", "/openapi.json", COLLECTOR_PREFIX)
_PREFIX_LIMIT = 64 * 1024  # how much of a multipart body is read to find its first field

_current_csrf: contextvars.ContextVar[str] = contextvars.ContextVar("kundresa_csrf", default="")


def csrf_token() -> str:
    """The anti-forgery token of the session the current request belongs to ('' if none).

    Templates put it in a hidden ``csrf_token`` field of every form and in a
    ``<meta name="csrf-token">`` that app.js sends as ``X-Kundresa-CSRF``.
    """
    return _current_csrf.get()


def body_limit() -> int:
    """The largest non-upload request body: ``KUNDRESA_BODY_LIMIT`` or
    :data:`DEFAULT_BODY_LIMIT`."""
    raw = os.environ.get("KUNDRESA_BODY_LIMIT")
    if not raw:
        return DEFAULT_BODY_LIMIT
    if not raw.isdigit() or int(raw) < 1:
        raise ValueError(f"KUNDRESA_BODY_LIMIT={raw!r}: expected a positive number of bytes")
    return int(raw)


def json_text(body: str) -> str | None:
    """The journey text of a JSON request body: a JSON string or ``{"text": "..."}``.

    Examples
    --------
    >>> json_text('{"text": "kundresa: 1"}'), json_text('"name: x"'), json_text("[1]")
    ('kundresa: 1', 'name: x', None)
    """
    try:
        value = json.loads(body)
    except ValueError:
        return None
    if isinstance(value, dict):
        value = value.get("text")
    return value if isinstance(value, str) else None


def sign_in(request: Any, response: Any) -> Session:
    """Start a signed-in session for ``request`` (ending the one it had) and set its cookie
    on ``response``."""
    state = request.scope["state"]
    store: SessionStore = state["sessions"]
    old: Session | None = state.get("session")
    if old is not None:
        store.end(old.id)
    session = store.new(signed_in=True)
    state["session"] = session
    response.raw_headers.append(
        (b"set-cookie", _cookie_header(session.id, secure=bool(state.get("secure"))))
    )
    return session


def sign_out(request: Any, response: Any) -> None:
    """End the request's session for good and clear its cookie on ``response``."""
    state = request.scope["state"]
    old: Session | None = state.get("session")
    if old is not None:
        state["sessions"].end(old.id)
    state["session"] = None
    response.raw_headers.append(
        (b"set-cookie", _cookie_header("", secure=bool(state.get("secure")), delete=True))
    )


def session_answer() -> Any:
    """``GET /api/session``: this session's anti-forgery token (a new session when the
    client had none; its cookie is set)."""
    from starlette.responses import JSONResponse

    return JSONResponse({"csrf_token": csrf_token(), "header": "X-Kundresa-CSRF"})


@dataclass
class Session:
    """One browser's session, held in the server's memory only."""

    id: str
    csrf: str
    signed_in: bool = False
    created: float = field(default_factory=time.monotonic)
    seen: float = field(default_factory=time.monotonic)


class SessionStore:
    """Server-side sessions: ids in cookies, everything else here.

    Parameters
    ----------
    max_sessions
        Sessions kept at most; past it the least recently used are forgotten (signed-out
        ones first), so a client that never keeps its cookie cannot fill the memory.
    idle_seconds
        A session unused this long ends.
    """

    def __init__(self, max_sessions: int = 5000, idle_seconds: float = 12 * 3600) -> None:
        self.max_sessions = max_sessions
        self.idle_seconds = idle_seconds
        self._lock = threading.Lock()
        self._sessions: OrderedDict[str, Session] = OrderedDict()

    def __len__(self) -> int:
        return len(self._sessions)

    def get(self, sid: str | None) -> Session | None:
        """The live session with this id, or ``None``."""
        if not sid:
            return None
        now = time.monotonic()
        with self._lock:
            s = self._sessions.get(sid)
            if s is None:
                return None
            if now - s.seen > self.idle_seconds:
                del self._sessions[sid]
                return None
            s.seen = now
            self._sessions.move_to_end(sid)
            return s

    def new(self, *, signed_in: bool = False) -> Session:
        """A new session with fresh random id and token (``secrets``, 256 bits each)."""
        s = Session(secrets.token_urlsafe(32), secrets.token_urlsafe(32), signed_in)
        with self._lock:
            self._sessions[s.id] = s
            while len(self._sessions) > self.max_sessions:
                victim = next((k for k, v in self._sessions.items() if not v.signed_in), None)
                if victim is None:
                    victim = next(iter(self._sessions))
                del self._sessions[victim]
        return s

    def end(self, sid: str | None) -> None:
        """Forget a session: its cookie no longer works."""
        if sid:
            with self._lock:
                self._sessions.pop(sid, None)


def _cookie_header(value: str, *, secure: bool, delete: bool = False) -> bytes:
    parts = [f"{SESSION_COOKIE}={value}", "Path=/", "HttpOnly", "SameSite=Strict"]
    if secure:
        parts.append("Secure")
    if delete:
        parts.append("Max-Age=0")
    return "; ".join(parts).encode("latin-1")


class Refused(Exception):
    """A request the guard answers itself (status, one-line message)."""

    def __init__(self, status: int, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.field = field


ErrorPage = Callable[[Scope, str, int], Awaitable[tuple[bytes, str]] | tuple[bytes, str]]


class Guard:
    """The ASGI middleware described in the module docstring.

    Parameters
    ----------
    app
        The wrapped ASGI app.
    token
        The access token, or ``None`` (no sign-in: loopback).
    sessions
        Where sessions live (shared with the sign-in and sign-out routes).
    upload_limit
        Largest body, in bytes, of a POST to one of ``upload_paths``.
    body_limit
        Largest body of any other request.
    upload_paths
        Paths that take an uploaded file.
    error_page
        ``(scope, message, status) -> (html bytes, content type)`` for refusals of pages
        (API paths get JSON ``{"detail": ...}``, the collector's ``{"success": false,
        "message": ...}``); default a plain escaped page.
    collector_limit
        Largest body on the wire of a request to the collector (``/v1/``).
    """

    def __init__(
        self,
        app: Any,
        *,
        token: str | None,
        sessions: SessionStore,
        upload_limit: int,
        body_limit: int = DEFAULT_BODY_LIMIT,
        upload_paths: Iterable[str] = ("/data", "/api/data/upload"),
        error_page: ErrorPage | None = None,
        collector_limit: int = COLLECTOR_BODY_LIMIT,
    ) -> None:
        self.app = app
        self.collector_limit = collector_limit
        self.token = token
        self.sessions = sessions
        self.upload_limit = upload_limit
        self.body_limit = body_limit
        self.upload_paths = frozenset(upload_paths)
        self.error_page = error_page

    # -- the request --------------------------------------------------------------------------

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = _headers(scope)
        path: str = scope["path"]
        method: str = scope["method"]
        cookies = SimpleCookie()
        try:
            cookies.load(headers.get("cookie", ""))
        except Exception:  # a malformed Cookie header: as if there were none
            cookies = SimpleCookie()
        sid = cookies[SESSION_COOKIE].value if SESSION_COOKIE in cookies else None
        session = self.sessions.get(sid)
        bearer = self._bearer_ok(headers)
        new_cookie: bytes | None = None
        secure = scope.get("scheme") == "https"
        state = scope.setdefault("state", {})
        state["session"] = session
        state["bearer"] = bearer
        state["sessions"] = self.sessions
        state["secure"] = secure

        started = False

        async def send_with_headers(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                extra = list(_SECURITY_HEADERS)
                if not path.startswith("/static/"):
                    extra.append((b"cache-control", b"no-store"))
                if new_cookie is not None:
                    extra.append((b"set-cookie", new_cookie))
                have = {k.lower() for k, _ in message.get("headers", [])}
                message["headers"] = [
                    *message.get("headers", []),
                    *((k, v) for k, v in extra if k not in have or k == b"set-cookie"),
                ]
            await send(message)

        try:
            # Access.
            signed_in = bearer or (session is not None and session.signed_in)
            collector = path.startswith(COLLECTOR_PREFIX)
            if (
                self.token is not None
                and not path.startswith(_PUBLIC)
                and not signed_in
                and not collector
            ):
                await self._deny_access(scope, send_with_headers)
                return
            # A page opened by a browser without a session gets one (its forms need a token).
            if (
                session is None
                and method in ("GET", "HEAD")
                and (path == "/api/session" or not path.startswith(_NO_SESSION))
            ):
                session = self.sessions.new()
                state["session"] = session
                new_cookie = _cookie_header(session.id, secure=secure)
            _current_csrf.set(session.csrf if session is not None else "")
            limits.check_query(path, scope.get("query_string", b""))
            if method in _UNSAFE and collector:
                # Senders on other sites are the point: the write key, checked by the
                # collector's routes, is the proof; only the size is the guard's business.
                length = headers.get("content-length")
                if length is not None and length.isdigit() and int(length) > self.collector_limit:
                    raise _too_large(self.collector_limit)
            elif method in _UNSAFE:
                receive = await self._check_unsafe(scope, headers, session, bearer, receive)
        except limits.ParameterError as exc:
            await self._refuse(scope, send_with_headers, Refused(422, exc.message, exc.field))
            return
        except Refused as exc:
            await self._refuse(scope, send_with_headers, exc)
            return

        responded = False

        async def guarded_send(message: Message) -> None:
            if not responded:
                await send_with_headers(message)

        if method in _UNSAFE or "content-length" in headers:
            limit = self._limit(path, method)
            counted = 0
            inner = receive

            async def counting_receive() -> Message:
                nonlocal counted, responded
                message = await inner()
                if message["type"] == "http.request":
                    counted += len(message.get("body", b""))
                    if counted > limit and not responded:
                        if not started:
                            await self._refuse(scope, send_with_headers, _too_large(limit))
                        responded = True
                        return {"type": "http.disconnect"}
                return message

            receive = counting_receive
        try:
            await self.app(scope, receive, guarded_send)
        except Exception:
            if not responded:
                raise
            # The body was refused (413) and the app stopped reading it: nothing more to say.

    # -- the checks ---------------------------------------------------------------------------

    def _bearer_ok(self, headers: dict[str, str]) -> bool:
        if self.token is None:
            return False
        auth = headers.get("authorization", "")
        if not auth.lower().startswith("bearer "):
            return False
        return hmac.compare_digest(auth[7:].strip().encode(), self.token.encode())

    def _limit(self, path: str, method: str) -> int:
        if path.startswith(COLLECTOR_PREFIX):
            return self.collector_limit
        return self.upload_limit if path in self.upload_paths else self.body_limit

    async def _check_unsafe(
        self,
        scope: Scope,
        headers: dict[str, str],
        session: Session | None,
        bearer: bool,
        receive: Receive,
    ) -> Receive:
        """Refuse a forged request; returns the ``receive`` to use (a body read to find the
        form's token is given again to the app)."""
        host = headers.get("host", "")
        origin = headers.get("origin")
        claimed = origin if origin is not None else headers.get("referer")
        if claimed is not None and (not host or _netloc(claimed) != host.lower()):
            shown = origin if origin is not None else "Referer"
            raise Refused(403, f"forbidden: the request comes from another site ({shown})")
        # Body size before reading anything.
        length = headers.get("content-length")
        limit = self._limit(scope["path"], scope["method"])
        if length is not None:
            if not length.isdigit():
                raise Refused(400, "Content-Length: not a number")
            if int(length) > limit:
                raise _too_large(limit)
        ctype = headers.get("content-type", "").split(";")[0].strip().lower()
        fields: list[tuple[str, str]] | None = None
        if ctype == "application/x-www-form-urlencoded":
            body, receive = await _read_all(receive, limit)
            fields = parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True)
            for name, value in fields:
                limits.check_form_value(name, value)
        if bearer:
            return receive
        expected = session.csrf if session is not None else None
        sent = headers.get(CSRF_HEADER)
        if sent is not None:
            if expected and hmac.compare_digest(sent.encode(), expected.encode()):
                return receive
            raise Refused(403, "forbidden: the anti-forgery token (X-Kundresa-CSRF) is wrong")
        if scope["path"].startswith("/api/") and ctype and ctype not in _SIMPLE_TYPES:
            return receive  # a cross-site page cannot send this without asking first
        if fields is not None:
            _check_token(next((v for k, v in fields if k == CSRF_FIELD), None), expected)
            return receive
        if ctype == "multipart/form-data":
            token, receive = await _first_multipart_field(receive, headers["content-type"])
            _check_token(token, expected)
            return receive
        raise Refused(
            403,
            "forbidden: send the anti-forgery token (X-Kundresa-CSRF, from GET /api/session), "
            "the access token, or a JSON body",
        )

    # -- answers ------------------------------------------------------------------------------

    async def _deny_access(self, scope: Scope, send: Send) -> None:
        path = scope["path"]
        if path.startswith("/api/") or path == "/openapi.json":
            body = json.dumps(
                {"detail": "access token required: send Authorization: Bearer TOKEN"}
            ).encode()
            await _respond(
                send,
                401,
                body,
                "application/json",
                [(b"www-authenticate", b"Bearer")],
            )
            return
        query = scope.get("query_string", b"").decode("latin-1")
        target = path + (f"?{query}" if query else "")
        location = f"/login?next={quote(target)}".encode("latin-1")
        await _respond(send, 303, b"", "text/plain", [(b"location", location)])

    async def _refuse(self, scope: Scope, send: Send, exc: Refused) -> None:
        path = scope["path"]
        if path.startswith(COLLECTOR_PREFIX):
            # The collector's own answer shape (Segment's), readable by a browser on any site.
            message = exc.message
            if exc.status == 413:
                message = f"body: larger than {self.collector_limit:,} bytes"
            body = json.dumps({"success": False, "message": message}).encode()
            cors = [(b"access-control-allow-origin", b"*")]
            await _respond(send, exc.status, body, "application/json", cors)
            return
        if path.startswith("/api/") or path == "/openapi.json" or self.error_page is None:
            payload = {"detail": exc.message}  # one line, naming the parameter (docs/web.md)
            await _respond(send, exc.status, json.dumps(payload).encode(), "application/json")
            return
        assert self.error_page is not None
        try:
            made = self.error_page(scope, exc.message, exc.status)
            body, ctype = await made if isinstance(made, Awaitable) else made
        except Exception:  # the page cannot be drawn (e.g. the journey is broken): plain
            body = (
                "<!doctype html><meta charset=utf-8><title>Kundresa</title>"
                f"<p role=alert>{html.escape(exc.message)}</p>"
            ).encode()
            ctype = "text/html; charset=utf-8"
        await _respond(send, exc.status, body, ctype)


def _too_large(limit: int) -> Refused:
    return Refused(
        413,
        f"request body: larger than the limit of {limit:,} bytes "
        "(ingest big files with `kundresa ingest`)",
    )


def _check_token(sent: str | None, expected: str | None) -> None:
    if not sent:
        raise Refused(403, f"forbidden: the form has no anti-forgery token ({CSRF_FIELD})")
    if not expected or not hmac.compare_digest(sent.encode(), expected.encode()):
        raise Refused(
            403, "forbidden: the anti-forgery token is wrong or the session ended; reload the page"
        )


def _headers(scope: Scope) -> dict[str, str]:
    out: dict[str, str] = {}
    for k, v in scope.get("headers", []):
        out.setdefault(k.decode("latin-1").lower(), v.decode("latin-1"))
    return out


def _netloc(url: str) -> str:
    try:
        return urlsplit(url.strip()).netloc.lower()
    except ValueError:
        return ""


async def _respond(
    send: Send,
    status: int,
    body: bytes,
    content_type: str,
    headers: list[tuple[bytes, bytes]] | None = None,
) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", content_type.encode("latin-1")),
                (b"content-length", str(len(body)).encode()),
                *(headers or []),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def _replay(messages: list[Message], receive: Receive) -> Receive:
    """A ``receive`` that first gives back messages already read."""
    pending = list(messages)

    async def again() -> Message:
        if pending:
            return pending.pop(0)
        return await receive()

    return again


async def _read_all(receive: Receive, limit: int) -> tuple[bytes, Receive]:
    messages: list[Message] = []
    body = b""
    while True:
        message = await receive()
        messages.append(message)
        if message["type"] != "http.request":
            break
        body += message.get("body", b"")
        if len(body) > limit:
            raise _too_large(limit)
        if not message.get("more_body", False):
            break
    return body, _replay(messages, receive)


async def _first_multipart_field(receive: Receive, content_type: str) -> tuple[str | None, Receive]:
    """The value of a multipart body's first part when it is ``csrf_token`` (the rest of the
    body is not read here: a large upload streams on to the app)."""
    boundary = None
    for part in content_type.split(";")[1:]:
        key, _, value = part.strip().partition("=")
        if key.lower() == "boundary":
            boundary = value.strip('"')
    if not boundary:
        return None, receive
    delimiter = b"--" + boundary.encode("latin-1")
    messages: list[Message] = []
    buffer = b""
    while True:
        message = await receive()
        messages.append(message)
        if message["type"] != "http.request":
            break
        buffer += message.get("body", b"")
        first = buffer.find(delimiter)
        if first >= 0 and buffer.find(b"\r\n" + delimiter, first + len(delimiter)) >= 0:
            break
        if len(buffer) > _PREFIX_LIMIT or not message.get("more_body", False):
            break
    token: str | None = None
    first = buffer.find(delimiter)
    if first >= 0:
        end = buffer.find(b"\r\n" + delimiter, first + len(delimiter))
        chunk = buffer[first + len(delimiter) : end if end >= 0 else len(buffer)]
        head, _, content = chunk.lstrip(b"\r\n").partition(b"\r\n\r\n")
        if end >= 0 and f'name="{CSRF_FIELD}"'.encode() in head.lower():
            token = content.decode("utf-8", "replace")
    return token, _replay(messages, receive)
