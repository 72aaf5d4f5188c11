"""The declarations an analysis is made of, the scope it runs in, and running it.

Nothing here imports an analysis, an engine or pandas at import time: the command line reads
the declarations to build its options, and only the command that runs imports the analysis
(``Analysis.function`` is an import path, ``"module:function"``).
"""

from __future__ import annotations

import inspect
import os
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from importlib import import_module
from typing import TYPE_CHECKING, Any

from kundresa.analyses._errors import AnalysisError, ParameterError
from kundresa.analyses.resolve import Names, Resolution
from kundresa.errors import UsageError

if TYPE_CHECKING:
    import pandas as pd

    from kundresa.model.journey import Journey

__all__ = ["Analysis", "Column", "Param", "Result", "Scope", "check_period", "run_analysis"]

#: Kinds of names a parameter can hold, resolved before the analysis runs.
RESOLVE_KINDS = ("step", "exclusion", "stage", "touchpoint", "persona", "property", "event")

#: Parameter types.
#: Longest duration a parameter may hold (a funnel window, a lookback, a session gap): ten
#: years. Longer ones are typing mistakes, and overflow the engines' microsecond arithmetic.
MAX_DURATION_DAYS = 3650
#: Largest number a parameter without its own bound may hold (a count of periods, rows, edges).
MAX_NUMBER = 1_000_000_000

TYPES = ("str", "int", "float", "bool", "duration", "period", "file")


