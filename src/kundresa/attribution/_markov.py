"""Markov chain attribution with removal effects solved exactly (no simulation).

**The chain** (order k, 1 to 4). A path's *states* are its windows of k consecutive touches
(the last k channels at each step); a path shorter than k has one state, the whole path.
Consecutive equal states of a path are merged (``a > a > b`` is ``a > b`` at order 1), as
ChannelAttribution does; a self-loop would not change any absorption probability anyway.
Each path walks ``(start)`` → its states → ``(conversion)`` or ``(null)``: the path's
``conversions + nulls`` count on every step, its ``conversions`` on the step to
``(conversion)`` and its ``nulls`` on the step to ``(null)``. Transition probabilities are the
counts divided by the state's outgoing total (maximum likelihood).

**Removal effects.** With transient states ``T`` (``(start)`` and the channel states), ``Q``
their transition block and ``r`` each state's one-step probability of ``(conversion)``, the
probabilities of ever converting solve ``(I - Q) x = r`` (a sparse linear system, solved by LU
factorisation), and ``P(conversion) = x[(start)]``. Removing a channel sends every state whose
window holds it to ``(null)``: the same system on the other states gives
``P(conversion without c)``, and ``removal_effect(c) = 1 - P(conversion without c) /
P(conversion)``. It equals the probability that a converting walk passes through the channel,
which is what ChannelAttribution estimates by simulating walks, so the two agree up to its
simulation noise (and its cap on the steps of a simulated walk, which this has not).

**Credits.** ``conversions(c) = removal_effect(c) / sum of removal effects * total
conversions``. Value follows ChannelAttribution too: a converting walk carries the mean value
per conversion of the paths that end in its last state, so the expected value solves the same
system with ``r`` replaced by each state's one-step expected value; value removal effects and
value credits follow as for conversions. Paths with no conversions and no nulls add no
transitions (their channels are listed with zero credit).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from kundresa.attribution._paths import EncodedPaths, credit_frame, encode, scaled, unscaled
from kundresa.errors import UsageError

__all__ = ["CONVERSION", "NULL", "START", "MarkovResult", "markov"]

START, CONVERSION, NULL = "(start)", "(conversion)", "(null)"
DENSE_LIMIT = 64  # up to this many transient states: dense LU
DIRECT_LIMIT = 300  # up to this many: sparse LU; above: BiCGSTAB
RTOL = 1e-13  # BiCGSTAB's relative residual
MAX_ITERATIONS = 5000


@dataclass(frozen=True, eq=False)
class MarkovResult:
    """The Markov model's attribution and the chain behind it.

    Attributes
    ----------
    attribution
        ``channel``, ``model`` (``markov``), ``conversions``, ``value``, ``share``.
    transitions
        ``from_state``, ``to_state``, ``probability``, ``count`` (weighted path count); states
        are ``(start)``, ``(conversion)``, ``(null)`` and channels (joined by ``,`` for
        order > 1), sorted by from_state, then to_state.
    removal_effects
        ``channel``, ``removal_effect`` (1 - P(conversion without it) / P(conversion)),
        ``normalised`` (its share of the sum of removal effects), ``conversions`` (credited),
        ``value_removal_effect`` and ``value`` (the same for conversion value).
    conversion_probability
        P(conversion) of a walk from ``(start)``.
    expected_value
        The expected conversion value of a walk from ``(start)``.
    order
        The chain's order.
    """

    attribution: pd.DataFrame
    transitions: pd.DataFrame
    removal_effects: pd.DataFrame
    conversion_probability: float
    expected_value: float
    order: int


def _windows(enc: EncodedPaths, keep: np.ndarray, order: int) -> tuple[np.ndarray, np.ndarray]:
    """Each kept path's windows (rows of k channel codes, -1 padded) and their path index."""
    lengths = enc.lengths[keep]
    starts = enc.starts[keep]
    n_windows = np.maximum(lengths - order + 1, 1)
    window_path = np.repeat(np.arange(len(lengths)), n_windows)
    first = np.concatenate([[0], np.cumsum(n_windows)[:-1]])
    offset = np.arange(int(n_windows.sum())) - np.repeat(first, n_windows)
    token = starts[window_path] + offset
    if order == 1:
        return enc.codes[token][:, None], window_path
    cols = np.arange(order)
    index = np.minimum(token[:, None] + cols, len(enc.codes) - 1)
    valid = cols < np.minimum(order, lengths)[window_path][:, None]
    return np.where(valid, enc.codes[index], -1), window_path


