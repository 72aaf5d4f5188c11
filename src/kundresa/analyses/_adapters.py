"""Small functions that give a registered analysis one call and one table.

Some analyses are a choice between two functions (the stage funnel of one period or two), a
reshaping (the retention matrix, the wide transition matrix) or, for attribution, paths read
from the events or from a paths file and then credited. They live here, imported only when an
analysis runs; the analyses themselves are looked up on their modules at call time.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pandas as pd

from kundresa.analyses._errors import AnalysisError
from kundresa.errors import UsageError

MODELS = (
    "first",
    "last",
    "last_non_direct",
    "linear",
    "time_decay",
    "position",
    "markov",
    "shapley",
)


def _none(value: str | None) -> str | None:
    """``none``, ``off`` or ``0`` written for an option that can be switched off."""
    if value is None or value.strip().lower() in ("none", "off", "0"):
        return None
    return value


def _gap(value: str | float | None) -> str | float | None:
    """A session gap: None (one path per customer) for ``none``, ``off`` or a gap of zero
    (``0``, ``0s``, ``0.0``, the number 0), else as given."""
    from kundresa.analytics._duration import is_off, parse_duration

    if value is None or is_off(value):
        return None
    try:
        return None if parse_duration(value) == 0 else value
    except ValueError:
        return value  # the analysis says what it takes


# -- stages and journeys ----------------------------------------------------------------------


def stages(
    project: Any,
    *,
    by: str | None = None,
    compare_to: str | None = None,
    since: Any = None,
    until: Any = None,
    lang: str | None = None,
) -> pd.DataFrame:
    """The stage funnel, or two periods side by side when ``compare_to`` is given."""
    from kundresa.analytics import stages as st

    if compare_to is None:
        return st.stage_funnel(project, by=by, since=since, until=until, lang=lang)
    return st.stage_funnel_periods(
        project, since=since, until=until, compare_to=compare_to, by=by, lang=lang
    )


def transitions(
    events: Any,
    journey: Any,
    *,
    ends: bool = True,
    wide: bool = False,
    lang: str | None = None,
    since: Any = None,
    until: Any = None,
) -> pd.DataFrame:
    """The transition matrix, long or as a from × to grid of probabilities."""
    from kundresa.analytics import journeys as jr

    df = jr.transition_matrix(events, journey, ends=ends, lang=lang, since=since, until=until)
    if wide and not df.empty:
        order = list(dict.fromkeys([*df["from_stage"], *df["to_stage"]]))
        grid = df.pivot(index="from_stage", columns="to_stage", values="probability")
        rows = [r for r in order if r in grid.index]
        df = grid.reindex(index=rows, columns=[c for c in order if c in grid.columns])
        df = df.rename_axis(None, axis=1).reset_index()
    return df


def customer_journeys(
    events: Any,
    journey: Any,
    *,
    limit: int | None = None,
    since: Any = None,
    until: Any = None,
) -> pd.DataFrame:
    """One row per customer (the first ``limit``)."""
    from kundresa.analytics import journeys as jr

    table = jr.customer_journeys(events, journey, since=since, until=until)
    return (table.limit(limit) if limit is not None else table).to_pandas()


def _with_touchpoint_labels(df: pd.DataFrame, journey: Any) -> pd.DataFrame:
    """A tagged timeline with ``touchpoint_label`` (the touchpoint's display label in the
    journey's language) and ``touchpoint_channel`` (the channel the journey declares for the
    touchpoint: the one pages show the event in) after ``touchpoint``."""
    from kundresa.report.labels import touchpoint_label

    declared = {t.id: t.channel for t in journey.touchpoints}
    ids = df["touchpoint"]
    at = list(df.columns).index("touchpoint") + 1
    df.insert(
        at,
        "touchpoint_label",
        ids.map(lambda t: touchpoint_label(journey, t) if isinstance(t, str) else None),
    )
    df.insert(
        at + 1,
        "touchpoint_channel",
        ids.map(lambda t: declared.get(t) if isinstance(t, str) else None),
    )
    return df


def customer(project: Any, *, customer_id: str, events_list: bool = False) -> pd.DataFrame:
    """One customer's stage visits, or every event of theirs with its touchpoint (id, label
    and declared channel) and stage.

    The visits are made from the tagged timeline, taken from the project's cache when the
    project has one (``project.run``): a page showing both tags the customer's events once.
    """
    from kundresa.analytics import journeys as jr
    from kundresa.analytics import touchpoints as tp
    from kundresa.model.events import CUSTOMER

    customer_id = project.resolve_id(customer_id)  # an anonymous id: its person
    if events_list:
        events = project.events.filter(project.events[CUSTOMER] == customer_id)
        tagged = tp.tag_events(events, project.journey)
        df = tagged.order_by(list(tp.EVENT_ORDER)).drop("stage_index").to_pandas()
        if df.empty:
            raise AnalysisError(f"no events for customer {customer_id!r}")
        return _with_touchpoint_labels(df, project.journey)
    run = getattr(project, "run", None)
    if callable(run):
        timeline = run("customer", customer_id=customer_id, events_list=True).frame
    else:
        timeline = customer(project, customer_id=customer_id, events_list=True)
    staged = tp.staged_from_tagged(timeline, project.journey)
    return jr.stage_visits(None, project.journey, staged=staged).drop(CUSTOMER).to_pandas()


def predict(project: Any, *, horizon: Any = "30d", seed: int = 0) -> pd.DataFrame:
    """The next-stage model's figures against the baseline on the held-out period."""
    from kundresa.analytics.predict import train_next_stage

    return train_next_stage(project, horizon=horizon, seed=seed).metrics


