"""The command line's lean event funnel: ``kundresa funnel --events FILE`` without Ibis.

A canonical Parquet file that :func:`kundresa.store.in_place.read_in_place` reads in place
with its columns decoded by Arrow (:class:`kundresa.store._decoded.DecodedFile`) holds all
an event-name funnel needs; its counts come from compiled kernels. Loading Ibis and sqlglot
(~0.5 s of imports that hold the interpreter lock and slow the file's read) would only build
expressions the funnel never runs. So, when the command asks for what the lane answers
exactly as :meth:`Project.run <kundresa.project.Project.run>` would:

- :func:`lean_fits` says so from the analysis, its parameters and the file's row count
  (before the file is read, so that :meth:`Project.from_events
  <kundresa.project.Project.from_events>` imports no engine meanwhile: ``warm=False``);
- :func:`run_lean` runs the registry's own steps (:func:`~kundresa.analyses.run_analysis`:
  the checks, name resolution with its warnings, the title and units) on a scope whose
  events are the decoded columns, with the funnel computed by
  :func:`kundresa.analytics._funnel_core.decoded_funnel`: the same passes and frame the engine
  path runs on those columns, so the same table, JSON and CSV, the same errors.

Anything else (a journey, touchpoint or stage steps, ``--by``, ``--persona``, other views, a
file not read in place or too big to decode) returns False or None: the caller takes the
ordinary path, unchanged.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from kundresa.analyses._registry import Result, Scope, check_period, run_analysis

if TYPE_CHECKING:
    from kundresa.project import Project

__all__ = ["LEAN_FUNCTION", "lean_fits", "run_lean"]

#: The analysis the lane answers, and the function it computes it with.
_ANALYSIS = "funnel"
LEAN_FUNCTION = "kundresa.analytics._funnel_core:decoded_funnel"
_STEP_KINDS = ("touchpoint", "stage")  # need the journey's tagging: the engine path


def lean_fits(name: str, params: Mapping[str, Any], events_file: str | os.PathLike[str]) -> bool:
    """Whether the lane may answer the analysis ``name`` with ``params`` (as the command line
    gives them) on ``events_file``: the event funnel without a breakdown, steps that are
    event names, the fast path allowed (``KUNDRESA_FAST_PATH``), and a Parquet file of at
    least one row that the fast path takes in one part (``KUNDRESA_FAST_PATH_ROWS``, 15M
    rows by default: such a file is also decoded when read in place, up to
    :data:`kundresa.store.in_place._DECODE_ROWS` = 32M rows; :func:`run_lean` checks that it
    was). The caller checks the rest: no journey, no persona, no ``--tz``, DuckDB.

    Any doubt (an unreadable file or no regular file, a step that is not text, a bad
    setting) is False: the ordinary path then says what is wrong, as it always did.
    """
    if name != _ANALYSIS or params.get("by") is not None:
        return False
    for step in params.get("steps") or ():
        if not isinstance(step, str):
            return False
        prefix, sep, _ = step.partition(":")
        if sep and prefix.strip() in _STEP_KINDS:
            return False
    from kundresa.analytics._switch import fast_path_allowed, parts_for

    if not fast_path_allowed():
        return False
    try:
        import pyarrow.parquet as pq

        if not os.path.isfile(events_file):
            return False  # a named pipe would wait for a writer; a folder is no file
        rows = int(pq.read_metadata(os.fspath(events_file)).num_rows)
        return rows > 0 and parts_for(rows) == 1
    except (OSError, ValueError, ArithmeticError):  # pyarrow's errors are OSError, ValueError
        return False


def run_lean(
    project: Project,
    name: str,
    params: Mapping[str, Any],
    *,
    since: Any = None,
    until: Any = None,
) -> Result | None:
    """:meth:`Project.run <kundresa.project.Project.run>` of the event funnel in the scope
    ``[since, until)``, computed from the decoded columns of the file ``project`` reads in
    place, without Ibis: the same result (frame, units, warnings, notes, title).

    Returns None, having computed nothing that shows, when the lane cannot answer exactly
    (the project has a journey or another engine, its events are not a decoded file, or
    :class:`~kundresa.analytics._funnel_core.NotLean` parameters): the caller then runs
    :meth:`Project.run`.

    Raises
    ------
    ParameterError
        What :meth:`Project.scope` and :meth:`Project.run` raise for the same input (a bad
        period, step, window, order or exclusion), with the same message.
    """
    from kundresa.analyses import get
    from kundresa.store._decoded import decoded_file

    if name != _ANALYSIS or project.has_journey or project.engine != "duckdb":
        return None
    if project.warehouse.in_place is None:
        return None
    decoded = decoded_file(project.warehouse.con)
    if decoded is None:
        return None
    # As Project.scope: the period checked before anything else, empty bounds dropped.
    check_period(since, until)
    since = since if since not in ("", None) else None
    until = until if until not in ("", None) else None
    scope = Scope(
        journey=None,
        events=decoded,
        engine=project.engine,
        since=None if since is None else str(since),
        until=None if until is None else str(until),
        known_names=project.known_names,
    )
    from kundresa.analytics._funnel_core import NotLean

    analysis = replace(get(name), function=LEAN_FUNCTION)
    try:
        return run_analysis(analysis, scope, dict(params))
    except NotLean:
        return None
