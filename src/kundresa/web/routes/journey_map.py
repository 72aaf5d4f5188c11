"""The journey map: ``/`` and ``/api/map``."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from kundresa.web import views
from kundresa.web.site import Site, twin

VIEWS = ("grid", "circle")


def _page(request: Request, given: dict[str, Any]) -> dict[str, Any]:
    view = request.query_params.get("view", "grid")
    return {"view": view if view in VIEWS else "grid", "lanes": views.MAP_LANES}


def router(site: Site) -> APIRouter:
    r = APIRouter()
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
        page_context=_page,
        needs_events=False,
    )
    return r
