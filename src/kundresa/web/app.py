"""The web app: server-rendered pages and their JSON twins under ``/api``.

Every page ``/x`` is drawn from the same data ``/api/x`` returns, by the same handler with the
same parameters (:func:`kundresa.web.site.twin`), so the numbers a marketer sees are the
numbers an API client gets. The routes live in one module per area
(:mod:`kundresa.web.routes`); the analyses run through :meth:`Project.run
<kundresa.project.Project.run>`. Off loopback the app needs an access token: API clients send
``Authorization: Bearer TOKEN``; a browser signs in once at ``/login`` and gets an HttpOnly,
SameSite=Strict session cookie.
"""

from __future__ import annotations

import contextvars
import functools
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.gzip import GZipMiddleware
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from kundresa.project import STORE_DIR
from kundresa.web import assets, jobs, limits, routes, security
from kundresa.web.i18n import LANGUAGES
from kundresa.web.site import Site, fields_named, format_value
from kundresa.web.state import ProjectState

__all__ = ["DEFAULT_UPLOAD_LIMIT", "create_app", "format_value"]

DEFAULT_UPLOAD_LIMIT = 200 * 1024 * 1024
"""Largest accepted upload in bytes (``KUNDRESA_UPLOAD_LIMIT`` or ``create_app`` changes it)."""


