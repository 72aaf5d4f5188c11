"""The web app: server-rendered pages and their JSON twins under ``/api``.

Every page ``/x`` is drawn from the same data ``/api/x`` returns (see :mod:`.views`), so the
numbers a marketer sees are the numbers an API client gets. Off loopback the app needs an
access token: API clients send ``Authorization: Bearer TOKEN``; a browser signs in once at
``/login`` and gets an HttpOnly, SameSite=Strict session cookie.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import secrets
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import quote, urlencode

from fastapi import FastAPI, File, Form, Query, Request, UploadFile
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from jinja2 import Environment, PackageLoader, select_autoescape

from kundresa.project import STORE_DIR, ProjectError
from kundresa.store.warehouse import IngestError
from kundresa.web import editor, views
from kundresa.web.i18n import LANGUAGES, translate
from kundresa.web.state import ProjectState

__all__ = ["DEFAULT_UPLOAD_LIMIT", "create_app"]

DEFAULT_UPLOAD_LIMIT = 200 * 1024 * 1024
"""Largest accepted upload in bytes (``KUNDRESA_UPLOAD_LIMIT`` or ``create_app`` changes it)."""

SESSION_COOKIE = "kundresa_session"
LANG_COOKIE = "kundresa_lang"
_UPLOAD_SUFFIX = re.compile(r"\.(csv|tsv|parquet|jsonl|ndjson|json)(\.gz)?$", re.IGNORECASE)
_PUBLIC = ("/login", "/static/")

Persona = Annotated[str | None, Query(description="Only this persona's customers (persona id).")]
Since = Annotated[
    str | None,
    Query(
        description="Count only events at or after this date or time (ISO 8601; a date is "
        "midnight in the journey's time zone). Customers keep their whole history."
    ),
]
Until = Annotated[
    str | None,
    Query(description="Count only events before this date or time (the journey's time zone)."),
]
Lang = Annotated[
    Literal["sv", "da", "en"] | None,
    Query(description="Language of labels (default: the journey's, or the app's)."),
]
Order = Annotated[
    Literal["ordered", "strict", "any"],
    Query(description="Funnel order: ordered (default), strict or any."),
]
Steps = Annotated[
    list[str] | None,
    Query(
        description="Funnel steps in order (repeat the parameter, or one per line): "
        "`purchase`, `a|b`, `touchpoint:ID`, `stage:ID`. Default: the journey's stages."
    ),
]
Exclusions = Annotated[
    list[str] | None, Query(description="Exclusions `X:a:b`: no X between step a and step b.")
]
Window = Annotated[str, Query(description="Funnel window: `90s`, `30m`, `12h`, `7d` or seconds.")]
Level = Annotated[
    Literal["touchpoint", "stage", "event", "channel"],
    Query(description="What a path step is."),
]
Period = Annotated[Literal["day", "week", "month"], Query(description="Cohort period.")]
Cohort = Annotated[str, Query(description="What starts a cohort: first_event or first_purchase.")]
Returning = Annotated[str, Query(description="What counts as active: any or purchase.")]
By = Annotated[str, Query(description="persona, channel or a property (A/B: variant).")]
Seg = Annotated[str | None, Query(description="A segment value (needed with 3+ values).")]
Target = Annotated[str, Query(description="The conversion event for the correlation.")]
AttrLevel = Annotated[Literal["channel", "touchpoint"], Query(description="What gets credit.")]
Lookback = Annotated[str, Query(description="Touches this long before a conversion count.")]
SessionGap = Annotated[
    str | None,
    Query(
        description="Split a customer's events into paths at pauses this long (`30m`); "
        "default: one path per customer."
    ),
]
Customer = Annotated[str, Query(min_length=1, max_length=500, description="Customer id.")]


def _session_value(token: str, secret: bytes) -> str:
    return hmac.new(secret, token.encode(), hashlib.sha256).hexdigest()


def create_app(
    project_dir: str | os.PathLike[str] = ".",
    *,
    token: str | None = None,
    lang: str | None = None,
    upload_limit: int | None = None,
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
    """
    if lang is not None and lang not in LANGUAGES:
        raise ValueError(f"lang: expected one of {', '.join(LANGUAGES)}, got {lang!r}")
    state = ProjectState(project_dir)
    limit = upload_limit or int(os.environ.get("KUNDRESA_UPLOAD_LIMIT", DEFAULT_UPLOAD_LIMIT))
    secret = secrets.token_bytes(32)
    app = FastAPI(
        title="Kundresa",
        description="The customer journey map and its analyses, as pages and as JSON.",
        version="1",
        # FastAPI's /docs and /redoc load their scripts from a CDN; the app works offline.
        docs_url=None,
        redoc_url=None,
    )
    app.state.project = state
    static = Path(__file__).parent / "static"
    app.mount("/static", StaticFiles(directory=static), name="static")
    env = Environment(
        loader=PackageLoader("kundresa.web", "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
    )
    env.filters["fmt"] = format_value
    env.filters["flow"] = _flow_yaml
    env.tests["share_column"] = lambda name: str(name).endswith("_share")
    env.globals["stages_of"] = editor.stages_of
    env.globals["kpi_text"] = editor.kpi_text

    # -- access -------------------------------------------------------------------------------

    @app.middleware("http")
    async def require_token(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        if token is None or request.url.path.startswith(_PUBLIC):
            return await call_next(request)
        auth = request.headers.get("authorization", "")
        if auth.lower().startswith("bearer ") and hmac.compare_digest(
            auth[7:].strip().encode(), token.encode()
        ):
            return await call_next(request)
        cookie = request.cookies.get(SESSION_COOKIE, "")
        if cookie and hmac.compare_digest(cookie, _session_value(token, secret)):
            return await call_next(request)
        if request.url.path.startswith("/api/") or request.url.path == "/openapi.json":
            return JSONResponse(
                {"detail": "access token required: send Authorization: Bearer TOKEN"},
                status_code=401,
                headers={"WWW-Authenticate": "Bearer"},
            )
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"/login?next={quote(target)}", status_code=303)

    @app.get("/login", response_class=HTMLResponse, include_in_schema=False)
    def login_form(request: Request, next: str = "/", failed: bool = False) -> HTMLResponse:
        # Nothing of the project is shown before signing in, not even the journey's name.
        context = {"next": next, "failed": failed}
        return page(request, "login.html", context, title="sign_in", public=True)

    @app.post("/login", include_in_schema=False)
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
        resp.set_cookie(
            SESSION_COOKIE,
            _session_value(token, secret),
            httponly=True,
            samesite="strict",
            secure=request.url.scheme == "https",
        )
        return resp

    @app.get("/logout", include_in_schema=False)
    def logout() -> Response:
        resp = RedirectResponse("/login", status_code=303)
        resp.delete_cookie(SESSION_COOKIE)
        return resp

    # -- rendering ----------------------------------------------------------------------------

    def ui_lang(request: Request) -> str:
        chosen = request.query_params.get("lang") or request.cookies.get(LANG_COOKIE)
        if chosen in LANGUAGES:
            return str(chosen)
        if lang is not None:
            return lang
        try:
            journey_lang = state.project.journey.language
        except ProjectError:
            journey_lang = "en"
        return journey_lang if journey_lang in LANGUAGES else "en"

    def page(
        request: Request,
        template: str,
        context: dict[str, Any],
        *,
        title: str,
        status_code: int = 200,
        public: bool = False,
    ) -> HTMLResponse:
        ui = ui_lang(request)
        try:
            journey = None if public else state.project.journey
        except ProjectError:
            journey = None
        query = dict(request.query_params)

        def with_lang(code: str) -> str:
            return "?" + urlencode({**query, "lang": code})

        html = env.get_template(template).render(
            t=lambda key: translate(key, ui),
            lang=ui,
            languages=LANGUAGES,
            with_lang=with_lang,
            journey=journey,
            title=title,
            path=request.url.path,
            query=query,
            signed_in=token is not None,
            **context,
        )
        resp = HTMLResponse(html, status_code=status_code)
        if request.query_params.get("lang") in LANGUAGES:
            resp.set_cookie(LANG_COOKIE, ui, samesite="strict")
        return resp

    def error_page(request: Request, message: str, status_code: int, title: str) -> HTMLResponse:
        return page(
            request, "error.html", {"message": message}, title=title, status_code=status_code
        )

    def run(key: tuple[Any, ...], build: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        result: dict[str, Any] = state.cached(key, build)
        return result

    def api(key: tuple[Any, ...], build: Callable[[], dict[str, Any]]) -> Response:
        try:
            return JSONResponse(run(key, build))
        except ValueError as exc:
            return JSONResponse({"detail": str(exc)}, status_code=400)
        except ProjectError as exc:
            return JSONResponse({"detail": str(exc)}, status_code=409)

    def html(
        request: Request,
        template: str,
        title: str,
        key: tuple[Any, ...],
        build: Callable[[], dict[str, Any]],
        extra: dict[str, Any] | None = None,
    ) -> HTMLResponse:
        try:
            data = run(key, build)
        except ValueError as exc:
            return error_page(request, str(exc), 400, title)
        except ProjectError as exc:
            return error_page(request, str(exc), 409, title)
        return page(request, template, {"data": data, **(extra or {})}, title=title)

    def label_lang(request: Request, given: str | None) -> str:
        return given or ui_lang(request)

    # -- map ----------------------------------------------------------------------------------

    def map_build(request: Request, persona: Any, since: Any, until: Any, lg: Any) -> Any:
        lg = label_lang(request, lg)
        return ("map", persona, since, until, lg), lambda: views.map_view(
            state, persona=persona, since=since, until=until, lang=lg
        )

    @app.get("/api/map", tags=["map"], summary="The journey map with its numbers")
    def api_map(
        request: Request,
        persona: Persona = None,
        since: Since = None,
        until: Until = None,
        lang: Lang = None,
    ) -> Response:
        """Stages (reached, entered, conversion, KPIs, lanes, touchpoints with customers and
        events, channels), the stage where most customers are lost, and emotion curves."""
        return api(*map_build(request, persona, since, until, lang))

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def map_page(
        request: Request,
        persona: Persona = None,
        since: Since = None,
        until: Until = None,
        lang: Lang = None,
        view: Literal["grid", "circle"] = "grid",
    ) -> HTMLResponse:
        key, build = map_build(request, persona, since, until, lang)
        extra = {"view": view, "lanes": views.MAP_LANES}
        return html(request, "map.html", "map", key, build, extra=extra)

    # -- funnel -------------------------------------------------------------------------------

    def funnel_build(request: Request, **p: Any) -> Any:
        p["lang"] = label_lang(request, p.get("lang"))
        key = ("funnel", *((k, tuple(v) if isinstance(v, list) else v) for k, v in p.items()))
        return key, lambda: views.funnel_view(state, **p)

    @app.get("/api/funnel", tags=["funnel"], summary="Stage funnel and an event funnel")
    def api_funnel(
        request: Request,
        steps: Steps = None,
        window: Window = "30d",
        order: Order = "ordered",
        exclusions: Exclusions = None,
        by: Annotated[
            str | None, Query(description="Break down by persona, channel or a property.")
        ] = None,
        period: Annotated[
            Literal["day", "week", "month"], Query(description="Trend period.")
        ] = "week",
        persona: Persona = None,
        since: Since = None,
        until: Until = None,
        lang: Lang = None,
    ) -> Response:
        """The stage funnel table, the event funnel (count, conversion, time to convert per
        step), its time-to-convert histogram and its conversion trend."""
        return api(
            *funnel_build(
                request,
                steps=steps,
                window=window,
                order=order,
                exclusions=exclusions,
                by=by,
                period=period,
                persona=persona,
                since=since,
                until=until,
                lang=lang,
            )
        )

    @app.get("/funnel", response_class=HTMLResponse, include_in_schema=False)
    def funnel_page(
        request: Request,
        steps: Steps = None,
        window: Window = "30d",
        order: Order = "ordered",
        exclusions: Exclusions = None,
        by: str | None = None,
        period: Literal["day", "week", "month"] = "week",
        persona: Persona = None,
        since: Since = None,
        until: Until = None,
        lang: Lang = None,
    ) -> HTMLResponse:
        return html(
            request,
            "funnel.html",
            "funnel",
            *funnel_build(
                request,
                steps=steps,
                window=window,
                order=order,
                exclusions=exclusions,
                by=by,
                period=period,
                persona=persona,
                since=since,
                until=until,
                lang=lang,
            ),
        )

    @app.get("/api/funnel/customers", tags=["funnel"], summary="Customers at a funnel step")
    def api_funnel_customers(
        step: Annotated[int, Query(ge=1, description="The 1-based step.")],
        steps: Steps = None,
        window: Window = "30d",
        order: Order = "ordered",
        exclusions: Exclusions = None,
        dropped: Annotated[bool, Query(description="Those who stopped at this step.")] = False,
        persona: Persona = None,
        since: Since = None,
        until: Until = None,
        limit: Annotated[int, Query(ge=1, le=10000)] = 200,
    ) -> Response:
        """Customers who reached ``step`` (or, with ``dropped``, reached it and no further)."""
        p = dict(
            step=step,
            steps=steps,
            window=window,
            order=order,
            exclusions=exclusions,
            dropped=dropped,
            persona=persona,
            since=since,
            until=until,
            limit=limit,
        )
        key = (
            "funnel_customers",
            *((k, tuple(v) if isinstance(v, list) else v) for k, v in p.items()),
        )
        return api(key, lambda: views.funnel_customers_view(state, **p))  # type: ignore[arg-type]

    # -- paths --------------------------------------------------------------------------------

    def paths_build(request: Request, **p: Any) -> Any:
        p["lang"] = label_lang(request, p.get("lang"))
        return ("paths", *p.items()), lambda: views.paths_view(state, **p)

    @app.get("/api/paths", tags=["paths"], summary="Paths, directly-follows graph, transitions")
    def api_paths(
        request: Request,
        level: Level = "touchpoint",
        start: Annotated[str | None, Query(description="Paths from this node.")] = None,
        end: Annotated[str | None, Query(description="Paths to this node.")] = None,
        steps: Annotated[int, Query(ge=1, le=20, description="Steps per path.")] = 5,
        session_gap: SessionGap = None,
        persona: Persona = None,
        since: Since = None,
        until: Until = None,
        lang: Lang = None,
    ) -> Response:
        """Top paths and their Sankey links, the directly-follows graph and the stage
        transition matrix (``direction`` marks backward moves)."""
        return api(
            *paths_build(
                request,
                level=level,
                start=start,
                end=end,
                steps=steps,
                session_gap=session_gap,
                persona=persona,
                since=since,
                until=until,
                lang=lang,
            )
        )

    @app.get("/paths", response_class=HTMLResponse, include_in_schema=False)
    def paths_page(
        request: Request,
        level: Level = "touchpoint",
        start: str | None = None,
        end: str | None = None,
        steps: Annotated[int, Query(ge=1, le=20)] = 5,
        session_gap: SessionGap = None,
        persona: Persona = None,
        since: Since = None,
        until: Until = None,
        lang: Lang = None,
    ) -> HTMLResponse:
        return html(
            request,
            "paths.html",
            "paths",
            *paths_build(
                request,
                level=level,
                start=start,
                end=end,
                steps=steps,
                session_gap=session_gap,
                persona=persona,
                since=since,
                until=until,
                lang=lang,
            ),
        )

    # -- retention ----------------------------------------------------------------------------

    def retention_build(**p: Any) -> Any:
        return ("retention", *p.items()), lambda: views.retention_view(state, **p)

    @app.get("/api/retention", tags=["retention"], summary="Cohort retention and lifecycle")
    def api_retention(
        period: Period = "week",
        cohort: Cohort = "first_event",
        returning: Returning = "any",
        periods: Annotated[int, Query(ge=1, le=104)] = 12,
        persona: Persona = None,
        since: Since = None,
        until: Until = None,
    ) -> Response:
        """Retention per cohort and period (``rate``), lifecycle counts per period and the
        repeat purchase rate; ``available: false`` when this version has no retention."""
        return api(
            *retention_build(
                period=period,
                cohort=cohort,
                returning=returning,
                periods=periods,
                persona=persona,
                since=since,
                until=until,
            )
        )

    @app.get("/retention", response_class=HTMLResponse, include_in_schema=False)
    def retention_page(
        request: Request,
        period: Period = "week",
        cohort: Cohort = "first_event",
        returning: Returning = "any",
        periods: Annotated[int, Query(ge=1, le=104)] = 12,
        persona: Persona = None,
        since: Since = None,
        until: Until = None,
    ) -> HTMLResponse:
        return html(
            request,
            "retention.html",
            "retention",
            *retention_build(
                period=period,
                cohort=cohort,
                returning=returning,
                periods=periods,
                persona=persona,
                since=since,
                until=until,
            ),
        )

    # -- bottlenecks and compare ------------------------------------------------------------

    def bottlenecks_build(request: Request, **p: Any) -> Any:
        p["lang"] = label_lang(request, p.get("lang"))
        return ("bottlenecks", *p.items()), lambda: views.bottlenecks_view(state, **p)

    @app.get("/api/bottlenecks", tags=["bottlenecks"], summary="Ranked bottlenecks and KPIs")
    def api_bottlenecks(
        request: Request,
        persona: Persona = None,
        since: Since = None,
        until: Until = None,
        lang: Lang = None,
    ) -> Response:
        """Stage transitions ranked by customers lost, KPI gap and change against the
        previous period; KPI actual against target per stage."""
        return api(
            *bottlenecks_build(request, persona=persona, since=since, until=until, lang=lang)
        )

    @app.get("/bottlenecks", response_class=HTMLResponse, include_in_schema=False)
    def bottlenecks_page(
        request: Request,
        persona: Persona = None,
        since: Since = None,
        until: Until = None,
        lang: Lang = None,
    ) -> HTMLResponse:
        return html(
            request,
            "bottlenecks.html",
            "bottlenecks",
            *bottlenecks_build(request, persona=persona, since=since, until=until, lang=lang),
        )

    def compare_build(**p: Any) -> Any:
        return ("compare", *p.items()), lambda: views.compare_view(state, **p)

    @app.get("/api/compare", tags=["compare"], summary="Two segments and the correlation table")
    def api_compare(
        by: By = "persona",
        a: Seg = None,
        b: Seg = None,
        target: Target = "purchase",
        persona: Persona = None,
        since: Since = None,
        until: Until = None,
    ) -> Response:
        """Segment A against segment B per stage with Wilson intervals and a two-proportion
        test, and the events and property values most associated with ``target``."""
        return api(
            *compare_build(
                by=by, a=a, b=b, target=target, persona=persona, since=since, until=until
            )
        )

    @app.get("/compare", response_class=HTMLResponse, include_in_schema=False)
    def compare_page(
        request: Request,
        by: By = "persona",
        a: Seg = None,
        b: Seg = None,
        target: Target = "purchase",
        persona: Persona = None,
        since: Since = None,
        until: Until = None,
    ) -> HTMLResponse:
        return html(
            request,
            "compare.html",
            "compare",
            *compare_build(
                by=by, a=a, b=b, target=target, persona=persona, since=since, until=until
            ),
        )

    # -- attribution --------------------------------------------------------------------------

    def attribution_build(request: Request, **p: Any) -> Any:
        p["lang"] = label_lang(request, p.get("lang"))
        return ("attribution", *p.items()), lambda: views.attribution_view(state, **p)

    @app.get("/api/attribution", tags=["attribution"], summary="Attribution models and stages")
    def api_attribution(
        request: Request,
        conversion: Annotated[str, Query(description="The conversion event.")] = "purchase",
        level: AttrLevel = "channel",
        lookback: Lookback = "30d",
        persona: Persona = None,
        since: Since = None,
        until: Until = None,
        lang: Lang = None,
    ) -> Response:
        """Conversions credited to each channel by every model, and stage attribution."""
        return api(
            *attribution_build(
                request,
                conversion=conversion,
                level=level,
                lookback=lookback,
                persona=persona,
                since=since,
                until=until,
                lang=lang,
            )
        )

    @app.get("/attribution", response_class=HTMLResponse, include_in_schema=False)
    def attribution_page(
        request: Request,
        conversion: str = "purchase",
        level: AttrLevel = "channel",
        lookback: Lookback = "30d",
        persona: Persona = None,
        since: Since = None,
        until: Until = None,
        lang: Lang = None,
    ) -> HTMLResponse:
        return html(
            request,
            "attribution.html",
            "attribution",
            *attribution_build(
                request,
                conversion=conversion,
                level=level,
                lookback=lookback,
                persona=persona,
                since=since,
                until=until,
                lang=lang,
            ),
        )

    # -- customer -----------------------------------------------------------------------------

    @app.get("/api/customer", tags=["customer"], summary="One customer's timeline")
    def api_customer(request: Request, id: Customer, lang: Lang = None) -> Response:
        """Events (with touchpoint, stage, channel), stage visits (moves) and cycles."""
        lg = label_lang(request, lang)
        return api(("customer", id, lg), lambda: views.customer_view(state, customer=id, lang=lg))

    @app.get("/customer", response_class=HTMLResponse, include_in_schema=False)
    def customer_page(request: Request, id: str | None = None, lang: Lang = None) -> HTMLResponse:
        if not id:
            return page(request, "customer.html", {"data": None}, title="customer")
        lg = label_lang(request, lang)
        return html(
            request,
            "customer.html",
            "customer",
            ("customer", id, lg),
            lambda: views.customer_view(state, customer=id, lang=lg),
        )

    # -- editor and history -------------------------------------------------------------------

    def editor_data(text: str | None = None, problems: Any = None) -> dict[str, Any]:
        path = state.journey_path
        current = path.read_text(encoding="utf-8") if path.exists() else ""
        text = current if text is None else text
        try:
            structured = views.records_one({"s": editor.yaml_to_structured(text)})["s"]
        except ValueError:
            structured = None
        return {
            "text": text,
            "problems": editor.check(text) if problems is None else problems,
            "structured": structured,
        }

    @app.get("/api/editor", tags=["editor"], summary="The journey file and its problems")
    def api_editor() -> Response:
        """The text of ``journey.yaml``, its problems (as ``kundresa validate``) and its
        data."""
        return JSONResponse(editor_data())

    @app.post("/api/journey/validate", tags=["editor"], summary="Check a journey text")
    async def api_validate(request: Request) -> Response:
        """Send the YAML as the request body; get the problems with line and column."""
        text = await _body_text(request)
        if text is None:
            return JSONResponse({"detail": "body: expected UTF-8 text"}, status_code=400)
        problems = editor.check(text)
        return JSONResponse(
            {"valid": not any(p["severity"] == "error" for p in problems), "problems": problems}
        )

    @app.put("/api/journey", tags=["editor"], summary="Save the journey file")
    async def api_save(request: Request) -> Response:
        """Send the YAML as the request body. Saved only without errors (else 422 with the
        problems); the previous version is kept in history."""
        text = await _body_text(request)
        if text is None:
            return JSONResponse({"detail": "body: expected UTF-8 text"}, status_code=400)
        result = save(text)
        return JSONResponse(result, status_code=200 if result["saved"] else 422)

    def save(text: str) -> dict[str, Any]:
        with state.lock:
            result = editor.save_journey(state.root, text)
            if result["saved"]:
                state.reload_journey()
        return result

    @app.get("/editor", response_class=HTMLResponse, include_in_schema=False)
    def editor_page(request: Request) -> HTMLResponse:
        return page(request, "editor.html", {"data": editor_data(), "result": None}, title="editor")

    @app.post("/editor", response_class=HTMLResponse, include_in_schema=False)
    def editor_post(
        request: Request,
        text: Annotated[str, Form()],
        action: Annotated[Literal["validate", "save"], Form()] = "validate",
    ) -> HTMLResponse:
        text = text.replace("\r\n", "\n")
        if action == "save":
            result = save(text)
            data = editor_data(None if result["saved"] else text, result["problems"])
        else:
            result = None
            data = editor_data(text)
        return page(
            request,
            "editor.html",
            {"data": data, "result": result},
            title="editor",
            status_code=200 if result is None or result["saved"] else 422,
        )

    @app.post("/editor/structured", response_class=HTMLResponse, include_in_schema=False)
    async def editor_structured(request: Request) -> HTMLResponse:
        form = await request.form()
        fields = {str(k): str(v) for k, v in form.multi_items() if isinstance(v, str)}
        try:
            base = editor.yaml_to_structured(fields.pop("base", ""))
            data = editor.apply_form(base, fields)
        except ValueError as exc:
            return error_page(request, str(exc), 400, "editor")
        text = editor.structured_to_yaml(data)
        if fields.get("action") == "save":
            result = save(text)
            view = editor_data(None if result["saved"] else text, result["problems"])
        else:
            result = None
            view = editor_data(text)
        return page(
            request,
            "editor.html",
            {"data": view, "result": result},
            title="editor",
            status_code=200 if result is None or result["saved"] else 422,
        )

    @app.get("/api/history", tags=["editor"], summary="Kept versions of the journey file")
    def api_history(
        a: Annotated[str | None, Query(description="Compare this version ...")] = None,
        b: Annotated[str | None, Query(description="... with this one (default current).")] = None,
    ) -> Response:
        """Versions newest first; with ``a`` the unified diff from ``a`` to ``b``."""
        try:
            return JSONResponse(history_data(a, b))
        except ValueError as exc:
            return JSONResponse({"detail": str(exc)}, status_code=400)

    def history_data(a: str | None, b: str | None) -> dict[str, Any]:
        versions = editor.history(state.root)
        if a is None and len(versions) > 1:
            a = versions[1]["version"]
        b = b or "current"
        diff = editor.diff_versions(state.root, a, b) if a else []
        return {"versions": versions, "a": a, "b": b, "diff": diff}

    @app.get("/history", response_class=HTMLResponse, include_in_schema=False)
    def history_page(request: Request, a: str | None = None, b: str | None = None) -> HTMLResponse:
        try:
            data = history_data(a, b)
        except ValueError as exc:
            return error_page(request, str(exc), 400, "history")
        return page(request, "history.html", {"data": data}, title="history")

    # -- data ---------------------------------------------------------------------------------

    @app.get("/api/data", tags=["data"], summary="Warehouse summary, ingests, quarantine")
    def api_data(
        limit: Annotated[int, Query(ge=1, le=10000, description="Quarantined rows.")] = 200,
    ) -> Response:
        """Events and customers held, every ingest, and quarantined rows with reasons."""
        with state.lock:
            return JSONResponse(views.data_view(state, limit=limit))

    @app.get("/data", response_class=HTMLResponse, include_in_schema=False)
    def data_page(request: Request) -> HTMLResponse:
        with state.lock:
            data = views.data_view(state)
        return page(
            request, "data.html", {"data": data, "report": None, "limit": limit}, title="data"
        )

    async def receive_upload(file: UploadFile) -> dict[str, Any]:
        name = Path(file.filename or "").name
        if not _UPLOAD_SUFFIX.search(name):
            raise ValueError(
                f"file: {name or '(no name)'!r}: expected .csv, .tsv, .parquet, .jsonl, "
                ".ndjson or .json (optionally .gz)"
            )
        # Uploads are kept in the project (.kundresa/uploads/), so the ingest log and the
        # quarantine name a file that still exists; one that cannot be loaded is removed.
        folder = state.root / STORE_DIR / "uploads"
        folder.mkdir(parents=True, exist_ok=True)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
        safe = re.sub(r"[^\w.\-]", "_", name)
        target = folder / f"{stamp}-{safe}"
        size = 0
        try:
            with target.open("wb") as out:
                while chunk := await file.read(1 << 20):
                    size += len(chunk)
                    if size > limit:
                        raise ValueError(
                            f"file: larger than the upload limit of {limit:,} bytes "
                            "(ingest big files with `kundresa ingest`)"
                        )
                    out.write(chunk)
            return state.ingest(target)
        except IngestError as exc:
            target.unlink(missing_ok=True)
            raise ValueError(str(exc).replace(str(target), name)) from exc
        except ValueError:
            target.unlink(missing_ok=True)
            raise

    @app.post("/api/data/upload", tags=["data"], summary="Ingest an uploaded events file")
    async def api_upload(file: Annotated[UploadFile, File(description="Events file.")]) -> Response:
        """Load the file like ``kundresa ingest``: bad rows are quarantined with the reason;
        a file that cannot be read leaves the warehouse as it was (400)."""
        try:
            report = await receive_upload(file)
        except ValueError as exc:
            return JSONResponse({"detail": str(exc)}, status_code=400)
        return JSONResponse(views.records_one(report))

    @app.post("/data", response_class=HTMLResponse, include_in_schema=False)
    async def data_upload(request: Request, file: Annotated[UploadFile, File()]) -> HTMLResponse:
        try:
            report: dict[str, Any] | None = await receive_upload(file)
            problem = None
        except ValueError as exc:
            report, problem = None, str(exc)
        with state.lock:
            data = views.data_view(state)
        return page(
            request,
            "data.html",
            {"data": data, "report": report, "problem": problem, "limit": limit},
            title="data",
            status_code=400 if problem else 200,
        )

    @app.get("/api/info", tags=["data"], summary="What the project holds")
    def api_info() -> Response:
        """As ``kundresa info --format json``."""
        with state.lock:
            return JSONResponse(views.records_one(state.project.info()))

    return app


_RATE_WORDS = {"conversion", "share", "probability", "rate"}
_RATE_COLUMNS = {"removal_effect", "change", "relative_gap", "kpi_target", "kpi_gap"}
_SEGMENT_CI = re.compile(r"ci_(low|high)_[ab]")


def format_value(value: Any, column: str = "") -> str:
    """A number as a page shows it: rates as percentages, counts grouped by thin spaces.

    Examples
    --------
    >>> format_value(12345, "reached"), format_value(0.4567, "conversion_from_previous")
    ('12\u202f345', '45.7%')
    >>> format_value(None, "x"), format_value(2.5, "median_days"), format_value(600.0, "reached")
    ('–', '2.50', '600')
    >>> format_value(0.0312, "ci_low_a"), format_value(-0.05, "difference")
    ('3.1%', '-5.0%')
    >>> format_value(1e-9, "p_value"), format_value(0.04321, "p_value")
    ('< 0.001', '0.043')
    """
    if value is None or (isinstance(value, float) and value != value):
        return "–"
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)
    if "seconds" in column:
        return _duration(float(value))
    if column == "p_value":
        return "< 0.001" if value < 0.001 else f"{value:.3f}"
    words = set(column.split("_"))
    rate = (
        words & _RATE_WORDS
        or column in _RATE_COLUMNS
        or column.startswith("difference")
        or _SEGMENT_CI.fullmatch(column) is not None
    )
    if isinstance(value, float) and rate:
        return f"{value:.1%}"
    if isinstance(value, int) or value.is_integer():
        return f"{value:,.0f}".replace(",", "\u202f")
    return f"{value:,.2f}".replace(",", "\u202f")


def _duration(seconds: float) -> str:
    """Seconds as a person reads them.

    Examples
    --------
    >>> _duration(45), _duration(5400), _duration(742019.5)
    ('45 s', '1.5 h', '8.6 d')
    """
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if abs(seconds) >= size:
            return f"{seconds / size:.1f} {unit}"
    return f"{seconds:.0f} s"


def _flow_yaml(value: Any) -> str:
    import yaml

    return str(
        yaml.safe_dump(value, default_flow_style=True, allow_unicode=True, width=10_000)
    ).strip()


async def _body_text(request: Request) -> str | None:
    body = await request.body()
    try:
        return body.decode("utf-8").replace("\r\n", "\n")
    except UnicodeDecodeError:
        return None
