"""Journey analyses, each written once as Ibis expressions."""

from kundresa.analytics.stages import customer_stages, stage_funnel
from kundresa.analytics.touchpoints import tag_events, touchpoint_summary

__all__ = ["customer_stages", "stage_funnel", "tag_events", "touchpoint_summary"]
