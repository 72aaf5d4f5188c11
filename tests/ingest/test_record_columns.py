"""A record source's column builder equals the row-by-row reference on random rows."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from kundresa.ingest.sources._records import CANONICAL, PROPS, text
from kundresa.ingest.sources.segment import SegmentSource

SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=4),
)
VALUES = st.one_of(
    SCALARS,
    st.lists(SCALARS, max_size=2),
    st.dictionaries(st.text(max_size=2), SCALARS, max_size=2),
)
# Property keys that clash with canonical columns (stored as property.NAME) or differ only in
# case (one spelling per column), and an empty key (dropped).
KEYS = st.sampled_from(["plan", "Plan", "PLAN", "event", "Event", "user_id", "revenue", "", "x"])
ROWS = st.lists(
    st.fixed_dictionaries(
        {},
        optional={
            **{c: VALUES for c in CANONICAL},
            PROPS: st.dictionaries(KEYS, VALUES, max_size=4),
        },
    ),
    max_size=6,
)


def _reference(source: SegmentSource, rows: list[dict[str, Any]]) -> dict[str, list[Any]]:
    # The row-by-row loop the column builder replaced.
    columns: dict[str, list[str | None]] = {c: [None] * len(rows) for c in CANONICAL}
    for i, row in enumerate(rows):
        for key in CANONICAL:
            columns[key][i] = text(row.get(key))
        for key, value in (row.get(PROPS) or {}).items():
            if not key or value is None:
                continue
            name = source._name(key)
            col = columns.get(name)
            if col is None:
                col = columns[name] = [None] * len(rows)
            col[i] = text(value)
    return columns


@settings(max_examples=150, deadline=None)
@given(st.lists(ROWS, min_size=1, max_size=3))
def test_columns_equal_the_row_by_row_reference(batches: list[list[dict[str, Any]]]) -> None:
    # Two sources fed the same batches: spellings carry over from batch to batch in both.
    source, reference = SegmentSource(), SegmentSource()
    for rows in batches:
        got = source.rows_batch(rows, list(range(1, len(rows) + 1)))
        want = _reference(reference, rows)
        assert list(got.columns) == list(want)
        assert {k: v.to_pylist() for k, v in got.columns.items()} == want
