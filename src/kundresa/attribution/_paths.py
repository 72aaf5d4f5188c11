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
from operator import itemgetter
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
    # The raw ``ages`` column when there is one, or every touch's age as one flat float64
    # array (one per code; what conversion_paths_encoded gives).
    ages: list[Any] | np.ndarray | None

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


def _split(column: pd.Series, sep: str) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Paths written as strings joined by ``sep``: the channel names (sorted), every touch's
    code and each path's length. Split, trimmed and dictionary-coded by Arrow, in C: four
    times faster than splitting each string in Python."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if not isinstance(sep, str):
        raise TypeError(f"sep must be a non-empty string, not {sep!r}")
    if not sep:
        raise ValueError(f"sep must be a non-empty string, not {sep!r}")
    values = column.tolist()
    if not all(type(p) is str for p in values):
        for i, p in enumerate(values):
            if not isinstance(p, str):
                raise TypeError(f"paths: row {i}: with sep, a path must be a string, not {p!r}")
        values = [str(p) for p in values]  # str subclasses (NumPy's np.str_) as the str they are
    lists = pc.split_pattern(pa.array(values, type=pa.string()), sep)
    lengths = pc.list_value_length(lists).to_numpy(zero_copy_only=False).astype(np.int64)
    coded = pc.dictionary_encode(pc.utf8_trim_whitespace(pc.list_flatten(lists)))
    found = coded.dictionary.to_pylist()
    if "" in found:
        row = next(i for i, p in enumerate(values) if "" in (c.strip() for c in p.split(sep)))
        what = "empty path" if not values[row].strip() else "empty channel name in"
        raise ValueError(f"paths: row {row}: {what} {values[row]!r}")
    channels = sorted(found)
    rank = {name: code for code, name in enumerate(channels)}
    remap = np.array([rank[name] for name in found], dtype=np.int64)
    codes = remap[coded.indices.to_numpy(zero_copy_only=False)] if len(found) else remap
    return channels, codes.astype(np.int64), lengths


def _codes(column: list[Any]) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Paths as tuples of channel names: the names (sorted), every touch's code and each
    path's length."""
    # The exact type check first: it is what nearly every frame holds, and 6x faster.
    if not all(type(p) is tuple for p in column):
        column = list(column)
        for i, p in enumerate(column):
            if isinstance(p, np.ndarray) and p.ndim == 1:
                column[i] = tuple(p.tolist())  # a NumPy array of names: its names
            elif isinstance(p, str) or not isinstance(p, tuple | list):
                raise TypeError(
                    f"paths: row {i}: a path must be a tuple of channel names, not {p!r}"
                )
    lengths = np.fromiter(map(len, column), dtype=np.int64, count=len(column))
    if (lengths == 0).any():
        raise ValueError(f"paths: row {int(np.flatnonzero(lengths == 0)[0])}: empty path")
    flat = list(chain.from_iterable(column))
    names = set(flat)
    if not all(type(name) is str for name in names):
        for row, p in enumerate(column):
            bad = next((c for c in p if not isinstance(c, str)), None)
            if bad is not None or any(c is None for c in p):
                raise TypeError(f"paths: row {row}: channel names must be strings, got {bad!r}")
        # Only str subclasses (NumPy's np.str_): each is the str it holds. A subclass
        # equals and hashes as its str, so the lookup below finds it under the plain name.
        names = {str(name) for name in names}
    channels = sorted(names)
    index = {name: code for code, name in enumerate(channels)}
    # itemgetter looks every touch up in C (a single touch comes back bare, not in a tuple).
    looked_up = itemgetter(*flat)(index) if len(flat) > 1 else tuple(index[c] for c in flat)
    codes = np.fromiter(looked_up, dtype=np.int64, count=len(flat))
    return channels, codes, lengths


def encode(paths: pd.DataFrame, sep: str | None = None) -> EncodedPaths:
    """Check a paths frame and encode it; raise ValueError naming the row of a bad path, or
    TypeError naming the argument (``paths``, ``sep``) when a value is not of the right type.
    Channel names may be any ``str`` subclass (NumPy's ``np.str_``): each is the str it holds.

    With ``sep``, each path is a string of channel names joined by it (``search > email``;
    spaces around the names are stripped), as in a paths file.
    """
    if not isinstance(paths, pd.DataFrame):
        raise TypeError(f"paths must be a pandas DataFrame, not {type(paths).__name__}")
    if PATH not in paths.columns:
        raise ValueError(f"paths: missing column 'path' (columns are: {list(paths)})")
    if sep is not None:
        channels, codes, lengths = _split(paths[PATH], sep)
    else:
        channels, codes, lengths = _codes(paths[PATH].tolist())
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
    if isinstance(enc.ages, np.ndarray):  # already flat, one age per touch
        flat = enc.ages.astype("float64")
        if flat.shape != out.shape or np.isinf(flat).any() or (flat < 0).any():
            raise ValueError("paths: ages must be one finite number >= 0 per touch")
        unknown = np.isnan(flat)
        if unknown.any() and len(flat):  # a path with an unknown age has no ages at all
            flat[np.repeat(np.logical_or.reduceat(unknown, enc.starts), enc.lengths)] = np.nan
        return flat
    fast = _flat_ages(enc)
    if fast is not None:
        return fast
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


