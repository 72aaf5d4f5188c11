"""The analysis commands, built from the analysis registry's declarations.

A command (:class:`CommandSpec`) names the analyses it runs — one, or one per ``--view`` —
and its options are made from those analyses' parameters (:class:`kundresa.analyses.Param`:
type, default, choices, help, ``multiple``), merged by option name. Running a command opens
the project, makes the scope (``--persona``, ``--since``, ``--until``, ``--lang``) and calls
:meth:`Project.run <kundresa.project.Project.run>`; the table shows each column in its unit.
This module imports no analysis: only the registry's declarations.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click
from click.core import ParameterSource

from kundresa.analyses import ANALYSES, Param
from kundresa.analyses._errors import ParameterError
from kundresa.cli._common import (
    JOURNEY_FILE,
    UserError,
    emit,
    emit_result,
    in_place_allowed,
    open_project,
    source_options,
    warn,
)

__all__ = ["COMMAND_SPECS", "CommandSpec", "as_option", "build_command"]

Values = dict[str, Any]


@dataclass(frozen=True)
class CommandSpec:
    """An analysis command.

    Attributes
    ----------
    name, help
        The command and its ``--help`` text.
    views
        ``--view`` value → analysis name (the first is the default); one entry with the key
        ``""`` for a command without ``--view``.
    view_help
        Help for ``--view``.
    period, lang, persona
        Whether it takes ``--since``/``--until``, ``--lang``, ``--persona``.
    overrides
        Changes to a generated option, by option name (``{"--limit": {"default": 50}}``).
    extra
        Options of the command alone (``--kpis``), as ``(option, kwargs)``.
    pick
        Chooses the analysis from the option values instead of ``--view``.
    prepare
        Adjusts the parameters before the run: ``prepare(analysis, params, values)``.
    run
        Runs and prints instead of the usual way: ``run(analysis, params, values)``.
    """

    name: str
    help: str
    views: Mapping[str, str]
    view_help: str = ""
    period: bool = True
    lang: bool = False
    persona: bool = True
    overrides: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    extra: tuple[tuple[str, Mapping[str, Any]], ...] = ()
    pick: Callable[[Values], str] | None = None
    prepare: Callable[[str, dict[str, Any], Values], None] | None = None
    run: Callable[[str, dict[str, Any], Values], None] | None = None

    def analyses(self) -> list[str]:
        names = list(self.views.values())
        if self.pick is not None:
            names += [n for n in _PICKED.get(self.name, ()) if n not in names]
        return names


_PICKED: dict[str, tuple[str, ...]] = {"bottlenecks": ("kpis",)}


def _dest(option: str) -> str:
    return "opt_" + option.lstrip("-").replace("-", "_")


def _dest_of(p: Param) -> str:
    """Where click puts a parameter's value (an argument keeps its name, for ``--help``)."""
    return p.name if p.argument else _dest(p.cli_option)


def _click_type(p: Param) -> Any:
    if p.choices is not None:
        return click.Choice(list(p.choices))
    if p.type == "file":
        return click.Path(dir_okay=False)
    if p.type == "int":
        if p.min is not None or p.max is not None:
            return click.IntRange(
                None if p.min is None else int(p.min), None if p.max is None else int(p.max)
            )
        return int
    if p.type == "float":
        if p.min is not None or p.max is not None:
            return click.FloatRange(p.min, p.max)
        return float
    return str


def _option(p: Param, override: Mapping[str, Any]) -> Callable[[Any], Any]:
    """The click option (or argument) for a parameter."""
    if p.argument:
        return click.argument(_dest_of(p), type=_click_type(p), required=p.required)
    kw: dict[str, Any] = {"help": p.help or None, "show_default": p.show_default}
    if p.type == "bool":
        if p.default is True:
            kw.update(is_flag=True, flag_value=False, default=True, show_default=False)
        else:
            kw.update(is_flag=True, default=False)
    else:
        kw.update(
            type=_click_type(p),
            default=() if p.multiple else p.default,
            multiple=p.multiple,
            required=p.required,
        )
    kw.update(override)
    return click.option(p.cli_option, _dest(p.cli_option), **kw)


