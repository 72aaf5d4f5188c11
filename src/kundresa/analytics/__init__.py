"""Journey analyses, each written once as Ibis expressions.

The modules hold the rest: ``kundresa.analytics.paths.paths`` (top path variants),
``retention``, ``compare``, ``bottlenecks``.

The names below are imported on first use (PEP 562), so that importing one module of this
package (``kundresa.analytics._funnel_core``, which the command line's lean event funnel
runs without Ibis) does not load every analysis and the query engine with it.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from kundresa.analytics._fast import portable
    from kundresa.analytics.funnel import (
        event_funnel,
        funnel_customers,
        parse_exclusion,
        parse_step,
    )
    from kundresa.analytics.journeys import (
        customer_journeys,
        journey_summary,
        stage_visits,
        time_in_stage,
        transition_matrix,
    )
    from kundresa.analytics.paths import directly_follows, path_links
    from kundresa.analytics.stages import (
        customer_stages,
        stage_funnel,
        stage_funnel_periods,
    )
    from kundresa.analytics.surveys import survey_scores
    from kundresa.analytics.touchpoints import tag_events, touchpoint_summary

_LAZY = {
    "customer_journeys": "kundresa.analytics.journeys",
    "customer_stages": "kundresa.analytics.stages",
    "directly_follows": "kundresa.analytics.paths",
    "event_funnel": "kundresa.analytics.funnel",
    "funnel_customers": "kundresa.analytics.funnel",
    "journey_summary": "kundresa.analytics.journeys",
    "parse_exclusion": "kundresa.analytics.funnel",
    "parse_step": "kundresa.analytics.funnel",
    "path_links": "kundresa.analytics.paths",
    "portable": "kundresa.analytics._fast",
    "stage_funnel": "kundresa.analytics.stages",
    "stage_funnel_periods": "kundresa.analytics.stages",
    "stage_visits": "kundresa.analytics.journeys",
    "survey_scores": "kundresa.analytics.surveys",
    "tag_events": "kundresa.analytics.touchpoints",
    "time_in_stage": "kundresa.analytics.journeys",
    "touchpoint_summary": "kundresa.analytics.touchpoints",
    "transition_matrix": "kundresa.analytics.journeys",
}

__all__ = [
    "customer_journeys",
    "customer_stages",
    "directly_follows",
    "event_funnel",
    "funnel_customers",
    "journey_summary",
    "parse_exclusion",
    "parse_step",
    "path_links",
    "portable",
    "stage_funnel",
    "stage_funnel_periods",
    "stage_visits",
    "survey_scores",
    "tag_events",
    "time_in_stage",
    "touchpoint_summary",
    "transition_matrix",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(import_module(_LAZY[name]), name)
        globals()[name] = value  # found directly next time
        return value
    raise AttributeError(f"module 'kundresa.analytics' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
