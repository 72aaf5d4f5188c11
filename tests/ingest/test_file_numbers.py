"""Numbers as spreadsheets write them: decimal comma or point, thousands separators."""

from __future__ import annotations

import duckdb
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kundresa.store.warehouse import _number_sql

# (decimal mark, thousands separator) as locales write amounts.
STYLES = [
    (",", " "),  # sv-SE, fr-FR
    (",", "\u00a0"),  # Excel's no-break space
    (",", "\u202f"),  # narrow no-break space (fr-FR since CLDR 34)
    (",", "."),  # de-DE, da-DK
    (",", ""),
    (".", ","),  # en-US
    (".", " "),
    (".", ""),
]


def written(cents: int, decimal: str, thousands: str) -> str:
    """``cents`` as a locale writes it, e.g. -123456789 → ``-1 234 567,89``."""
    whole, frac = divmod(abs(cents), 100)
    digits = f"{whole:,}".replace(",", thousands)
    return f"{'-' if cents < 0 else ''}{digits}{decimal}{frac:02d}"


def parse(text: str, decimal: str) -> float | None:
    sql = f"SELECT {_number_sql('v', decimal)} FROM (SELECT ? AS v)"
    row = duckdb.execute(sql, [text]).fetchone()
    return None if row is None else row[0]


@pytest.mark.parametrize(
    ("text", "decimal", "expected"),
    [
        ("1 234,50", ",", 1234.5),
        ("1.234,50", ",", 1234.5),
        ("1\u00a0234,50", ",", 1234.5),
        ("1\u202f234\u202f567", ",", 1234567.0),
        ("1,234.50", ".", 1234.5),
        ("1 234.50", ".", 1234.5),
        ("-234,50", ",", -234.5),
        (",5", ",", 0.5),
        ("1234.50", ",", None),  # one mark per column: a point is no decimal comma
        ("0.125", ",", None),  # a group after a leading 0 is no thousands group
        ("0,125", ".", None),
        ("1,5", ".", None),  # not grouped by three: no number, never 15
        ("12,34,567", ".", None),
        ("1 23,4", ",", None),
        ("abc", ",", None),
        ("1_000", ".", None),  # a programming language's digit separator, no locale's
        ("1_000", ",", None),
        ("1_000,5", ",", None),
    ],
)
def test_hand_checked_amounts(text: str, decimal: str, expected: float | None) -> None:
    assert parse(text, decimal) == expected


@settings(max_examples=300, deadline=None)
@given(st.integers(-(10**12), 10**12), st.sampled_from(STYLES))
def test_every_locale_style_reads_back(cents: int, style: tuple[str, str]) -> None:
    decimal, thousands = style
    assert parse(written(cents, decimal, thousands), decimal) == pytest.approx(cents / 100)


def test_numbers_typed_in_the_file_are_never_read_with_a_decimal_comma(tmp_path) -> None:  # type: ignore[no-untyped-def]
    # A review's repro: with `--decimal ,` (for the CSV beside it), a Parquet double 1.234
    # was stored as 1234 and 19.99 quarantined; so were JSON numbers.
    import json

    import pyarrow as pa
    import pyarrow.parquet as pq

    from kundresa.store.warehouse import Warehouse

    rows = {"customer_id": ["n3", "n4"], "timestamp": ["2025-01-01T10:00:00Z"] * 2}
    pq.write_table(
        pa.table({**rows, "event": ["purchase"] * 2, "value": [19.99, 1.234]}),
        tmp_path / "numbers.parquet",
    )
    (tmp_path / "numbers.jsonl").write_text(
        "".join(
            json.dumps(
                {"customer_id": c, "timestamp": "2025-01-02T10:00:00Z", "event": "p", "value": v}
            )
            + "\n"
            for c, v in (("j3", 19.99), ("j4", 1.234), ("j5", 7))
        ),
        encoding="utf-8",
    )
    (tmp_path / "text.csv").write_text(
        "customer_id;timestamp;event;value\nc1;2025-01-01 10:00;purchase;1.234,50\n",
        encoding="utf-8",
    )
    wh = Warehouse(None)
    report = wh.ingest(
        [tmp_path / "numbers.parquet", tmp_path / "numbers.jsonl", tmp_path / "text.csv"],
        decimal=",",
    )
    assert wh.quarantined() == [], report
    got = dict(wh.con.execute("SELECT customer_id, value FROM events").fetchall())
    assert got == {"n3": 19.99, "n4": 1.234, "j3": 19.99, "j4": 1.234, "j5": 7.0, "c1": 1234.5}