@dataclass(frozen=True)
class Param:
    """One parameter of an analysis.

    Attributes
    ----------
    name
        The keyword the analysis function takes (``steps``, ``window``).
    type
        ``str``, ``int``, ``float``, ``bool``, ``duration`` (``90s``, ``30m``, ``12h``, ``7d``
        or seconds), ``period`` (``previous`` or ``START:END``) or ``file`` (a path).
    default
        The value when not given (``None``: not passed on, the function's own default).
    help
        One line for ``--help`` and the API docs.
    choices
        The allowed values, when a closed list.
    multiple
        A list of values (``--step`` repeated).
    required
        Must be given.
    resolve
        The kind of name it holds, resolved against the journey and the data: ``step``,
        ``exclusion``, ``stage``, ``touchpoint``, ``persona``, ``property`` (a ``--by``
        breakdown) or ``event``.
    min, max
        Inclusive bounds of a number.
    off
        For a ``duration``: ``none``, ``off`` or ``0`` switch it off (a session gap).
    positive
        For a ``duration``: zero is refused (a lookback, a half-life, a horizon), before any
        events are read.
    min_count
        For ``multiple``: the fewest values an analysis takes (a funnel's two steps), checked
        by :meth:`Analysis.check` (a form's field may hold several, one a line).
    option
        The command-line option (default ``--`` + the name with dashes); ``argument`` makes it
        a positional argument.
    show_default
        Show the default in ``--help``.
    used_when
        For a name to resolve: ``(parameter, value)`` pairs of which one must hold for the
        analysis to read this one (e.g. a purchase definition only matters when purchases are
        counted); otherwise it is neither resolved nor warned about.
    """

    name: str
    type: str = "str"
    default: Any = None
    help: str = ""
    choices: tuple[str, ...] | None = None
    multiple: bool = False
    required: bool = False
    resolve: str | None = None
    min: float | None = None
    max: float | None = None
    option: str | None = None
    argument: bool = False
    show_default: bool = False
    used_when: tuple[tuple[str, Any], ...] | None = None
    min_count: int = 0
    off: bool = False
    positive: bool = False

    def __post_init__(self) -> None:
        if self.type not in TYPES:
            raise ValueError(f"{self.name}: unknown parameter type {self.type!r}")
        if self.resolve is not None and self.resolve not in RESOLVE_KINDS:
            raise ValueError(f"{self.name}: unknown name kind {self.resolve!r}")

    @property
    def cli_option(self) -> str:
        return self.option or "--" + self.name.replace("_", "-")

    def check(self, value: Any) -> Any:
        """``value`` converted to the parameter's type; :class:`ParameterError` if it is not
        one."""
        if value is None:
            return None
        if self.multiple:
            if isinstance(value, str) or not isinstance(value, Sequence):
                value = [value]
            return tuple(self._one(v) for v in value) or None
        return self._one(value)

    def _one(self, value: Any) -> Any:
        name = self.name
        if self.type == "bool":
            if not isinstance(value, bool):
                raise ParameterError(f"{name}: {value!r} is not true or false")
            return value
        if self.type in ("int", "float"):
            if isinstance(value, bool):
                raise ParameterError(f"{name}: {value!r} is not a number")
            try:
                number: float = int(value) if self.type == "int" else float(value)
            except (TypeError, ValueError):
                raise ParameterError(f"{name}: {value!r} is not a number") from None
            if self.type == "int" and isinstance(value, float) and not value.is_integer():
                raise ParameterError(f"{name}: {value!r} is not a whole number")
            top = self.max if self.max is not None else MAX_NUMBER
            if (self.min is not None and number < self.min) or number > top:
                lo = "" if self.min is None else f"{self.min:g}"
                hi = f"{top:g}"
                raise ParameterError(f"{name}: {value!r} is not in the range {lo}..{hi}")
            return number
        if self.type == "duration" and not isinstance(value, bool):
            if isinstance(value, str) and not value.strip():
                return self.default  # left blank (a form's empty field): the default
            if isinstance(value, timedelta):  # a Python caller's own: read as seconds
                value = value.total_seconds()
            if isinstance(value, int | float | str):
                self._check_duration(value)
            if isinstance(value, int | float):
                return value
            if isinstance(value, str):
                value = value.strip()  # as read: a title shows it without a line break
        if self.type == "file" and isinstance(value, os.PathLike):
            return os.fspath(value)
        if not isinstance(value, str):
            if self.choices is None and value is not None and _hashable(value):
                # A Python caller's own object: a Step, an Exclusion tuple, a (start, end)
                # period; the analysis checks it.
                return value
            raise ParameterError(f"{name}: {value!r} is not text")
        if self.choices is not None and value not in self.choices:
            raise ParameterError(
                f"{name}: {value!r} is not one of {', '.join(map(repr, self.choices))}"
            )
        return value

    def _check_duration(self, value: str | float) -> None:
        from kundresa.analytics._duration import (
            ACCEPTED,
            DurationError,
            is_off,
            parse_duration,
            quoted,
        )

        if self.off and is_off(value):
            return  # switched off
        try:
            seconds = parse_duration(value)
        except ValueError as exc:
            if _negative_duration(value):  # '-7d', '-0d': out of range, not unreadable
                raise ParameterError(
                    f"{self.name}: {quoted(value)} has a minus sign; a duration is 0 or more"
                ) from None
            if isinstance(exc, DurationError) and not exc.reason.startswith("is not a dur"):
                raise ParameterError(f"{self.name}: {quoted(value)} {exc.reason}") from None
            also = ", or none" if self.off else ""
            raise ParameterError(
                f"{self.name}: {quoted(value)} is not a duration; {ACCEPTED}{also}"
            ) from None
        if seconds < 0 or seconds > MAX_DURATION_DAYS * 86400:
            raise ParameterError(
                f"{self.name}: {quoted(value)} is not between 0 and {MAX_DURATION_DAYS} days"
            )
        if self.positive and seconds == 0:
            # Said with what the duration is for: --half-life 0 is refused under any model
            # (every option is checked before anything runs), so the message names its own.
            what = f" ({self.help[:1].lower()}{self.help[1:].rstrip('.')})" if self.help else ""
            raise ParameterError(f"{self.name}: {quoted(value)} must be longer than zero{what}")


def _negative_duration(value: str | float) -> bool:
    """Whether ``value`` is a duration's text with a minus sign before it (``-7d``)."""
    from kundresa.analytics._duration import parse_duration

    text = value.strip() if isinstance(value, str) else ""
    if not text.startswith("-"):
        return False
    try:
        parse_duration(text[1:])
    except ValueError:
        return False
    return True


