"""Attribution: ``/attribution`` and ``/api/attribution``."""

from __future__ import annotations

from fastapi import APIRouter

from kundresa.web import views
from kundresa.web.params import of
from kundresa.web.site import Site, twin


def router(site: Site) -> APIRouter:
    r = APIRouter()
    twin(
        r,
        site,
        name="attribution",
        api="/api/attribution",
        page="/attribution",
        template="attribution.html",
        params=(
            of("attribution", "conversion"),
            of("attribution", "level", help="What gets credit."),
            of("attribution", "lookback"),
        ),
        build=views.attribution_view,
        summary="Attribution models and stages",
        description="Conversions credited to each channel by every model, and stage attribution.",
    )
    return r
