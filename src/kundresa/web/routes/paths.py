"""Paths: ``/paths`` and ``/api/paths``."""

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
        name="paths",
        api="/api/paths",
        page="/paths",
        template="paths.html",
        params=(
            of("paths", "level", help="What a path step is."),
            of("paths", "start"),
            of("paths", "end"),
            of("paths", "steps", min=1, max=20, help="Steps per path."),
            of(
                "paths",
                "session_gap",
                default=None,
                help="Split a customer's events into paths at pauses this long (`30m`); "
                "default: one path per customer.",
            ),
        ),
        build=views.paths_view,
        summary="Paths, directly-follows graph, transitions",
        description="Top paths and their Sankey links, the directly-follows graph and the "
        "stage transition matrix (`direction` marks backward moves).",
    )
    return r
