"""Signing in and out (``/login``, ``/logout``) and the session's anti-forgery token
(``/api/session``); the guard itself is :mod:`kundresa.web.security`."""

from __future__ import annotations

import hmac
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from kundresa.web import security
from kundresa.web.site import Site


def router(site: Site) -> APIRouter:
    r = APIRouter()
    token = site.token

    @r.get("/login", response_class=HTMLResponse, include_in_schema=False)
    def login_form(request: Request, next: str = "/", failed: bool = False) -> HTMLResponse:
        # Nothing of the project is shown before signing in, not even the journey's name.
        context = {"next": next, "failed": failed}
        return site.page(request, "login.html", context, title="sign_in", public=True)

    @r.post("/login", include_in_schema=False)
    def login(
        request: Request, token_: Annotated[str, Form(alias="token")], next: str = Form("/")
    ) -> Response:
        if not next.startswith("/") or next.startswith("//"):
            next = "/"
        if token is None:
            return RedirectResponse(next, status_code=303)
        if not hmac.compare_digest(token_.encode(), token.encode()):
            return RedirectResponse(f"/login?failed=1&next={quote(next)}", status_code=303)
        resp = RedirectResponse(next, status_code=303)
        security.sign_in(request, resp)  # a new server-side session; the old one ends
        return resp

    @r.post("/logout", include_in_schema=False)
    def logout(request: Request) -> Response:
        resp = RedirectResponse("/login", status_code=303)
        security.sign_out(request, resp)  # the session ends: its cookie no longer works
        return resp

    @r.get("/api/session", tags=["access"], summary="This session's anti-forgery token")
    def api_session() -> Response:
        """The token to send as ``X-Kundresa-CSRF`` with writes from a browser session or a
        cookie-keeping client (web/security.py)."""
        return security.session_answer()

    return r
