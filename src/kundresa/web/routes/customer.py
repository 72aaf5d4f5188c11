"""One customer: ``/customer`` and ``/api/customer``."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from kundresa.analyses import Param, ParameterError
from kundresa.errors import KundresaError
from kundresa.web import views
from kundresa.web.site import Site, twin

ID = Param("id", help="Customer id.", max=None)


def _build(run: views.Analyses, *, id: str | None) -> dict[str, Any]:
    if not id or not id.strip():
        raise ParameterError("id: a customer id is required")
    if len(id) > 500:
        raise ParameterError("id: longer than 500 characters")
    data = views.customer_view(run, customer=id)
    data["live"] = None
    if data["found"]:
        try:
            # The live state and the next best step (docs/live-state.md), as the API gives it.
            data["live"] = run.project.customer_state(id, lang=run.lang)
        except KundresaError as exc:
            data["live"] = {"error": str(exc)}
    return data


def router(site: Site) -> APIRouter:
    r = APIRouter()
    twin(
        r,
        site,
        name="customer",
        api="/api/customer",
        page="/customer",
        template="customer.html",
        params=(ID,),
        build=_build,
        summary="One customer's timeline",
        description="Events (with touchpoint, stage, channel), stage visits (moves) and "
        "cycles; `found` is false for a customer with no events. `live` is the customer's "
        "live state and next best step (as `/api/customers/{id}` gives it).",
        scope=(),
        empty_page=lambda given: not given.get("id"),
        needs_events=False,
    )
    return r
