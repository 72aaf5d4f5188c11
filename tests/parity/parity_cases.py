"""The analyses every parity test runs on DuckDB and on another engine, and how results are
compared: values equal; types may differ only in width (int32/int64, timestamp units), and
floating-point sums may differ in the last bits (relative tolerance 1e-9)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pandas as pd

from kundresa import Project, attribution
from kundresa.analytics import bottlenecks, compare, funnel, journeys, paths, retention, stages

STEPS = ["ad_click", "page_view|checkout_start", "purchase"]


def _ev(p: Project) -> Any:
    return p.events


ANALYSES: dict[str, Callable[[Project], pd.DataFrame]] = {
    "stage_funnel": lambda p: stages.stage_funnel(p),
    "stage_funnel_by_persona": lambda p: stages.stage_funnel(p, by="persona"),
    "stage_funnel_by_channel": lambda p: stages.stage_funnel(p, by="channel"),
    "stage_funnel_periods": lambda p: stages.stage_funnel_periods(
        p, since="2025-06-01", until="2025-09-01", compare_to="previous"
    ),
    "customer_stages": lambda p: stages.customer_stages(p.events, p.journey).to_pandas(),
    "funnel_ordered": lambda p: funnel.event_funnel(p.events, STEPS, window="14d"),
    "funnel_strict": lambda p: funnel.event_funnel(
        p.events, ["session_start", "page_view", "page_view"], order="strict"
    ),
    "funnel_any_by": lambda p: funnel.event_funnel(
        p.events, STEPS, order="any", window="30d", by="segment"
    ),
    "funnel_exclusion": lambda p: funnel.event_funnel(
        p.events, STEPS, window="30d", exclusions=["support_contact:1:3"]
    ),
    "funnel_stage_steps": lambda p: funnel.event_funnel(
        p.events, ["stage:awareness", "stage:decision"], window="60d", journey=p.journey
    ),
    "funnel_time": lambda p: funnel.time_to_convert_histogram(p.events, STEPS, window="30d"),
    "funnel_trend": lambda p: funnel.conversion_trend(p.events, STEPS, period="month"),
    "funnel_customers": lambda p: funnel.funnel_step_customers(
        p.events, STEPS, step=2, dropped=True
    ).to_pandas(),
    "stage_visits": lambda p: journeys.stage_visits(p.events, p.journey).to_pandas(),
    "customer_journeys": lambda p: journeys.customer_journeys(p.events, p.journey).to_pandas(),
    "transition_matrix": lambda p: journeys.transition_matrix(p.events, p.journey),
    "time_in_stage": lambda p: journeys.time_in_stage(p.events, p.journey),
    "journey_summary": lambda p: journeys.journey_summary(p.events, p.journey),
    "stage_analysis": lambda p: pd.concat(
        [df.assign(_part=k) for k, df in journeys.stage_analysis(p).items()], ignore_index=True
    ),
    "paths": lambda p: paths.paths(p.events, journey=p.journey, top=None),
    "paths_from": lambda p: paths.paths(
        p.events, journey=p.journey, level="event", start="ad_click", session_gap="1d"
    ),
    "paths_to": lambda p: paths.paths(
        p.events, journey=p.journey, level="stage", end="stage:decision", session_gap=None
    ),
    "path_links": lambda p: paths.path_links(p.events, journey=p.journey, level="channel"),
    "dfg": lambda p: paths.directly_follows(p.events, p.journey),
    "compare": lambda p: compare.compare(p, by="variant"),
    "compare_steps": lambda p: compare.compare(p, by="variant", steps=STEPS, window="30d"),
    "correlation": lambda p: compare.correlation(p, target="stage:decision"),
    "kpi_status": lambda p: bottlenecks.kpi_status(p),
    "bottlenecks": lambda p: bottlenecks.bottlenecks(p),
    "attribution_paths": lambda p: attribution.conversion_paths(p.events, journey=p.journey),
    "attribution_models": lambda p: attribution.compare_models(
        attribution.conversion_paths(p.events, journey=p.journey, conversion="stage:decision")
    ),
    "stage_attribution": lambda p: attribution.stage_attribution(
        p.events, p.journey, level="touchpoint"
    ),
    "retention": lambda p: retention.retention(p.events, period="month"),
    "retention_purchase": lambda p: retention.retention(
        p.events, period="week", cohort="first_purchase", returning="purchase", periods=6
    ),
    "repeat_purchase": lambda p: retention.repeat_purchase_rate(p.events, period="month"),
    "lifecycle": lambda p: retention.lifecycle(p.events, period="month"),
}


def normalise(df: pd.DataFrame) -> pd.DataFrame:
    df = df.reset_index(drop=True).copy()
    for c in df.columns:
        if pd.api.types.is_datetime64_any_dtype(df[c]):
            df[c] = df[c].astype("datetime64[us]")
    if "customer_id" in df.columns and not df.empty:
        keys = [c for c in ("customer_id", "visit") if c in df.columns]
        df = df.sort_values(keys, kind="stable").reset_index(drop=True)
    return df
