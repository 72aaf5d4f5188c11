"""The in-place check's distinct set (:func:`kundresa.store._distinct.all_distinct`) against
Python's ``set``: values that share their top bits (one partition), zeros, repeats."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from kundresa.store._distinct import all_distinct

_TOP = st.sampled_from([0, 1, 2**63, 2**64 - 2**54])  # a few partitions' first values
_VALUES = st.one_of(
    st.integers(0, 2**64 - 1),
    st.builds(lambda top, low: top + low, _TOP, st.integers(0, 40)),  # crowded partitions
)


@settings(max_examples=300, deadline=None)
@given(st.lists(_VALUES, max_size=300))
def test_all_distinct_is_a_set(values: list[int]) -> None:
    array = np.array(values, np.uint64)
    assert all_distinct(array) == (len(set(values)) == len(values))
    array.flags.writeable = False  # as the scan's hashes (numba compiles these apart)
    assert all_distinct(array) == (len(set(values)) == len(values))


def test_many_values_one_repeat() -> None:
    rng = np.random.default_rng(3)
    values = np.unique(rng.integers(0, 2**64 - 1, 200_000, dtype=np.uint64, endpoint=True))
    assert all_distinct(values)
    assert not all_distinct(np.concatenate([values, values[[len(values) // 2]]]))
