"""What every route of the web app shares: the served project, page rendering, error answers,
and the one handler that serves an analysis page and its JSON twin.

:func:`twin` registers one handler under two addresses, the page (``/funnel``) and its JSON
twin (``/api/funnel``), with one parameter declaration (:mod:`.params`): the same parameters,
the same data, answered as HTML or JSON by the address. Only the API address is in the
OpenAPI description.
"""

from __future__ import annotations

import contextvars
import inspect
import re
from collections.abc import Callable, Mapping, Sequence
from functools import cache
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from jinja2 import Environment, PackageLoader, select_autoescape

from kundresa.analyses import ANALYSES, AnalysisError, Param
from kundresa.analyses import ParameterError as AnalysisParameterError
from kundresa.errors import KundresaError
from kundresa.project import ProjectError
from kundresa.report import labels, units
from kundresa.web import editor, limits, security
from kundresa.web.choices import form_choices, step_choices
from kundresa.web.i18n import LANGUAGES, translate
from kundresa.web.params import LANG, SCOPE, dependency, read_form
from kundresa.web.state import ProjectState
from kundresa.web.views import Analyses

__all__ = ["LANG_COOKIE", "Site", "fields_named", "format_value", "twin"]

LANG_COOKIE = "kundresa_lang"

#: Command-line options that analysis messages name, as this app's query parameters.
_AS_PARAMETER = {
    "--since": "since",
    "--until": "until",
    "--step": "steps",
    "--exclude": "exclusions",
    "--persona": "persona",
    "--by": "by",
}
_OPTIONS = re.compile("|".join(rf"{re.escape(o)}\b(?!-)" for o in _AS_PARAMETER))

#: The language numbers on the page being rendered are written in (set by Site.page).
_PAGE_LANG: contextvars.ContextVar[str] = contextvars.ContextVar("page_lang", default="en")
#: The time zone instants on the page being rendered are shown in (the journey's).
_PAGE_TZ: contextvars.ContextVar[str] = contextvars.ContextVar("page_tz", default="UTC")
#: The journey of the page being rendered (its labels name touchpoints and channels).
_PAGE_JOURNEY: contextvars.ContextVar[Any] = contextvars.ContextVar("page_journey", default=None)

#: Units of names a page shows that are not an analysis' columns (KPI metrics, summaries).
_PAGE_UNITS = {
    "conversion": "rate",
    "events": "count",
    "customers": "count",
    "loaded": "count",
    "quarantined": "count",
    "median_days_in_stage": "days",
}


@cache
def _column_units() -> dict[str, str]:
    """Every declared column's unit (the first declaration of a name wins)."""
    out: dict[str, str] = {}
    for analysis in ANALYSES.values():
        for column in analysis.columns:
            out.setdefault(column.name, column.unit)
    out.update(_PAGE_UNITS)
    return out


def unit_of(column: str, value: Any = None) -> str:
    """The unit of a column a page shows: as declared by the analyses, else guessed from its
    name (:func:`kundresa.report.units.guess_unit`)."""
    return _column_units().get(column) or units.guess_unit(column, value)


def format_value(value: Any, column: str = "", lang: str | None = None) -> str:
    """A value of ``column`` as a page shows it, in the page's language: the same units and
    formats as the command line (:func:`kundresa.report.units.format_value`).

    Examples
    --------
    >>> format_value(12345, "reached", "en"), format_value(0.4567, "conversion_from_previous")
    ('12,345', '45.7%')
    >>> format_value(0.25, "removal_effect", "en"), format_value(None, "x")
    ('25.0%', '–')
    >>> format_value(20000, "reached", "sv").replace("\\xa0", " ")
    '20 000'
    >>> format_value(0.568, "conversion", "da").replace("\\xa0", " ")
    '56,8 %'
    """
    return units.format_value(value, unit_of(column, value), lang or _PAGE_LANG.get())


def format_gap(value: Any, metric: str = "", lang: str | None = None) -> str:
    """A KPI's gap (actual minus target) of ``metric`` as a page shows it: a difference of two
    rates in percentage points (the unit the bottleneck table's gaps use), else in the
    metric's own unit.

    Examples
    --------
    >>> format_gap(-0.032, "conversion_from_previous", "en"), format_gap(-120, "reached", "en")
    ('-3.2 pp', '-120')
    >>> format_gap(-0.032, "conversion_from_previous", "sv").replace("\\xa0", " ")
    '-3,2 p.e.'
    """
    unit = unit_of(metric, value)
    return units.format_value(value, "pp" if unit == "rate" else unit, lang or _PAGE_LANG.get())


