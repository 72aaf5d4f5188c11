"""Shapley value attribution over the sets of channels that paths touch.

**The game.** Players are channels; a coalition ``S`` is a set of channels. Only which
channels a path touched matters here (not their order or repeats): a path *is within* ``S``
when every channel it touched is in ``S``. Two value functions are offered:

- ``game="rate"`` (default), the conversion-rate game of Dalessandro et al. (2012, "Causally
  motivated attribution for online advertising", ADKDD) as used for attribution by Shao and Li
  (2011) and others: ``v(S) = conversions / (conversions + nulls)`` over the paths within
  ``S`` (0 when no path is), so a channel earns what adding it does to the conversion rate of
  the journeys that can happen. The values ``phi`` sum to ``v(all channels)``, the overall
  conversion rate; they are multiplied by the number of journeys (``conversions + nulls`` of
  all paths) so that the credits sum to the total conversions. Value uses
  ``v(S) = value / (conversions + nulls)`` over the paths within ``S``, scaled alike. A
  channel can earn a *negative* credit: journeys with it convert less often than those
  without it (e.g. a channel that appears only in null paths).
- ``game="conversions"``: ``v(S)`` = the conversions (value) of the paths within ``S``. Every
  path is then a unanimity game of its channels, so the Shapley value reduces to splitting
  each path's conversions equally among its distinct channels (Zhao et al. 2018, "Shapley
  value methods for attribution modeling in online advertising", the "simplified Shapley
  value"). Nulls play no part; credits are never negative.

We default to the rate game because it is the one that uses the null paths (which the
conversions game ignores) and so says something the heuristic models do not.

**Pseudo-channels** (names in parentheses that Kundresa makes up, such as ``(no touch)`` for
conversions without a touch) are not players. Such a path never ends without a conversion, so
in the rate game its coalition would convert at rate 1 and take nearly all the credit (a
paths file ``web,50,500,50`` and ``(no touch),1,10,0`` gave ``(no touch)`` 50.75 of 51
conversions). A path of pseudo-channels only keeps its conversions and value on its own row,
credited directly; the game is played over the real channels on the other paths (a
pseudo-channel touch among real ones is left out), and its credits sum to their conversions.

**Exact** (at most ``exact_limit`` channels, default 15): the conversions, nulls and value of
the paths within every coalition are summed over all ``2**n`` channel subsets (a subset-sum
transform over bit masks, vectorised with NumPy) and ``phi_i = sum over S without i of
|S|! (n - |S| - 1)! / n! * (v(S + i) - v(S))``. ``ci_low = ci_high = conversions``.

**Sampled** (more channels): ``samples`` random permutations (default 2000, generator seeded
by ``seed``); each credits every channel with ``v(channels before it and it) - v(channels
before it)``; the estimate is the mean, with a normal-approximation confidence interval
``mean ± z * sd / sqrt(samples)`` per channel. Each permutation's marginals sum to
``v(all channels)`` exactly, so the sampled credits still sum to the totals.
"""

from __future__ import annotations

import math
from statistics import NormalDist

import numpy as np
import pandas as pd

from kundresa.attribution._paths import EncodedPaths, credit_frame, encode, scaled, unscaled
from kundresa.errors import UsageError

__all__ = ["EXACT_MAX", "GAMES", "is_pseudo_channel", "shapley"]

GAMES = ("rate", "conversions")
EXACT_MAX = 20  # 2**20 coalitions: a few arrays of a million floats
DEFAULT_SAMPLES = 2000
BATCH_ELEMENTS = 4_000_000  # permutations x path sets x set size, per sampling batch


def _channel_sets(enc: EncodedPaths) -> tuple[np.ndarray, np.ndarray]:
    """The distinct channels of each path, as sorted (path, channel) pairs."""
    n = max(enc.n_channels, 1)
    keys = enc.path_of_touch() * n + enc.codes
    size = enc.n_paths * n
    if size <= 1 << 26:  # a table of every (path, channel): no sort
        present = np.zeros(size, dtype=bool)
        present[keys] = True
        keys = np.flatnonzero(present)
    else:
        keys = np.unique(keys)
    return keys // n, keys % n