def as_option(analysis: str, exc: ParameterError) -> ParameterError:
    """``exc`` as the command line says it: a message that starts with a parameter's name
    (``half_life: '0' must be longer than zero``, as the Python API and the HTTP API name
    it) starts with the option a user typed instead (``--half-life: ...``); so does one that
    names two (``a and b: ... with a and b`` as ``--a and --b: ... with --a and --b``) and a
    period bound's (``since ...`` as ``--since ...``)."""
    text = str(exc)
    for bound in ("since", "until"):  # the period's bounds are the scope's, not parameters
        if text.startswith(f"{bound} "):
            return ParameterError(f"--{text}")
    options = {p.name: p.cli_option for p in ANALYSES[analysis].params if not p.argument}
    head, colon, rest = text.partition(": ")
    names = head.split(" and ")
    if colon and all(n in options for n in names):  # "a and b: ..." names two
        said = " and ".join(options[n] for n in names)
        for n in names:  # "... with a and b (...)" in the message's text too
            rest = re.sub(rf"(?<=with ){n}\b|(?<=and ){n}\b", options[n], rest)
        return ParameterError(f"{said}: {rest}")
    return exc


def _parameters(spec: CommandSpec) -> dict[str, Param]:
    """The command's options: every parameter of its analyses, first declaration first."""
    merged: dict[str, Param] = {}
    for name in spec.analyses():
        for p in ANALYSES[name].params:
            merged.setdefault(p.cli_option, p)
    return merged


def _refuse_options_not_taken(spec: CommandSpec, analysis: str) -> None:
    """A usage error for an option given on the command line (or by its environment
    variable) that the chosen view's analysis does not take: ``retention --view repeat
    --period month`` printed the totals as if ``--period`` had been heard.

    Raises
    ------
    click.UsageError
        Naming the option, the view it was given with and the views that take it.
    """
    ctx = click.get_current_context()
    taken = {p.cli_option for p in ANALYSES[analysis].params}
    given = (ParameterSource.COMMANDLINE, ParameterSource.ENVIRONMENT)
    for option, p in _parameters(spec).items():
        if option in taken or ctx.get_parameter_source(_dest_of(p)) not in given:
            continue
        if spec.pick is not None:  # bottlenecks: --kpis picks the analysis
            kpis = analysis == "kpis"
            where = "with --kpis" if kpis else "without --kpis"
            hint = "leave out --kpis to use it" if kpis else "it goes with --kpis"
        else:
            view = next(v for v, name in spec.views.items() if name == analysis)
            takers = [
                f"--view {v}"
                for v, name in spec.views.items()
                if any(q.cli_option == option for q in ANALYSES[name].params)
            ]
            where, hint = f"to --view {view}", f"it goes with {' or '.join(takers)}"
        raise click.UsageError(f"{option} does not apply {where}; {hint}")


def _params_for(analysis: str, values: Values) -> dict[str, Any]:
    """The values given (or defaulted) on the command line for an analysis' parameters."""
    out: dict[str, Any] = {}
    for p in ANALYSES[analysis].params:
        value = values.get(_dest_of(p))
        if value is None or (p.multiple and not value):
            continue
        out[p.name] = list(value) if p.multiple else value
    return out


def _scope_args(spec: CommandSpec, values: Values) -> dict[str, Any]:
    return {
        "persona": values.get("persona"),
        "since": values.get("since"),
        "until": values.get("until"),
        "lang": values.get("lang"),
    }


def _lean(analysis: str, params: dict[str, Any], values: Values) -> bool:
    """Whether the command may take the lean lane (:mod:`kundresa.analyses._lean`): an event
    funnel over a Parquet file read in place, with no journey, persona, ``--tz`` or other
    engine; its result is the same, computed without loading Ibis."""
    events_file = values.get("events_file")
    if events_file is None or values.get("journey_file") is not None:
        return False
    if values.get("table_source") or values.get("table_name") or values.get("tz"):
        return False
    if values.get("engine") != "duckdb" or values.get("persona") or not in_place_allowed():
        return False
    if (Path(values["project_dir"]) / JOURNEY_FILE).exists():
        return False
    from kundresa.analyses._lean import lean_fits

    return lean_fits(analysis, params, events_file)


def _run_in_project(analysis: str, params: dict[str, Any], values: Values) -> Any:
    lean = _lean(analysis, params, values)
    if lean:
        # Arrow reads the file's columns while this thread imports what the check needs.
        from kundresa.store._read_ahead import read_ahead

        read_ahead(values["events_file"])
    with open_project(
        values["project_dir"],
        values["events_file"],
        values["journey_file"],
        values["engine"],
        values["tz"],
        values.get("table_source"),
        values.get("table_name"),
        warm=not lean,
    ) as project:
        if lean:
            from kundresa.analyses._lean import run_lean

            result = run_lean(
                project, analysis, params, since=values.get("since"), until=values.get("until")
            )
            if result is not None:
                return result
        scope = project.scope(**_scope_args(_SPECS_BY_NAME[values["_command"]], values))
        return project.run(analysis, scope=scope, **params)


