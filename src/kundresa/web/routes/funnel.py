"""Funnels: ``/funnel`` and ``/api/funnel`` (stage funnel and an event funnel), and
``/api/funnel/customers`` (the customers at a step)."""

from __future__ import annotations

from dataclasses import replace

from fastapi import APIRouter

from kundresa.analyses import Param
from kundresa.web import views
from kundresa.web.params import of
from kundresa.web.site import Site, twin

#: The event funnel's parameters: the registry's, with the web's defaults (the journey's
#: stages as steps, a 30-day window); steps and exclusions may also be given one per line.
STEPS = replace(
    of("funnel", "steps"),
    required=False,
    help="Funnel steps in order (repeat the parameter, or one per line): `purchase`, `a|b`, "
    "`touchpoint:ID`, `stage:ID`. Default: the journey's stages.",
)
FUNNEL = (
    STEPS,
    of("funnel", "window", default="30d"),
    of("funnel", "order", help="Funnel order: ordered (default), strict or any."),
    of("funnel", "exclusions", help="Exclusions `X:a:b`: no X between step a and step b."),
)


def router(site: Site) -> APIRouter:
    r = APIRouter()
    twin(
        r,
        site,
        name="funnel",
        api="/api/funnel",
        page="/funnel",
        template="funnel.html",
        params=(*FUNNEL, of("funnel", "by"), of("funnel_trend", "period", help="Trend period.")),
        build=views.funnel_view,
        summary="Stage funnel and an event funnel",
        description="The stage funnel table, the event funnel (count, conversion, time to "
        "convert per step), its time-to-convert histogram and its conversion trend. "
        "`warnings` names steps and properties never seen in the data; `notes` says how a "
        "bare touchpoint or stage id was read.",
    )
    twin(
        r,
        site,
        name="funnel",
        api="/api/funnel/customers",
        page=None,
        template=None,
        params=(
            of("funnel_customers", "step", required=True, min=1, help="The 1-based step."),
            *FUNNEL,
            of("funnel_customers", "dropped", help="Those who stopped at this step."),
            Param("limit", "int", 200, "Customers listed (all are counted).", min=1, max=10000),
        ),
        build=views.funnel_customers_view,
        summary="Customers at a funnel step",
        description="Customers who reached `step` (or, with `dropped`, reached it and no further).",
        labels=False,
    )
    return r
