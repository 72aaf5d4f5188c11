"""The in-place check's distinct set (:func:`kundresa.store._distinct.all_distinct`) against
Python's ``set``: values that share their top bits (one partition), zeros, repeats, and its
passes run by parts; its text hashes (:func:`kundresa.store._distinct.text_hashes`) against
equality and DuckDB's tests; the first equal text (:func:`~kundresa.store._distinct.first_equal`)
against Python's lists, hashes colliding or not."""

from __future__ import annotations

import duckdb
import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kundresa.store._distinct import (
    PARTITIONS,
    all_distinct,
    first_equal,
    partition_count,
    partition_fill,
    partitions_distinct,
    text_hashes,
)
from kundresa.store.in_place import _clean_parts, _plain

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


_TEXT = st.text(
    st.sampled_from(
        ["a", "Z", "0", "!", "~", " ", "\t", "\n", "\x0c", "\r", "\x7f", "é", "\u00a0"]
    ),
    max_size=4,
)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(st.none(), _TEXT), max_size=30), st.booleans(), st.integers(0, 3))
def test_text_hashes_against_duckdb(values: list[str | None], wide: bool, skip: int) -> None:
    # Equal texts hash equal; a text the cheap test passes is one DuckDB's own test of the
    # in-place check (kundresa.store.in_place) passes too, and so is every ASCII text that
    # test calls plain. Sliced arrays (an offset into the buffers) and large strings alike.
    array = pa.array(values, pa.large_string() if wide else pa.string()).slice(skip)
    kept = values[skip:]
    hashes, plain = text_hashes(array)
    assert len(hashes) == len(plain) == len(kept)
    for i, a in enumerate(kept):
        for j, b in enumerate(kept):
            if a is not None and a == b:
                assert hashes[i] == hashes[j]
    con = duckdb.connect()
    test = _clean_parts()["event_id"]
    cheap = _plain("event_id")
    for v, ok in zip(kept, plain.tolist(), strict=True):
        if v is None:
            continue
        exact, duck_plain = con.execute(
            f"SELECT {test}, {cheap} FROM (SELECT ?::VARCHAR AS event_id)", [v]
        ).fetchone()
        if ok:
            assert exact and duck_plain, v
        assert ok == bool(duck_plain), v


_ID = st.one_of(
    _TEXT,
    st.sampled_from(["null", "NULL", " None ", "0", "00", "nan", "N/A", "#n/a", "undefined"]),
    st.sampled_from(["Undefined", "undefine", "d0000-1", "abcdefghi", "x", "é", "a b"]),
)


@settings(max_examples=200, deadline=None)
@given(st.lists(_ID, max_size=40, unique=True), st.sampled_from(["customer_id", "event"]))
def test_only_the_suspects_need_the_exact_test(values: list[str], name: str) -> None:
    # The dictionary values failing the in-place check's exact SQL test are all among those
    # the cheap compiled test leaves (kundresa.store.in_place._suspects): testing only these
    # finds the same failures.
    import threading

    from kundresa.store.in_place import _failing, _suspects

    array = pa.array(values, pa.string())
    con = duckdb.connect()
    test = _clean_parts()[name]
    loaded = threading.Event()
    loaded.set()
    suspects = _suspects(array, name, loaded)
    every = _failing(con, array, name, test)
    assert set(every.tolist()) <= set(suspects.tolist())
    some = suspects[_failing(con, array.take(pa.array(suspects)), name, test)]
    assert sorted(some.tolist()) == sorted(every.tolist())


@settings(max_examples=200, deadline=None)
@given(st.lists(_VALUES, max_size=300), st.integers(1, 4), st.integers(1, 4))
def test_partitioned_passes_in_parts_are_the_set(values: list[int], parts: int, sets: int) -> None:
    # all_distinct's three passes run by parts of the values (counted and placed apart) and
    # by ranges of partitions (the sets apart), as the in-place check's two threads run them.
    array = np.array(values, np.uint64)
    cuts = [len(array) * q // parts for q in range(parts + 1)]
    counts = [np.zeros(PARTITIONS, np.int64) for _ in range(parts)]
    for q in range(parts):
        partition_count(array[cuts[q] : cuts[q + 1]], counts[q])
    start = np.zeros(PARTITIONS + 1, np.int64)
    start[1:] = np.cumsum(np.add.reduce(counts))
    out = np.zeros(len(array), np.uint64)
    fill = start[:-1].copy()
    for q in range(parts):
        partition_fill(array[cuts[q] : cuts[q + 1]], fill.copy(), out)
        fill += counts[q]
    assert sorted(out.tolist()) == sorted(values)
    answers = [
        partitions_distinct(out, start, PARTITIONS * r // sets, PARTITIONS * (r + 1) // sets)
        for r in range(sets)
    ]
    assert all(answers) == (len(set(values)) == len(values))


def test_partitioned_passes_refuse_what_does_not_fit() -> None:
    values = np.array([1, 2**63, 5], np.uint64)
    with pytest.raises(ValueError, match="count"):
        partition_count(values, np.zeros(8, np.int64))
    with pytest.raises(ValueError, match="outside"):
        partition_fill(values, np.full(PARTITIONS, 7, np.int64), np.zeros(3, np.uint64))
    start = np.zeros(PARTITIONS + 1, np.int64)
    start[1:] = 9  # more values than there are
    with pytest.raises(ValueError, match="fit"):
        partitions_distinct(values, start, 0, PARTITIONS)
    with pytest.raises(ValueError, match="fit"):
        partitions_distinct(values, np.zeros(PARTITIONS + 1, np.int64), 0, PARTITIONS + 1)


@settings(max_examples=300, deadline=None)
@given(st.lists(_TEXT, max_size=40), st.booleans(), st.integers(0, 3))
def test_first_equal_is_the_first_equal_text(values: list[str], collide: bool, skip: int) -> None:
    # Each text's first equal text, byte for byte, also when every hash collides (all equal:
    # then only the comparison of the texts tells them apart).
    array = pa.array(values, pa.string()).slice(skip)
    kept = values[skip:]
    hashes = np.zeros(len(kept), np.uint64) if collide else text_hashes(array)[0]
    first, firsts = first_equal(array, hashes)
    assert first.tolist() == [kept.index(v) for v in kept]
    assert firsts == len(set(kept))


@settings(max_examples=100, deadline=None)
@given(st.lists(_TEXT, max_size=20), st.integers(0, 3))
def test_text_hashes_into_a_given_array(values: list[str], skip: int) -> None:
    array = pa.array(values, pa.string()).slice(skip)
    want, want_plain = text_hashes(array)
    out = np.zeros(len(array), np.uint64)
    got, plain = text_hashes(array, out)
    assert got is out and out.tolist() == want.tolist() and plain.tolist() == want_plain.tolist()
    strided = np.zeros(2 * len(array), np.uint64)[::2]  # not contiguous: copied into
    assert text_hashes(array, strided)[0].tolist() == want.tolist() == strided.tolist()
    with pytest.raises(ValueError, match="out"):
        text_hashes(array, np.zeros(len(array) + 1, np.uint64))