def _hashable(value: Any) -> bool:
    try:
        hash(value)
    except TypeError:
        return False
    return True


@dataclass(frozen=True)
class Column:
    """A column of an analysis' result and its unit (:mod:`kundresa.report.units`)."""

    name: str
    unit: str
    help: str = ""


@dataclass(frozen=True)
class Analysis:
    """An analysis, declared once: what it runs, its parameters and its output.

    Attributes
    ----------
    name
        Its name for :meth:`Project.run <kundresa.project.Project.run>` (``funnel``).
    function
        ``"module:function"``, imported when the analysis runs.
    summary
        One line saying what it answers.
    call
        How the function is called: ``project`` (an object with ``journey``, ``events``,
        ``engine``), ``events`` (the event table, ``journey=`` when it takes one),
        ``events_journey`` (events and journey, positionally) or ``none`` (parameters only).
        The keywords ``since``/``until`` (the period), ``lang`` and ``journey`` are passed when
        the function's signature has them; without ``since``/``until`` the events are
        filtered to the period first.
    params
        Its parameters.
    columns
        Its output columns with units; ``other_unit`` is the unit of columns not declared
        (a matrix's cells).
    needs_journey
        It needs a journey file.
    title
        A title for tables, formatted with the parameters and ``journey`` (its name); in
        English: the title a result carries is the one
        :data:`kundresa.report.labels.TITLES` has for the analysis in the scope's language.
        A function gets the frame, the parameters, the journey's name and the language.
    table_columns
        The columns a terminal table shows (all when ``None``), or a function of the result
        frame and the parameters giving them.
    """

    name: str
    function: str
    summary: str
    call: str = "events"
    params: tuple[Param, ...] = ()
    columns: tuple[Column, ...] = ()
    other_unit: str | None = None
    needs_journey: bool = False
    title: str | Callable[[pd.DataFrame, Mapping[str, Any], str, str], str] = ""
    table_columns: (
        tuple[str, ...] | Callable[[pd.DataFrame, Mapping[str, Any]], list[str] | None] | None
    ) = None

    def param(self, name: str) -> Param:
        for p in self.params:
            if p.name == name:
                return p
        raise KeyError(name)

    @property
    def units(self) -> dict[str, str]:
        return {c.name: c.unit for c in self.columns}

    def load(self) -> Callable[..., Any]:
        """The function the analysis runs (imported now)."""
        module, _, attr = self.function.partition(":")
        return getattr(import_module(module), attr)

    def check(self, params: Mapping[str, Any]) -> dict[str, Any]:
        """The parameters with their types checked and defaults filled in.

        Raises
        ------
        ParameterError
            An unknown or missing parameter, or a value of the wrong type or out of range.
        """
        known = {p.name for p in self.params}
        unknown = sorted(set(params) - known)
        if unknown:
            raise ParameterError(
                f"{self.name}: unknown parameter {unknown[0]!r}; parameters: "
                f"{', '.join(p.name for p in self.params) or '(none)'}"
            )
        out: dict[str, Any] = {}
        for p in self.params:
            value = p.check(params.get(p.name, p.default))
            if p.required and value is None:
                raise ParameterError(f"{self.name}: {p.name} is required")
            if p.min_count and len(value or ()) < p.min_count:
                raise ParameterError(
                    f"{self.name}: at least {p.min_count} {p.name} are needed, "
                    f"got {len(value or ())}"
                )
            out[p.name] = value
        return out


