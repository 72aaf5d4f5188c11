"""Bottlenecks: ``/bottlenecks`` and ``/api/bottlenecks``."""

from __future__ import annotations

from fastapi import APIRouter

from kundresa.web import views
from kundresa.web.site import Site, twin


def router(site: Site) -> APIRouter:
    r = APIRouter()
    twin(
        r,
        site,
        name="bottlenecks",
        api="/api/bottlenecks",
        page="/bottlenecks",
        template="bottlenecks.html",
        params=(),
        build=views.bottlenecks_view,
        summary="Ranked bottlenecks and KPIs",
        description="Stage transitions ranked by customers lost, KPI gap and change against "
        "the previous period; KPI actual against target per stage.",
    )
    return r
