"""Multi-touch attribution: which channels (or touchpoints) earn the conversions.

- :mod:`~kundresa.attribution.models`: :func:`attribute` (first, last, last non-direct,
  linear, time decay, position-based, Markov, Shapley) and :func:`compare_models`, on a
  *paths frame* (one row per path: ``path``, ``conversions``, ``value``, ``nulls``);
  :func:`markov`, the chain of order 1 to 4 with its transitions and removal effects,
  solved exactly; :func:`shapley`, exact or sampled with intervals;
- :mod:`~kundresa.attribution.paths_file`: :func:`read_paths_file` for the
  ``path,total_conversions,total_conversion_value,total_null`` format;
- :mod:`~kundresa.attribution.journey`: paths from a project's events and stage attribution
  (imported on first use: it loads the engines).

Examples
--------
>>> import pandas as pd
>>> from kundresa.attribution import attribute
>>> paths = pd.DataFrame({"path": [("ad", "mail")], "conversions": [1.0],
...                       "value": [50.0], "nulls": [0.0]})
>>> attribute(paths, "first")[["channel", "conversions", "value"]]
  channel  conversions  value
0      ad          1.0   50.0
1    mail          0.0    0.0
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from kundresa.attribution.models import (
    HEURISTIC_MODELS,
    MODELS,
    MarkovResult,
    attribute,
    compare_models,
    markov,
    shapley,
)
from kundresa.attribution.paths_file import PathsFileError, read_paths_file

if TYPE_CHECKING:
    from kundresa.attribution.journey import conversion_paths, stage_attribution, stage_paths

_LAZY = {
    "conversion_paths": "kundresa.attribution.journey",
    "stage_attribution": "kundresa.attribution.journey",
    "stage_paths": "kundresa.attribution.journey",
}

__all__ = [
    "HEURISTIC_MODELS",
    "MODELS",
    "MarkovResult",
    "PathsFileError",
    "attribute",
    "compare_models",
    "conversion_paths",
    "markov",
    "read_paths_file",
    "shapley",
    "stage_attribution",
    "stage_paths",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'kundresa.attribution' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