# -- paths and retention ----------------------------------------------------------------------


def paths(
    events: Any,
    *,
    journey: Any = None,
    session_gap: str | None = "30m",
    since: Any = None,
    until: Any = None,
    **options: Any,
) -> pd.DataFrame:
    from kundresa.analytics import paths as pa

    return pa.paths(
        events,
        journey=journey,
        session_gap=_gap(session_gap),
        since=since,
        until=until,
        **options,
    )


def path_links(
    events: Any,
    *,
    journey: Any = None,
    session_gap: str | None = "30m",
    since: Any = None,
    until: Any = None,
    **options: Any,
) -> pd.DataFrame:
    from kundresa.analytics import paths as pa

    return pa.path_links(
        events,
        journey=journey,
        session_gap=_gap(session_gap),
        since=since,
        until=until,
        **options,
    )


def dfg(
    events: Any,
    *,
    journey: Any = None,
    level: str = "touchpoint",
    session_gap: str | None = None,
    top: int | None = None,
    since: Any = None,
    until: Any = None,
) -> pd.DataFrame:
    """The directly-follows graph (its ``top`` most frequent edges when given)."""
    from kundresa.analytics import paths as pa

    df = pa.directly_follows(
        events,
        journey,
        level=level,
        session_gap=_gap(session_gap),
        since=since,
        until=until,
    )
    return df.head(top) if top is not None else df


def retention_matrix(
    events: Any, *, journey: Any = None, since: Any = None, until: Any = None, **options: Any
) -> pd.DataFrame:
    """Cohorts × periods of retention rates."""
    from kundresa.analytics import retention as rt

    long = rt.retention(events, journey=journey, since=since, until=until, **options)
    return rt.retention_matrix(long)


def bottlenecks(
    project: Any,
    *,
    compare_to: str | None = "previous",
    since: Any = None,
    until: Any = None,
    lang: str | None = None,
    **options: Any,
) -> Any:
    """The bottlenecks ranked; ``compare_to`` ``none`` compares with no other period."""
    from kundresa.analytics import bottlenecks as bn

    return bn.bottlenecks(
        project, compare_to=_none(compare_to), since=since, until=until, lang=lang, **options
    )


# -- attribution ------------------------------------------------------------------------------


def _weights(position: str | tuple[float, ...]) -> tuple[float, ...]:
    if not isinstance(position, str):
        return tuple(position)
    try:
        return tuple(float(x) for x in position.split(","))
    except ValueError:
        raise UsageError(f"--position {position!r} is not three numbers (0.4,0.2,0.4)") from None


def _model_options(
    *,
    models: tuple[str, ...] | None = None,
    direct: str = "direct",
    half_life: str | float = "7d",
    position: str | tuple[float, ...] = "0.4,0.2,0.4",
    order: int = 1,
    seed: int = 0,
    samples: int | None = None,
    game: str = "rate",
) -> dict[str, Any]:
    from kundresa.analytics._duration import parse_duration

    return {
        **({"models": models} if models else {}),
        "direct": direct,
        "half_life": parse_duration(half_life, "half_life"),
        "position": _weights(position),
        "order": order,
        "seed": seed,
        "samples": samples,
        "game": game,
    }