def _state_ids(windows: np.ndarray, n_channels: int) -> tuple[np.ndarray, np.ndarray]:
    """Distinct windows (states, sorted) and each window's state index."""
    order = windows.shape[1]
    base = n_channels + 1
    if base**order >= 2**62:
        states, inverse = np.unique(windows, axis=0, return_inverse=True)
        return states, inverse.ravel()
    powers = base ** np.arange(order, dtype=np.int64)
    keys = ((windows + 1).astype(np.int64) * powers).sum(axis=1)
    if base**order <= 1 << 24:  # a table of every possible key: no sort
        present = np.bincount(keys, minlength=base**order) > 0
        unique = np.flatnonzero(present)
        inverse = (np.cumsum(present) - 1)[keys]
    else:
        unique, inverse = np.unique(keys, return_inverse=True)
    states = np.stack([(unique // p) % base - 1 for p in powers], axis=1)
    return states, inverse.ravel()


def _dot(a: np.ndarray, b: np.ndarray) -> float:
    # Not np.dot: a threaded BLAS dot stalls on a busy machine, and these vectors are short.
    return float(np.multiply(a, b).sum())


def _bicgstab(a: Any, b: np.ndarray, x0: np.ndarray | None) -> np.ndarray | None:
    """BiCGSTAB (van der Vorst 1992) for ``a x = b``, to ``||b - a x|| <= RTOL ||b||``; None
    when it breaks down or does not converge."""
    norm = np.sqrt(_dot(b, b))
    if norm == 0:
        return np.zeros_like(b)  # (I - Q) is nonsingular
    target = RTOL * norm
    x: np.ndarray | None = np.zeros_like(b) if x0 is None else x0.copy()
    # The recurrences update the residual rather than recompute it, and it can drift: check
    # the true residual, and restart from where the last run ended when it is too large.
    for _ in range(3):
        assert x is not None
        x = _iterate(a, b, x, target)
        if x is None:
            return None
        r = b - a @ x
        if np.sqrt(_dot(r, r)) <= 10 * target:
            return x
    return None


def _iterate(a: Any, b: np.ndarray, x: np.ndarray, target: float) -> np.ndarray | None:
    r = b - a @ x
    if np.sqrt(_dot(r, r)) <= target:
        return x
    r_hat = r.copy()
    rho = alpha = omega = 1.0
    v = np.zeros_like(b)
    p = np.zeros_like(b)
    for _ in range(MAX_ITERATIONS):
        rho_next = _dot(r_hat, r)
        if rho_next == 0 or omega == 0:
            return None
        p = r + (rho_next / rho) * (alpha / omega) * (p - omega * v)
        rho = rho_next
        v = a @ p
        denominator = _dot(r_hat, v)
        if denominator == 0:
            return None
        alpha = rho / denominator
        s = r - alpha * v
        if np.sqrt(_dot(s, s)) <= target:
            return x + alpha * p
        t = a @ s
        tt = _dot(t, t)
        if tt == 0:
            return None
        omega = _dot(t, s) / tt
        x = x + alpha * p + omega * s
        r = s - omega * t
        if np.sqrt(_dot(r, r)) <= target:
            return x
    return None


class _Solver:
    """Solves ``(I - Q)[keep, keep] y = R[keep]`` for subsets of the transient states.

    Small chains (order 1, usually order 2) are solved directly: LU factorisation, dense for
    the smallest, sparse (SuperLU) up to ``DIRECT_LIMIT`` states. Larger ones, whose windows
    make an expander-like graph on which an LU factorisation fills in almost completely, by
    BiCGSTAB to a relative residual of ``RTOL``, started from the full chain's solution; a
    system it does not solve falls back to sparse LU. All of it is deterministic.
    """

    def __init__(self, a: Any, n: int) -> None:
        self.n = n
        self.a = a
        self.dense = a.toarray() if n <= DENSE_LIMIT else None
        self.full: np.ndarray | None = None

    def solve(self, rhs: np.ndarray, keep: np.ndarray | None = None) -> np.ndarray:
        from scipy.sparse.linalg import splu

        b = rhs if keep is None else rhs[keep]
        if self.dense is not None:
            m = self.dense if keep is None else self.dense[np.ix_(keep, keep)]
            return np.linalg.solve(m, b)
        sub = (self.a if keep is None else self.a[keep][:, keep]).tocsr()
        if self.n <= DIRECT_LIMIT:
            return splu(sub.tocsc()).solve(b)
        guess = None if self.full is None else (self.full if keep is None else self.full[keep])
        out = np.empty_like(b)
        for j in range(b.shape[1]):
            bj = np.ascontiguousarray(b[:, j])
            x = _bicgstab(sub, bj, None if guess is None else np.ascontiguousarray(guess[:, j]))
            out[:, j] = splu(sub.tocsc()).solve(bj) if x is None else x
        if keep is None:
            self.full = out
        return out


def _empty(enc: EncodedPaths, order: int) -> MarkovResult:
    zeros = np.zeros(enc.n_channels)
    return MarkovResult(
        attribution=credit_frame(enc.channels, "markov", zeros, zeros),
        transitions=pd.DataFrame(
            {
                "from_state": pd.Series(dtype="object"),
                "to_state": pd.Series(dtype="object"),
                "probability": pd.Series(dtype="float64"),
                "count": pd.Series(dtype="float64"),
            }
        ),
        removal_effects=_removal_frame(enc, zeros, zeros, zeros, zeros),
        conversion_probability=0.0,
        expected_value=0.0,
        order=order,
    )


def _removal_frame(
    enc: EncodedPaths,
    effect: np.ndarray,
    conversions: np.ndarray,
    value_effect: np.ndarray,
    value: np.ndarray,
) -> pd.DataFrame:
    total = effect.sum()
    df = credit_frame(
        enc.channels,
        "markov",
        conversions,
        value,
        removal_effect=effect,
        normalised=effect / total if total > 0 else np.zeros_like(effect),
        value_removal_effect=value_effect,
    )
    return df[
        ["channel", "removal_effect", "normalised", "conversions", "value_removal_effect", "value"]
    ]


def markov_encoded(enc: EncodedPaths, *, order: int = 1) -> MarkovResult:
    """:func:`markov` on encoded paths.

    Amounts near the top of a double are scaled by powers of two first (exactly: the chain's
    probabilities do not change, the credits scale with them) and the credits and counts
    multiplied back; one a double cannot hold raises
    :class:`~kundresa.attribution._paths.CreditOverflow`."""
    played, counts, values = scaled(enc)
    result = _markov(played, order)
    attribution = unscaled(result.attribution, "markov", counts, values)
    removal = unscaled(result.removal_effects, "markov", counts, values)
    transitions = unscaled(
        result.transitions,
        "markov",
        counts,
        1.0,
        count_columns=("count",),
        value_columns=(),
        key="from_state",
        what="the count of journeys (conversions and nulls) through the state {!r}",
    )
    if counts == 1.0 and values == 1.0:
        return result
    return MarkovResult(
        attribution=attribution,
        transitions=transitions,
        removal_effects=removal,
        conversion_probability=result.conversion_probability,
        expected_value=result.expected_value * values,
        order=order,
    )


def _markov(enc: EncodedPaths, order: int) -> MarkovResult:
    from scipy import sparse

    weight = enc.conversions + enc.nulls
    keep = weight > 0
    if not keep.any():
        return _empty(enc, order)
    windows, window_path = _windows(enc, keep, order)
    states, state_of = _state_ids(windows, enc.n_channels)
    n_states = len(states)
    conv_id, null_id = n_states + 1, n_states + 2

    # Merge consecutive equal states of a path; states are numbered from 1, (start) is 0.
    new = np.ones(len(state_of), dtype=bool)
    new[1:] = (state_of[1:] != state_of[:-1]) | (window_path[1:] != window_path[:-1])
    seq = state_of[new] + 1
    seq_path = window_path[new]
    first = np.ones(len(seq), dtype=bool)
    first[1:] = seq_path[1:] != seq_path[:-1]
    last = np.ones(len(seq), dtype=bool)
    last[:-1] = first[1:]

    w, c, nl, v = (x[keep] for x in (weight, enc.conversions, enc.nulls, enc.value))
    inner = ~first[1:]
    ends = seq[last]
    frm = np.concatenate([np.zeros(len(w), dtype=np.int64), seq[:-1][inner], ends, ends])
    to = np.concatenate(
        [
            seq[first],
            seq[1:][inner],
            np.full(len(ends), conv_id, dtype=np.int64),
            np.full(len(ends), null_id, dtype=np.int64),
        ]
    )
    wt = np.concatenate([w, w[seq_path[:-1][inner]], c, nl])
    size = n_states + 3
    # Sum the weights of equal moves by key (fewer, smaller sorts than a COO of every move).
    key = frm * size + to
    if size * size <= 1 << 24:
        summed = np.bincount(key, weights=wt, minlength=size * size)
        moves = np.flatnonzero(summed)
        total = summed[moves]
    else:
        moves, at = np.unique(key, return_inverse=True)
        total = np.bincount(at.ravel(), weights=wt, minlength=len(moves))
        moves, total = moves[total > 0], total[total > 0]
    counts = sparse.csr_matrix((total, (moves // size, moves % size)), shape=(size, size))

    n_transient = n_states + 1
    out = np.asarray(counts[:n_transient].sum(axis=1)).ravel()
    scale = sparse.diags(1.0 / out)
    q = scale @ counts[:n_transient, :n_transient]
    a = (sparse.identity(n_transient, format="csr") - q).tocsr()
    to_conversion = np.asarray(counts[:n_transient, conv_id].todense()).ravel() / out
    value_at_end = np.bincount(ends, weights=v, minlength=n_transient) / out
    rhs = np.column_stack([to_conversion, value_at_end])

    solver = _Solver(a, n_transient)
    x = solver.solve(rhs)
    p_conversion, expected_value = float(x[0, 0]), float(x[0, 1])

    # Which states hold each channel (state i is row i - 1 of ``states``).
    held_at, col = np.nonzero(states >= 0)
    channel_of = states[held_at, col]
    by_channel = np.argsort(channel_of, kind="stable")
    channel_of, held_at = channel_of[by_channel], held_at[by_channel] + 1
    bounds = np.flatnonzero(np.r_[True, channel_of[1:] != channel_of[:-1]])
    effect = np.zeros(enc.n_channels)
    value_effect = np.zeros(enc.n_channels)
    for lo, hi in zip(bounds, np.r_[bounds[1:], len(channel_of)], strict=True):
        channel, held = int(channel_of[lo]), held_at[lo:hi]
        keep_states = np.ones(n_transient, dtype=bool)
        keep_states[held] = False
        y = solver.solve(rhs, keep_states)
        # (start) is always kept and is the first kept state.
        if p_conversion > 0:
            effect[channel] = 1.0 - y[0, 0] / p_conversion
        if expected_value > 0:
            value_effect[channel] = 1.0 - y[0, 1] / expected_value
    effect = np.clip(effect, 0.0, 1.0)
    value_effect = np.clip(value_effect, 0.0, 1.0)

    total_conversions = float(enc.conversions.sum())
    total_value = float(enc.value.sum())
    conversions = (
        effect / effect.sum() * total_conversions if effect.sum() > 0 else np.zeros_like(effect)
    )
    value = (
        value_effect / value_effect.sum() * total_value
        if value_effect.sum() > 0
        else np.zeros_like(value_effect)
    )

    names = np.array(
        [START]
        + [",".join(enc.channels[code] for code in row if code >= 0) for row in states]
        + [CONVERSION, NULL],
        dtype=object,
    )
    coo = counts.tocoo()
    transitions = pd.DataFrame(
        {
            "from_state": names[coo.row],
            "to_state": names[coo.col],
            "probability": coo.data / out[coo.row],
            "count": coo.data.astype("float64"),
        }
    )
    transitions = transitions.sort_values(["from_state", "to_state"], kind="stable")
    return MarkovResult(
        attribution=credit_frame(enc.channels, "markov", conversions, value),
        transitions=transitions.reset_index(drop=True),
        removal_effects=_removal_frame(enc, effect, conversions, value_effect, value),
        conversion_probability=p_conversion,
        expected_value=expected_value,
        order=order,
    )


def markov(paths: pd.DataFrame, *, order: int = 1, sep: str | None = None) -> MarkovResult:
    """Markov chain attribution of order 1 to 4, with removal effects solved exactly.

    See the module docstring for the chain, the removal effects and the credits.

    Parameters
    ----------
    paths
        A paths frame (see :mod:`kundresa.attribution.models`).
    order
        How many of the last touches make a state (1 to 4).
    sep
        When given, each ``path`` is a string of channel names joined by it (see
        :func:`~kundresa.attribution.models.attribute`).

    Returns
    -------
    MarkovResult
        The attribution, the transitions, the removal effects and P(conversion).

    Examples
    --------
    >>> import pandas as pd
    >>> paths = pd.DataFrame({
    ...     "path": [("search", "email"), ("search",), ("email",)],
    ...     "conversions": [1.0, 0.0, 1.0],
    ...     "value": [10.0, 0.0, 20.0],
    ...     "nulls": [0.0, 1.0, 1.0],
    ... })
    >>> result = markov(paths)
    >>> round(result.conversion_probability, 4)
    0.5
    >>> result.removal_effects.round(4)
      channel  removal_effect  normalised  conversions  value_removal_effect  value
    0   email          1.0000        0.75          1.5                1.0000   22.5
    1  search          0.3333        0.25          0.5                0.3333    7.5
    >>> result.transitions.round(4)
      from_state      to_state  probability  count
    0    (start)         email       0.5000    2.0
    1    (start)        search       0.5000    2.0
    2      email  (conversion)       0.6667    2.0
    3      email        (null)       0.3333    1.0
    4     search        (null)       0.5000    1.0
    5     search         email       0.5000    1.0
    """
    if isinstance(order, bool) or not isinstance(order, int | np.integer) or not 1 <= order <= 4:
        raise UsageError(f"order must be 1, 2, 3 or 4, not {order!r}")
    return markov_encoded(encode(paths, sep), order=int(order))