class HeadAsGet:
    """ASGI middleware: a ``HEAD`` request is routed as ``GET`` (the same status and headers,
    ``Content-Length`` included) and the body of the answer is not sent (RFC 9110, section
    9.3.2). The collector's ``/v1/`` routes are left as they are (POST only)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["method"] != "HEAD" or scope["path"].startswith("/v1/"):
            await self.app(scope, receive, send)
            return

        async def headers_only(message: Any) -> None:
            if message["type"] == "http.response.body":
                if message.get("more_body", False):
                    return  # the body is dropped; only its last message ends the answer
                message = {"type": "http.response.body", "body": b"", "more_body": False}
            await send(message)

        await self.app({**scope, "method": "GET"}, receive, headers_only)


def create_app(
    project_dir: str | os.PathLike[str] = ".",
    *,
    token: str | None = None,
    lang: str | None = None,
    upload_limit: int | None = None,
    write_key: str | None = None,
    after_load: Callable[[Any], None] | None = None,
) -> FastAPI:
    """The web app for the project in ``project_dir``.

    Parameters
    ----------
    project_dir
        The project folder (``journey.yaml`` and ``.kundresa/``).
    token
        Access token every page and API call must carry (``None``: no sign-in, for loopback).
    lang
        UI language (``sv``, ``da`` or ``en``) when a request does not choose one; default the
        journey's language.
    upload_limit
        Largest upload in bytes (default ``KUNDRESA_UPLOAD_LIMIT`` or 200 MB).
    write_key
        Turns on the Segment-shaped collector under ``/v1/`` (:mod:`kundresa.live.collector`)
        with this write key; ``None``: ``/v1/*`` answers 404. ``app.state.collector`` is the
        :class:`~kundresa.live.collector.Collector` (else ``None``); closing the project state
        (``app.state.project.close()``) stops it after a last load.
    after_load
        With a write key: called with the open write connection inside each load's
        transaction (:mod:`kundresa.live.loader`). By default (``None``) the live customer
        state and the stage-entered feed catch up after each load instead, beside the next
        loads (:func:`kundresa.live.state.catch_up` in the loader's follower), so that loads
        commit at their own pace.

    Raises
    ------
    kundresa.live.LogError
        When another process already collects into this project.
    """
    if lang is not None and lang not in LANGUAGES:
        raise ValueError(f"lang: expected one of {', '.join(LANGUAGES)}, got {lang!r}")
    state = ProjectState(project_dir)
    limit = upload_limit or int(os.environ.get("KUNDRESA_UPLOAD_LIMIT", DEFAULT_UPLOAD_LIMIT))
    app = FastAPI(
        title="Kundresa",
        description="The customer journey map and its analyses, as pages and as JSON. Every "
        "analysis answer carries `warnings` (names never seen in the data) and `notes` (how "
        "names were read).",
        version="1",
        # FastAPI's /docs and /redoc load their scripts from a CDN; the app works offline.
        docs_url=None,
        redoc_url=None,
    )
    app.state.project = state
    site = Site(state, token=token, lang=lang)

    # -- hardening (web/security.py, limits.py, jobs.py, assets.py): access, anti-forgery,
    # server-side sessions, headers, body and parameter limits, jobs, static assets ----------
    sessions = security.SessionStore()
    job_manager = jobs.JobManager()
    app.state.sessions, app.state.jobs = sessions, job_manager
    static_assets = assets.StaticAssets(Path(__file__).parent / "static")
    app.mount("/static", static_assets, name="static")
    site.env.globals["static_url"] = static_assets.url
    app.include_router(jobs.api_router(job_manager))

    async def guard_page(scope: Any, message: str, status_code: int) -> tuple[bytes, str]:
        request = Request(scope)
        draw = site.pages.get(request.url.path) if status_code == 422 else None
        fields = fields_named(message, list(request.query_params)) if draw is not None else []
        if draw is not None and fields:
            # A query value the guard refuses (web/limits.py) on an analysis page: the page
            # with the error next to its field, as for any bad value; drawn off the loop.
            work = contextvars.copy_context().run
            shown = await run_in_threadpool(work, draw, request, dict.fromkeys(fields, message))
        else:
            shown = site.error_page(request, message, status_code, "error")
        return bytes(shown.body), "text/html; charset=utf-8"

    async def export_validation(request: Request, exc: Exception) -> Response:
        """A parameter FastAPI refuses: ``{"detail": "name: why (got '...')"}``, one line as
        every other error; for a file download (``/export/...``) a person following a link
        gets the app's error page with that line instead."""
        errors = exc.errors() if isinstance(exc, RequestValidationError) else []
        message = limits.validation_message(errors) or "the request is not valid"
        if request.url.path.startswith("/export/") and "text/html" in request.headers.get(
            "accept", ""
        ):
            return site.error_page(request, message, 422, "error")
        # Every error of the API is {"detail": "one line"} (docs/web.md), FastAPI's too.
        return JSONResponse({"detail": message}, status_code=422)

    app.add_exception_handler(RequestValidationError, export_validation)

    app.add_middleware(
        security.Guard,
        token=token,
        sessions=sessions,
        upload_limit=limit,
        body_limit=security.body_limit(),
        error_page=guard_page,
    )
    app.add_middleware(
        GZipMiddleware, minimum_size=1000, exclude_content_types=security.NOT_COMPRESSED
    )
    # HEAD answered as GET without its body (RFC 9110, 9.3.2), for uptime monitors and link
    # checkers; FastAPI's routes list GET only.
    app.add_middleware(HeadAsGet)
    # -- end of hardening ----------------------------------------------------------------------

    app.include_router(routes.auth.router(site))
    for area in (
        routes.journey_map,
        routes.funnel,
        routes.paths,
        routes.retention,
        routes.bottlenecks,
        routes.compare,
        routes.attribution,
        routes.customer,
        routes.live,
    ):
        app.include_router(area.router(site))
    app.include_router(routes.editor.router(site, job_manager))
    app.include_router(routes.data.router(site, job_manager, limit=limit))
    app.state.collector = None
    if write_key:
        from kundresa.live.collector import LOG_DIR, Collector, router

        collector = Collector(
            write_key,
            state.root / STORE_DIR / LOG_DIR,
            functools.partial(state.writer, loading=True),
            after_load=after_load,
            after_commit=_live_state_follows(state) if after_load is None else None,
            beside=state.beside,
            release=state.release,
        )
        state.closers.append(collector.close)
        app.state.collector = collector
        app.include_router(router(collector))
    limits.document_responses(app)
    return app


def _live_state_follows(state: ProjectState) -> Callable[[Any], None]:
    """The collector's ``after_commit``: the live customer state and the stage-entered feed
    follow the loads in the loader's follower, each catch-up in a transaction of its own
    (:func:`kundresa.live.state.catch_up`; a failure is reported and the next load's
    catch-up does the work again). Until it has, a customer's state is computed from their
    events (:func:`kundresa.live.state.read_state`)."""

    def after_commit(con: Any) -> None:
        project = state.project
        if project.has_journey:
            from kundresa.live.state import catch_up

            catch_up(con, project.journey, changes=False)

    return after_commit
