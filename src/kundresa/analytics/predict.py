"""The next best step: who moves on to the next stage soon, and what to offer them.

A model of P(a customer reaches the next stage within a horizon | their events so far),
trained on the project's own history (docs/predict.md):

1. **Snapshots.** At cut-offs every week of history, every customer with an event in the
   ``active_within`` window before the cut-off whose current stage has a next stage (every
   stage but the last) gives one example. Its features come only from events *before* the
   cut-off; its label says whether the customer had a staged event in a later stage in
   ``[cut-off, cut-off + horizon)``. Only cut-offs whose whole horizon lies in the data are used.
2. **Features**: current stage, days in stage, cycle, highest stage so far, persona (as known
   at the cut-off), recency, tenure, frequency and monetary value (RFM), and events per
   touchpoint and per channel in the last 7 and 30 days and in total.
3. **Time-based split**: train on the earlier cut-offs, evaluate on the later ones; a training
   cut-off's horizon ends before the first test cut-off, so no training label reads an event
   the test period's features could not.
4. **Baseline**: the stage-to-stage transition probability from the training period (the share
   of training snapshots in stage *s* that reached a later stage within the horizon).
5. **Metrics** on the held-out period: ROC AUC (:func:`sklearn.metrics.roc_auc_score`), the
   Brier score (Brier 1950; :func:`sklearn.metrics.brier_score_loss`) and the lift in the top
   decile (the positive rate among the 10 % highest scores over the overall rate; ties at the
   boundary count in proportion).

The classifier is scikit-learn's :class:`~sklearn.ensemble.HistGradientBoostingClassifier`.
The saved model is refitted on every snapshot (training and held-out) once evaluated.
"""

from __future__ import annotations

import math
import pickle
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import ibis.expr.types as ir
import numpy as np
import pandas as pd

from kundresa.analytics._duration import parse_duration
from kundresa.analytics._ibis import US_PER_DAY, epoch_us
from kundresa.analytics._portable import property_value
from kundresa.analytics.journeys import stage_visits
from kundresa.analytics.touchpoints import (
    apply_channel_matches,
    condition_expr,
    tag_events,
)
from kundresa.errors import InputError, NotFoundError, UsageError
from kundresa.model.events import CHANNEL, CUSTOMER, PROPERTIES, TIMESTAMP, VALUE

if TYPE_CHECKING:
    from kundresa.model.journey import Journey

__all__ = [
    "MAX_SEED",
    "MODEL_FILE",
    "NextStageModel",
    "PredictError",
    "evaluate_scores",
    "journey_changed",
    "load_model",
    "next_best_step",
    "score_customer",
    "snapshot_features",
    "top_decile_lift",
    "train_next_stage",
]

#: Where ``kundresa predict`` saves the model, under the project folder.
MODEL_FILE = Path(".kundresa") / "models" / "next_stage.pkl"

_WINDOWS = (7, 30)
_NONE = "(none)"


class PredictError(InputError):
    """The history cannot train or apply the model (too short, no journey, one class only,
    no staged event for the customer); exit code 1, HTTP 422."""


# -- snapshots and features -------------------------------------------------------------------


@dataclass(frozen=True)
class _Vocabulary:
    """The touchpoints, channels, stages and personas the features are written in."""

    stages: tuple[str, ...]
    touchpoints: tuple[str, ...]
    channels: tuple[str, ...]
    personas: tuple[str, ...]

    @property
    def features(self) -> list[str]:
        out = [
            "stage",
            "persona",
            "cycle",
            "days_in_stage",
            "highest_stage",
            "recency_days",
            "tenure_days",
            "frequency",
            "monetary",
            "events_7d",
            "events_30d",
        ]
        for kind, names in (("tp", self.touchpoints), ("ch", self.channels)):
            for n in names:
                out += [f"{kind}:{n}:total", *(f"{kind}:{n}:{d}d" for d in _WINDOWS)]
        return out


def _vocabulary(events: ir.Table, journey: Journey) -> _Vocabulary:
    channels = events[CHANNEL].fill_null(_NONE).name("c").as_table().distinct()
    return _Vocabulary(
        stages=tuple(journey.stage_ids),
        touchpoints=tuple(tp.id for tp in journey.touchpoints),
        channels=tuple(sorted(channels.to_pandas()["c"].astype(str))),
        personas=tuple(p.id for p in journey.personas),
    )


def _tagged(events: ir.Table, journey: Journey) -> ir.Table:
    t = tag_events(apply_channel_matches(events, journey), journey)
    return t.select(
        CUSTOMER,
        _t=epoch_us(t[TIMESTAMP]),
        touchpoint=t.touchpoint.fill_null(_NONE),
        channel=t[CHANNEL].fill_null(_NONE),
        value=t[VALUE].cast("float64").fill_null(0.0),
        stage_index=t.stage_index,
    )


_SPAN = 1 << 36  # seconds (about 2,000 years): one customer's (or key's) stretch of keys


