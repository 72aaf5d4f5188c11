"""The collector's fast JSON path (orjson) and its fallback to the standard library."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from kundresa.live.collector import MessageError, check_message, dump_rows, parse_body
from kundresa.live.loader import read_json

WRITE_KEY = "test-write-key"  # as in conftest.py
BIG = 10**30  # beyond 64 bits: the standard library takes it, orjson does not


def _track(mid: str, **props: Any) -> dict[str, Any]:
    return {
        "type": "track",
        "event": "purchase",
        "userId": "u1",
        "messageId": mid,
        "timestamp": "2026-03-01T10:00:00Z",
        "properties": props,
    }


def test_a_body_orjson_refuses_is_read_by_the_standard_library() -> None:
    data, storable = parse_body(json.dumps({"batch": [_track("m1", big=BIG)]}).encode())
    assert not storable and data["batch"][0]["properties"]["big"] == BIG
    data, storable = parse_body(b'{"batch": [{"properties": {"x": NaN}}]}')
    assert not storable and math.isnan(data["batch"][0]["properties"]["x"])
    assert parse_body(b'{"a": "\\u00e5"}') == ({"a": "å"}, True)


def test_rows_orjson_cannot_write_go_to_the_log_by_the_standard_library() -> None:
    row = check_message(_track("m1", big=BIG), "2026-03-01T10:00:00Z")
    assert read_json(dump_rows([row]))[0] == [row]


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
    max_leaves=10,
)


@settings(max_examples=60, deadline=None)
@given(props=st.dictionaries(st.text(), json_values, max_size=4))
def test_the_fast_path_maps_as_the_standard_library_does(props: dict[str, Any]) -> None:
    """Whatever orjson takes, the rows and log record equal the standard library's."""
    body = json.dumps({"batch": [_track("m1", **props)]}).encode()
    fast, storable = parse_body(body)
    slow = json.loads(body)
    assert fast == slow or not storable
    if storable:
        row = _outcome(fast["batch"][0], storable=True)
        assert row == _outcome(slow["batch"][0])
        if not isinstance(row, str):  # refused alike (property names that share a column)
            assert read_json(dump_rows([row]))[0] == json.loads(json.dumps([row]))


def _outcome(msg: dict[str, Any], storable: bool = False) -> dict[str, Any] | str:
    """The row ``check_message`` makes of ``msg``, or its refusal's text."""
    try:
        return check_message(msg, "2026-03-01T10:00:00Z", storable=storable)
    except MessageError as exc:
        return str(exc)


def test_a_big_integer_property_is_collected_and_loaded(
    project_dir: Path, make_collector: Any
) -> None:
    client = make_collector(project_dir)
    body = json.dumps({"batch": [_track("m1", big=BIG), _track("m2", plan="pro")]})
    r = client.post("/v1/batch", content=body, auth=(WRITE_KEY, ""))
    assert r.status_code == 200, r.text
    state = client.app.state.project

    def big() -> list[Any]:
        client.app.state.collector.loader.load_once()  # or the loader's thread did it
        with state.lock:
            return state.project.warehouse.con.execute(
                "SELECT event_id, properties['big'] FROM events ORDER BY 1"
            ).fetchall()

    assert big() == [("m1", str(BIG)), ("m2", None)]
