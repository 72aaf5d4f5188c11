"""The app's static files: versioned URLs, compressed once, cached for a year.

Templates link assets through :meth:`StaticAssets.url` (``/static/app.js?v=<hash>``, the
hash of the file's content), so a browser may keep them for a year
(``Cache-Control: public, max-age=31536000, immutable``): a changed file has a new URL. Text
assets are gzipped once, on first request, and kept in memory; a browser that accepts gzip
gets those bytes (the 1.1 MB chart library travels as about 370 KB).
"""

from __future__ import annotations

import gzip
import hashlib
import mimetypes
import threading
from pathlib import Path
from typing import Any

__all__ = ["IMMUTABLE", "StaticAssets"]

IMMUTABLE = "public, max-age=31536000, immutable"
_COMPRESSIBLE = (".js", ".css", ".svg", ".json", ".txt", ".html", ".map")


class StaticAssets:
    """An ASGI app serving the files of one folder (mount it at ``/static``).

    Parameters
    ----------
    folder
        The folder served; nothing outside it is reachable.
    prefix
        The URL path it is mounted at.
    """

    def __init__(self, folder: Path, prefix: str = "/static") -> None:
        self.folder = folder.resolve()
        self.prefix = prefix.rstrip("/")
        self._lock = threading.Lock()
        self._cache: dict[str, tuple[bytes, bytes | None, str, str]] = {}

    def _load(self, rel: str) -> tuple[bytes, bytes | None, str, str] | None:
        """``(raw, gzipped or None, content type, version)`` of a file, or ``None``."""
        with self._lock:
            hit = self._cache.get(rel)
        if hit is not None:
            return hit
        path = (self.folder / rel).resolve()
        if not path.is_relative_to(self.folder) or not path.is_file():
            return None
        raw = path.read_bytes()
        version = hashlib.sha256(raw).hexdigest()[:16]
        ctype = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        if ctype.startswith("text/") or ctype in ("application/javascript", "text/javascript"):
            ctype += "; charset=utf-8"
        packed = None
        if path.suffix in _COMPRESSIBLE and len(raw) > 512:
            packed = gzip.compress(raw, compresslevel=9, mtime=0)
        entry = (raw, packed, ctype, version)
        with self._lock:
            self._cache[rel] = entry
        return entry

    def url(self, name: str) -> str:
        """The versioned URL of a static file (``app.js`` → ``/static/app.js?v=…``)."""
        entry = self._load(name)
        if entry is None:
            raise ValueError(f"static file {name!r} not found")
        return f"{self.prefix}/{name}?v={entry[3]}"

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        assert scope["type"] == "http"
        rel = scope["path"]
        if rel.startswith(self.prefix + "/"):
            rel = rel[len(self.prefix) + 1 :]
        rel = rel.lstrip("/")
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        entry = self._load(rel) if rel and scope["method"] in ("GET", "HEAD") else None
        if entry is None:
            status = 404 if scope["method"] in ("GET", "HEAD") else 405
            await _send(send, status, b"Not Found" if status == 404 else b"", "text/plain", [])
            return
        raw, packed, ctype, version = entry
        etag = f'"{version}"'
        query = scope.get("query_string", b"").decode("latin-1")
        cache = IMMUTABLE if f"v={version}" in query.split("&") else "public, max-age=300"
        common = [
            (b"etag", etag.encode()),
            (b"cache-control", cache.encode()),
            (b"vary", b"Accept-Encoding"),
        ]
        if headers.get("if-none-match") == etag:
            await _send(send, 304, b"", ctype, common, head=True)
            return
        use_gzip = packed is not None and "gzip" in headers.get("accept-encoding", "").lower()
        body = packed if use_gzip and packed is not None else raw
        if use_gzip:
            common.append((b"content-encoding", b"gzip"))
        await _send(send, 200, body, ctype, common, head=scope["method"] == "HEAD")


async def _send(
    send: Any,
    status: int,
    body: bytes,
    ctype: str,
    headers: list[tuple[bytes, bytes]],
    head: bool = False,
) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", ctype.encode()),
                (b"content-length", str(len(body)).encode()),
                *headers,
            ],
        }
    )
    await send({"type": "http.response.body", "body": b"" if head else body})