def test_one_id_written_as_a_float_is_one_text_from_json_and_parquet(tmp_path) -> None:  # type: ignore[no-untyped-def]
    # A review's repro: 1001.0 was "1001" from Parquet and "1001.0" from JSON: two customers.
    import pandas as pd

    from kundresa.store.warehouse import Warehouse

    pd.DataFrame(
        {"customer_id": [1001.0], "timestamp": ["2025-01-01T10:00:00Z"], "event": ["ad_click"]}
    ).to_parquet(tmp_path / "visits.parquet")
    pd.DataFrame(
        {
            "customer_id": [1001.0, 1e3],
            "timestamp": ["2025-01-02T10:00:00Z"] * 2,
            "event": ["purchase", "visit"],
        }
    ).to_json(tmp_path / "orders.jsonl", orient="records", lines=True)
    wh = Warehouse(None)
    wh.ingest([tmp_path / "visits.parquet", tmp_path / "orders.jsonl"])
    ids = sorted(r[0] for r in wh.con.execute("SELECT DISTINCT customer_id FROM events").fetchall())
    assert ids == ["1000", "1001"]


def _json_events(values: list[object], **extra: object) -> list[dict[str, object]]:
    return [
        {
            "customer_id": f"c{i}",
            "timestamp": f"2025-01-01T10:{i:02d}:00Z",
            "event": "purchase",
            "value": v,
            **extra,
        }
        for i, v in enumerate(values)
    ]


@pytest.mark.parametrize("shape", ["jsonl", "json"])
@pytest.mark.parametrize("decimal", [",", None])
def test_a_json_number_beside_texts_is_the_number_it_is(tmp_path, shape, decimal) -> None:  # type: ignore[no-untyped-def]
    # A review's repro: a key holding the JSON number 1.234 in one record and the text "1,5"
    # in another was read as text, with the column's decimal comma: 1.234 was stored as
    # 1234. Only texts follow the mark; a JSON number is the number it is, and is no
    # evidence for a mark when the mark is told from the values.
    import json

    from kundresa.store.warehouse import Warehouse

    rows = _json_events([1.234, "1,5", 12, "1.234,50", 0.125, "2,25", None, 19.99])
    f = tmp_path / f"mixed.{shape}"
    if shape == "jsonl":
        f.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    else:
        f.write_text(json.dumps(rows, indent=1), encoding="utf-8")
    wh = Warehouse(None)
    wh.ingest([f], decimal=decimal)
    assert wh.quarantined() == []
    got = dict(wh.con.execute("SELECT customer_id, value FROM events").fetchall())
    assert got == {
        "c0": 1.234,
        "c1": 1.5,
        "c2": 12.0,
        "c3": 1234.5,
        "c4": 0.125,
        "c5": 2.25,
        "c6": None,
        "c7": 19.99,
    }


