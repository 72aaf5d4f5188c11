"""The analysis registry: every analysis declared once, run through one door.

Each :class:`Analysis` names the function it runs as an import path (nothing heavy is
imported until it runs), its parameters (:class:`Param`: type, default, choices, help, and
which hold names to resolve against the journey and the data) and its output columns with
their units (:class:`Column`, :mod:`kundresa.report.units`). The command line builds its
options from these declarations; :meth:`Project.run <kundresa.project.Project.run>` checks
parameters, resolves names (:mod:`kundresa.analyses.resolve`), passes the period, runs and
caches; the web pages and the HTTP API use the same.

Examples
--------
>>> from kundresa.analyses import ANALYSES, get
>>> "funnel" in ANALYSES and "stages" in ANALYSES
True
>>> [p.name for p in get("funnel").params]
['steps', 'window', 'order', 'exclusions', 'by']
>>> get("funnel").units["conversion_from_start"]
'rate'
>>> get("nosuch")  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
kundresa.analyses._errors.ParameterError: no analysis 'nosuch'; analyses: stages, funnel, ...
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kundresa.analyses._catalog import ANALYSES as _DECLARED
from kundresa.analyses._errors import AnalysisError, ParameterError
from kundresa.analyses._registry import (
    Analysis,
    Column,
    Param,
    Result,
    Scope,
    check_period,
    run_analysis,
)

__all__ = [
    "ANALYSES",
    "Analysis",
    "AnalysisError",
    "Column",
    "Param",
    "ParameterError",
    "Result",
    "Scope",
    "check_period",
    "get",
    "run",
]

#: Every analysis by name, in the order they are documented.
ANALYSES: Mapping[str, Analysis] = {a.name: a for a in _DECLARED}


def get(name: str) -> Analysis:
    """The analysis called ``name``.

    Raises
    ------
    ParameterError
        No analysis has that name (the message lists them).
    """
    try:
        return ANALYSES[name]
    except KeyError:
        raise ParameterError(f"no analysis {name!r}; analyses: {', '.join(ANALYSES)}") from None


def run(name: str, scope: Scope | None = None, **params: Any) -> Result:
    """Run an analysis in a scope, uncached (:meth:`Project.run` caches).

    ``scope`` may be ``None`` for analyses that need no events (attribution on a paths file).
    """
    return run_analysis(get(name), scope, params)
