"""The web app's routes, one module per area.

Each module has ``router(site, ...)`` giving an :class:`~fastapi.APIRouter`;
:func:`kundresa.web.app.create_app` includes them all. An analysis view is one handler serving
its page and its JSON twin (:func:`kundresa.web.site.twin`), with its parameters declared once.
"""

from kundresa.web.routes import (
    attribution,
    auth,
    bottlenecks,
    compare,
    customer,
    data,
    editor,
    funnel,
    journey_map,
    live,
    paths,
    retention,
)

__all__ = [
    "attribution",
    "auth",
    "bottlenecks",
    "compare",
    "customer",
    "data",
    "editor",
    "funnel",
    "journey_map",
    "live",
    "paths",
    "retention",
]