def _amounts(enc: EncodedPaths) -> np.ndarray:
    """Per path: conversions, nulls and value, as three rows."""
    return np.vstack([enc.conversions, enc.nulls, enc.value])


def _game_values(sums: np.ndarray, game: str) -> np.ndarray:
    """v(S) for conversions and for value, from sums of conversions, nulls and value over the
    paths within each coalition (``sums``: three rows, the coalition on the last axis)."""
    conv, nulls, value = sums[0], sums[1], sums[2]
    if game == "conversions":
        return np.stack([conv, value])
    journeys = conv + nulls
    safe = np.where(journeys > 0, journeys, 1.0)
    return np.stack(
        [np.where(journeys > 0, conv / safe, 0.0), np.where(journeys > 0, value / safe, 0.0)]
    )


def _exact(enc: EncodedPaths, game: str) -> np.ndarray:
    """Exact Shapley values (2 rows: conversions, value; a column per channel)."""
    n = enc.n_channels
    path, channel = _channel_sets(enc)
    bounds = np.flatnonzero(np.r_[True, path[1:] != path[:-1]])
    masks = np.add.reduceat(np.left_shift(1, channel), bounds)  # distinct bits: sum = OR
    size = 1 << n
    per_mask = np.stack([np.bincount(masks, weights=row, minlength=size) for row in _amounts(enc)])
    # Subset sums: sums[:, S] = total over the paths whose channel mask is a subset of S.
    sums = per_mask.copy()
    for i in range(n):
        view = sums.reshape(3, -1, 2, 1 << i)
        view[:, :, 1, :] += view[:, :, 0, :]
    v = _game_values(sums, game)
    popcount = np.zeros(size, dtype=np.int64)
    for i in range(n):
        popcount[1 << i : 1 << (i + 1)] = popcount[: 1 << i] + 1
    # Shapley weight of a coalition of s players not holding i: s! (n - s - 1)! / n!.
    weight = np.array([1.0 / (n * math.comb(n - 1, s)) for s in range(n)])
    phi = np.zeros((2, n))
    for i in range(n):
        pairs = v.reshape(2, -1, 2, 1 << i)
        without = pairs[:, :, 0, :]
        gain = pairs[:, :, 1, :] - without
        w = weight[popcount.reshape(-1, 2, 1 << i)[:, 0, :]]
        phi[:, i] = (gain * w).sum(axis=(1, 2))
    return phi


