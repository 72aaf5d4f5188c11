"""The demo company: generated events and its journey file."""

from kundresa.demo.generator import (
    DEFAULT_CUSTOMERS,
    EVENTS_PER_CUSTOMER,
    demo_journey_yaml,
    generate_events,
)

__all__ = ["DEFAULT_CUSTOMERS", "EVENTS_PER_CUSTOMER", "demo_journey_yaml", "generate_events"]