def conversion_paths(
    events: Any = None,
    *,
    journey: Any = None,
    paths_file: str | None = None,
    sep: str = ">",
    conversion: str = "purchase",
    level: str = "channel",
    lookback: str = "30d",
    since: Any = None,
    until: Any = None,
) -> pd.DataFrame:
    """Paths to attribute: from a paths file when given, else from the events (conversions
    in ``[since, until)``; touches by the lookback, which may reach before ``since``)."""
    if paths_file is not None:
        from kundresa.attribution.paths_file import PathsFileError, read_paths_file

        try:
            paths = read_paths_file(paths_file, sep=sep)
        except PathsFileError as exc:
            # Bad input in the file, not a bad parameter: like any other bad file.
            raise AnalysisError(str(exc)) from exc
    else:
        if events is None:
            raise AnalysisError("attribution needs events or a paths file")
        from kundresa.attribution import journey as aj

        paths = aj.conversion_paths(
            events,
            conversion=conversion,
            journey=journey,
            level=level,
            lookback=lookback,
            since=since,
            until=until,
        )
        _no_negative_value(paths["value"].to_numpy())
    return paths


def _no_negative_value(values: Any) -> None:
    """Refuse conversions of the events with a value below 0 (a refund recorded as the
    conversion event), with one message for every model and output: the value credits
    share out conversion values of 0 or more (docs/attribution.md)."""
    import numpy as np

    values = np.asarray(values, dtype="float64")
    low = float(np.nanmin(values, initial=0.0)) if len(values) else 0.0
    if low < 0:
        raise AnalysisError(
            f"a conversion event has a negative value ({low:g}); value credits share out "
            "conversion values of 0 or more: leave refunds out of the conversion step "
            "(--conversion)"
        )


@contextmanager
def _credits_fit(path_opts: dict[str, Any]) -> Iterator[None]:
    """A credit more than a double holds (amounts near 1.8e308) as one line naming where
    the amounts came from: the paths file's column, or the conversion events' value."""
    from kundresa.attribution._paths import CreditOverflow

    try:
        yield
    except CreditOverflow as exc:
        raise AnalysisError(exc.said(_source(path_opts, exc.column))) from None


def _source(path_opts: dict[str, Any], column: str) -> str:
    """Where the paths' ``value`` or ``conversions`` (with the nulls) came from, as the end
    of a message."""
    file = path_opts.get("paths_file")
    if file is not None:
        if column == "value":
            return f"{file}: the column total_conversion_value holds amounts too large"
        return f"{file}: the columns total_conversions and total_null hold amounts too large"
    if column == "value":
        return "the conversion events' value column holds amounts too large"
    return "the conversions are too many"


_PATH_OPTIONS = ("paths_file", "sep", "conversion", "level", "lookback", "since", "until")


