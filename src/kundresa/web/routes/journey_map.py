"""The journey map: ``/`` and ``/api/map``, and the map for the wall:
``/export/map.pdf|png|svg``."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response

from kundresa.analyses import Param
from kundresa.errors import KundresaError
from kundresa.web import views
from kundresa.web.params import LANG, SCOPE, dependency
from kundresa.web.site import Site, twin

VIEWS = ("grid", "circle")

#: The sheet of ``/export/map.{format}``: the same choices as ``kundresa export map``.
PAPER = Param(
    "paper",
    default="A3",
    choices=("A4", "A3", "A2"),
    help="Sheet size, landscape; the map is fitted to one sheet.",
)
# At most 300 dpi here (an A2 sheet is then 7016 x 4961 pixels): a request must not make
# the server draw hundreds of megapixels. The command line allows 600.
DPI = Param("dpi", "int", 150, min=36, max=300, help="Resolution of a PNG (dots per inch).")
MEDIA_TYPES = {"pdf": "application/pdf", "png": "image/png", "svg": "image/svg+xml"}
# Module-level: the handler's annotations are strings (PEP 563) that FastAPI resolves here.
_EXPORT_PARAMS = dependency([PAPER, DPI, *SCOPE, LANG])


def _page(request: Request, given: dict[str, Any]) -> dict[str, Any]:
    view = request.query_params.get("view", "grid")
    return {"view": view if view in VIEWS else "grid", "lanes": views.MAP_LANES}


def _unprintable(site: Site, lang: str) -> list[str]:
    """The journey's text that the map for the wall cannot print (its font lacks some of the
    characters), as :func:`kundresa.report.map_export.unprintable` names it."""
    from kundresa.report.map_export import MapFigures, layout_map, unprintable

    project = site.state.project
    if not project.has_journey:
        return []
    return unprintable(layout_map(MapFigures.from_journey(project.journey, lang=lang), "A3"))


def router(site: Site) -> APIRouter:
    r = APIRouter()

    def page_context(request: Request, given: dict[str, Any]) -> dict[str, Any]:
        lang = given.get("lang") or site.ui_lang(request)
        lacking = site.state.cached(("map-unprintable", lang), lambda: _unprintable(site, lang))
        return {**_page(request, given), "unprintable": lacking}

    twin(
        r,
        site,
        name="map",
        api="/api/map",
        page="/",
        template="map.html",
        params=(),
        build=views.map_view,
        summary="The journey map with its numbers",
        description="Stages (reached, entered, conversion, KPIs, lanes, touchpoints with "
        "customers and events, channels), the stage where most customers are lost, and "
        "emotion curves. The page's `view` (grid or circle) only changes how it is drawn.",
        page_context=page_context,
        needs_events=False,
    )

    @r.get(
        "/export/map.{format}",
        tags=["map"],
        summary="The journey map on one landscape sheet (PDF, PNG or SVG)",
        response_class=Response,
        responses={200: {"content": {t: {} for t in MEDIA_TYPES.values()}}},
    )
    def export_map(
        request: Request,
        format: Literal["pdf", "png", "svg"],
        given: Annotated[dict[str, Any], Depends(_EXPORT_PARAMS)],
    ) -> Response:
        """What `kundresa export map` writes: stages with reached and conversion, the lanes,
        emotion curves per persona, touchpoints with their counts, channels and KPIs with
        status, fitted to one landscape sheet, for a persona and a period, in a language
        (default the page's). Errors are answered as the map page answers them."""
        from kundresa.report.map_export import render_map

        lang = given["lang"] or site.ui_lang(request)
        scope = {k: given[k] or None for k in ("persona", "since", "until")}

        def compute() -> bytes:
            return render_map(
                site.state.project,
                format,
                paper=given["paper"],
                dpi=given["dpi"],
                lang=lang,
                **scope,
            )

        key = ("/export/map", format, tuple(sorted(given.items())), lang)
        try:
            data = site.state.cached(key, compute)
        except (ValueError, KundresaError) as exc:
            # A person following the page's link gets a page; a program gets JSON.
            status = site.status_of(exc)
            if "text/html" in request.headers.get("accept", ""):
                return site.error_page(request, site.shown(exc), status, "map")
            return JSONResponse({"detail": site.shown(exc)}, status_code=status)
        name = f"journey-map-{given['paper']}.{format}"
        return Response(
            data,
            media_type=MEDIA_TYPES[format],
            headers={"Content-Disposition": f'attachment; filename="{name}"'},
        )

    return r