_WORDS = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def fields_named(message: str, names: Sequence[str]) -> list[str]:
    """The parameters an error message is about: those named before its first colon
    (``"steps: ..."``, ``"a and b: ..."``), else the one named first.

    The registry's :class:`~kundresa.analyses.ParameterError` names the parameter in its
    message; a page marks that field.

    Examples
    --------
    >>> names = ["steps", "window", "a", "b", "by", "since", "until", "persona"]
    >>> fields_named("steps: an event funnel needs at least two steps", names)
    ['steps']
    >>> fields_named("a and b: by='x' has 0 segment values", names)
    ['a', 'b']
    >>> fields_named("since 2025-02-01 is not before until 2024-01-01", names)
    ['since']
    >>> fields_named("funnel: persona is required", names), fields_named("broken", names)
    (['persona'], [])
    """
    head, colon, _ = message.partition(":")
    if colon:
        words = set(_WORDS.findall(head))
        named = [n for n in names if n in words]
        if named:
            return named
    first = [
        (m.start(), n)
        for n in names
        for m in [re.search(rf"(?<![\w\-=]){re.escape(n)}(?![\w\-])", message)]
        if m is not None
    ]
    return [min(first)[1]] if first else []


def format_when(value: Any, timezone: str | None = None, lang: str | None = None) -> str:
    """A date or instant as a page shows it, in the page's language (and ``timezone``, the
    journey's, by default the one of the page being rendered):
    :func:`kundresa.report.units.format_moment`.

    Examples
    --------
    >>> format_when("2026-11-30T14:15:10.123456", "UTC", "sv"), format_when(None)
    ('30 nov. 2026 14:15:10', '–')
    """
    return units.format_moment(value, lang or _PAGE_LANG.get(), timezone or _PAGE_TZ.get())


def display_label(column: str, value: Any) -> str:
    """How a table cell of ``column`` names a touchpoint or channel: by its display label in
    the page's language (:mod:`kundresa.report.labels`); other values as they are. An
    event-funnel step (``event`` column) written ``stage:ID`` or ``touchpoint:ID`` is shown by
    the stage's or touchpoint's label.

    A ``channel`` column of an analysis run at touchpoint level holds touchpoint ids: a value
    that is no channel but a touchpoint of the journey is shown by the touchpoint's label.
    """
    journey, lang, text = _PAGE_JOURNEY.get(), _PAGE_LANG.get(), str(value)
    if column in ("event", "step"):  # event-funnel steps: `stage:ID`, `touchpoint:ID`, events
        kind, _, ident = text.partition(":")
        if journey is not None and kind == "stage" and ident in journey.stage_ids:
            return str(journey.stage_label(ident, lang))
        if journey is not None and kind == "touchpoint":
            return labels.touchpoint_label(journey, ident, lang)
        return text
    if column == "touchpoint" or (
        journey is not None
        and journey.channel(text) is None
        and any(t.id == text for t in journey.touchpoints)
    ):
        return labels.touchpoint_label(journey, text, lang)
    return labels.channel_label(journey, text, lang)


def kind_label(kind: str, value: Any) -> str:
    """How a page shows the id ``value`` of a ``kind`` (``stage``, ``touchpoint``,
    ``channel``, ``persona``; else the value as it is) in the page's language: the
    journey's label, a channel group's name, a persona's name; a path's ``(start)`` and
    ``(end)``, and values of the kinds ``direction``, ``kind`` and ``measure`` by their
    words (:data:`kundresa.report.labels.VALUE_WORDS`).

    Examples
    --------
    >>> kind_label("direction", "backward"), kind_label("stage", "(end)"), kind_label("event", "x")
    ('backward', '(end)', 'x')
    """
    journey, lang, text = _PAGE_JOURNEY.get(), _PAGE_LANG.get(), str(value)
    if kind in ("direction", "kind", "measure"):
        return str(labels.value_label(kind, text, lang))
    if text in ("(start)", "(end)"):
        return str(labels.value_label("label", text, lang))
    if journey is None:
        return labels.channel_label(None, text, lang) if kind == "channel" else text
    if kind == "stage" and text in journey.stage_ids:
        return str(journey.stage_label(text, lang))
    if kind == "touchpoint":
        return labels.touchpoint_label(journey, text, lang)
    if kind == "channel":
        return display_label("channel", text)
    if kind == "persona":
        return next((p.name for p in journey.personas if p.id == text), text)
    return text