def _sampled(
    enc: EncodedPaths, game: str, samples: int, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Permutation estimates of the Shapley values and their standard errors (2 x n each)."""
    n = enc.n_channels
    path, channel = _channel_sets(enc)
    bounds = np.flatnonzero(np.r_[True, path[1:] != path[:-1]])
    width = int(np.diff(np.r_[bounds, len(path)]).max())
    rank = np.arange(len(path)) - np.repeat(bounds, np.diff(np.r_[bounds, len(path)]))
    table = np.full((enc.n_paths, width), n, dtype=np.int64)  # n pads (position -1 below)
    table[path, rank] = channel
    sets, which = np.unique(table, axis=0, return_inverse=True)
    amounts = np.stack(
        [np.bincount(which.ravel(), weights=row, minlength=len(sets)) for row in _amounts(enc)]
    )
    rng = np.random.default_rng(seed)
    perms = rng.permuted(np.broadcast_to(np.arange(n), (samples, n)), axis=1)
    total = np.zeros((2, n))
    total_sq = np.zeros((2, n))
    batch = max(1, BATCH_ELEMENTS // max(1, len(sets) * width))
    for lo in range(0, samples, batch):
        perm = perms[lo : lo + batch]
        b = len(perm)
        position = np.empty((b, n + 1), dtype=np.int64)
        np.put_along_axis(position, perm, np.arange(n)[None, :].repeat(b, axis=0), axis=1)
        position[:, n] = -1
        # A path set joins the coalition when its last channel (in permutation order) does.
        joins = position[:, sets].max(axis=2) + (np.arange(b) * n)[:, None]
        sums = np.stack(
            [
                np.bincount(joins.ravel(), weights=np.tile(row, b), minlength=b * n)
                .reshape(b, n)
                .cumsum(axis=1)
                for row in amounts
            ]
        )
        v = _game_values(sums, game)  # 2 x b x n: v of the first k + 1 channels
        step = np.diff(v, axis=2, prepend=0.0)
        credit = np.empty_like(step)
        for g in range(2):
            np.put_along_axis(credit[g], perm, step[g], axis=1)
        total += credit.sum(axis=1)
        total_sq += (credit**2).sum(axis=1)
    mean = total / samples
    var = np.maximum(total_sq / samples - mean**2, 0.0) * samples / (samples - 1)
    return mean, np.sqrt(var / samples)


def _check(exact_limit: int, samples: int | None, seed: int, confidence: float, game: str) -> None:
    if (
        isinstance(exact_limit, bool)
        or not isinstance(exact_limit, int | np.integer)
        or not 0 <= exact_limit <= EXACT_MAX
    ):
        raise UsageError(f"exact_limit must be a whole number from 0 to {EXACT_MAX}")
    if samples is not None and (
        isinstance(samples, bool) or not isinstance(samples, int | np.integer) or samples < 2
    ):
        raise UsageError(f"samples must be a whole number >= 2, not {samples!r}")
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise UsageError(f"seed must be a whole number >= 0, not {seed!r}")
    if not isinstance(confidence, int | float) or not 0 < confidence < 1:
        raise UsageError(f"confidence must be between 0 and 1, not {confidence!r}")
    if game not in GAMES:
        raise UsageError(f"game {game!r} is not one of {', '.join(GAMES)}")


def is_pseudo_channel(name: str) -> bool:
    """Whether a channel name is one Kundresa makes up rather than a real channel: a name in
    parentheses, such as ``(no touch)`` for conversions without a touch.

    >>> is_pseudo_channel("(no touch)"), is_pseudo_channel("web")
    (True, False)
    """
    return name.startswith("(") and name.endswith(")")


def _split_pseudo(enc: EncodedPaths) -> tuple[EncodedPaths, np.ndarray, np.ndarray, np.ndarray]:
    """The paths the game is played on, over real channels only, and the credit of the paths
    with no real channel, given directly to their pseudo-channels.

    Returns the game's paths, the positions of their channels in ``enc.channels``, and the
    direct conversions and value per channel of ``enc`` (zero for real channels). A path of
    pseudo-channels only (``(no touch)``) is not in the game: its conversions and value go to
    its pseudo-channel(s), split equally among its touches. Pseudo-channel touches on a path
    that also has real ones are left out of it.
    """
    n = enc.n_channels
    pseudo = np.array([is_pseudo_channel(str(c)) for c in enc.channels], dtype=bool)
    direct_conv = np.zeros(n)
    direct_value = np.zeros(n)
    if not pseudo.any():
        return enc, np.arange(n), direct_conv, direct_value
    real_touch = ~pseudo[enc.codes]
    real_per_path = np.add.reduceat(real_touch.astype(np.int64), enc.starts)
    per_path = enc.path_of_touch()
    # Paths without a real channel: credited directly, an equal share to each touch.
    alone = (real_per_path == 0)[per_path]
    share = 1.0 / enc.lengths[per_path]
    np.add.at(direct_conv, enc.codes[alone], (share * enc.conversions[per_path])[alone])
    np.add.at(direct_value, enc.codes[alone], (share * enc.value[per_path])[alone])
    keep = real_per_path > 0
    real = np.flatnonzero(~pseudo)
    remap = np.full(n, -1, dtype=np.int64)
    remap[real] = np.arange(len(real))
    lengths = real_per_path[keep]
    game = EncodedPaths(
        channels=enc.channels[real],
        codes=remap[enc.codes[real_touch]],
        starts=(np.cumsum(lengths) - lengths).astype(np.int64),
        lengths=lengths.astype(np.int64),
        conversions=enc.conversions[keep],
        value=enc.value[keep],
        nulls=enc.nulls[keep],
        ages=None,
    )
    return game, real, direct_conv, direct_value


def shapley_encoded(
    enc: EncodedPaths,
    *,
    exact_limit: int = 15,
    samples: int | None = None,
    seed: int = 0,
    confidence: float = 0.95,
    game: str = "rate",
) -> pd.DataFrame:
    """:func:`shapley` on encoded paths.

    Amounts near the top of a double are scaled by powers of two first (exactly: the credits
    scale with them) and the credits multiplied back; one a double cannot hold (the rate
    game's can pass the total) raises :class:`~kundresa.attribution._paths.CreditOverflow`."""
    scaled_enc, counts, values = scaled(enc)
    df = _shapley(scaled_enc, exact_limit, samples, seed, confidence, game)
    return unscaled(df, "shapley", counts, values)


def _shapley(
    enc: EncodedPaths,
    exact_limit: int,
    samples: int | None,
    seed: int,
    confidence: float,
    game: str,
) -> pd.DataFrame:
    played, real, conversions, value = _split_pseudo(enc)
    se_conv = np.zeros(enc.n_channels)
    n = played.n_channels
    if n > 0 and played.n_paths > 0:
        if n <= exact_limit:
            phi = _exact(played, game)
            se = np.zeros_like(phi)
        else:
            phi, se = _sampled(played, game, DEFAULT_SAMPLES if samples is None else samples, seed)
        if game == "rate":
            journeys = float((played.conversions + played.nulls).sum())
            phi, se = phi * journeys, se * journeys
        conversions[real] += phi[0]
        value[real] += phi[1]
        se_conv[real] = se[0]
    z = NormalDist().inv_cdf(0.5 + confidence / 2)
    return credit_frame(
        enc.channels,
        "shapley",
        conversions,
        value,
        ci_low=conversions - z * se_conv,
        ci_high=conversions + z * se_conv,
    )


def shapley(
    paths: pd.DataFrame,
    *,
    exact_limit: int = 15,
    samples: int | None = None,
    seed: int = 0,
    confidence: float = 0.95,
    game: str = "rate",
    sep: str | None = None,
) -> pd.DataFrame:
    """Shapley value attribution: exact up to ``exact_limit`` channels, sampled above.

    See the module docstring for the two games and how they are computed.

    Parameters
    ----------
    paths
        A paths frame (see :mod:`kundresa.attribution.models`).
    exact_limit
        Up to this many channels (0 to 20) the values are exact (``2**n`` coalitions).
    samples
        Above it, the number of random permutations (default 2000).
    seed
        The random seed of the permutations: the same seed gives the same answer.
    confidence
        The confidence of the per-channel interval of sampled values.
    game
        ``rate`` (default: the conversion-rate game) or ``conversions``.
    sep
        When given, each ``path`` is a string of channel names joined by it (see
        :func:`~kundresa.attribution.models.attribute`).

    Returns
    -------
    pandas.DataFrame
        ``channel``, ``model`` (``shapley``), ``conversions``, ``value``, ``share``,
        ``ci_low``, ``ci_high`` (the interval for ``conversions``; equal to it when exact).

    Examples
    --------
    >>> import pandas as pd
    >>> paths = pd.DataFrame({
    ...     "path": [("search",), ("email",), ("search", "email")],
    ...     "conversions": [1.0, 2.0, 3.0],
    ...     "value": [10.0, 20.0, 30.0],
    ...     "nulls": [3.0, 2.0, 1.0],
    ... })
    >>> shapley(paths)
      channel    model  conversions  value  share  ci_low  ci_high
    0   email  shapley          4.5   45.0   0.75     4.5      4.5
    1  search  shapley          1.5   15.0   0.25     1.5      1.5
    >>> shapley(paths, game="conversions")[["channel", "conversions"]]
      channel  conversions
    0   email          3.5
    1  search          2.5
    """
    _check(exact_limit, samples, seed, confidence, game)
    return shapley_encoded(
        encode(paths, sep),
        exact_limit=int(exact_limit),
        samples=None if samples is None else int(samples),
        seed=int(seed),
        confidence=float(confidence),
        game=game,
    )
