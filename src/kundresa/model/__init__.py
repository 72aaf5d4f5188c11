"""The journey model: stage templates, the journey file, validation and matching (pure).

The public names are imported on first use: a module that needs one part (the event columns'
names, :mod:`kundresa.model.events`) does not load the journey file's parser and YAML.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
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
    from kundresa.model.parse import (
        JourneyError,
        Problem,
        load_journey,
        parse_journey,
        validate_file,
    )
    from kundresa.model.render import render_journey_yaml
    from kundresa.model.templates import TEMPLATES, JourneyTemplate, StageTemplate, get_template

_LAZY = {
    **dict.fromkeys(("assign_touchpoints", "stage_of"), "kundresa.model.assign"),
    **dict.fromkeys(
        (
            "KPI_METRICS", "LANES", "Channel", "Condition", "Journey", "Kpi", "Match",
            "Persona", "PersonaMatch", "Stage", "Survey", "Touchpoint",
        ),
        "kundresa.model.journey",
    ),
    **dict.fromkeys(
        ("JourneyError", "Problem", "load_journey", "parse_journey", "validate_file"),
        "kundresa.model.parse",
    ),
    "render_journey_yaml": "kundresa.model.render",
    **dict.fromkeys(
        ("TEMPLATES", "JourneyTemplate", "StageTemplate", "get_template"),
        "kundresa.model.templates",
    ),
}  # fmt: skip

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


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'kundresa.model' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