def path_label(path: Any, level: str) -> str:
    """A path of ``paths`` (steps joined by ``" > "``) with each step shown by
    :func:`kind_label` of the path's ``level``."""
    return " > ".join(kind_label(level, step) for step in str(path).split(" > "))


def page_names() -> dict[str, dict[str, str]]:
    """The display labels the page's charts show for ids, in the page's language, by kind:
    ``stage``, ``touchpoint``, ``channel`` (the journey's and GA4's default groups),
    ``persona``, ``ends`` (``(start)``, ``(end)``) and ``direction``."""
    journey, lang = _PAGE_JOURNEY.get(), _PAGE_LANG.get()
    out: dict[str, dict[str, str]] = {
        "ends": {e: str(labels.value_label("label", e, lang)) for e in ("(start)", "(end)")},
        "direction": {
            d: str(labels.value_label("direction", d, lang))
            for d in ("forward", "backward", "start", "end")
        },
        "channel": {c: labels.channel_label(journey, c, lang) for c in labels.CHANNEL_LABELS},
    }
    if journey is not None:
        out["stage"] = {s: str(journey.stage_label(s, lang)) for s in journey.stage_ids}
        out["touchpoint"] = {
            t.id: labels.touchpoint_label(journey, t.id, lang) for t in journey.touchpoints
        }
        out["channel"].update(
            {c.id: labels.channel_label(journey, c.id, lang) for c in journey.channels}
        )
        out["persona"] = {p.id: p.name for p in journey.personas}
    return out


def _flow_yaml(value: Any) -> str:
    import yaml

    return str(
        yaml.safe_dump(value, default_flow_style=True, allow_unicode=True, width=10_000)
    ).strip()


class Site:
    """The served project and how its pages are drawn.

    Parameters
    ----------
    state
        The served project.
    token
        The access token (``None``: no sign-in).
    lang
        UI language when a request does not choose one (``None``: the journey's).
    """

    def __init__(self, state: ProjectState, *, token: str | None, lang: str | None) -> None:
        self.state = state
        self.token = token
        self.lang = lang
        env = Environment(
            loader=PackageLoader("kundresa.web", "templates"),
            autoescape=select_autoescape(default=True, default_for_string=True),
        )
        env.filters["fmt"] = format_value
        env.filters["when"] = format_when
        env.filters["gap"] = format_gap
        env.globals["display_label"] = display_label
        env.globals["kind_label"] = kind_label
        env.globals["path_label"] = path_label
        env.globals["page_names"] = page_names
        env.filters["flow"] = _flow_yaml
        env.tests["share_column"] = lambda name: str(name).endswith("_share")
        env.globals["stages_of"] = editor.stages_of
        env.globals["kpi_text"] = editor.kpi_text
        env.globals["csrf_token"] = security.csrf_token
        env.globals["chart_format"] = units.chart_format
        env.globals["unit_of"] = unit_of
        env.globals["step_choices"] = step_choices
        #: Each analysis page's drawing with errors given (:func:`twin`), by path: the app's
        #: guard answers a query value it refuses with the page and the error in its form.
        self.pages: dict[str, Callable[[Request, Mapping[str, str]], Response]] = {}
        self.env = env

    # -- languages ---------------------------------------------------------------------------

    def ui_lang(self, request: Request) -> str:
        """The page's language: chosen (``?lang=``, then the cookie), the app's, the
        journey's, English."""
        chosen = request.query_params.get("lang") or request.cookies.get(LANG_COOKIE)
        if chosen in LANGUAGES:
            return str(chosen)
        if self.lang is not None:
            return self.lang
        try:
            journey_lang = self.state.project.journey.language
        except ProjectError:
            journey_lang = "en"
        return journey_lang if journey_lang in LANGUAGES else "en"

    # -- rendering ---------------------------------------------------------------------------

    def page(
        self,
        request: Request,
        template: str,
        context: dict[str, Any],
        *,
        title: str,
        status_code: int = 200,
        public: bool = False,
    ) -> HTMLResponse:
        ui = self.ui_lang(request)
        try:
            journey = None if public else self.state.project.journey
        except ProjectError:
            journey = None
        query = dict(request.query_params)
        no_events = not public and journey is not None and not self.has_events()

        def with_lang(code: str) -> str:
            return "?" + urlencode({**query, "lang": code})

        token = _PAGE_LANG.set(ui)
        tz_token = _PAGE_TZ.set(journey.timezone if journey is not None else "UTC")
        journey_token = _PAGE_JOURNEY.set(journey)
        try:
            html = self.env.get_template(template).render(
                t=lambda key: translate(key, ui),
                lang=ui,
                languages=LANGUAGES,
                with_lang=with_lang,
                journey=journey,
                title=title,
                path=request.url.path,
                query=query,
                signed_in=self.token is not None,
                typed=lambda name: request.query_params.getlist(name),
                no_events=no_events,
                choices=lambda by=None: self.choices(ui, by),
                **context,
            )
        finally:
            _PAGE_LANG.reset(token)
            _PAGE_TZ.reset(tz_token)
            _PAGE_JOURNEY.reset(journey_token)
        resp = HTMLResponse(html, status_code=status_code)
        if request.query_params.get("lang") in LANGUAGES:
            resp.set_cookie(LANG_COOKIE, ui, samesite="strict")
        return resp

    def has_events(self) -> bool:
        """Whether the project has events; ``True`` when it cannot say (a journey file
        broken on disk), so that the page reports the problem itself."""
        try:
            return self.state.has_events()
        except KundresaError:  # ProjectError among them
            return True

    def choices(self, lang: str, by: str | None = None) -> dict[str, Any]:
        """What the forms offer (:func:`kundresa.web.choices.form_choices`), kept per
        project version."""
        found: dict[str, Any] = self.state.cached(
            ("form_choices", lang, by),
            lambda: form_choices(self.state.project, lang=lang, by=by),
        )
        return found

    def error_page(
        self, request: Request, message: str, status_code: int, title: str
    ) -> HTMLResponse:
        return self.page(
            request, "error.html", {"message": message}, title=title, status_code=status_code
        )

    def shown(self, exc: Exception | str) -> str:
        """An error's message with paths relative to the project (web/limits.py) and the
        command line's options named as the query parameters they are here."""
        text = str(limits.relative_paths(str(exc), self.state.root))
        return _OPTIONS.sub(lambda m: _AS_PARAMETER[m.group(0)], text)

    # -- answers -----------------------------------------------------------------------------

    @staticmethod
    def status_of(exc: Exception) -> int:
        """The HTTP status of an error an analysis page can meet: 422 for a bad parameter
        (an unknown stage, touchpoint or persona, a reversed period: the registry's
        :class:`~kundresa.analyses.ParameterError`), 409 when the project cannot answer
        (no journey, a broken journey file, nothing to attribute), 400 otherwise."""
        if isinstance(exc, AnalysisParameterError | limits.ParameterError):
            return 422
        if isinstance(exc, AnalysisError | ProjectError):
            return 409
        if isinstance(exc, KundresaError):
            return exc.http_status  # the error tree says (kundresa.errors)
        return 400

    def analyses(self, scope: Mapping[str, Any], lang: str | None) -> Analyses:
        """The analyses of one request, in its scope (persona, period, label language)."""
        return Analyses(
            self.state.project,
            persona=scope.get("persona"),
            since=scope.get("since"),
            until=scope.get("until"),
            lang=lang,
        )