def build_command(spec: CommandSpec) -> click.Command:
    """A click command for ``spec``, options generated from the registry."""

    def callback(**values: Any) -> None:
        values["_command"] = spec.name
        if values.get("excel") and values["fmt"] != "csv":
            raise click.UsageError("--excel goes with --format csv")
        if spec.pick is not None:
            analysis = spec.pick(values)
        else:
            analysis = spec.views[values.get("view") or next(iter(spec.views))]
        if spec.run is None:  # a command of its own reads its options itself
            _refuse_options_not_taken(spec, analysis)
        try:
            run(analysis, values)
        except ParameterError as exc:
            for text in exc.warnings:  # what the run warned of: often why it was refused
                warn(text)
            raise as_option(analysis, exc) from exc

    def run(analysis: str, values: Values) -> None:
        params = _params_for(analysis, values)
        # What the parameters can be told without the events (two funnel steps, a window
        # that parses) is checked before a file of them is read.
        ANALYSES[analysis].check(params)
        if spec.prepare is not None:
            spec.prepare(analysis, params, values)
        if spec.run is not None:
            spec.run(analysis, params, values)
            return
        emit_result(_run_in_project(analysis, params, values), values["fmt"], excel=values["excel"])

    callback.__doc__ = spec.help
    decorators: list[Callable[[Any], Any]] = []
    for option, p in _parameters(spec).items():
        decorators.append(_option(p, spec.overrides.get(option, {})))
    if "" not in spec.views:
        decorators.append(
            click.option(
                "--view",
                type=click.Choice(list(spec.views)),
                default=next(iter(spec.views)),
                show_default=True,
                help=spec.view_help or None,
            )
        )
    for option, kw in spec.extra:
        decorators.append(click.option(option, **kw))
    if spec.period:
        decorators.append(
            click.option(
                "--since",
                default=None,
                help="Count only events at or after this date or time (the project's time zone).",
            )
        )
        decorators.append(
            click.option(
                "--until",
                default=None,
                help="Count only events before this date or time (the project's time zone).",
            )
        )
    if spec.persona:
        decorators.append(
            click.option(
                "--persona",
                default=None,
                help="Only this persona's customers (who they are comes from all their events).",
            )
        )
    if spec.lang:
        decorators.append(
            click.option(
                "--lang",
                type=click.Choice(["sv", "da", "en"]),
                default=None,
                help="Label language (default: the journey's).",
            )
        )
    func: Any = callback
    for decorate in reversed(decorators):
        func = decorate(func)
    func = source_options(func)
    return click.command(spec.name, help=spec.help)(func)


# -- command-specific behaviour ---------------------------------------------------------------


def _journeys_prepare(analysis: str, params: dict[str, Any], values: Values) -> None:
    if analysis == "customer_journeys" and values["fmt"] != "table":
        params.pop("limit", None)  # JSON and CSV: every customer


def _paths_prepare(analysis: str, params: dict[str, Any], values: Values) -> None:
    if analysis == "dfg" and values["fmt"] != "table":
        params.pop("top", None)  # JSON and CSV: the whole graph


_ATTRIBUTION_TABLES = (  # the measure, its unit (titles: labels.TITLES "attribution_<measure>")
    ("conversions", "number"),
    ("value", "money"),
    ("share", "rate"),
)


_RATE_GAME_NOTE = (
    "shapley credits can be negative: the rate game measures the change in conversion rate "
    "a channel brings (--game conversions never gives negative credits)"
)


