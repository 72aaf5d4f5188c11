"""Every analysis Kundresa has, declared once: what it runs, its parameters, its columns."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from kundresa.analyses._registry import Analysis, Column, Param
from kundresa.report.labels import title

__all__ = ["ANALYSES"]

_A = "kundresa.analyses._adapters"
_F = "kundresa.analytics.funnel"
_J = "kundresa.analytics.journeys"
_R = "kundresa.analytics.retention"
_C = "kundresa.analytics.compare"
_B = "kundresa.analytics.bottlenecks"

# -- shared parameters ------------------------------------------------------------------------

BY = Param("by", resolve="property", help="Break down by persona, channel or a property.")
STEPS = Param(
    "steps",
    multiple=True,
    required=True,
    resolve="step",
    option="--step",
    help="A step: an event name, a|b, touchpoint:ID or stage:ID (repeat, in order).",
    min_count=2,
)
WINDOW = Param(
    "window",
    "duration",
    "7d",
    "Conversion window: 90s, 30m, 12h, 7d.",
    show_default=True,
)
ORDER = Param("order", choices=("ordered", "strict", "any"), default="ordered", show_default=True)
EXCLUDE = Param(
    "exclusions",
    multiple=True,
    resolve="exclusion",
    option="--exclude",
    help="X:a:b leaves out customers with an X event between steps a and b.",
)
FUNNEL = (STEPS, WINDOW, ORDER, EXCLUDE)
PERIOD = Param("period", choices=("day", "week", "month"), default="week", show_default=True)
CONFIDENCE = Param("confidence", "float", 0.95, min=0.5, max=0.999, show_default=True)
LEVEL = Param(
    "level",
    choices=("touchpoint", "event", "stage", "channel"),
    default="touchpoint",
    show_default=True,
)
SESSION_GAP = Param(
    "session_gap",
    "duration",
    "30m",
    "Inactivity that starts a new session; 'none' for one path per customer "
    "[default: 30m for variants and sankey, none for dfg].",
    off=True,
)
PATH_SHAPE = (
    Param(
        "start",
        resolve="step",
        help="Paths from this point (event, touchpoint:ID, stage:ID).",
    ),
    Param("end", resolve="step", help="Paths up to this point."),
    Param("steps", "int", 5, "How many nodes deep.", show_default=True),
    SESSION_GAP,
    Param(
        "collapse_repeats",
        "bool",
        False,
        "Count consecutive equal nodes once.",
        option="--collapse",
    ),
)
TOP = Param("top", "int", 20, min=1, show_default=True)
PURCHASE = Param(
    "purchase",
    default="purchase",
    resolve="step",
    show_default=True,
    help="What a purchase is: an event, a|b, touchpoint:ID or stage:ID.",
)

# -- columns ----------------------------------------------------------------------------------

STAGE_COLUMNS = (
    Column("segment", "label"),
    Column("stage", "label"),
    Column("label", "label"),
    Column("reached", "count", "customers whose highest stage is this one or later"),
    Column("entered", "count", "customers with an event in the stage"),
    Column("conversion_from_previous", "rate"),
    Column("conversion_from_start", "rate"),
    Column("dropped", "count"),
    Column("median_days_from_previous", "days"),
    Column("previous_reached", "count"),
    Column("previous_entered", "count"),
    Column("previous_conversion_from_previous", "rate"),
    Column("previous_conversion_from_start", "rate"),
    Column("previous_dropped", "count"),
    Column("previous_median_days_from_previous", "days"),
    Column("conversion_change", "pp"),
)
FUNNEL_COLUMNS = (
    Column("segment", "label"),
    Column("step", "count"),
    Column("event", "label"),
    Column("count", "count"),
    Column("conversion_from_previous", "rate"),
    Column("conversion_from_start", "rate"),
    Column("mean_seconds_to_convert", "seconds"),
    Column("median_seconds_to_convert", "seconds"),
)
PATH_COLUMNS = (
    Column("path", "label"),
    Column("steps", "count"),
    Column("count", "count"),
    Column("customers", "count"),
    Column("share", "rate"),
    Column("source_step", "count"),
    Column("source", "label"),
    Column("target_step", "count"),
    Column("target", "label"),
    Column("median_seconds", "seconds"),
    Column("mean_seconds", "seconds"),
)
CREDIT_COLUMNS = (
    Column("channel", "label"),
    Column("model", "label"),
    Column("conversions", "number", "conversions credited"),
    Column("value", "money", "value credited"),
    Column("share", "rate", "share of the conversions"),
    Column("ci_low", "number"),
    Column("ci_high", "number"),
)
ATTRIBUTION_PATHS = (
    Param(
        "paths_file",
        "file",
        help="A paths file (path,total_conversions,total_conversion_value,total_null) "
        "instead of the project's events.",
        option="--paths",
    ),
    Param("sep", default=">", show_default=True, help="Channel separator in --paths."),
    Param(
        "conversion",
        default="purchase",
        show_default=True,
        resolve="step",
        help="What converts: an event, touchpoint:ID or stage:ID (first entry).",
    ),
    Param(
        "lookback",
        "duration",
        "30d",
        "Touches counted before a conversion.",
        show_default=True,
        positive=True,
    ),
    Param("level", choices=("channel", "touchpoint"), default="channel", show_default=True),
)
ORDER_MARKOV = Param("order", "int", 1, "Markov order.", min=1, max=4, show_default=True)
MODEL_OPTIONS = (
    ORDER_MARKOV,
    Param(
        "half_life",
        "duration",
        "7d",
        "Half-life of the time_decay model; checked whichever model runs.",
        show_default=True,
        positive=True,
    ),
    Param(
        "position",
        default="0.4,0.2,0.4",
        show_default=True,
        help="Position-based weights: first, middle, last.",
    ),
    Param("direct", default="direct", show_default=True, help="The direct channel's name."),
    Param(
        "game",
        choices=("rate", "conversions"),
        default="rate",
        show_default=True,
        help="Shapley game: the conversion rate of the journeys within each channel set "
        "(credits can be negative), or their conversions (an equal split among a path's "
        "channels).",
    ),
    Param("seed", "int", 0, "Seed for sampled Shapley.", min=0, max=2**32 - 1, show_default=True),
    Param(
        "samples",
        "int",
        None,
        "Shapley permutations when sampled (above 15 channels; default 2000).",
        min=2,
    ),
)
MODEL_CHOICES = (
    "first",
    "last",
    "last_non_direct",
    "linear",
    "time_decay",
    "position",
    "markov",
    "shapley",
)


def _side_by_side(df: Any, params: Mapping[str, Any]) -> list[str] | None:
    if params.get("compare_to") is None:
        return None
    keep = ("segment", "stage", "reached", "dropped", "conversion_from_previous")
    return [
        str(c)
        for c in df.columns
        if str(c).split("previous_")[-1] in keep or c == "conversion_change"
    ]


def _compare_title(df: Any, params: Mapping[str, Any], journey: str, lang: str = "en") -> str:
    a, b = (df["segment_a"].iloc[0], df["segment_b"].iloc[0]) if len(df) else ("a", "b")
    return title("compare", lang, by=params["by"], a=a, b=b)


def _customers_title(df: Any, params: Mapping[str, Any], journey: str, lang: str = "en") -> str:
    key = "funnel_customers_dropped" if params.get("dropped") else "funnel_customers"
    return title(key, lang, step=params["step"])


def _customer_title(df: Any, params: Mapping[str, Any], journey: str, lang: str = "en") -> str:
    key = "customer_events" if params.get("events_list") else "customer"
    return title(key, lang, customer_id=params["customer_id"])


def _dfg_title(df: Any, params: Mapping[str, Any], journey: str, lang: str = "en") -> str:
    return title("dfg", lang, level=params["level"])


def _retention_title(df: Any, params: Mapping[str, Any], journey: str, lang: str = "en") -> str:
    return title("retention", lang, period=params["period"], cohort=params["cohort"])


RETENTION = (
    Param(
        "cohort",
        choices=("first_event", "first_purchase"),
        default="first_event",
        show_default=True,
    ),
    PERIOD,
    Param(
        "returning",
        choices=("any", "purchase"),
        default="any",
        show_default=True,
        help="What counts as coming back: any event, or a purchase (repeat purchases).",
    ),
    replace(PURCHASE, used_when=(("returning", "purchase"), ("cohort", "first_purchase"))),
    Param("periods", "int", None, "How many periods to show.", min=1, max=1000),
)
RETENTION_COLUMNS = (
    Column("cohort", "label"),
    Column("cohort_size", "count"),
    Column("period", "count"),
    Column("customers", "count"),
    Column("rate", "rate"),
)

ANALYSES: tuple[Analysis, ...] = (
    Analysis(
        "stages",
        f"{_A}:stages",
        "The stage funnel: reached, entered, conversion and drop-off per stage.",
        call="project",
        needs_journey=True,
        params=(
            BY,
            Param(
                "compare_to",
                "period",
                help="Show another period side by side: previous (same length before "
                "--since) or START:END.",
            ),
        ),
        columns=STAGE_COLUMNS,
        title="{journey}: stage funnel",
        table_columns=_side_by_side,
    ),
    Analysis(
        "funnel",
        f"{_F}:event_funnel",
        "An event funnel: customers reaching each step in order within a window.",
        params=(*FUNNEL, BY),
        columns=FUNNEL_COLUMNS,
        title="Funnel ({order}, window {window})",
    ),
    Analysis(
        "funnel_time",
        f"{_F}:time_to_convert_histogram",
        "Time to convert between the steps of a funnel, as a histogram.",
        params=FUNNEL,
        columns=(
            Column("step", "count"),
            Column("event", "label"),
            Column("bin_start", "seconds"),
            Column("bin_end", "seconds"),
            Column("customers", "count"),
        ),
        title="Time to convert",
    ),
    Analysis(
        "funnel_trend",
        f"{_F}:conversion_trend",
        "A funnel's conversion by the period customers entered it.",
        params=(*FUNNEL, PERIOD),
        columns=(
            Column("period", "time"),
            Column("started", "count"),
            Column("converted", "count"),
            Column("conversion", "rate"),
            Column("complete", "label"),
        ),
        title="Conversion by {period} of entry",
    ),
    Analysis(
        "funnel_customers",
        f"{_F}:funnel_step_customers",
        "The customers who reached (or dropped after) a funnel step.",
        params=(
            *FUNNEL,
            Param("step", "int", 1, "Step for customers.", option="--customers-at"),
            Param("dropped", "bool", False, "With --view customers: those who stopped there."),
        ),
        columns=(Column("customer_id", "label"),),
        title=_customers_title,
    ),
    Analysis(
        "transitions",
        f"{_A}:transitions",
        "Stage transition matrix: moves between stages, backward moves included.",
        call="events_journey",
        needs_journey=True,
        params=(
            Param("wide", "bool", False, "Show a from × to matrix of probabilities."),
            Param(
                "ends", "bool", True, "Leave out the (start) and (end) moves.", option="--no-ends"
            ),
        ),
        columns=(
            Column("from_stage", "label"),
            Column("to_stage", "label"),
            Column("from_label", "label"),
            Column("to_label", "label"),
            Column("count", "count"),
            Column("customers", "count"),
            Column("probability", "rate"),
            Column("direction", "label"),
            Column("median_seconds", "seconds"),
        ),
        other_unit="rate",  # the wide matrix's cells
        title="{journey}: stage transitions",
    ),
    Analysis(
        "journeys",
        f"{_J}:journey_summary",
        "How non-linear the journeys are: backward moves, skips, loops, cycles.",
        call="events_journey",
        needs_journey=True,
        columns=(
            Column("measure", "label"),
            Column("total", "count"),
            Column("customers", "count"),
            Column("share_of_customers", "rate"),
        ),
        title="{journey}: non-linear journeys",
    ),
    Analysis(
        "time_in_stage",
        f"{_J}:time_in_stage",
        "Time in each stage: visits, how many left, median and mean days.",
        call="events_journey",
        needs_journey=True,
        columns=(
            Column("stage", "label"),
            Column("label", "label"),
            Column("customers", "count"),
            Column("visits", "count"),
            Column("left", "count"),
            Column("open", "count"),
            Column("median_days", "days"),
            Column("mean_days", "days"),
        ),
        title="Time in stage (days)",
    ),
    Analysis(
        "customer_journeys",
        f"{_A}:customer_journeys",
        "One row per customer: stages entered, moves, skips, loops, cycles.",
        call="events_journey",
        needs_journey=True,
        params=(Param("limit", "int", None, min=1, show_default=True),),
        columns=(
            Column("customer_id", "label"),
            Column("persona", "label"),
            Column("first_stage", "label"),
            Column("current_stage", "label"),
            Column("highest_stage", "label"),
            Column("visits", "count"),
            Column("stage_changes", "count"),
            Column("forward_moves", "count"),
            Column("backward_moves", "count"),
            Column("skips", "count"),
            Column("loops", "count"),
            Column("cycles", "count"),
            Column("first_event_at", "time"),
            Column("last_event_at", "time"),
        ),
        other_unit="time",  # entered_<stage>
        title="Customers (first {limit})",
    ),
    Analysis(
        "customer",
        f"{_A}:customer",
        "One customer's journey: stage visits, moves and cycles (or every event).",
        call="project",
        needs_journey=True,
        params=(
            Param("customer_id", required=True, argument=True),
            Param(
                "events_list", "bool", False, "List every event, tagged.", option="--events-list"
            ),
        ),
        title=_customer_title,
    ),
    Analysis(
        "paths",
        f"{_A}:paths",
        "The most common paths customers take.",
        params=(LEVEL, *PATH_SHAPE, TOP),
        columns=PATH_COLUMNS,
        title="Top paths ({level})",
    ),
    Analysis(
        "path_links",
        f"{_A}:path_links",
        "Links between the steps of paths (a Sankey diagram's).",
        params=(LEVEL, *PATH_SHAPE),
        columns=PATH_COLUMNS,
        title="Path links ({level})",
    ),
    Analysis(
        "dfg",
        f"{_A}:dfg",
        "The directly-follows graph: how often one node directly follows another.",
        params=(
            LEVEL,
            Param(
                "session_gap",
                "duration",
                None,
                "Inactivity that starts a new session (default: one case per customer).",
                off=True,
            ),
            Param("top", "int", None, "The most frequent edges only.", min=1),
        ),
        columns=PATH_COLUMNS,
        title=_dfg_title,
    ),
    Analysis(
        "retention",
        f"{_R}:retention",
        "Cohort retention, one row per cohort and period.",
        params=RETENTION,
        columns=RETENTION_COLUMNS,
        title=_retention_title,
    ),
    Analysis(
        "retention_matrix",
        f"{_A}:retention_matrix",
        "Cohort retention as a cohort × period matrix of rates.",
        params=RETENTION,
        columns=RETENTION_COLUMNS,
        other_unit="rate",
        title=_retention_title,
    ),
    Analysis(
        "repeat_purchase",
        f"{_R}:repeat_purchase_rate",
        "The repeat purchase rate: purchasers who bought again.",
        params=(PURCHASE,),
        columns=(
            Column("period", "time"),
            Column("purchasers", "count"),
            Column("repeat_purchasers", "count"),
            Column("repeat_rate", "rate"),
            Column("purchases", "count"),
            Column("purchases_per_purchaser", "number"),
        ),
        title="Repeat purchase rate",
    ),
    Analysis(
        "lifecycle",
        f"{_R}:lifecycle",
        "New, returning, resurrecting and dormant customers per period.",
        params=(
            PERIOD,
            Param(
                "active",
                choices=("any", "purchase"),
                default="any",
                show_default=True,
                option="--returning",
                help="What counts as active: any event, or a purchase.",
            ),
            replace(PURCHASE, used_when=(("active", "purchase"),)),
        ),
        columns=(
            Column("period", "time"),
            Column("new", "count"),
            Column("returning", "count"),
            Column("resurrecting", "count"),
            Column("dormant", "count"),
            Column("active", "count"),
        ),
        title="Lifecycle by {period}",
    ),
    Analysis(
        "bottlenecks",
        f"{_A}:bottlenecks",
        "Where customers are lost: stages and steps ranked, against KPIs and the last period.",
        call="project",
        needs_journey=True,
        params=(
            Param(
                "compare_to",
                default="previous",
                show_default=True,
                help="previous, START:END, or none.",
            ),
            Param(
                "steps",
                multiple=True,
                resolve="step",
                option="--step",
                help="Also rank the steps of this event funnel.",
            ),
            Param("window", "duration", "7d", "Window for --step funnels.", show_default=True),
            CONFIDENCE,
        ),
        columns=(
            Column("kind", "label"),
            Column("from", "label"),
            Column("to", "label"),
            Column("label", "label"),
            Column("entered_from", "count"),
            Column("reached", "count"),
            Column("lost", "count"),
            Column("conversion", "rate"),
            Column("kpi_target", "rate"),
            Column("kpi_gap", "pp"),
            Column("previous_entered_from", "count"),
            Column("previous_reached", "count"),
            Column("previous_conversion", "rate"),
            Column("previous_lost", "count"),
            Column("change", "pp"),
            Column("z", "number"),
            Column("p_value", "p_value"),
            Column("significant", "label"),
            Column("rank_lost", "count"),
            Column("rank_kpi", "count"),
            Column("rank_change", "count"),
        ),
        title="{journey}: bottlenecks",
        table_columns=(
            "kind",
            "label",
            "reached",
            "lost",
            "conversion",
            "kpi_gap",
            "previous_conversion",
            "change",
            "p_value",
            "significant",
        ),
    ),
    Analysis(
        "kpis",
        f"{_B}:kpi_status",
        "Every stage KPI of the journey file against its actual value.",
        call="project",
        needs_journey=True,
        columns=(
            Column("stage", "label"),
            Column("label", "label"),
            Column("metric", "label"),
            Column("target", "number"),
            Column("direction", "label"),
            Column("actual", "number"),
            Column("met", "label"),
            Column("gap", "number"),
            Column("relative_gap", "rate"),
        ),
        title="{journey}: KPIs",
    ),
    Analysis(
        "compare",
        f"{_C}:compare",
        "Two segments or A/B variants at every stage, with confidence intervals and a test.",
        call="project",
        needs_journey=True,
        params=(
            Param(
                "by",
                required=True,
                resolve="property",
                help="Segments: persona, channel or a property (e.g. variant).",
            ),
            Param("a", option="--a", help="First segment value (default: the first of two)."),
            Param("b", option="--b", help="Second segment value."),
            Param(
                "steps",
                multiple=True,
                resolve="step",
                option="--step",
                help="Compare on these funnel steps, not stages.",
            ),
            Param("window", "duration", "7d", show_default=True),
            Param("order", choices=("ordered", "strict", "any"), default="ordered"),
            CONFIDENCE,
        ),
        columns=(
            Column("stage", "label"),
            Column("step", "count"),
            Column("label", "label"),
            Column("segment_a", "label"),
            Column("segment_b", "label"),
            Column("customers_a", "count"),
            Column("reached_a", "count"),
            Column("rate_a", "rate"),
            Column("ci_low_a", "rate"),
            Column("ci_high_a", "rate"),
            Column("customers_b", "count"),
            Column("reached_b", "count"),
            Column("rate_b", "rate"),
            Column("ci_low_b", "rate"),
            Column("ci_high_b", "rate"),
            Column("difference", "pp"),
            Column("difference_ci_low", "pp"),
            Column("difference_ci_high", "pp"),
            Column("z", "number"),
            Column("p_value", "p_value"),
            Column("significant", "label"),
        ),
        title=_compare_title,
        table_columns=(
            "stage",
            "step",
            "reached_a",
            "rate_a",
            "reached_b",
            "rate_b",
            "difference",
            "difference_ci_low",
            "difference_ci_high",
            "p_value",
            "significant",
        ),
    ),
    Analysis(
        "correlation",
        f"{_C}:correlation",
        "Which events and properties make reaching a stage or step more or less likely.",
        call="project",
        needs_journey=True,
        params=(
            Param(
                "target",
                required=True,
                resolve="step",
                help="What success is: stage:ID (reaching it), touchpoint:ID or an event.",
            ),
            Param(
                "among",
                resolve="step",
                help="Only customers who reached this (default: the previous stage).",
            ),
            Param("min_customers", "int", 5, min=1, show_default=True),
            Param("top", "int", 30, min=1, show_default=True),
            CONFIDENCE,
        ),
        columns=(
            Column("kind", "label"),
            Column("name", "label"),
            Column("success_with", "count"),
            Column("failure_with", "count"),
            Column("success_total", "count"),
            Column("failure_total", "count"),
            Column("odds_ratio", "number"),
            Column("ci_low", "number"),
            Column("ci_high", "number"),
            Column("p_value", "p_value"),
            Column("significant", "label"),
            Column("direction", "label"),
        ),
        title="What goes with reaching {target}",
    ),
    Analysis(
        "attribution",
        f"{_A}:attribution",
        "Multi-touch attribution: conversions credited to each channel or touchpoint.",
        params=(
            *ATTRIBUTION_PATHS,
            Param(
                "model",
                choices=(*MODEL_CHOICES, "all"),
                default="markov",
                show_default=True,
                help="all: every model side by side.",
            ),
            *MODEL_OPTIONS,
        ),
        columns=CREDIT_COLUMNS,
        title="Attribution ({model})",
    ),
    Analysis(
        "attribution_models",
        f"{_A}:attribution_models",
        "Every attribution model side by side, one row per channel.",
        params=(
            *ATTRIBUTION_PATHS,
            *MODEL_OPTIONS,
            Param(
                "models",
                choices=MODEL_CHOICES,
                multiple=True,
                help="The models to compare, in the order of their columns (default: all).",
            ),
        ),
        columns=(Column("channel", "label"),),
        title="Attribution by model",
    ),
    Analysis(
        "attribution_transitions",
        f"{_A}:attribution_transitions",
        "The Markov chain of the conversion paths: transition probabilities.",
        params=(*ATTRIBUTION_PATHS, ORDER_MARKOV),
        columns=(
            Column("from_state", "label"),
            Column("to_state", "label"),
            Column("probability", "rate"),
            Column("count", "number"),
        ),
        title="Markov chain (order {order})",
    ),
    Analysis(
        "attribution_removal",
        f"{_A}:attribution_removal",
        "Removal effects: the share of conversions lost without each channel.",
        params=(*ATTRIBUTION_PATHS, ORDER_MARKOV),
        columns=(
            Column("channel", "label"),
            Column("removal_effect", "rate"),
            Column("normalised", "rate"),
            Column("conversions", "number"),
            Column("value_removal_effect", "rate"),
            Column("value", "money"),
        ),
        title="Removal effects",
    ),
    Analysis(
        "attribution_paths",
        f"{_A}:attribution_paths",
        "The conversion paths attributed, in the paths file format.",
        params=ATTRIBUTION_PATHS,
        columns=(
            Column("path", "label"),
            Column("total_conversions", "number"),
            Column("total_conversion_value", "money"),
            Column("total_null", "number"),
        ),
        title="Paths",
    ),
    Analysis(
        "stage_attribution",
        f"{_A}:stage_attribution",
        "Stage attribution: which channels move customers on to the next stage.",
        call="events_journey",
        needs_journey=True,
        params=(ATTRIBUTION_PATHS[3], ATTRIBUTION_PATHS[4], ORDER_MARKOV),
        columns=(
            Column("from_stage", "label"),
            Column("to_stage", "label"),
            Column("label", "label"),
            Column("customers", "count"),
            Column("progressed", "count"),
            Column("channel", "label"),
            Column("conversions", "number"),
            Column("share", "rate"),
            Column("removal_effect", "rate"),
            Column("progressed_with", "count"),
            Column("stalled_with", "count"),
            Column("progression_rate_with", "rate"),
        ),
        title="Stage attribution (Markov, exact removal effects)",
        # Narrow: the label names both stages; the per-transition counts are in JSON/CSV.
        table_columns=(
            "label",
            "channel",
            "conversions",
            "share",
            "removal_effect",
            "progressed_with",
            "stalled_with",
            "progression_rate_with",
        ),
    ),
    Analysis(
        "touchpoints",
        "kundresa.analytics.touchpoints:touchpoint_summary",
        "Customers and events per touchpoint, in journey order.",
        call="project",
        needs_journey=True,
        columns=(
            Column("touchpoint", "label"),
            Column("label", "label"),
            Column("stage", "label"),
            Column("stage_label", "label"),
            Column("channel", "label"),
            Column("channel_label", "label"),
            Column("customers", "count"),
            Column("events", "count"),
        ),
        title="Touchpoints",
    ),
    Analysis(
        "surveys",
        "kundresa.analytics.surveys:survey_scores",
        "Measured NPS and CSAT per survey and stage (the journey's surveys: section).",
        call="project",
        needs_journey=True,
        columns=(
            Column("survey", "label"),
            Column("event", "label"),
            Column("metric", "label"),
            Column("stage", "label"),
            Column("label", "label"),
            Column("responses", "count"),
            Column("promoters", "count"),
            Column("passives", "count"),
            Column("detractors", "count"),
            Column("nps", "number"),
            Column("mean", "number"),
            Column("satisfied", "rate"),
        ),
        title="Surveys",
    ),
    Analysis(
        "predict",
        f"{_A}:predict",
        "Next-stage model: P(next stage within the horizon), against the stage baseline.",
        call="project",
        needs_journey=True,
        params=(
            Param(
                "horizon",
                "duration",
                "30d",
                "Reached the next stage within this long.",
                positive=True,
            ),
            Param("seed", "int", 0, "Random state: the same seed gives the same figures."),
        ),
        columns=(
            Column("scorer", "label"),
            Column("auc", "number", "ROC AUC on the held-out cut-offs"),
            Column("brier", "number", "Brier score (lower is better)"),
            Column("lift_top_decile", "number", "positive rate in the top 10 % over the rate"),
            Column("examples", "count", "held-out snapshots"),
            Column("positive_rate", "rate", "share of them that reached the next stage"),
        ),
        title="Next stage within the horizon: model against baseline",
    ),
)