@dataclass(frozen=True)
class Scope:
    """What an analysis runs on: the journey, the events (one persona's customers when
    ``persona`` is set), the engine, a period ``[since, until)`` and a label language;
    ``known_names(kind)`` gives the event names (``"event"``) or property keys
    (``"property"``) in the data, for warnings about names never seen.

    Made by :meth:`Project.scope <kundresa.project.Project.scope>`. ``events`` covers the
    whole history: a period chooses what is counted, while who a customer is (touchpoint
    ``nth``, persona, cohort) comes from all their events.
    """

    journey: Journey | None
    events: Any
    engine: str = "duckdb"
    persona: str | None = None
    since: str | None = None
    until: str | None = None
    lang: str | None = None
    source: Any = field(default=None, repr=False)
    known_names: Callable[[str], frozenset[str]] | None = field(
        default=None, compare=False, repr=False
    )
    # Any of a person's ids → the customer id analyses use (identity stitching).
    resolve_id: Callable[[str], str] | None = field(default=None, compare=False, repr=False)
    missing_journey: str = field(
        default="no journey file; create one with `kundresa init` or pass --journey FILE",
        compare=False,
        repr=False,
    )
    runner: Callable[[str, Scope, dict[str, Any]], Result] | None = field(
        default=None, compare=False, repr=False
    )

    def __post_init__(self) -> None:
        check_period(self.since, self.until)
        if self.since is not None or self.until is not None:
            # Dates are read in the journey's time zone: a local time skipped or repeated
            # by a daylight-saving change is reported, not read silently.
            from kundresa.analytics._period import Period, project_timezone

            try:
                Period.parse(self.since, self.until, project_timezone(self.journey))
            except ValueError as exc:
                raise ParameterError(str(exc)) from exc

    @property
    def key(self) -> tuple[Any, ...]:
        """What results depend on besides the parameters (for caches)."""
        return (self.engine, self.persona, self.since, self.until, self.lang, self.source)

    def period_events(self) -> Any:
        """The events in the period (the fallback for analyses without ``since``/``until``)."""
        if self.since is None and self.until is None:
            return self.events
        from kundresa.analytics._period import Period, project_timezone

        period = Period.parse(self.since, self.until, project_timezone(self.journey))
        return self.events.filter(period.contains(self.events.timestamp))


@dataclass
class Result:
    """An analysis' answer.

    Attributes
    ----------
    frame
        The table (a pandas DataFrame; rates as fractions 0-1, durations in seconds).
    units
        Unit of each column (:mod:`kundresa.report.units`).
    warnings
        Names not found in the data and other reasons to doubt the numbers.
    notes
        How names were read (``step 'pricing_page' read as touchpoint:pricing_page``).
    analysis, params, title
        What ran, with which parameters (after checking and resolving), and a title.
    table_columns
        The columns a terminal table shows.
    """

    frame: pd.DataFrame
    units: dict[str, str]
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    analysis: str = ""
    params: dict[str, Any] = field(default_factory=dict)
    title: str = ""
    table_columns: list[str] | None = None
    lang: str = "en"

    def formatted(self) -> pd.DataFrame:
        """The frame with every value written for a reader in the result's language
        (:func:`kundresa.report.units.format_value`)."""
        from kundresa.report.units import format_value

        df = self.frame.copy()
        for c in df.columns:
            unit = self.units.get(str(c), "label")
            df[c] = [format_value(v, unit, self.lang) for v in df[c]]
        return df


def _parse_when(text: Any, what: str) -> datetime:
    if isinstance(text, datetime):
        return text.replace(tzinfo=None)
    if isinstance(text, date):
        return datetime(text.year, text.month, text.day)
    try:
        return datetime.fromisoformat(str(text).strip().replace("Z", "+00:00")).replace(tzinfo=None)
    except ValueError:
        raise ParameterError(f"{what} {text!r} is not a date or time (YYYY-MM-DD)") from None


def check_period(since: Any, until: Any) -> None:
    """A period must be a date or time on each end and not end before it starts.

    Raises
    ------
    ParameterError
        ``since`` or ``until`` is not a date, or ``since`` is not before ``until``.
    """
    a = _parse_when(since, "--since") if since is not None else None
    b = _parse_when(until, "--until") if until is not None else None
    if a is not None and b is not None and a >= b:
        raise ParameterError(f"--since {since} is not before --until {until}: the period is empty")