def _flat_ages(enc: EncodedPaths) -> np.ndarray | None:
    """:func:`touch_ages` at once, when every path's ages are a tuple of its length of
    numbers >= 0 or NaN (what :func:`~kundresa.attribution.journey.conversion_paths` gives);
    ``None`` otherwise (the row-by-row check then names the bad row)."""
    ages = enc.ages
    assert ages is not None
    if not all(type(a) is tuple for a in ages):
        return None
    lengths = np.fromiter(map(len, ages), dtype=np.int64, count=len(ages))
    if not np.array_equal(lengths, enc.lengths):
        return None
    try:
        flat = np.fromiter(chain.from_iterable(ages), dtype="float64", count=int(lengths.sum()))
    except (TypeError, ValueError):
        return None
    unknown = np.isnan(flat)
    if (np.isinf(flat) | (flat < 0)).any():
        return None
    if unknown.any():  # a path with an unknown age has no ages at all
        flat[np.repeat(np.logical_or.reduceat(unknown, enc.starts), enc.lengths)] = np.nan
    return flat


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
    return df.iloc[_credit_order(df)].reset_index(drop=True)


def _credit_order(df: pd.DataFrame) -> np.ndarray:
    """Rows by conversions (descending), then channel: rounded to 9 decimals first, so that
    credits equal up to float noise sort by name whatever the row order (a credit too large
    to round, near a double's top, as it is)."""
    conversions = df["conversions"].to_numpy(dtype="float64")
    with np.errstate(over="ignore", invalid="ignore"):
        rounded = np.round(conversions, 9)
    key = -np.where(np.isfinite(rounded), rounded, conversions)
    return np.lexsort((df["channel"].to_numpy(dtype=str), key))


class CreditOverflow(ValueError):
    """A credit (or a sum the output shows) is more than a double holds (about 1.8e308).

    ``column`` is the paths frame's column whose amounts are too large (``value`` or
    ``conversions``), ``channel`` the channel whose credit overflows, ``model`` the model.
    """

    def __init__(self, model: str, column: str, channel: str, what: str | None = None) -> None:
        self.model, self.column, self.channel = model, column, channel
        self.what = what or f"the {column} credited to {channel!r}"
        columns = "value column" if column == "value" else "conversions and nulls columns"
        super().__init__(self.said(f"the paths' {columns} hold amounts too large"))

    def said(self, clause: str) -> str:
        """The message, ending with ``clause``: where the amounts came from."""
        return (
            f"{self.model}: {self.what} is more than a double holds (1.8e308): {clause}; "
            "give them in a larger unit (thousands, millions)"
        )


#: A sum of amounts is kept below this (by scaling them by a power of two, which is exact)
#: so that no sum, product or solve of a model overflows on the way to a credit a double
#: holds; 2**124 of headroom is left for the rate game's products and the solves.
_SAFE_EXPONENT = 900


def _scale_of(*columns: np.ndarray, n: int) -> float:
    """A power of two that brings any sum of ``n`` of the columns' amounts below
    2**_SAFE_EXPONENT: 1.0 (no scaling, the usual case) when it is already below."""
    largest = max((float(np.max(c)) for c in columns if len(c)), default=0.0)
    if largest <= 0:
        return 1.0
    exponent = math.frexp(largest)[1] + len(columns) + max(n, 1).bit_length()
    return 1.0 if exponent <= _SAFE_EXPONENT else math.ldexp(1.0, exponent - _SAFE_EXPONENT)


def scaled(enc: EncodedPaths) -> tuple[EncodedPaths, float, float]:
    """``enc`` with its counts (conversions and nulls, together) and its values divided by
    powers of two, and those powers: every model's credits scale with them (conversions
    with the counts, value with the values), so credits computed on the scaled paths and
    multiplied back equal those of ``enc`` whenever a double holds them. The scales are 1.0
    (and ``enc`` is returned as it is) unless the amounts are near the top of a double."""
    from dataclasses import replace

    counts = _scale_of(enc.conversions, enc.nulls, n=enc.n_paths)
    values = _scale_of(enc.value, n=enc.n_paths)
    if counts == 1.0 and values == 1.0:
        return enc, 1.0, 1.0
    return (
        replace(
            enc,
            conversions=enc.conversions / counts,
            nulls=enc.nulls / counts,
            value=enc.value / values,
        ),
        counts,
        values,
    )


def unscaled(
    df: pd.DataFrame,
    model: str,
    counts: float,
    values: float,
    *,
    count_columns: Sequence[str] = ("conversions", "ci_low", "ci_high"),
    value_columns: Sequence[str] = ("value",),
    key: str = "channel",
    what: str | None = None,
) -> pd.DataFrame:
    """A model's table multiplied back by the scales of :func:`scaled`, and checked: a credit
    that a double cannot hold raises :class:`CreditOverflow` (never ``inf`` or NaN in the
    table). Rows are sorted again when scaled (ties are told apart after rounding)."""
    out = df
    if counts != 1.0 or values != 1.0:
        out = df.copy()
        with np.errstate(over="ignore", invalid="ignore"):
            for columns, factor in ((count_columns, counts), (value_columns, values)):
                for c in columns:
                    if c in out.columns:
                        out[c] = out[c].to_numpy(dtype="float64") * factor
    for columns, name in ((count_columns, "conversions"), (value_columns, "value")):
        for c in columns:
            if c not in out.columns:
                continue
            bad = ~np.isfinite(out[c].to_numpy(dtype="float64"))
            if bad.any():
                at = str(out[key].iloc[int(np.flatnonzero(bad)[0])])
                raise CreditOverflow(model, name, at, what and what.format(at))
    if out is not df and "share" in out.columns and key == "channel":
        out = out.iloc[_credit_order(out)].reset_index(drop=True)
    return out