def test_texts_with_the_other_mark_are_still_quarantined_and_numbers_never(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import json

    from kundresa.store.warehouse import Warehouse

    rows = _json_events([1.234, "19.99", "1,5", 2.5, "abc"])
    f = tmp_path / "mixed.jsonl"
    f.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    wh = Warehouse(None)
    wh.ingest([f], decimal=",")
    got = dict(wh.con.execute("SELECT customer_id, value FROM events").fetchall())
    assert got == {"c0": 1.234, "c2": 1.5, "c3": 2.5}
    reasons = sorted(r["reason"] for r in wh.quarantined())
    assert len(reasons) == 2
    assert reasons[0].startswith("value 19.99 is a number only with a decimal point"), reasons
    assert "--decimal" in reasons[0]
    assert reasons[1] == "value abc is not a number (column 'value')", reasons


def test_numbers_and_texts_in_different_batches_of_one_file(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    # The kind is each value's, not each batch's: a first batch of JSON numbers only and a
    # second of texts (the staging table's marks are added when numbers first appear).
    import json

    import kundresa.ingest.readers as readers
    from kundresa.store.warehouse import Warehouse

    monkeypatch.setattr(readers, "BATCH_ROWS", 2)
    rows = _json_events(["1,5", "2,5", 1.234, 7.5, "0,5", 3.125, "1.234,5"])
    f = tmp_path / "batches.jsonl"
    f.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    wh = Warehouse(None)
    wh.ingest([f])
    assert wh.quarantined() == []
    got = dict(wh.con.execute("SELECT customer_id, value FROM events").fetchall())
    assert got == {
        "c0": 1.5,
        "c1": 2.5,
        "c2": 1.234,
        "c3": 7.5,
        "c4": 0.5,
        "c5": 3.125,
        "c6": 1234.5,
    }


@pytest.mark.parametrize("nested", [True, False], ids=["properties", "properties-as-text"])
def test_a_segment_revenue_number_beside_texts_is_the_number_it_is(tmp_path, nested) -> None:  # type: ignore[no-untyped-def]
    # The same in a record source: Segment's properties.revenue, a JSON number in one message
    # and a text in another, with --decimal ,.
    import json

    from kundresa.store.warehouse import Warehouse

    def message(i: int, revenue: object) -> dict[str, object]:
        props = {"revenue": revenue}
        return {
            "type": "track",
            "messageId": f"m{i}",
            "userId": f"u{i}",
            "event": "Order Completed",
            "timestamp": f"2025-03-01T10:0{i}:00Z",
            "properties": props if nested else json.dumps(props),
        }

    f = tmp_path / "segment.jsonl"
    f.write_text(
        "".join(json.dumps(message(i, v)) + "\n" for i, v in enumerate([1.234, "1,5", 12])),
        encoding="utf-8",
    )
    wh = Warehouse(None)
    report = wh.ingest([f], source="segment", decimal=",")
    assert wh.quarantined() == [], report
    got = dict(wh.con.execute("SELECT customer_id, value FROM events").fetchall())
    assert got == {"u0": 1.234, "u1": 1.5, "u2": 12.0}


def test_a_top_level_json_number_reaches_a_record_source_as_a_number(tmp_path) -> None:  # type: ignore[no-untyped-def]
    # Snowplow's tr_total is a top-level key: its JSON numbers reach the source as NumberText.
    from kundresa.ingest.readers import NumberText, is_number_value

    assert is_number_value(NumberText("1.234")) and is_number_value(2.5)
    assert not is_number_value("1.234") and not is_number_value(True)
    assert NumberText("1.234") == "1.234" and NumberText("1.234").strip() == "1.234"


def _load(tmp_path, name: str, records: list[dict[str, object]], source: str):  # type: ignore[no-untyped-def]
    import json

    from kundresa.store.warehouse import Warehouse

    f = tmp_path / name
    f.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    wh = Warehouse(None)
    report = wh.ingest([f], source=source, decimal=",")
    assert wh.quarantined() == [], report
    return wh


def test_an_order_total_number_beside_texts_is_the_number_it_is(tmp_path) -> None:  # type: ignore[no-untyped-def]
    # The order sources (Shopify, WooCommerce) take the value from Total: its JSON numbers
    # too are read as the numbers they are.
    orders = [
        {"Name": f"#{i}", "Email": f"c{i}@x.se", "Created at": "2025-05-31 00:37:00 +0100",
         "Total": total, "Financial Status": "paid"}
        for i, total in enumerate([1.234, "1,5", 12])
    ]  # fmt: skip
    wh = _load(tmp_path, "orders.jsonl", orders, "shopify")
    got = dict(wh.con.execute("SELECT customer_id, value FROM events").fetchall())
    assert got == {"c0@x.se": 1.234, "c1@x.se": 1.5, "c2@x.se": 12.0}


def test_a_crm_amount_number_beside_texts_is_the_number_it_is(tmp_path) -> None:  # type: ignore[no-untyped-def]
    # The CRM sources take the value of a won deal from Amount (Salesforce opportunities).
    deals = [
        {"Id": f"006000000000000{i}", "ContactId": f"c{i}", "CreatedDate": "2025-03-01",
         "CloseDate": "2025-03-05", "StageName": "Closed Won", "IsWon": "true",
         "Amount": amount}
        for i, amount in enumerate([1.234, "1,5", 12])
    ]  # fmt: skip
    wh = _load(tmp_path, "opportunities.jsonl", deals, "salesforce")
    got = wh.con.execute(
        "SELECT customer_id, value FROM events WHERE value IS NOT NULL ORDER BY customer_id"
    ).fetchall()
    assert got == [("c0", 1.234), ("c1", 1.5), ("c2", 12.0)]
