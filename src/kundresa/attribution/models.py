"""Attribution models: which channels earn the conversions (and their value).

Every model takes a *paths frame*, a pandas DataFrame with one row per path (rows need not be
distinct):

- ``path``: a tuple of channel names in the order they were touched (never empty);
- ``conversions``, ``value``, ``nulls``: how many times the path ended in a conversion, the
  value of those conversions, and how many times it ended without one (numbers >= 0);
- ``ages`` (optional): a tuple of seconds from each touch to the conversion (or, for null
  paths, to the path's end); ``None`` when unknown, as for paths read from a file.

:func:`kundresa.attribution.paths_file.read_paths_file` reads one from a file and
:func:`kundresa.attribution.journey.conversion_paths` builds one from a project's events.

Models (``docs/attribution.md`` gives each definition in full):

- ``first``, ``last``: all of a path's conversions and value to its first (last) touch.
- ``last_non_direct``: to the last touch whose channel is not ``direct``; a path of direct
  touches only credits direct.
- ``linear``: equal shares to every touch (a channel touched twice gets two shares).
- ``time_decay``: touch weights ``2 ** (-age / half_life)``; paths without ages count age in
  touches before the last (``half_life_touches``).
- ``position``: ``position = (first, middle, last)`` weights (default 40/20/40): the middle
  share is split among the middle touches; a two-touch path splits first and last weights
  in their ratio; a one-touch path gives it everything.
- ``markov``: removal effects of an absorbing Markov chain of order 1 to 4, solved exactly
  (:func:`markov`).
- ``shapley``: Shapley values of a coalition game over channel sets, exact up to
  ``exact_limit`` channels, sampled above (:func:`shapley`).

Every model credits exactly the total conversions and the total value (up to float rounding;
sampled Shapley too), and returns one row per channel seen in any path.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from kundresa.attribution._markov import MarkovResult, markov, markov_encoded
from kundresa.attribution._paths import (
    EncodedPaths,
    credit_frame,
    encode,
    scaled,
    touch_ages,
    unscaled,
)
from kundresa.attribution._shapley import GAMES, shapley, shapley_encoded
from kundresa.errors import UsageError

__all__ = [
    "HEURISTIC_MODELS",
    "MODELS",
    "MarkovResult",
    "attribute",
    "compare_models",
    "markov",
    "shapley",
]

HEURISTIC_MODELS = ("first", "last", "last_non_direct", "linear", "time_decay", "position")
MODELS = (*HEURISTIC_MODELS, "markov", "shapley")
DAY = 86400.0


def _check_options(
    *,
    direct: str,
    half_life: float,
    half_life_touches: float,
    position: Sequence[float],
    order: int,
    samples: int | None,
    confidence: float,
    seed: int,
) -> tuple[float, float, float]:
    if not isinstance(direct, str):
        raise UsageError(f"direct must be a channel name, not {direct!r}")
    for name, h in (("half_life", half_life), ("half_life_touches", half_life_touches)):
        if isinstance(h, bool) or not isinstance(h, int | float) or not math.isfinite(h) or h <= 0:
            raise UsageError(f"{name} must be a positive number, not {h!r}")
    try:
        weights = tuple(float(w) for w in position)
    except (TypeError, ValueError):
        raise UsageError(
            f"position must be three weights (first, middle, last), not {position!r}"
        ) from None
    if len(weights) != 3 or not all(math.isfinite(w) and w >= 0 for w in weights):
        raise UsageError(
            f"position must be three weights >= 0 (first, middle, last), not {position!r}"
        )
    if sum(weights) <= 0:
        raise UsageError(f"position weights must not all be zero, got {position!r}")
    if isinstance(order, bool) or not isinstance(order, int | np.integer) or not 1 <= order <= 4:
        raise UsageError(f"order must be 1, 2, 3 or 4, not {order!r}")
    if samples is not None and (
        isinstance(samples, bool) or not isinstance(samples, int | np.integer) or samples < 2
    ):
        raise UsageError(f"samples must be a whole number >= 2, not {samples!r}")
    if not isinstance(confidence, int | float) or not 0 < confidence < 1:
        raise UsageError(f"confidence must be between 0 and 1, not {confidence!r}")
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise UsageError(f"seed must be a whole number >= 0, not {seed!r}")
    s = sum(weights)
    return weights[0] / s, weights[1] / s, weights[2] / s


def _touch_weights(
    enc: EncodedPaths,
    model: str,
    *,
    direct: str,
    half_life: float,
    half_life_touches: float,
    position: tuple[float, float, float],
) -> np.ndarray:
    """Each touch's share of its path's credit (the shares of a path sum to 1)."""
    n_touches = len(enc.codes)
    ends = enc.starts + enc.lengths - 1
    w = np.zeros(n_touches)
    if enc.n_paths == 0:  # no paths (an empty period): no touch to weigh, nothing credited
        return w
    if model == "first":
        w[enc.starts] = 1.0
    elif model == "last":
        w[ends] = 1.0
    elif model == "last_non_direct":
        hit = np.searchsorted(enc.channels, direct)
        direct_code = hit if hit < enc.n_channels and enc.channels[hit] == direct else -1
        j = enc.index_in_path()
        candidate = np.where(enc.codes != direct_code, j, -1)
        last_other = np.maximum.reduceat(candidate, enc.starts)
        w[enc.starts + np.where(last_other >= 0, last_other, enc.lengths - 1)] = 1.0
    elif model == "linear":
        w = 1.0 / np.repeat(enc.lengths, enc.lengths).astype("float64")
    elif model == "time_decay":
        j = enc.index_in_path()
        length = np.repeat(enc.lengths, enc.lengths)
        seconds = touch_ages(enc)
        known = ~np.isnan(seconds)
        exponent = np.where(
            known, seconds / half_life, (length - 1 - j) / half_life_touches
        ).astype("float64")
        # Shift by the path's smallest exponent: the newest touch weighs 1, nothing underflows
        # to an all-zero path however old its touches are.
        exponent -= np.repeat(np.minimum.reduceat(exponent, enc.starts), enc.lengths)
        raw = np.exp2(-exponent)
        totals = np.add.reduceat(raw, enc.starts)
        w = raw / np.repeat(totals, enc.lengths)
    elif model == "position":
        first, middle, last = position
        j = enc.index_in_path()
        length = np.repeat(enc.lengths, enc.lengths)
        ends_w = first + last
        two_first = first / ends_w if ends_w > 0 else 0.5
        w = np.select(
            [
                length == 1,
                (length == 2) & (j == 0),
                length == 2,
                j == 0,
                j == length - 1,
            ],
            [1.0, two_first, 1.0 - two_first, first, last],
            default=middle / np.maximum(length - 2, 1),
        )
    else:  # pragma: no cover - callers check the model first
        raise UsageError(f"model {model!r} is not a heuristic model")
    return w


def _heuristic(enc: EncodedPaths, model: str, **opts: Any) -> tuple[np.ndarray, np.ndarray]:
    w = _touch_weights(enc, model, **opts)
    per_path = enc.path_of_touch()
    n = enc.n_channels
    conversions = np.bincount(enc.codes, weights=w * enc.conversions[per_path], minlength=n)
    value = np.bincount(enc.codes, weights=w * enc.value[per_path], minlength=n)
    return conversions, value


def _attribute_encoded(
    enc: EncodedPaths,
    model: str,
    *,
    direct: str,
    half_life: float,
    half_life_touches: float,
    position: tuple[float, float, float],
    order: int,
    seed: int,
    samples: int | None,
    confidence: float,
    game: str = "rate",
) -> pd.DataFrame:
    if model in HEURISTIC_MODELS:
        played, counts, values = scaled(enc)  # amounts near a double's top: scaled exactly
        conversions, value = _heuristic(
            played,
            model,
            direct=direct,
            half_life=half_life,
            half_life_touches=half_life_touches,
            position=position,
        )
        return unscaled(
            credit_frame(enc.channels, model, conversions, value), model, counts, values
        )
    if model == "markov":
        return markov_encoded(enc, order=order).attribution
    return shapley_encoded(enc, samples=samples, seed=seed, confidence=confidence, game=game)


def _check_game(game: object) -> None:
    if not isinstance(game, str) or game not in GAMES:
        raise UsageError(f"game {game!r} is not one of {', '.join(GAMES)}")


def _check_model(model: object) -> str:
    if not isinstance(model, str) or model not in MODELS:
        raise UsageError(f"model {model!r} is not one of {', '.join(MODELS)}")
    return model


def attribute(
    paths: pd.DataFrame,
    model: str,
    *,
    direct: str = "direct",
    half_life: float = 7 * DAY,
    half_life_touches: float = 1.0,
    position: Sequence[float] = (0.4, 0.2, 0.4),
    order: int = 1,
    seed: int = 0,
    samples: int | None = None,
    confidence: float = 0.95,
    game: str = "rate",
    sep: str | None = None,
) -> pd.DataFrame:
    """Credit each channel with a share of the conversions and their value.

    Parameters
    ----------
    paths
        A paths frame (see the module docstring).
    model
        ``first``, ``last``, ``last_non_direct``, ``linear``, ``time_decay``, ``position``,
        ``markov`` or ``shapley``.
    direct
        The direct channel's name, for ``last_non_direct`` (matched exactly).
    half_life
        ``time_decay``: seconds after which a touch weighs half as much (default 7 days).
    half_life_touches
        ``time_decay`` on paths without ages (e.g. from a file): the half-life counted in
        touches before the last one (default 1: each earlier touch weighs half the next).
    position
        ``position``: the weights of the first touch, the middle touches (together) and the
        last touch; they are normalised to sum to 1, so ``(40, 20, 40)`` works too.
    order
        ``markov``: the chain's order, 1 to 4.
    seed, samples, confidence
        ``shapley`` above its exact limit of 15 channels: the random seed, the number of
        sampled permutations (default 2000) and the confidence of the per-channel interval.
    game
        ``shapley``: ``rate`` (the conversion-rate game, default) or ``conversions`` (see
        :func:`shapley`).
    sep
        When given, each ``path`` is a string of channel names joined by ``sep`` (as in a
        paths file: ``"search > email"`` with ``sep=">"``; spaces around names are
        stripped) instead of a tuple. Faster for many paths than splitting them yourself.

    Returns
    -------
    pandas.DataFrame
        ``channel``, ``model``, ``conversions``, ``value``, ``share`` (of the total
        conversions), one row per channel seen in any path (zeros included), sorted by
        conversions (descending), then channel. ``shapley`` adds ``ci_low`` and ``ci_high``
        (equal to ``conversions`` when computed exactly).

    Raises
    ------
    UsageError
        A bad option (also a ValueError).
    ValueError
        A bad paths frame: a missing column, an empty path, an amount below zero; the
        message names the row.
    TypeError
        ``paths`` is not a DataFrame, a path is not a tuple (or list) of channel names, or a
        channel name is not a string. Any ``str`` subclass (NumPy's ``np.str_``, as in a
        frame built from NumPy arrays) is a channel name: the str it holds.

    Examples
    --------
    >>> import pandas as pd
    >>> paths = pd.DataFrame({
    ...     "path": [("search", "email"), ("social",), ("search", "direct")],
    ...     "conversions": [2.0, 0.0, 1.0],
    ...     "value": [100.0, 0.0, 30.0],
    ...     "nulls": [1.0, 3.0, 0.0],
    ... })
    >>> attribute(paths, "linear")
      channel   model  conversions  value     share
    0  search  linear          1.5   65.0  0.500000
    1   email  linear          1.0   50.0  0.333333
    2  direct  linear          0.5   15.0  0.166667
    3  social  linear          0.0    0.0  0.000000
    >>> attribute(paths, "last_non_direct")[["channel", "conversions"]]
      channel  conversions
    0   email          2.0
    1  search          1.0
    2  direct          0.0
    3  social          0.0
    """
    model = _check_model(model)
    _check_game(game)
    weights = _check_options(
        direct=direct,
        half_life=half_life,
        half_life_touches=half_life_touches,
        position=position,
        order=order,
        samples=samples,
        confidence=confidence,
        seed=seed,
    )
    return _attribute_encoded(
        encode(paths, sep),
        model,
        direct=direct,
        half_life=float(half_life),
        half_life_touches=float(half_life_touches),
        position=weights,
        order=int(order),
        seed=int(seed),
        samples=None if samples is None else int(samples),
        confidence=float(confidence),
        game=game,
    )


def compare_models(
    paths: pd.DataFrame | EncodedPaths,
    models: Sequence[str] = MODELS,
    *,
    direct: str = "direct",
    half_life: float = 7 * DAY,
    half_life_touches: float = 1.0,
    position: Sequence[float] = (0.4, 0.2, 0.4),
    order: int = 1,
    seed: int = 0,
    samples: int | None = None,
    confidence: float = 0.95,
    game: str = "rate",
    sep: str | None = None,
) -> pd.DataFrame:
    """Every model side by side: one row per channel, three columns per model.

    Parameters
    ----------
    paths
        A paths frame, or paths encoded already
        (:func:`kundresa.attribution.journey.conversion_paths_encoded`).
    models
        The models to compare, in the order of their columns (default: all of them).
    direct, half_life, half_life_touches, position, order, seed, samples, confidence, game, sep
        As for :func:`attribute`.

    Returns
    -------
    pandas.DataFrame
        ``channel`` and, per model, ``<model>_conversions``, ``<model>_value`` and
        ``<model>_share``; one row per channel, sorted by channel name.

    Examples
    --------
    >>> import pandas as pd
    >>> paths = pd.DataFrame({
    ...     "path": [("search", "email"), ("email",)],
    ...     "conversions": [3.0, 1.0],
    ...     "value": [30.0, 10.0],
    ...     "nulls": [0.0, 0.0],
    ... })
    >>> table = compare_models(paths, ["first", "last"])
    >>> list(table.columns)  # doctest: +NORMALIZE_WHITESPACE
    ['channel', 'first_conversions', 'first_value', 'first_share',
     'last_conversions', 'last_value', 'last_share']
    >>> table[["channel", "first_conversions", "last_conversions", "last_share"]]
      channel  first_conversions  last_conversions  last_share
    0   email                1.0               4.0         1.0
    1  search                3.0               0.0         0.0
    """
    chosen = [_check_model(m) for m in models]
    if not chosen:
        raise UsageError("models must name at least one model")
    if len(set(chosen)) != len(chosen):
        raise UsageError(f"models lists a model twice: {list(models)}")
    _check_game(game)
    weights = _check_options(
        direct=direct,
        half_life=half_life,
        half_life_touches=half_life_touches,
        position=position,
        order=order,
        samples=samples,
        confidence=confidence,
        seed=seed,
    )
    enc = paths if isinstance(paths, EncodedPaths) else encode(paths, sep)
    out = pd.DataFrame({"channel": pd.Series(sorted(enc.channels), dtype="object")})
    for m in chosen:
        df = _attribute_encoded(
            enc,
            m,
            direct=direct,
            half_life=float(half_life),
            half_life_touches=float(half_life_touches),
            position=weights,
            order=int(order),
            seed=int(seed),
            samples=None if samples is None else int(samples),
            confidence=float(confidence),
            game=game,
        ).set_index("channel")
        for c in ("conversions", "value", "share"):
            out[f"{m}_{c}"] = out["channel"].map(df[c]).to_numpy(dtype="float64")
    return out