class _Lazy(Collection[str]):
    """Names from the data, queried on first use (a funnel of events never asks for the
    property keys)."""

    def __init__(self, load: Callable[[], frozenset[str]]) -> None:
        self._load = load
        self._names: frozenset[str] | None = None

    @property
    def names(self) -> frozenset[str]:
        if self._names is None:
            self._names = self._load()
        return self._names

    def __contains__(self, name: object) -> bool:
        return name in self.names

    def __iter__(self) -> Iterator[str]:
        return iter(self.names)

    def __len__(self) -> int:
        return len(self.names)


def _resolve(
    analysis: Analysis, params: dict[str, Any], scope: Scope | None, out: Resolution
) -> dict[str, Any]:
    kinds = {
        p.name: p.resolve
        for p in analysis.params
        if p.resolve and (p.used_when is None or any(params.get(k) == v for k, v in p.used_when))
    }
    if not kinds or scope is None:
        return params
    data_kinds = {"step", "exclusion", "property", "event"}
    needs_data = any(k in data_kinds and params.get(n) is not None for n, k in kinds.items())
    events: Collection[str] | None = None
    properties: Collection[str] | None = None
    if needs_data and scope.known_names is not None:
        known = scope.known_names
        events = _Lazy(lambda: known("event"))
        properties = _Lazy(lambda: known("property"))
    names = Names(scope.journey, events=events, properties=properties)
    one: dict[str, Callable[[Any], Any]] = {
        "step": lambda v: names.step(v, out),
        "exclusion": lambda v: names.exclusion(v, out),
        "stage": names.stage,
        "touchpoint": names.touchpoint,
        "persona": names.persona,
        "property": lambda v: names.property(v, out),
        "event": lambda v: names.event(v, out),
    }
    resolved = dict(params)
    for name, kind in kinds.items():
        value = params.get(name)
        if value is None:
            continue
        fn = one[kind]
        resolved[name] = tuple(fn(v) for v in value) if isinstance(value, tuple) else fn(value)
    return resolved


_SAME: Any = object()


class _ProjectView:
    """What a ``project``-style analysis reads: ``journey`` (an error when there is none),
    ``events``, ``engine``."""

    def __init__(self, scope: Scope, events: Any) -> None:
        self._scope = scope
        self.events = events
        self.engine = scope.engine
        self.root = None

    @property
    def journey(self) -> Journey:
        if self._scope.journey is None:
            raise AnalysisError(self._scope.missing_journey)
        return self._scope.journey

    @property
    def has_journey(self) -> bool:
        return self._scope.journey is not None

    def resolve_id(self, id: str) -> str:
        """The customer id of the person ``id`` belongs to (``id`` itself without links)."""
        resolve = self._scope.resolve_id
        return resolve(id) if resolve is not None else id

    def run(
        self,
        name: str,
        *,
        since: Any = _SAME,
        until: Any = _SAME,
        lang: Any = _SAME,
        **params: Any,
    ) -> Result:
        """Another analysis on the same events, through the scope's runner (the project's
        cache: :meth:`Project.run <kundresa.project.Project.run>`), so an analysis made of
        others computes each once (the KPIs read the stage funnel the map already has; a
        customer's visits are made from the timeline already read). ``since``, ``until``
        and ``lang`` change the scope's when given."""
        changes: dict[str, Any] = {}
        if since is not _SAME:
            changes["since"] = None if since is None else str(since)
        if until is not _SAME:
            changes["until"] = None if until is None else str(until)
        if lang is not _SAME and lang is not None:
            changes["lang"] = lang
        scope = replace(self._scope, **changes) if changes else self._scope
        if scope.runner is not None:
            return scope.runner(name, scope, params)
        from kundresa.analyses import get

        return run_analysis(get(name), scope, params)