class _Sorted:
    """Events keyed by a group (a customer, or a customer and touchpoint) and time, sorted, so
    that "how many of the group's events fall before an instant" is a binary search
    (:func:`numpy.searchsorted`): counting for every snapshot at once without a join."""

    def __init__(self, group: np.ndarray, seconds: np.ndarray) -> None:
        self.keys = np.sort(group.astype("int64") * _SPAN + seconds)

    def before(self, group: np.ndarray, seconds: np.ndarray) -> np.ndarray:
        """Per query, the position of the first event of ``group`` at or after ``seconds``
        (its events before the instant end there)."""
        at = group.astype("int64") * _SPAN + np.clip(seconds, 0, _SPAN - 1)
        return np.searchsorted(self.keys, at, side="left")


def _counts(
    tagged: pd.DataFrame, cutoffs: list[int], vocab: _Vocabulary, active_s: float | None
) -> pd.DataFrame:
    """Per customer and cut-off (whole seconds since 1970): counts, RFM and the highest stage,
    from the customer's events before the cut-off; only customers with an event
    ``active_s`` seconds before it (all with ``None``)."""
    codes, customers = pd.factorize(tagged[CUSTOMER], sort=True)
    order = np.lexsort((tagged._t.to_numpy(), codes))
    ev = tagged.iloc[order]
    g = codes[order].astype("int64")
    t0 = int(ev._t.min() // 1_000_000) if len(ev) else 0
    sec = (ev._t.to_numpy() // 1_000_000 - t0).astype("int64")  # floor: t < c iff sec < c
    alle = _Sorted(g, sec)
    starts = alle.before(np.arange(len(customers)), np.zeros(len(customers), "int64"))
    value = np.concatenate([[0.0], np.cumsum(ev.value.to_numpy(float))])
    stage = ev.stage_index.fillna(0).to_numpy(float)
    highest = pd.Series(stage).groupby(g).cummax().to_numpy()
    parts = []
    for c in cutoffs:
        cs = c - t0
        cust = np.arange(len(customers))
        pos = alle.before(cust, np.full(len(cust), cs))
        n = pos - starts[cust]
        keep = n > 0
        last = np.where(keep, sec[np.maximum(pos - 1, 0)], -1)
        if active_s is not None:
            keep &= cs - last <= active_s
        cust, pos, n, last = cust[keep], pos[keep], n[keep], last[keep]
        first = sec[starts[cust]]
        row = {
            CUSTOMER: customers[cust],
            "cutoff": np.full(len(cust), c * 1_000_000, "int64"),
            "first_t": (first + t0) * 1_000_000,
            "last_t": (last + t0) * 1_000_000,
            "frequency": n,
            "monetary": value[pos] - value[starts[cust]],
            "highest_stage": highest[pos - 1],
        }
        for d in _WINDOWS:
            row[f"events_{d}d"] = pos - alle.before(cust, np.full(len(cust), cs - d * 86400))
        parts.append((cust, cs, row))
    kinds = (
        ("tp", ev.touchpoint.to_numpy(), vocab.touchpoints),
        ("ch", ev.channel.to_numpy(), vocab.channels),
    )
    for kind, col, names in kinds:
        code = pd.Series(col).map({n: i for i, n in enumerate(names)}).to_numpy()
        known = ~pd.isna(code)
        k = len(names) or 1
        idx = _Sorted(g[known] * k + code[known].astype("int64"), sec[known])
        for cust, cs, row in parts:
            for i, n in enumerate(names):
                grp = cust * k + i
                upto = idx.before(grp, np.full(len(cust), cs))
                row[f"{kind}:{n}:total"] = upto - idx.before(grp, np.zeros(len(cust), "int64"))
                for d in _WINDOWS:
                    since = idx.before(grp, np.full(len(cust), cs - d * 86400))
                    row[f"{kind}:{n}:{d}d"] = upto - since
    frames = [pd.DataFrame(row) for _, _, row in parts]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def _persona_since(events: ir.Table, journey: Journey) -> pd.DataFrame:
    """Per customer, when each persona's match first fit one of their events (microseconds),
    so a snapshot's persona is the one known at its cut-off."""
    personas = [p for p in journey.personas if p.match is not None]
    if not personas:
        return pd.DataFrame({CUSTOMER: pd.Series(dtype="object")})
    t = events.mutate(_t=epoch_us(events[TIMESTAMP]))
    aggs = {
        p.id: t._t.min(where=condition_expr(property_value(t, p.match.property), p.match.condition))
        for p in personas
        if p.match is not None
    }
    return t.group_by(CUSTOMER).aggregate(**aggs).to_pandas()


def _visits(events: ir.Table, journey: Journey) -> pd.DataFrame:
    v = stage_visits(events, journey)
    v = v.select(CUSTOMER, "cycle", "stage_index", _entered=epoch_us(v.entered_at))
    return v.to_pandas().sort_values("_entered", kind="stable")


def snapshot_features(
    events: ir.Table,
    journey: Journey,
    cutoffs: list[datetime] | list[int],
    *,
    active_within: str | float | None = "90d",
    vocabulary: _Vocabulary | None = None,
) -> pd.DataFrame:
    """The features of every eligible customer at each cut-off, from events before it.

    Parameters
    ----------
    events
        Events in the canonical schema (an Ibis table).
    journey
        The journey whose touchpoints assign stages.
    cutoffs
        Cut-off instants (naive UTC datetimes, or microseconds since 1970), rounded up to
        whole seconds.
    active_within
        Only customers with an event this long before a cut-off (a duration: ``90d``);
        ``None``: every customer with an event before it.

    Returns
    -------
    pandas.DataFrame
        One row per (customer, cut-off) whose current stage has a next stage: ``customer_id``,
        ``cutoff`` (microseconds), ``stage_index`` (1-based) and the feature columns
        (:attr:`NextStageModel.features`; ``stage`` and ``persona`` as integer codes, -1 for
        no persona). Events at or after a cut-off never change its row.
    """
    vocab = vocabulary or _vocabulary(events, journey)
    # Whole seconds: an event is before a cut-off when its second is.
    cuts = sorted({-(-_to_us(c) // 1_000_000) for c in cutoffs})
    active_s = None if active_within is None else parse_duration(active_within, "active_within")
    counts = _counts(_tagged(events, journey).to_pandas(), cuts, vocab, active_s)
    if counts.empty:
        return pd.DataFrame(columns=[CUSTOMER, "cutoff", "stage_index", *vocab.features])
    return _assemble(counts, _visits(events, journey), _persona_since(events, journey), vocab)


def _assemble(
    counts: pd.DataFrame, visits: pd.DataFrame, persona_since: pd.DataFrame, vocab: _Vocabulary
) -> pd.DataFrame:
    """Snapshot rows from the counts at each cut-off, the stage visits and when each persona
    first fit (the parts :func:`snapshot_features` computes on an engine and
    :func:`score_customer` from one customer's events)."""
    snaps = counts.sort_values("cutoff", kind="stable")
    # The visit open at the cut-off: the last one entered strictly before it (its stage and
    # cycle are fixed by the events up to its entry).
    snaps = pd.merge_asof(
        snaps,
        visits,
        left_on="cutoff",
        right_on="_entered",
        by=CUSTOMER,
        allow_exact_matches=False,
        direction="backward",
    )
    n = len(vocab.stages)
    snaps = snaps[snaps.stage_index.notna() & (snaps.stage_index < n)].copy()
    snaps["stage_index"] = snaps.stage_index.astype("int64")
    snaps["stage"] = snaps.stage_index - 1
    snaps["cycle"] = snaps["cycle"].astype("int64")
    snaps["days_in_stage"] = (snaps.cutoff - snaps._entered) / US_PER_DAY
    snaps["recency_days"] = (snaps.cutoff - snaps.last_t) / US_PER_DAY
    snaps["tenure_days"] = (snaps.cutoff - snaps.first_t) / US_PER_DAY
    snaps["persona"] = _persona_at(snaps, persona_since, vocab)
    cols = [CUSTOMER, "cutoff", "stage_index", *vocab.features]
    return snaps[cols].sort_values(["cutoff", CUSTOMER], kind="stable").reset_index(drop=True)


def _persona_at(snaps: pd.DataFrame, since: pd.DataFrame, vocab: _Vocabulary) -> pd.Series:
    code = pd.Series(-1, index=snaps.index, dtype="int64")
    if since.empty or not vocab.personas:
        return code
    s = snaps[[CUSTOMER, "cutoff"]].merge(since, on=CUSTOMER, how="left")
    s.index = snaps.index
    # The first persona in file order whose match fit an event before the cut-off.
    for i, p in reversed(list(enumerate(vocab.personas))):
        if p in s:
            code[(s[p] < s.cutoff).fillna(False).to_numpy(bool)] = i
    return code


def _labels(events: ir.Table, journey: Journey, snaps: pd.DataFrame, horizon_us: int) -> np.ndarray:
    """1 where the customer had a staged event in a later stage in [cut-off, + horizon)."""
    t = tag_events(events, journey)
    t = t.filter(t.stage_index.notnull()).select(CUSTOMER, "stage_index", _t=epoch_us(t[TIMESTAMP]))
    staged = t.to_pandas()
    keys = snaps[[CUSTOMER, "cutoff", "stage_index"]].reset_index(names="_row")
    m = keys.merge(staged, on=CUSTOMER, suffixes=("", "_e"))
    hit = (m._t >= m.cutoff) & (m._t < m.cutoff + horizon_us) & (m.stage_index_e > m.stage_index)
    y = np.zeros(len(snaps), dtype="int64")
    y[m.loc[hit, "_row"].unique()] = 1
    return y


def _to_us(when: datetime | int) -> int:
    if isinstance(when, datetime):
        naive = when.replace(tzinfo=None) if when.tzinfo is None else when.astimezone(UTC)
        naive = naive.replace(tzinfo=None)
        return int((naive - datetime(1970, 1, 1)) / pd.Timedelta(microseconds=1))
    return int(when)


def _from_us(us: int) -> datetime:
    return datetime(1970, 1, 1) + pd.Timedelta(microseconds=int(us)).to_pytimedelta()


# -- metrics ----------------------------------------------------------------------------------


def top_decile_lift(y: np.ndarray, score: np.ndarray, share: float = 0.1) -> float:
    """The positive rate among the ``share`` highest scores over the overall positive rate.

    Scores tied at the boundary count in proportion (as if the tie were broken at random),
    so a constant score has lift 1.

    >>> import numpy as np
    >>> top_decile_lift(np.array([1, 0, 0, 0, 0, 0, 0, 0, 0, 0]), np.arange(10)[::-1] * 1.0)
    10.0
    >>> top_decile_lift(np.array([1, 0, 0, 0]), np.zeros(4))
    1.0
    """
    y = np.asarray(y, dtype=float)
    score = np.asarray(score, dtype=float)
    base = y.mean()
    if len(y) == 0 or base == 0:
        return float("nan")
    k = share * len(y)
    order = np.argsort(-score, kind="stable")
    s, yy = score[order], y[order]
    threshold = s[max(math.ceil(k) - 1, 0)]
    above = s > threshold
    tied = s == threshold
    n_above = above.sum()
    positives = yy[above].sum() + (k - n_above) * yy[tied].mean()
    return float(positives / k / base)


def evaluate_scores(y: np.ndarray, score: np.ndarray) -> dict[str, float]:
    """ROC AUC, Brier score and top-decile lift of probabilities ``score`` for labels ``y``.

    Sources: :func:`sklearn.metrics.roc_auc_score`, :func:`sklearn.metrics.brier_score_loss`
    (Brier, G. W. 1950, "Verification of forecasts expressed in terms of probability",
    Monthly Weather Review 78(1)), and :func:`top_decile_lift`.

    >>> import numpy as np
    >>> m = evaluate_scores(np.array([0, 0, 1, 1]), np.array([0.1, 0.4, 0.35, 0.8]))
    >>> round(m["auc"], 2), round(m["brier"], 4)
    (0.75, 0.1581)
    """
    from sklearn.metrics import brier_score_loss, roc_auc_score

    y = np.asarray(y)
    auc = float(roc_auc_score(y, score)) if len(set(y.tolist())) == 2 else float("nan")
    return {
        "auc": auc,
        "brier": float(brier_score_loss(y, score)),
        "lift_top_decile": top_decile_lift(y, score),
    }


# -- the model --------------------------------------------------------------------------------


@dataclass
class NextStageModel:
    """A trained next-stage model, its evaluation and what it was trained on.

    Attributes
    ----------
    classifier
        The fitted :class:`~sklearn.ensemble.HistGradientBoostingClassifier` (refitted on all
        snapshots after evaluation).
    horizon_days
        The horizon of the label, in days.
    features
        The feature names, in the classifier's column order.
    stages, personas, touchpoints, channels
        The vocabulary the features are written in (``stage``/``persona`` codes index these).
    metrics
        One row per scorer (``model``, ``baseline``): ``auc``, ``brier``,
        ``lift_top_decile``, ``examples`` and ``positive_rate`` on the held-out period.
    baseline
        Per stage id: the training period's share of snapshots that reached the next stage.
    touchpoint_ratio
        Per stage id and touchpoint: how much more often training snapshots with the
        touchpoint moved on than those without (``None`` when either group is empty).
    trained_at, data_version, seed, train_period, test_period, journey
        Metadata (ISO times; ``data_version``: events, customers and time span).
    """

    classifier: Any
    horizon_days: float
    features: list[str]
    stages: list[str]
    personas: list[str]
    touchpoints: list[str]
    channels: list[str]
    metrics: pd.DataFrame
    baseline: dict[str, float]
    touchpoint_ratio: dict[str, dict[str, float | None]]
    trained_at: str = ""
    data_version: dict[str, Any] = field(default_factory=dict)
    seed: int = 0
    train_period: tuple[str, str] = ("", "")
    test_period: tuple[str, str] = ("", "")
    journey: str = ""

    @property
    def vocabulary(self) -> _Vocabulary:
        return _Vocabulary(
            tuple(self.stages), tuple(self.touchpoints), tuple(self.channels), tuple(self.personas)
        )

    def predict(self, features: pd.DataFrame) -> np.ndarray:
        """P(next stage within the horizon) for rows of :func:`snapshot_features`."""
        return np.asarray(self.classifier.predict_proba(features[self.features])[:, 1])

    def metadata(self) -> dict[str, Any]:
        """What the model is, as plain JSON-ready values."""
        return {
            "trained_at": self.trained_at,
            "data_version": self.data_version,
            "horizon_days": self.horizon_days,
            "features": self.features,
            "metrics": self.metrics.to_dict("records"),
            "seed": self.seed,
            "train_period": list(self.train_period),
            "test_period": list(self.test_period),
            "journey": self.journey,
        }

    def save(self, path: str | Path) -> Path:
        """Pickle the model to ``path`` (folders made as needed); returns the path."""
        import os
        import tempfile

        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        # A temporary file of this save's own: two `kundresa predict` at once each write
        # theirs whole, and the last to finish is the model (a shared name mixed the two,
        # and the second rename found no file).
        fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        try:
            with os.fdopen(fd, "wb") as f:
                pickle.dump({"kundresa_model": 1, "model": self}, f)
                f.flush()
                os.fsync(f.fileno())
            os.replace(name, path)
        except BaseException:
            Path(name).unlink(missing_ok=True)
            raise
        return path


def journey_changed(model: NextStageModel, journey: Journey) -> str | None:
    """A note when the journey's stages, touchpoints or personas are no longer those the
    model was trained with (its features are read by position, so its answers would be
    about other names); ``None`` when they are the same."""
    now = _Vocabulary(
        stages=tuple(journey.stage_ids),
        touchpoints=tuple(tp.id for tp in journey.touchpoints),
        channels=(),
        personas=tuple(p.id for p in journey.personas),
    )
    was = model.vocabulary
    changed = [
        what
        for what, a, b in (
            ("stages", was.stages, now.stages),
            ("touchpoints", was.touchpoints, now.touchpoints),
            ("personas", was.personas, now.personas),
        )
        if tuple(a) != tuple(b)
    ]
    if not changed:
        return None
    return (
        f"the journey's {', '.join(changed)} changed since the model was trained: "
        "`kundresa predict` retrains it"
    )


def load_model(path: str | Path) -> NextStageModel:
    """A model saved by :meth:`NextStageModel.save`.

    Raises
    ------
    PredictError
        The file is missing or holds no Kundresa model.
    """
    path = Path(path)
    if not path.exists():
        raise PredictError(f"{path}: no saved model; train one with `kundresa predict`")
    try:
        with path.open("rb") as f:
            data = pickle.load(f)  # our own file, written by save()
    except Exception as exc:
        raise PredictError(
            f"{path}: not a readable model ({exc}); `kundresa predict` writes a new one"
        ) from exc
    if not isinstance(data, dict) or not isinstance(data.get("model"), NextStageModel):
        raise PredictError(f"{path}: not a Kundresa next-stage model")
    return data["model"]


def _classifier(vocab: _Vocabulary, seed: int) -> Any:
    from sklearn.ensemble import HistGradientBoostingClassifier

    features = vocab.features
    categorical = [features.index("stage"), features.index("persona")]
    return HistGradientBoostingClassifier(
        max_iter=100,
        learning_rate=0.08,
        max_leaf_nodes=31,
        min_samples_leaf=40,
        l2_regularization=1.0,
        categorical_features=categorical,
        early_stopping=False,
        random_state=seed,
    )


def _sample(snaps: pd.DataFrame, limit: int | None, seed: int) -> pd.DataFrame:
    """At most ``limit`` snapshots, drawn at random (``seed``) when there are more."""
    if limit is None or len(snaps) <= limit:
        return snaps
    return snaps.sample(n=limit, random_state=seed).sort_index()


def _one_thread() -> Any:
    """One OpenMP thread for the trees: on a shared machine, threads that spin waiting for
    busy cores make a fit many times slower than one thread working alone (the figures do
    not depend on the thread count)."""
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=1, user_api="openmp")


def _design(snaps: pd.DataFrame, features: list[str]) -> pd.DataFrame:
    x = snaps[features].astype("float64")
    x["persona"] = x["persona"].where(x["persona"] >= 0)  # missing: its own category
    return x


#: The largest ``seed``: scikit-learn's random states are 32-bit.
MAX_SEED = 2**32 - 1


def train_next_stage(
    project: Any = None,
    *,
    events: ir.Table | None = None,
    journey: Journey | None = None,
    horizon: str | float = "30d",
    every: str | float = "7d",
    active_within: str | float = "90d",
    test_share: float = 0.3,
    max_examples: int | None = 30_000,
    seed: int = 0,
) -> NextStageModel:
    """Train and evaluate the next-stage model on a project's history.

    Parameters
    ----------
    project
        A :class:`~kundresa.project.Project` (its events and journey); or give ``events``
        and ``journey``.
    horizon
        The label's horizon (``30d``): reached the next stage within this long.
    every
        Time between cut-offs (``7d``).
    active_within
        A snapshot's customer had an event this long before its cut-off (``90d``).
    test_share
        The share of cut-offs (the latest) held out for evaluation.
    max_examples
        Fit the trees on at most this many snapshots, drawn at random (``None``: all); the
        evaluation always scores every held-out snapshot.
    seed
        The classifier's random state and the draw (0 to ``MAX_SEED``): the same seed gives
        the same model and figures.

    Returns
    -------
    NextStageModel
        With ``metrics`` (model against the baseline on the held-out cut-offs).

    Raises
    ------
    UsageError
        A horizon or spacing that is not a duration longer than zero, or a seed out of range.
    PredictError
        No journey, too little history for training and held-out cut-offs, or labels of
        one class only.
    """
    if project is not None:
        events = project.events if events is None else events
        journey = project.journey if journey is None else journey
    if events is None or journey is None or not journey.touchpoints:
        raise PredictError("no journey with touchpoints: the model needs stages to predict")
    if len(journey.stages) < 2:
        raise PredictError("the journey has one stage: there is no next stage to predict")
    try:
        horizon_s = parse_duration(horizon, "horizon")
        step_s = parse_duration(every, "every")
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    for what, given, seconds in (("horizon", horizon, horizon_s), ("every", every, step_s)):
        if seconds <= 0:
            raise UsageError(f"{what}: {given!r} must be longer than zero (30d, 2w)")
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= MAX_SEED:
        raise UsageError(f"seed: {seed!r} is not a whole number from 0 to {MAX_SEED}")
    horizon_us, step_us = int(horizon_s * 1e6), int(step_s * 1e6)
    span = events.aggregate(
        lo=epoch_us(events[TIMESTAMP].min()), hi=epoch_us(events[TIMESTAMP].max())
    )
    lo, hi = (
        int(v) if v is not None and not pd.isna(v) else None for v in span.to_pandas().iloc[0]
    )
    if lo is None or hi is None:
        raise PredictError("no events to learn from")
    # The first cut-off leaves one step of history; the last leaves a whole horizon after it.
    first = -(-(lo + step_us) // 1_000_000) * 1_000_000  # whole seconds, as the features
    cutoffs = list(range(first, hi - horizon_us + 1, step_us))
    n_test = max(1, round(len(cutoffs) * test_share))
    test = cutoffs[-n_test:]
    # Training labels end before the first held-out cut-off: nothing of the held-out period
    # reaches training.
    train = [c for c in cutoffs if c + horizon_us <= test[0]]
    if len(cutoffs) < 3 or not train:
        need = (step_s * 3 + horizon_s * 2) / 86400
        days = (hi - lo) / US_PER_DAY
        raise PredictError(
            f"{days:.0f} days of history are too few for a {horizon_s / 86400:g}-day horizon "
            f"with held-out cut-offs: need about {need:.0f} days"
        )
    vocab = _vocabulary(events, journey)
    snaps = snapshot_features(
        events, journey, train + test, active_within=active_within, vocabulary=vocab
    )
    snaps["_y"] = _labels(events, journey, snaps, horizon_us)
    is_test = snaps.cutoff.isin(test).to_numpy()
    tr, te = snaps[~is_test], snaps[is_test]
    if tr._y.nunique() < 2 or te._y.nunique() < 2:
        raise PredictError(
            "every snapshot has the same outcome in the training or held-out period: "
            "nothing to learn (more history or another horizon)"
        )
    features = vocab.features
    fit_tr = _sample(tr, max_examples, seed)
    with _one_thread():
        clf = _classifier(vocab, seed).fit(_design(fit_tr, features), fit_tr._y)
        p_model = clf.predict_proba(_design(te, features))[:, 1]
    rates = tr.groupby("stage_index")._y.mean()
    overall = float(tr._y.mean())
    p_base = te.stage_index.map(rates).fillna(overall).to_numpy(float)
    rows = []
    for name, p in (("model", p_model), ("baseline", p_base)):
        rows.append(
            {
                "scorer": name,
                **evaluate_scores(te._y.to_numpy(), p),
                "examples": len(te),
                "positive_rate": float(te._y.mean()),
            }
        )
    metrics = pd.DataFrame(rows)
    # The saved model learns from every snapshot whose label is known.
    fit_all = _sample(snaps, max_examples, seed)
    with _one_thread():
        final = _classifier(vocab, seed).fit(_design(fit_all, features), fit_all._y)
    ids = list(vocab.stages)
    return NextStageModel(
        classifier=final,
        horizon_days=horizon_s / 86400,
        features=features,
        stages=ids,
        personas=list(vocab.personas),
        touchpoints=list(vocab.touchpoints),
        channels=list(vocab.channels),
        metrics=metrics,
        baseline={ids[int(str(k)) - 1]: float(v) for k, v in rates.items()},
        touchpoint_ratio=_touchpoint_ratios(snaps, journey, ids),
        trained_at=datetime.now(UTC).isoformat(timespec="seconds"),
        data_version={
            "events": int(events.count().to_pandas()),
            "customers": int(events[CUSTOMER].nunique().to_pandas()),
            "first_event_at": _from_us(lo).isoformat(),
            "last_event_at": _from_us(hi).isoformat(),
        },
        seed=seed,
        train_period=(_from_us(train[0]).isoformat(), _from_us(train[-1]).isoformat()),
        test_period=(_from_us(test[0]).isoformat(), _from_us(test[-1]).isoformat()),
        journey=journey.name,
    )


def _touchpoint_ratios(
    snaps: pd.DataFrame, journey: Journey, ids: list[str]
) -> dict[str, dict[str, float | None]]:
    out: dict[str, dict[str, float | None]] = {}
    for tp in journey.touchpoints:
        s = snaps[snaps.stage_index == ids.index(tp.stage) + 1]
        if s.empty:
            continue
        saw = s[f"tp:{tp.id}:total"] > 0
        with_, without = s._y[saw], s._y[~saw]
        ratio = None
        if len(with_) and len(without) and without.mean() > 0:
            ratio = float(with_.mean() / without.mean())
        out.setdefault(tp.stage, {})[tp.id] = ratio
    return out


# -- the next best step for one customer ------------------------------------------------------


def next_best_step(
    events: ir.Table, journey: Journey, customer_id: str, model: NextStageModel
) -> dict[str, Any]:
    """Where one customer is now, how likely they move on, and what to offer them.

    Parameters
    ----------
    events
        All events (the customer's are picked out).
    journey
        The journey the model was trained with.
    customer_id
        The customer.
    model
        A trained :class:`NextStageModel`.

    Returns
    -------
    dict
        ``customer_id``, ``stage``, ``stage_label``, ``stage_entered_at`` (ISO time),
        ``persona``, ``next_stage`` (``None`` in the last stage), ``p_next_stage`` (the
        model's probability of reaching a later stage within ``horizon_days``, ``None`` in
        the last stage), ``horizon_days`` and ``recommended_content``: a list of
        ``{item, kind, reason, score}``, the current stage's touchpoints first, ranked by
        ``score`` (the model's probability when the touchpoint's counts are one higher, minus
        ``p_next_stage``; only touchpoints whose score is above 0), then the journey's
        ``content`` lane items for the stage (unscored: the data do not say which content a
        customer saw); ``not_recommended``: the stage's touchpoints whose score is 0 or below
        (one more would not raise the chance, or would lower it), in the same form, highest
        score first.

    Raises
    ------
    NotFoundError
        No events for the customer.
    PredictError
        None of the customer's events is in a stage of the journey.
    """
    mine = events.filter(events[CUSTOMER] == customer_id)
    n_events = int(mine.count().to_pandas())
    if n_events == 0:
        raise NotFoundError(f"no events for customer {customer_id!r}")
    visits = _visits(mine, journey)
    if visits.empty:
        raise PredictError(f"customer {customer_id!r} has no event in any stage of the journey")
    hi = int(mine.aggregate(hi=epoch_us(mine[TIMESTAMP].max())).to_pandas().hi.iloc[0])
    now = hi + 1  # just after the customer's last event: every event counts
    vocab = model.vocabulary
    snaps = snapshot_features(mine, journey, [now], active_within=None, vocabulary=vocab)
    return _recommend(customer_id, journey, model, visits, snaps, _persona_since(mine, journey))


def score_customer(
    events: pd.DataFrame, journey: Journey, customer_id: str, model: NextStageModel
) -> dict[str, Any]:
    """:func:`next_best_step` for one customer whose events are at hand: the same answer,
    computed in memory from those events only (a request's worth of work: no query over the
    whole history, no training).

    Touchpoints are tagged with :func:`kundresa.model.assign.assign_touchpoints` (the
    reference the engine expressions are tested against) and channel matches applied in
    Python; the counts, visits and persona then go through the same code as training's
    snapshots.

    Parameters
    ----------
    events
        The customer's events (every id of the person), canonical columns; ``properties``
        holds a dict (or ``None``) per row.
    journey
        The journey the model was trained with.
    customer_id
        The customer id the answer names.
    model
        A trained :class:`NextStageModel` (load it once with :func:`load_model`).

    Returns
    -------
    dict
        As :func:`next_best_step`.

    Raises
    ------
    NotFoundError
        ``events`` is empty.
    PredictError
        None of the events is in a stage of the journey.
    """
    from kundresa.model.assign import assign_touchpoints
    from kundresa.model.events import EVENT, EVENT_ID

    if events.empty:
        raise NotFoundError(f"no events for customer {customer_id!r}")
    ev = events.assign(_null_id=events[EVENT_ID].isna())
    ev = ev.sort_values([TIMESTAMP, EVENT, "_null_id", EVENT_ID], kind="stable")
    ev = ev.reset_index(drop=True)
    props = [p if isinstance(p, dict) else dict(p or {}) for p in ev[PROPERTIES]]
    records = [
        {CUSTOMER: customer_id, TIMESTAMP: t, EVENT: e, PROPERTIES: p}
        for t, e, p in zip(ev[TIMESTAMP], ev[EVENT], props, strict=True)
    ]
    tps = assign_touchpoints(journey, records)
    index = {s: i + 1 for i, s in enumerate(journey.stage_ids)}
    stages = [journey.touchpoint(tp).stage if tp is not None else None for tp in tps]
    if all(s is None for s in stages):
        raise PredictError(f"customer {customer_id!r} has no event in any stage of the journey")
    rules = [c for c in journey.channels if c.match is not None]
    channels = [
        next((c.id for c in rules if c.match is not None and c.match.fits(e, p)), ch)
        for e, p, ch in zip(ev[EVENT], props, ev[CHANNEL], strict=True)
    ]
    us = pd.to_datetime(ev[TIMESTAMP]).astype("datetime64[us]").astype("int64").to_numpy()
    tagged = pd.DataFrame(
        {
            CUSTOMER: customer_id,
            "_t": us,
            "touchpoint": [tp if tp is not None else _NONE for tp in tps],
            "channel": [c if isinstance(c, str) else _NONE for c in channels],
            "value": pd.to_numeric(ev[VALUE], errors="coerce").fillna(0.0).astype(float),
            "stage_index": pd.array([index.get(s) if s else None for s in stages], "Int64"),
        }
    )
    visits = _visits_of(customer_id, [index.get(s) if s else None for s in stages], us, journey)
    vocab = model.vocabulary
    cut = -(-(int(us.max()) + 1) // 1_000_000)  # just after the last event, whole seconds
    counts = _counts(tagged, [cut], vocab, None)
    personas = [p for p in journey.personas if p.match is not None]
    since: dict[str, Any] = {CUSTOMER: [customer_id]}
    for p in personas:
        assert p.match is not None
        hits = [
            int(t)
            for t, pr in zip(us, props, strict=True)
            if p.match.condition.matches(pr.get(p.match.property))
        ]
        since[p.id] = pd.array([min(hits) if hits else None], "Int64")
    persona_since = pd.DataFrame(since) if personas else pd.DataFrame({CUSTOMER: []})
    snaps = _assemble(counts, visits, persona_since, vocab) if not counts.empty else counts
    return _recommend(customer_id, journey, model, visits, snaps, persona_since)


def _visits_of(
    customer_id: str, stage_index: list[int | None], us: np.ndarray, journey: Journey
) -> pd.DataFrame:
    """One customer's stage visits (``customer_id``, ``cycle``, ``stage_index``,
    ``_entered``), in Python, by the rules of :func:`~kundresa.analytics.journeys.stage_visits`:
    a visit is a run of staged events in one stage; a visit to the first stage starts a new
    cycle when the visits since the previous one reached the cycle stage."""
    from kundresa.analytics.journeys import cycle_stage

    runs: list[tuple[int, int]] = []
    for s, t in zip(stage_index, us, strict=True):
        if s is not None and (not runs or runs[-1][0] != s):
            runs.append((s, int(t)))
    hit_at = cycle_stage(journey)
    cycle, reached, rows = 1, False, []
    for k, (s, t) in enumerate(runs):
        if s == 1:
            if k > 0 and reached:
                cycle += 1
            reached = False  # a new segment between first-stage visits
        reached = reached or s >= hit_at
        rows.append((customer_id, cycle, s, t))
    return pd.DataFrame(rows, columns=[CUSTOMER, "cycle", "stage_index", "_entered"])


def _recommend(
    customer_id: str,
    journey: Journey,
    model: NextStageModel,
    visits: pd.DataFrame,
    snaps: pd.DataFrame,
    persona_since: pd.DataFrame,
) -> dict[str, Any]:
    """The answer of :func:`next_best_step` from the customer's visits (in entry order), their
    snapshot just after their last event and when each persona first fit."""
    vocab = model.vocabulary
    last = visits.iloc[-1]
    stage_i = int(last.stage_index)
    stage = journey.stage_ids[stage_i - 1]
    persona = next(
        (p for p in vocab.personas if p in persona_since and persona_since[p].notna().any()),
        None,
    )
    out: dict[str, Any] = {
        "customer_id": customer_id,
        "stage": stage,
        "stage_label": journey.stage_label(stage),
        "stage_entered_at": _from_us(int(last._entered)).isoformat(),
        "persona": persona,
        "next_stage": None,
        "p_next_stage": None,
        "horizon_days": model.horizon_days,
        "recommended_content": [],
        "not_recommended": [],
    }
    items: list[dict[str, Any]] = []
    if not snaps.empty:
        out["next_stage"] = journey.stage_ids[stage_i]
        x = _design(snaps, model.features)
        # One row to score: threads would only wait for each other.
        with _one_thread():
            p = float(model.classifier.predict_proba(x)[0, 1])
            out["p_next_stage"] = p
            scored = _touchpoint_uplifts(x, p, stage, journey, model)
            # A touchpoint whose one more would not raise the chance is not offered.
            items = [r for r in scored if r["score"] > 0]
            out["not_recommended"] = [
                {**r, "reason": f"{r['reason']} (would not raise the chance: not recommended)"}
                for r in scored
                if r["score"] <= 0
            ]
    for text in _content(journey, stage, persona):
        items.append(
            {
                "item": text,
                "kind": "content",
                "reason": f"the journey's content for {journey.stage_label(stage)}; "
                "not in the events, so not scored",
                "score": None,
            }
        )
    out["recommended_content"] = items
    return out


def _touchpoint_uplifts(
    x: pd.DataFrame, p: float, stage: str, journey: Journey, model: NextStageModel
) -> list[dict[str, Any]]:
    ratios = model.touchpoint_ratio.get(stage, {})
    chosen = [tp for tp in journey.touchpoints if tp.stage == stage and tp.id in model.touchpoints]
    counterfactuals = []
    for tp in chosen:
        cf = x.copy()
        bump = [f"tp:{tp.id}:total", *(f"tp:{tp.id}:{d}d" for d in _WINDOWS)]
        bump += ["frequency", *(f"events_{d}d" for d in _WINDOWS)]
        channel = tp.channel if tp.channel in model.channels else None
        if channel is not None:
            bump += [f"ch:{channel}:total", *(f"ch:{channel}:{d}d" for d in _WINDOWS)]
        cf[bump] = cf[bump] + 1
        cf["recency_days"] = 0.0
        counterfactuals.append(cf)
    if not chosen:
        return []
    # Every counterfactual in one call: one pass over the trees instead of one per touchpoint.
    scores = model.classifier.predict_proba(pd.concat(counterfactuals, ignore_index=True))[:, 1]
    rows = []
    for tp, score in zip(chosen, scores, strict=True):
        uplift = float(score) - p
        ratio = ratios.get(tp.id)
        if ratio is None:
            seen = "too few customers with and without it to compare"
        else:
            seen = f"customers in this stage who saw it moved on {ratio:.1f}× as often"
        reason = f"{tp.id}: {seen}; one more for this customer: {uplift * 100:+.1f} points"
        rows.append({"item": tp.id, "kind": "touchpoint", "reason": reason, "score": uplift})
    return sorted(rows, key=lambda r: -r["score"])


def _content(journey: Journey, stage: str, persona: str | None) -> list[str]:
    value = journey.lane("content", stage, persona)
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, list | tuple):
        return [str(v) for v in value]
    return [str(value)]
