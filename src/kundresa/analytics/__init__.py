"""Journey analyses, each written once as Ibis expressions.

The modules hold the rest: ``kundresa.analytics.paths.paths`` (top path variants),
``retention``, ``compare``, ``bottlenecks``.
"""

from kundresa.analytics._fast import portable
from kundresa.analytics.funnel import event_funnel, funnel_customers, parse_exclusion, parse_step
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
