"""A paths frame checked and encoded once as flat NumPy arrays, for every model.

A *paths frame* (see :mod:`kundresa.attribution.models`) holds one row per path: ``path`` (a
tuple of channel names), ``conversions``, ``value``, ``nulls`` and, optionally, ``ages``. The
models work on :class:`EncodedPaths`: the touches of all paths one after the other as integer
channel codes, with each path's offset and length, so that they can be vectorised.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import chain
from typing import Any

import numpy as np
import pandas as pd

PATH, CONVERSIONS, VALUE, NULLS, AGES = "path", "conversions", "value", "nulls", "ages"
COLUMNS = [PATH, CONVERSIONS, VALUE, NULLS]


@dataclass(frozen=True, eq=False)
class EncodedPaths:
    """The touches of every path, flat.

    ``channels`` holds the channel names sorted (so codes do not depend on row order);
    ``codes[starts[i] : starts[i] + lengths[i]]`` are the channel codes of path ``i``.
    """

    channels: np.ndarray  # object array of str, sorted
    codes: np.ndarray  # int64, one per touch
    starts: np.ndarray  # int64, per path
    lengths: np.ndarray  # int64, per path
    conversions: np.ndarray  # float64, per path
    value: np.ndarray  # float64, per path
    nulls: np.ndarray  # float64, per path
    ages: list[Any] | None  # the raw ``ages`` column, when there is one

    @property
    def n_paths(self) -> int:
        return len(self.lengths)

    @property
    def n_channels(self) -> int:
        return len(self.channels)

    def path_of_touch(self) -> np.ndarray:
        return np.repeat(np.arange(self.n_paths), self.lengths)

    def index_in_path(self) -> np.ndarray:
        return np.arange(len(self.codes)) - np.repeat(self.starts, self.lengths)


def _amounts(paths: pd.DataFrame, column: str) -> np.ndarray:
    if column not in paths.columns:
        if column == CONVERSIONS:
            raise ValueError(f"paths: missing column {column!r} (columns are: {list(paths)})")
        return np.zeros(len(paths))
    try:
        values = pd.to_numeric(paths[column], errors="raise").to_numpy(dtype="float64")
    except (TypeError, ValueError) as exc:
        raise ValueError(f"paths: column {column!r} must hold numbers ({exc})") from None
    bad = ~np.isfinite(values) | (values < 0)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ValueError(f"paths: {column} must be finite and >= 0 (row {i}: {values[i]})")
    return values


def encode(paths: pd.DataFrame) -> EncodedPaths:
    """Check a paths frame and encode it; raise ValueError naming the row of a bad path."""
    if not isinstance(paths, pd.DataFrame):
        raise ValueError(f"paths must be a pandas DataFrame, not {type(paths).__name__}")
    if PATH not in paths.columns:
        raise ValueError(f"paths: missing column 'path' (columns are: {list(paths)})")
    column = paths[PATH].tolist()
    for i, p in enumerate(column):
        if isinstance(p, str) or not isinstance(p, tuple | list):
            raise ValueError(f"paths: row {i}: a path must be a tuple of channel names, not {p!r}")
    lengths = np.fromiter(map(len, column), dtype=np.int64, count=len(column))
    if (lengths == 0).any():
        raise ValueError(f"paths: row {int(np.flatnonzero(lengths == 0)[0])}: empty path")
    total = int(lengths.sum())
    names = set(chain.from_iterable(column))
    if not all(type(name) is str for name in names):
        bad = next(name for name in names if not isinstance(name, str))
        row = next(i for i, p in enumerate(column) if any(c is bad or c == bad for c in p))
        raise ValueError(f"paths: row {row}: channel names must be strings, got {bad!r}")
    channels = sorted(names)
    index = {name: code for code, name in enumerate(channels)}
    codes = np.fromiter(
        map(index.__getitem__, chain.from_iterable(column)), dtype=np.int64, count=total
    )
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
    ages = paths[AGES].tolist() if AGES in paths.columns else None
    return EncodedPaths(
        channels=np.asarray(channels, dtype=object),
        codes=codes,
        starts=starts,
        lengths=lengths,
        conversions=_amounts(paths, CONVERSIONS),
        value=_amounts(paths, VALUE),
        nulls=_amounts(paths, NULLS),
        ages=ages,
    )


def touch_ages(enc: EncodedPaths) -> np.ndarray:
    """Seconds from each touch to its path's end; NaN for every touch of a path without ages.

    A path's ages are used only when they are a sequence of the path's length of finite
    numbers >= 0; ``None`` or NaN means unknown. Any other value raises ValueError.
    """
    out = np.full(len(enc.codes), np.nan)
    if enc.ages is None:
        return out
    for i, a in enumerate(enc.ages):
        if a is None or (isinstance(a, float) and math.isnan(a)):
            continue
        try:
            values = np.asarray(a, dtype="float64")
        except (TypeError, ValueError):
            raise ValueError(f"paths: row {i}: ages must be numbers, not {a!r}") from None
        if values.ndim != 1 or len(values) != enc.lengths[i]:
            raise ValueError(
                f"paths: row {i}: {len(values)} ages for a path of {enc.lengths[i]} touches"
            )
        if np.isnan(values).any():
            continue
        if not np.isfinite(values).all() or (values < 0).any():
            raise ValueError(f"paths: row {i}: ages must be finite and >= 0, got {a!r}")
        out[enc.starts[i] : enc.starts[i] + enc.lengths[i]] = values
    return out


def credit_frame(
    channels: Sequence[str] | np.ndarray,
    model: str,
    conversions: np.ndarray,
    value: np.ndarray,
    **extra: np.ndarray,
) -> pd.DataFrame:
    """The attribution table: one row per channel, sorted by conversions (descending), then
    channel; ``share`` is the channel's part of the total conversions (0 when there are none).
    """
    conversions = np.asarray(conversions, dtype="float64")
    total = float(conversions.sum())
    share = conversions / total if total != 0 else np.zeros_like(conversions)
    df = pd.DataFrame(
        {
            "channel": pd.Series(list(channels), dtype="object"),
            "model": model,
            "conversions": conversions,
            "value": np.asarray(value, dtype="float64"),
            "share": share,
            **{k: np.asarray(v, dtype="float64") for k, v in extra.items()},
        }
    )
    # Rounded, so that credits equal up to float noise sort by name whatever the row order.
    key = -np.round(conversions, 9)
    order = np.lexsort((df["channel"].to_numpy(dtype=str), key))
    return df.iloc[order].reset_index(drop=True)