def _call(
    fn: Callable[..., Any], analysis: Analysis, scope: Scope | None, kw: dict[str, Any]
) -> Any:
    """Call the function the way it takes its input, with the period passed through (or the
    events filtered to it when the function has no ``since``/``until``)."""
    sig = inspect.signature(fn).parameters
    kwargs = {k: v for k, v in kw.items() if v is not None}
    if analysis.call == "none" or scope is None:
        return fn(**kwargs)
    takes_period = "since" in sig and "until" in sig
    if takes_period:
        kwargs.update(since=scope.since, until=scope.until)
        events = scope.events
    else:
        events = scope.period_events()
    if "lang" in sig and "lang" not in kwargs:
        kwargs["lang"] = scope.lang
    if analysis.call == "project":
        return fn(_ProjectView(scope, events), **kwargs)
    if analysis.call == "events_journey":
        if scope.journey is None:
            raise AnalysisError(scope.missing_journey)
        return fn(events, scope.journey, **kwargs)
    if "journey" in sig and "journey" not in kwargs:
        kwargs["journey"] = scope.journey
    return fn(events, **kwargs)


def run_analysis(analysis: Analysis, scope: Scope | None, params: Mapping[str, Any]) -> Result:
    """Check the parameters, resolve the names, run the analysis and wrap its answer.

    Raises
    ------
    ParameterError
        Bad parameters, unknown stage/touchpoint/persona, or a value the analysis refused
        (its :class:`~kundresa.errors.UsageError`).
    AnalysisError
        The analysis needs a journey the scope has not, or cannot answer.

    Any other exception of the analysis (a ``ValueError`` of a bug deep inside it, say)
    passes through as it is: it is no usage error, and the command line shows it as the
    internal error it is, never as a bad option.
    """
    import pandas as pd

    checked = analysis.check(params)
    if analysis.needs_journey and scope is not None and scope.journey is None:
        raise AnalysisError(scope.missing_journey)
    out = Resolution()
    resolved = _resolve(analysis, checked, scope, out)
    fn = analysis.load()
    try:
        value = _call(fn, analysis, scope, dict(resolved))
    except ParameterError as exc:
        if not exc.warnings:
            exc.warnings = tuple(out.warnings)
        raise
    except UsageError as exc:  # an analysis' own usage error: a parameter it refused
        refused = ParameterError(str(exc))
        refused.warnings = tuple(out.warnings)  # often why (a --by property never seen)
        raise refused from exc
    if isinstance(value, tuple) and len(value) == 2 and isinstance(value[1], list):
        value, extra = value  # an adapter's (frame, warnings)
        for w in extra:
            out.warn(w)
    if not isinstance(value, pd.DataFrame):
        value = value.to_pandas()  # an Ibis table
    for note in value.attrs.pop("notes", ()):  # an analysis' own notes (an empty table's why)
        out.note(str(note))
    units = dict(analysis.units)
    for c in value.columns:
        name = str(c)
        if name not in units:
            if analysis.other_unit is not None:
                units[name] = analysis.other_unit
            else:
                from kundresa.report.units import guess_unit

                first = value[c].iloc[0] if len(value) else None
                units[name] = guess_unit(name, first)
    journey = scope.journey if scope is not None else None
    lang = (scope.lang if scope is not None else None) or (
        journey.language if journey is not None else "en"
    )
    shown: list[str] | None
    if callable(analysis.table_columns):
        shown = analysis.table_columns(value, resolved)
    elif analysis.table_columns is not None:
        shown = [c for c in analysis.table_columns if c in value.columns]
    else:
        shown = None
    title = analysis.title
    shown_lang = lang if lang in ("sv", "da", "en") else "en"
    name = journey.name if journey is not None else ""
    if callable(title):
        text = title(value, resolved, name, shown_lang)
    else:
        from kundresa.report.labels import TITLES
        from kundresa.report.labels import title as title_in

        fields = {k: ("" if v is None else v) for k, v in resolved.items()}
        if analysis.name in TITLES:  # in the journey's language (period words too)
            text = title_in(analysis.name, shown_lang, journey=name, **fields)
        else:
            text = title.format(journey=name, **fields)
    return Result(
        frame=value,
        units=units,
        warnings=out.warnings,
        notes=out.notes,
        analysis=analysis.name,
        params=resolved,
        title=text,
        table_columns=shown,
        lang=shown_lang,
    )


def with_events(scope: Scope, events: Any) -> Scope:
    """The scope over other events (a test's, a customer's)."""
    return replace(scope, events=events)