def _split(options: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    path_opts = {k: options.pop(k) for k in _PATH_OPTIONS if k in options}
    return path_opts, options


def attribution(
    events: Any = None,
    *,
    journey: Any = None,
    model: str = "markov",
    since: Any = None,
    until: Any = None,
    **options: Any,
) -> pd.DataFrame:
    """Credits per channel of one model, or of every model (``all``), stacked."""
    from kundresa.attribution import models as am

    path_opts, rest = _split(options)
    paths = conversion_paths(events, journey=journey, since=since, until=until, **path_opts)
    opts = _model_options(**rest)
    if model == "all":
        with _credits_fit(path_opts):
            frames = [am.attribute(paths, m, **opts) for m in MODELS]
        if paths.empty:  # every model's columns, none of its rows
            columns = list(dict.fromkeys(c for f in frames for c in f.columns))
            df = pd.DataFrame({c: pd.Series(dtype=frames[-1][c].dtype) for c in columns})
        else:
            df = pd.concat(frames, ignore_index=True)
    else:
        with _credits_fit(path_opts):
            df = am.attribute(paths, model, **opts)
    return _said(df, paths.empty, path_opts, since, until)


def _said(
    df: pd.DataFrame, empty: bool, path_opts: dict[str, Any], since: Any, until: Any
) -> pd.DataFrame:
    """``df``, with a note saying why it is empty when it was made of no paths (no
    conversion and no touch, in the period when one is given): as every other analysis, an
    empty period or store answers an empty table, not an error (the registry reads the
    note)."""
    if empty:
        conversion = path_opts.get("conversion") or "purchase"
        where = " in the period" if since is not None or until is not None else ""
        df.attrs["notes"] = [
            f"nothing to attribute: no conversion ({conversion}) and no touch{where}, "
            "so the table is empty"
        ]
    return df


def attribution_models(
    events: Any = None,
    *,
    journey: Any = None,
    since: Any = None,
    until: Any = None,
    **options: Any,
) -> pd.DataFrame:
    """Every model side by side (or those of ``models``, in that order): ``<model>_conversions``,
    ``_value``, ``_share`` per channel."""
    from kundresa.attribution import models as am

    path_opts, rest = _split(options)
    chosen = rest.pop("models", None)
    if chosen:
        rest["models"] = tuple(chosen)
    if path_opts.get("paths_file") is None and events is not None:
        # From the events: the paths encoded straight from their rows (no tuple per path).
        from kundresa.attribution import journey as aj

        path_opts.pop("paths_file", None)
        path_opts.pop("sep", None)
        enc = aj.conversion_paths_encoded(
            events, journey=journey, since=since, until=until, **path_opts
        )
        _no_negative_value(enc.value)
        with _credits_fit(path_opts):
            df = am.compare_models(enc, **_model_options(**rest))
        return _said(df, enc.n_paths == 0, path_opts, since, until)
    paths = conversion_paths(events, journey=journey, since=since, until=until, **path_opts)
    with _credits_fit(path_opts):
        df = am.compare_models(paths, **_model_options(**rest))
    return _said(df, paths.empty, path_opts, since, until)


def attribution_transitions(
    events: Any = None,
    *,
    journey: Any = None,
    order: int = 1,
    since: Any = None,
    until: Any = None,
    **options: Any,
) -> pd.DataFrame:
    """The Markov chain's transitions."""
    from kundresa.attribution import models as am

    path_opts, _ = _split(options)
    paths = conversion_paths(events, journey=journey, since=since, until=until, **path_opts)
    with _credits_fit(path_opts):
        df = am.markov(paths, order=order).transitions
    return _said(df, paths.empty, path_opts, since, until)


def attribution_removal(
    events: Any = None,
    *,
    journey: Any = None,
    order: int = 1,
    since: Any = None,
    until: Any = None,
    **options: Any,
) -> pd.DataFrame:
    """The Markov chain's removal effects."""
    from kundresa.attribution import models as am

    path_opts, _ = _split(options)
    paths = conversion_paths(events, journey=journey, since=since, until=until, **path_opts)
    with _credits_fit(path_opts):
        df = am.markov(paths, order=order).removal_effects
    return _said(df, paths.empty, path_opts, since, until)


def attribution_paths(
    events: Any = None,
    *,
    journey: Any = None,
    since: Any = None,
    until: Any = None,
    **options: Any,
) -> pd.DataFrame:
    """The paths used, in the paths file format."""
    import numpy as np

    path_opts, _ = _split(options)
    paths = conversion_paths(events, journey=journey, since=since, until=until, **path_opts)
    df = paths.assign(path=[" > ".join(p) for p in paths["path"]])
    with np.errstate(over="ignore"):  # a sum past a double's top is refused below
        df = df.groupby("path", as_index=False)[["conversions", "value", "nulls"]].sum()
    df = df.rename(
        columns={
            "conversions": "total_conversions",
            "value": "total_conversion_value",
            "nulls": "total_null",
        }
    ).sort_values("total_conversions", ascending=False, kind="stable")
    for column, source in (
        ("total_conversion_value", "value"),
        ("total_conversions", "conversions"),
        ("total_null", "conversions"),
    ):
        bad = ~np.isfinite(df[column].to_numpy(dtype="float64"))
        if bad.any():  # equal paths added up past a double's top: never inf in the file
            path = df["path"].iloc[int(np.flatnonzero(bad)[0])]
            raise AnalysisError(
                f"paths: the {column} of the path {path!r} is more than a double holds "
                f"(1.8e308): {_source(path_opts, source)}; give them in a larger unit "
                "(thousands, millions)"
            )
    return _said(df, paths.empty, path_opts, since, until)


def stage_attribution(
    events: Any,
    journey: Any,
    *,
    level: str = "channel",
    lookback: str = "30d",
    order: int = 1,
    lang: str | None = None,
    since: Any = None,
    until: Any = None,
) -> pd.DataFrame:
    """Which channels move customers to the next stage (Markov removal effects per stage)."""
    from kundresa.attribution import journey as aj

    return aj.stage_attribution(
        events,
        journey,
        level=level,
        lookback=lookback,
        order=order,
        lang=lang,
        since=since,
        until=until,
    )
