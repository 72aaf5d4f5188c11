"""The journey model: stage templates, the journey file, validation and matching (pure)."""

from kundresa.model.assign import assign_touchpoints, stage_of
from kundresa.model.journey import (
    KPI_METRICS,
    LANES,
    Channel,
    Condition,
    Journey,
    Kpi,
    Match,
    Persona,
    PersonaMatch,
    Stage,
    Survey,
    Touchpoint,
)
from kundresa.model.parse import JourneyError, Problem, load_journey, parse_journey, validate_file
from kundresa.model.render import render_journey_yaml
from kundresa.model.templates import TEMPLATES, JourneyTemplate, StageTemplate, get_template

__all__ = [
    "KPI_METRICS",
    "LANES",
    "TEMPLATES",
    "Channel",
    "Condition",
    "Journey",
    "JourneyError",
    "JourneyTemplate",
    "Kpi",
    "Match",
    "Persona",
    "PersonaMatch",
    "Problem",
    "Stage",
    "StageTemplate",
    "Survey",
    "Touchpoint",
    "assign_touchpoints",
    "get_template",
    "load_journey",
    "parse_journey",
    "render_journey_yaml",
    "stage_of",
    "validate_file",
]
