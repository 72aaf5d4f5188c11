"""Journey analyses, each written once as Ibis expressions."""

from kundresa.analytics.funnel import event_funnel, funnel_customers, parse_exclusion, parse_step
from kundresa.analytics.stages import customer_stages, stage_funnel
from kundresa.analytics.touchpoints import tag_events, touchpoint_summary

__all__ = [
    "customer_stages",
    "event_funnel",
    "funnel_customers",
    "parse_exclusion",
    "parse_step",
    "stage_funnel",
    "tag_events",
    "touchpoint_summary",
]
