"""The next best step: ``kundresa predict`` (train and evaluate the next-stage model) and
``kundresa next CUSTOMER`` (one customer's stage, chance to move on, and what to offer).

The library does the work (:meth:`Project.train_next_stage
<kundresa.project.Project.train_next_stage>`, :meth:`Project.next_best_step
<kundresa.project.Project.next_best_step>`); these commands parse, call and print.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from kundresa.cli._common import PROJECT_DIR, emit, say, warn

__all__ = ["next_step", "predict"]

_FORMAT = click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "json"]),
    default="table",
    show_default=True,
    help="Output format.",
)
_HORIZON = click.option(
    "--horizon",
    default="30d",
    show_default=True,
    help="Reached the next stage within this long (30d, 2w).",
)
_SEED = click.option(
    "--seed",
    type=click.IntRange(0, 2**32 - 1),
    default=0,
    show_default=True,
    help="Random state of the model.",
)


def _horizon(horizon: str | None, *, saved: bool) -> str | None:
    """``horizon`` checked as the ``predict`` analysis checks it (a duration of more than zero
    and at most the registry's longest), before the project is opened. Left blank: the saved
    model's (``saved``, None) or the analysis' default, as for every other duration option."""
    from kundresa.analyses import get
    from kundresa.analyses._errors import ParameterError
    from kundresa.cli.analyses import as_option

    if saved and horizon is not None and not horizon.strip():
        return None
    try:
        checked: str | None = get("predict").param("horizon").check(horizon)
    except ParameterError as exc:
        raise as_option("predict", exc) from exc
    return checked


@click.command()
@_HORIZON
@PROJECT_DIR
@_FORMAT
@_SEED
def predict(horizon: str, project_dir: Path, fmt: str, seed: int) -> None:
    """Train the next-stage model on the project's history, evaluate it on the latest weeks
    against the stage-to-stage baseline, and save it (.kundresa/models/next_stage.pkl)."""
    from kundresa.project import Project

    checked = _horizon(horizon, saved=False)
    assert checked is not None  # click gives a text, which the check keeps or defaults
    horizon = checked
    with Project.open(project_dir, read_only=True) as project:
        model = project.train_next_stage(horizon=horizon, seed=seed)
        path = project.model_path()
    if fmt == "json":
        meta = model.metadata()
        meta["model_file"] = None if path is None else str(path)
        click.echo(json.dumps(meta, indent=2, ensure_ascii=False, default=str))
        return
    title = (
        f"Next stage within {model.horizon_days:g} days: model against baseline "
        f"(held out {model.test_period[0][:10]} – {model.test_period[1][:10]})"
    )
    units = {
        "auc": "number",
        "brier": "number",
        "lift_top_decile": "number",
        "examples": "count",
        "positive_rate": "rate",
    }
    emit(model.metrics, "table", title=title, units=units)
    say(f"trained on cut-offs {model.train_period[0][:10]} – {model.train_period[1][:10]}")
    if path is not None:
        say(f"saved {path}")


@click.command("next")
@click.argument("customer")
@click.option(
    "--horizon",
    default=None,
    help="The model's horizon (default: the saved model's; another one trains a new model).",
)
@PROJECT_DIR
@_FORMAT
@_SEED
def next_step(customer: str, horizon: str | None, project_dir: Path, fmt: str, seed: int) -> None:
    """One customer's current stage, the chance they reach the next stage within the
    horizon (from the saved model; trained first if there is none), and the content and
    touchpoints to offer, ranked."""
    from kundresa.project import Project

    horizon = _horizon(horizon, saved=True)
    with Project.open(project_dir, read_only=True) as project:
        answer, notes = project.next_best_step(customer, horizon=horizon, seed=seed)
    for note in notes:
        warn(note, "note")
    if fmt == "json":
        click.echo(json.dumps(answer, indent=2, ensure_ascii=False, default=str))
        return
    _print_answer(answer)


def _print_answer(a: dict[str, Any]) -> None:
    import pandas as pd

    say(f"customer {a['customer_id']} ({a['persona'] or 'no persona'})")
    say(f"stage: {a['stage_label']} ({a['stage']}), entered {a['stage_entered_at']}")
    if a["next_stage"] is None:
        say("next stage: none (the journey's last stage)")
    else:
        p = a["p_next_stage"]
        say(f"next stage: {a['next_stage']}, p = {p:.1%} within {a['horizon_days']:g} days")
    items = a["recommended_content"]
    if items:
        df = pd.DataFrame(items)[["item", "kind", "score", "reason"]]
        emit(df, "table", title="Recommended", units={"score": "number"})
    elif a.get("not_recommended"):
        say("nothing to recommend: no touchpoint of the stage would raise the chance")
    else:
        say("nothing to recommend: the stage has no touchpoints or content")
    lower = a.get("not_recommended") or []
    if lower:
        df = pd.DataFrame(lower)[["item", "kind", "score", "reason"]]
        emit(
            df,
            "table",
            title="Not recommended (would not raise the chance)",
            units={"score": "number"},
        )
