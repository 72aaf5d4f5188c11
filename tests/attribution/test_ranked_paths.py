"""The attribution paths read from tagged events that carry the integer keys of the event
order (``_customer_rank``, ``_event_rank``: what the warehouse keeps) are the paths read on
customer ids and event names: the same rows, in the same order, and so the same credits."""

from __future__ import annotations

from datetime import datetime, timedelta

import ibis
import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from kundresa import read_events
from kundresa.analytics.touchpoints import (
    TaggedMemo,
    tag_events,
    using_tagged_memo,
    with_event_ranks,
)
from kundresa.attribution.journey import (
    conversion_paths,
    conversion_paths_encoded,
    stage_attribution,
)
from kundresa.model import Journey, parse_journey

T0 = datetime(2025, 1, 1)


def _journey() -> Journey:
    j, problems = parse_journey(
        """
kundresa: 1
name: Ranked
template: kundresa-5
touchpoints:
  - {id: t_ad, stage: awareness, match: {event: ad}}
  - {id: t_mail, stage: awareness, match: {event: mail}}
  - {id: t_demo, stage: consideration, match: {event: demo}}
  - {id: t_buy, stage: decision, match: {event: buy}}
  - {id: t_nps, stage: retention, match: {event: nps, nth: 2}}
"""
    )
    assert j is not None, problems
    return j


# Few customers and days, names that sort differently from their first appearance, and
# repeated times: ties broken by event name, then event id.
rows_st = st.lists(
    st.tuples(
        st.sampled_from(["c10", "c2", "b", "a"]),
        st.integers(0, 20),  # days
        st.sampled_from(["ad", "mail", "demo", "buy", "nps", "x"]),
        st.sampled_from([None, "email", "search", "social"]),
        st.sampled_from([None, 10.0, 25.5]),
    ),
    max_size=40,
)


def _events(rows: list[tuple]) -> object:
    return read_events(
        pd.DataFrame(
            {
                "customer_id": [r[0] for r in rows],
                "timestamp": [T0 + timedelta(days=r[1]) for r in rows],
                "event": [r[2] for r in rows],
                "channel": [r[3] for r in rows],
                "value": [r[4] for r in rows],
                "event_id": [f"{(7 * i) % 97:02d}" for i in range(len(rows))],
            }
        )
    )


def _ranked_memo(events: object, journey: Journey) -> TaggedMemo:
    """A memo seeded, like a project's, with the tagged events and their integer keys as a
    table of their own, its rows stored in another order (no read may rely on it)."""
    tagged = with_event_ranks(tag_events(events, journey))  # type: ignore[arg-type]
    tagged = tagged.order_by(ibis.desc("event_id"))
    backend = events._find_backend(use_default=False)  # type: ignore[attr-defined]
    memo = TaggedMemo()
    memo.seed(events, journey, backend.create_table("ranked_tagged", tagged, overwrite=True))  # type: ignore[arg-type]
    return memo


@settings(max_examples=30, deadline=None)
@given(
    rows_st,
    st.sampled_from(["buy", "stage:decision", "touchpoint:t_nps"]),
    st.sampled_from(["channel", "touchpoint"]),
    st.sampled_from([None, "5d"]),
    st.sampled_from([(None, None), ("2025-01-06", None), ("2025-01-03", "2025-01-15")]),
)
def test_paths_on_integer_keys_equal_the_paths_on_ids(rows, conv, level, lookback, period):
    events, journey = _events(rows), _journey()
    options = {
        "conversion": conv,
        "journey": journey,
        "level": level,
        "lookback": lookback,
        "since": period[0],
        "until": period[1],
    }
    want = conversion_paths(events, **options)
    want_enc = conversion_paths_encoded(events, **options)
    memo = _ranked_memo(events, journey)
    with using_tagged_memo(memo):
        assert "_event_rank" in tag_events(events, journey).columns  # the keyed table is read
        got = conversion_paths(events, **options)
        got_enc = conversion_paths_encoded(events, **options)
    pd.testing.assert_frame_equal(got, want)
    for field in ("channels", "codes", "starts", "lengths", "conversions", "value", "nulls"):
        assert getattr(got_enc, field).tolist() == getattr(want_enc, field).tolist(), field
    np.testing.assert_array_equal(got_enc.ages, want_enc.ages)


@settings(max_examples=20, deadline=None)
@given(
    rows_st,
    st.sampled_from(["channel", "touchpoint"]),
    st.sampled_from([None, "5d"]),
    st.sampled_from([(None, None), ("2025-01-04", "2025-01-12")]),
)
def test_stage_attribution_on_integer_keys_equals_it_on_ids(rows, level, lookback, period):
    events, journey = _events(rows), _journey()
    options = {"level": level, "lookback": lookback, "since": period[0], "until": period[1]}
    want = stage_attribution(events, journey, **options)
    with using_tagged_memo(_ranked_memo(events, journey)):
        got = stage_attribution(events, journey, **options)
    pd.testing.assert_frame_equal(got, want)
