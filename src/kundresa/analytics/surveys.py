"""Measured NPS and CSAT per stage, from survey answer events (the journey's ``surveys:``).

The emotion lane of a journey map is drawn from interviews; survey answers measure it. For
each survey of the journey file (:class:`kundresa.model.journey.Survey`) and each stage,
the answers are its events with a numeric ``score`` property inside the survey's score
range, counted where the survey entry's ``stage`` says, else on the stage of the
touchpoint the answer event lands on (answers on no stage are counted on a row with an
empty stage, never dropped silently).

- **NPS** (Reichheld, "The One Number You Need to Grow", Harvard Business Review, 2003):
  answers on the 11-point scale 0-10, so whole numbers (``10.0`` is 10; ``6.5``, NaN and
  infinities are not counted); promoters 9-10, passives 7-8, detractors 0-6;
  ``nps = 100 * (promoters - detractors) / responses``, from -100 to 100.
- **CSAT**: the mean score on the survey's scale (default 1-5), and ``satisfied``, the
  share of answers in the top two points of the scale (4 and 5 of 1-5), the usual CSAT
  percentage.

Every answer counts (a customer who answers twice counts twice), as survey tools count
responses.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import ibis
import pandas as pd

from kundresa.analytics._period import Period
from kundresa.analytics._portable import count_true, property_value
from kundresa.analytics.touchpoints import kept_tagged, tag_events
from kundresa.model.events import EVENT

if TYPE_CHECKING:
    from kundresa.model.journey import Survey

__all__ = ["SURVEY_COLUMNS", "survey_scores", "survey_scores_of"]

SURVEY_COLUMNS = (
    "survey",
    "event",
    "metric",
    "stage",
    "label",
    "responses",
    "promoters",
    "passives",
    "detractors",
    "nps",
    "mean",
    "satisfied",
)


def survey_scores(
    project: Any, *, lang: str | None = None, since: Any = None, until: Any = None
) -> pd.DataFrame:
    """Measured NPS and CSAT per survey and stage.

    Parameters
    ----------
    project
        An object with ``journey`` (its ``surveys``) and ``events`` (an Ibis table), such
        as a :class:`kundresa.project.Project` or a period/persona scope of it.
    lang
        The language of stage labels (default the journey's).
    since, until
        Count only the answers given in ``[since, until)`` (dates at midnight in the
        journey's ``timezone``). The touchpoint an answer lands on is found on the
        customer's whole history (``nth: 2`` is the second fitting event ever, not the
        second in the period), as for every analysis (docs/analytics.md, "Periods").

    Returns
    -------
    pandas.DataFrame
        One row per survey (journey order) and stage with answers (stage order; answers on
        no stage last, with ``stage`` null): :data:`SURVEY_COLUMNS`. ``survey`` is the
        entry's ``label``, else its answer ``event``; ``metric`` ``nps`` or ``csat``;
        ``responses`` counts answers with a valid score; ``promoters``, ``passives``,
        ``detractors`` and ``nps`` (points, -100 to 100) are set for NPS; ``mean`` is the
        mean score; ``satisfied`` the share (0-1) of CSAT answers in the top two points of
        the scale.

    Examples
    --------
    >>> import pandas as pd
    >>> from kundresa.model.parse import parse_journey
    >>> from kundresa.project import Project
    >>> j, _ = parse_journey("kundresa: 1\\nname: x\\ntemplate: kundresa-5\\n"
    ...     "surveys: [{event: nps_answer, metric: nps, stage: advocacy}]")
    >>> answers = pd.DataFrame({"customer_id": ["a", "b", "c"],
    ...     "timestamp": ["2025-01-01"] * 3, "event": ["nps_answer"] * 3, "score": [10, 9, 3]})
    >>> project = Project.from_events(answers, journey=j)
    >>> row = survey_scores(project).iloc[0]
    >>> row.stage, int(row.responses), round(float(row.nps), 2)
    ('advocacy', 3, 33.33)
    """
    journey = project.journey
    frames = [
        survey_scores_of(project, sv, lang=lang, since=since, until=until) for sv in journey.surveys
    ]
    if not frames:
        return pd.DataFrame([], columns=list(SURVEY_COLUMNS))
    out = pd.concat(frames, ignore_index=True)
    for col in ("stage", "label", "promoters", "passives", "detractors", "nps", "satisfied"):
        # concat turns a missing value into NaN; keep None, as each survey's rows have it.
        out[col] = out[col].astype(object).where(out[col].notna(), None)
    return out


def survey_scores_of(
    project: Any,
    survey: Survey,
    *,
    lang: str | None = None,
    since: Any = None,
    until: Any = None,
) -> pd.DataFrame:
    """The rows of :func:`survey_scores` for one survey of the journey."""
    journey = project.journey
    period = Period.parse(since, until, journey.timezone)
    order = {s: i for i, s in enumerate(journey.stage_ids)}
    events = project.events
    kept = kept_tagged(events, journey) if survey.stage is not None else None
    # The memo's tagged copy of the same events when it has one (every event column kept;
    # for a persona its customers' events, cut once: no persona membership evaluated again).
    # Not for a survey without a stage: its answers are tagged on their own, as before.
    source = events if kept is None else kept
    if survey.stage is None and any(tp.match.nth for tp in journey.touchpoints):
        # `nth` counts a customer's fitting events from the first ever, of every event
        # name the touchpoint takes: tag the whole history, then keep the answers.
        tagged = tag_events(events, journey)
        t = period.filter(tagged.filter(tagged[EVENT] == survey.event))
    elif survey.stage is None and journey.touchpoints:
        # Without `nth` an event's touchpoint depends on that event alone.
        t = tag_events(period.filter(source.filter(source[EVENT] == survey.event)), journey)
    else:
        t = period.filter(source.filter(source[EVENT] == survey.event))
    if survey.stage is None and journey.touchpoints:
        stage = t.stage
    elif survey.stage is None:
        stage = ibis.null("string")
    else:
        stage = ibis.literal(survey.stage)
    low, high = survey.score_range
    score = property_value(t, survey.score).try_cast("float64")
    t = t.select(stage=stage.cast("string"), score=score)
    if survey.metric == "nps":
        # An answer on the 11-point scale: a whole number 0-10 (10.0 and 1e1 are 10); 6.5,
        # NaN and infinities are none. Membership, not a cast to an integer, which a
        # database may evaluate (and fail on) before any range filter.
        valid = t.score.isin([float(k) for k in range(11)])
    else:
        valid = (t.score >= low) & (t.score <= high)
    t = t.filter(t.score.notnull() & valid)
    agg = (
        t.group_by("stage")
        .aggregate(
            responses=t.count(),
            promoters=count_true(t.score >= 9),
            detractors=count_true(t.score <= 6),
            satisfied=count_true(t.score >= high - 1),
            mean=t.score.mean(),
        )
        .to_pandas()
    )
    agg["_order"] = [
        order.get(s, len(order)) if isinstance(s, str) else len(order) for s in agg["stage"]
    ]
    nps = survey.metric == "nps"
    rows: list[dict[str, Any]] = []
    for r in agg.sort_values("_order").itertuples():
        n = int(r.responses)
        sid = r.stage if isinstance(r.stage, str) else None
        promoters, detractors = int(r.promoters), int(r.detractors)
        rows.append(
            {
                "survey": survey.label or survey.event,
                "event": survey.event,
                "metric": survey.metric,
                "stage": sid,
                "label": journey.stage_label(sid, lang) if sid in order else None,
                "responses": n,
                "promoters": promoters if nps else None,
                "passives": n - promoters - detractors if nps else None,
                "detractors": detractors if nps else None,
                "nps": 100.0 * (promoters - detractors) / n if nps else None,
                "mean": float(r.mean),
                "satisfied": None if nps else int(r.satisfied) / n,
            }
        )
    return pd.DataFrame(rows, columns=list(SURVEY_COLUMNS))