def _attribution_run(analysis: str, params: dict[str, Any], values: Values) -> None:
    from kundresa.analyses import run

    fmt = values["fmt"]
    if analysis == "attribution" and params.get("model") == "all" and fmt == "table":
        # Three narrow tables (a model per column) rather than one 25 columns wide.
        analysis = "attribution_models"
        params.pop("model")
    if values.get(_dest("--paths")) is not None:
        if analysis == "stage_attribution":
            raise click.UsageError("--view stages needs the project's events, not --paths")
        result = run(analysis, None, **params)
    else:
        if analysis == "stage_attribution":
            journey_file: Path | None = values["journey_file"]
            has = (values["project_dir"] / "journey.yaml").exists() or journey_file is not None
            if not has:
                raise UserError("--view stages needs a journey file")
        result = _run_in_project(analysis, params, values)
    # Shapley's rate game credits the change in conversion rate a channel brings, which is
    # negative for a channel whose journeys convert less often: say so beside the table.
    model = values.get(_dest("--model"))
    said = ""  # what each table's title says of the game
    if model in ("shapley", "all") and values.get(_dest("--game"), "rate") == "rate":
        if fmt == "table":
            said = " (shapley: rate game)" if model == "all" else ", rate game"
            result.title += said
        result.notes.append(_RATE_GAME_NOTE)
    if analysis != "attribution_models":
        emit_result(result, fmt, excel=values["excel"])
        return
    from kundresa.analyses._catalog import MODEL_CHOICES
    from kundresa.report import labels as titles

    for note in result.notes:
        warn(note, "note")

    wide = result.frame
    for what, unit in _ATTRIBUTION_TABLES:
        title = titles.title(f"attribution_{what}", result.lang)
        table = wide[["channel"]].copy()
        for m in MODEL_CHOICES:
            table[m] = wide[f"{m}_{what}"]
        units = {"channel": "label", **dict.fromkeys(MODEL_CHOICES, unit)}
        emit(table, fmt, title=title + said, units=units, lang=result.lang, excel=values["excel"])


_LIVE_FIELDS = (
    "stage",
    "stage_entered_at",
    "persona",
    "next_stage",
    "p_next_stage",
    "horizon_days",
    "highest_stage",
    "last_event_at",
    "events",
)


def _customer_run(analysis: str, params: dict[str, Any], values: Values) -> None:
    """The live state (docs/live-state.md) on top of the timeline."""
    import json

    import pandas as pd

    from kundresa.errors import NotFoundError

    fmt, live_only = values["fmt"], values.get("live")
    with open_project(
        values["project_dir"],
        values["events_file"],
        values["journey_file"],
        values["engine"],
        values["tz"],
    ) as project:
        try:
            state = project.customer_state(params["customer_id"], lang=values.get("lang"))
        except NotFoundError:
            if live_only:
                raise
            state = None  # the timeline says there is no such customer
        if not live_only:
            scope = project.scope(**_scope_args(_SPECS_BY_NAME["customer"], values))
            result = project.run(analysis, scope=scope, **params)
    if state is not None and (live_only or fmt == "table"):
        from kundresa.report.labels import title

        journey = project.journey
        lang = values.get("lang") or (journey.language if journey is not None else "en")
        for note in state["notes"]:
            warn(note, "note")
        if fmt == "json":
            click.echo(json.dumps(state, indent=2, ensure_ascii=False))
        else:
            row = {"customer_id": state["customer_id"], "stage_label": state["stage_label"]}
            row.update({k: state[k] for k in _LIVE_FIELDS})
            row["last_touchpoints"] = ", ".join(t["touchpoint"] for t in state["last_touchpoints"])
            if fmt == "csv":
                emit(pd.DataFrame([row]), fmt)
            else:
                pairs = pd.DataFrame(
                    {"field": list(row), "value": [_shown(v) for v in row.values()]}
                )
                now = title("customer_now", lang)
                emit(pairs, fmt, title=now, units={"field": "label", "value": "label"})
                items = pd.DataFrame(
                    state["recommended_content"], columns=["item", "kind", "score"]
                )
                if not items.empty:
                    units = {"item": "label", "kind": "label", "score": "number"}
                    emit(items, fmt, title=title("customer_recommended", lang), units=units)
    if not live_only:
        emit_result(result, fmt, excel=values["excel"])


def _shown(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)


_FUNNEL_VIEWS = (
    "steps: the funnel; time: time-to-convert histogram; trend: conversion by entry "
    "period; customers: who reached (or dropped after) --customers-at."
)

