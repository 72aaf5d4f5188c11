"""Retention: ``/retention`` and ``/api/retention``."""

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
        name="retention",
        api="/api/retention",
        page="/retention",
        template="retention.html",
        params=(
            of("retention", "period", help="Cohort period."),
            of("retention", "cohort", help="What starts a cohort."),
            of("retention", "returning"),
            of("retention", "periods", default=12, max=104),
        ),
        build=views.retention_view,
        summary="Cohort retention and lifecycle",
        description="Retention per cohort and period (`rate`), lifecycle counts per period "
        "and the repeat purchase rate.",
        labels=False,
    )
    return r
