"""Compare: ``/compare`` and ``/api/compare``."""

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
        name="compare",
        api="/api/compare",
        page="/compare",
        template="compare.html",
        params=(
            of("compare", "by", required=False, default="persona"),
            of("compare", "a", help="A segment value (needed with 3+ values)."),
            of("compare", "b", help="A segment value (needed with 3+ values)."),
            of("correlation", "target", required=False, default="purchase"),
        ),
        build=views.compare_view,
        summary="Two segments and the correlation table",
        description="Segment A against segment B per stage with Wilson intervals and a "
        "two-proportion test, and the events and property values most associated with "
        "`target`.",
        labels=False,
    )
    return r