COMMAND_SPECS: tuple[CommandSpec, ...] = (
    CommandSpec(
        "stages",
        "The stage funnel: reached, entered, conversion and drop-off per stage.",
        {"": "stages"},
        lang=True,
    ),
    CommandSpec(
        "funnel",
        "An event funnel: customers reaching each step in order within a window.",
        {
            "steps": "funnel",
            "time": "funnel_time",
            "trend": "funnel_trend",
            "customers": "funnel_customers",
        },
        view_help=_FUNNEL_VIEWS,
        overrides={"--period": {"show_default": False}},
    ),
    CommandSpec(
        "transitions",
        "Stage transition matrix: moves between stages, backward moves included.",
        {"": "transitions"},
        lang=True,
    ),
    CommandSpec(
        "touchpoints",
        "Customers and events per touchpoint, in journey order (the map's touchpoints row).",
        {"": "touchpoints"},
        lang=True,
    ),
    CommandSpec(
        "journeys",
        "How non-linear the journeys are: moves, skips, loops, cycles and time in stage.",
        {"summary": "journeys", "time": "time_in_stage", "customers": "customer_journeys"},
        view_help="summary: backward moves, skips, loops, cycles; time: time in each stage; "
        "customers: one row per customer.",
        lang=True,
        overrides={"--limit": {"default": 50, "show_default": True}},
        prepare=_journeys_prepare,
    ),
    CommandSpec(
        "customer",
        "One customer's live state and next best step, then their journey: stage visits, "
        "moves and cycles (or every event). Any of the person's ids works.",
        {"": "customer"},
        period=False,
        persona=False,
        extra=(
            (
                "--live",
                {
                    "is_flag": True,
                    "help": "Only the live state and next best step (what GET "
                    "/api/customers/ID answers; a JSON object with --format json).",
                },
            ),
        ),
        run=_customer_run,
    ),
    CommandSpec(
        "paths",
        "Paths customers take: top variants, Sankey links, directly-follows graph.",
        {"variants": "paths", "sankey": "path_links", "dfg": "dfg"},
        view_help="variants: the most common paths; sankey: links between steps; dfg: "
        "directly-follows graph.",
        overrides={"--session-gap": {"default": None}},
        prepare=_paths_prepare,
    ),
    CommandSpec(
        "retention",
        "Retention: cohorts of returning or repeat-purchasing customers, and lifecycle.",
        {
            "matrix": "retention_matrix",
            "long": "retention",
            "repeat": "repeat_purchase",
            "lifecycle": "lifecycle",
        },
        view_help="matrix: cohort × period rates; long: one row per cohort and period; repeat: "
        "repeat purchase rate; lifecycle: new, returning, resurrecting, dormant per period.",
    ),
    CommandSpec(
        "bottlenecks",
        "Where customers are lost: stages and steps ranked, against KPIs and the last period.",
        {"": "bottlenecks"},
        lang=True,
        extra=(
            (
                "--kpis",
                {"is_flag": True, "help": "Show every KPI's actual value against its target."},
            ),
        ),
        pick=lambda values: "kpis" if values.get("kpis") else "bottlenecks",
    ),
    CommandSpec(
        "compare",
        "Two segments or A/B variants at every stage, with confidence intervals and a test.",
        {"": "compare"},
        lang=True,
    ),
    CommandSpec(
        "correlation",
        "Which events and properties make reaching a stage or step more or less likely.",
        {"": "correlation"},
    ),
    CommandSpec(
        "attribution",
        "Multi-touch attribution: which channels and touchpoints earn the conversions.",
        {
            "credits": "attribution",
            "transitions": "attribution_transitions",
            "removal": "attribution_removal",
            "stages": "stage_attribution",
            "paths": "attribution_paths",
        },
        view_help="credits: channel credits; transitions/removal: the Markov chain; stages: "
        "stage attribution (which channels move customers to the next stage); paths: the paths "
        "used.",
        lang=True,
        run=_attribution_run,
    ),
)

_SPECS_BY_NAME = {s.name: s for s in COMMAND_SPECS}

stages = build_command(_SPECS_BY_NAME["stages"])
funnel = build_command(_SPECS_BY_NAME["funnel"])
transitions = build_command(_SPECS_BY_NAME["transitions"])
touchpoints = build_command(_SPECS_BY_NAME["touchpoints"])
journeys = build_command(_SPECS_BY_NAME["journeys"])
customer = build_command(_SPECS_BY_NAME["customer"])
paths = build_command(_SPECS_BY_NAME["paths"])
retention = build_command(_SPECS_BY_NAME["retention"])
bottlenecks = build_command(_SPECS_BY_NAME["bottlenecks"])
compare = build_command(_SPECS_BY_NAME["compare"])
correlation = build_command(_SPECS_BY_NAME["correlation"])
attribution = build_command(_SPECS_BY_NAME["attribution"])