def _frozen(values: Mapping[str, Any]) -> tuple[tuple[str, Any], ...]:
    return tuple((k, tuple(v) if isinstance(v, list) else v) for k, v in sorted(values.items()))


def twin(
    router: APIRouter,
    site: Site,
    *,
    name: str,
    api: str,
    page: str | None,
    template: str | None,
    params: Sequence[Param],
    build: Callable[..., dict[str, Any]],
    summary: str,
    description: str,
    scope: Sequence[Param] = SCOPE,
    labels: bool = True,
    page_context: Callable[[Request, dict[str, Any]], dict[str, Any]] | None = None,
    empty_page: Callable[[dict[str, Any]], bool] | None = None,
    needs_events: bool = True,
) -> None:
    """Serve one analysis view as a page and as its JSON twin, from one handler and one
    parameter declaration.

    The twin checks its parameters with FastAPI and answers a bad one with 422 and
    ``{"detail": ...}``. The page reads them as typed (:func:`kundresa.web.params.read_form`)
    and answers a bad one, or one the analysis refuses with a
    :class:`~kundresa.analyses.ParameterError` naming it (:func:`fields_named`), with 422 and
    the page itself: ``errors`` (messages by parameter) for the form to show next to the
    fields, the rest drawn with those parameters at their defaults.

    Parameters
    ----------
    router
        Where the two routes go.
    name
        The view's name: the page title key and the OpenAPI tag.
    api, page
        The JSON address (``/api/funnel``) and the page's (``/funnel``; ``None``: none).
    template
        The page's template.
    params
        The view's own parameters (registry declarations, :func:`kundresa.web.params.of`).
    build
        ``build(analyses, **params)`` gives the view's data (:mod:`.views`).
    scope
        The scope parameters it takes (persona, since, until).
    labels
        It takes ``lang`` (labels in that language; default the page's).
    page_context
        More for the page's template, from the request and the parameters.
    empty_page
        When it says so for the parameters, the page is drawn with ``data`` ``None`` (a
        search form before a search) instead of running the view.
    needs_events
        On a project without events the page says how to load some (``empty.html``)
        instead of drawing zeros; its JSON twin answers as usual.
    """
    declared = [*params, *scope, *([LANG] if labels else [])]
    values = dependency(declared)
    own = [p.name for p in params]

    def run(given: dict[str, Any], lang: str | None) -> dict[str, Any]:
        view = {k: given[k] for k in own}

        def compute() -> dict[str, Any]:
            return build(site.analyses(given, lang), **view)

        data: dict[str, Any] = site.state.cached((api, _frozen(given), lang), compute)
        return data

    def handler(request: Request, given: dict[str, Any]) -> Response:
        """The JSON twin: parameters checked by FastAPI from the declaration."""
        lang = (given.get("lang") or site.ui_lang(request)) if labels else None
        try:
            data = run(given, lang)
        except (ValueError, KundresaError) as exc:
            return JSONResponse({"detail": site.shown(exc)}, status_code=site.status_of(exc))
        return JSONResponse(data)

    defaults = {p.name: p.default for p in declared}

    def page_handler(request: Request) -> Response:
        """The page: a bad value is shown next to its field (status 422) and the page is
        drawn with that parameter at its default, the form keeping what was typed."""
        return draw(request, {})

    def draw(request: Request, refused: Mapping[str, str]) -> Response:
        """The page, with ``refused`` (messages by parameter: values the app's guard
        refused, web/limits.py) shown as errors and those parameters at their defaults."""
        typed = {k: request.query_params.getlist(k) for k in request.query_params}
        given, errors = read_form(declared, {k: v for k, v in typed.items() if k not in refused})
        errors.pop("lang", None)  # the guard's message says it (web/limits.py), under "lang"
        # An unknown language is refused (422) as on the twin: the page is drawn in its
        # default language, the message linking to the language switch (#field-lang).
        errors.update({k: v for k, v in refused.items() if k in defaults})
        if needs_events and not site.has_events():
            return site.page(request, "empty.html", {"errors": errors}, title=name, status_code=200)
        lang = (given.get("lang") or site.ui_lang(request)) if labels else None
        data: dict[str, Any] | None = None
        for _ in range(len(declared) + 1):
            if empty_page is not None and empty_page(given):
                break
            try:
                data = run(given, lang)
                break
            except (ValueError, KundresaError) as exc:
                status, message = site.status_of(exc), site.shown(exc)
                changed = [n for n in defaults if n != "lang" and given[n] != defaults[n]]
                named = fields_named(message, list(defaults))
                fields = [f for f in named if f in changed]
                if status != 422 or not changed:
                    return site.error_page(request, message, status, name)
                if not fields and named:
                    # The fields it is about are at their defaults (reset for an earlier
                    # error, or never given): the message goes under them, not under the
                    # fields still given, which are reset so the page shows what it can.
                    for f in named:
                        errors.setdefault(f, message)
                    for f in changed:
                        given[f] = defaults[f]
                    continue
                if not fields:  # no field the message names was given: all were reset
                    fields = changed
                for f in fields:
                    errors.setdefault(f, message)
                    given[f] = defaults[f]
        extra = page_context(request, given) if page_context is not None else {}
        return site.page(
            request,
            template or "",
            {"data": data, "errors": errors, **extra},
            title=name,
            status_code=422 if errors else 200,
        )

    handler.__doc__ = description
    # The parameters as one dependency (the annotations are objects, not strings: ``values``
    # is local to this call).
    handler.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
        [
            inspect.Parameter("request", inspect.Parameter.KEYWORD_ONLY, annotation=Request),
            inspect.Parameter(
                "given",
                inspect.Parameter.KEYWORD_ONLY,
                default=Depends(values),
                annotation=dict[str, Any],
            ),
        ],
        return_annotation=Response,
    )
    router.add_api_route(
        api,
        handler,
        methods=["GET"],
        tags=[name],
        summary=summary,
        description=description,
        response_class=JSONResponse,
    )
    if page is not None:
        site.pages[page] = draw
        page_handler.__doc__ = description
        router.add_api_route(
            page,
            page_handler,
            methods=["GET"],
            include_in_schema=False,
            response_class=HTMLResponse,
        )
