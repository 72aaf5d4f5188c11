"""CSV quoting as RFC 4180 has it: badly quoted records are quarantined, the rest load."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kundresa.ingest.readers import iter_raw_batches


def read(path: Path) -> tuple[list[dict[str, object]], list[tuple[int, str, str]]]:
    rows: list[dict[str, object]] = []
    bad: list[tuple[int, str, str]] = []
    for batch in iter_raw_batches(path):
        rows.extend(batch.table().to_pylist())
        bad.extend((r.line, r.reason, r.text) for r in batch.rejected)
    return rows, bad


def test_unterminated_quote_is_quarantined_and_the_next_rows_load(tmp_path: Path) -> None:
    f = tmp_path / "q.csv"
    f.write_bytes(b'customer_id,timestamp,event\nc1,2025-01-01,"unterminated\nc2,2025-01-02,x\n')
    rows, bad = read(f)
    assert rows == [{"customer_id": "c2", "timestamp": "2025-01-02", "event": "x", "_line": 3}]
    assert [(line, "unterminated quote" in why) for line, why, _ in bad] == [(2, True)]
    assert bad[0][2] == 'c1,2025-01-01,"unterminated'


def test_a_quote_that_pairs_with_a_later_line_does_not_swallow_it(tmp_path: Path) -> None:
    f = tmp_path / "q.csv"
    f.write_bytes(
        b'customer_id,timestamp,event\nc1,2025-01-01,"open\nc2,2025-01-02,x\n'
        b'c3,2025-01-03,"ok"\nc4,2025-01-04,y\n'
    )
    rows, bad = read(f)
    assert [r["customer_id"] for r in rows] == ["c2", "c3", "c4"]
    assert [r["event"] for r in rows] == ["x", "ok", "y"]
    assert [line for line, _, _ in bad] == [2]


def test_quote_inside_an_unquoted_field_is_quarantined(tmp_path: Path) -> None:
    f = tmp_path / "q.csv"
    f.write_bytes(b'customer_id,timestamp,event\nc1,2025-01-01,a"b"\nc2,2025-01-02,x\n')
    rows, bad = read(f)
    assert [r["customer_id"] for r in rows] == ["c2"]
    assert [(line, "quote inside an unquoted field" in why) for line, why, _ in bad] == [(2, True)]


def test_text_after_a_closing_quote_is_quarantined(tmp_path: Path) -> None:
    f = tmp_path / "q.csv"
    f.write_bytes(b'customer_id,timestamp,event\nc1,2025-01-01,"a"b\nc2,2025-01-02,x\n')
    rows, bad = read(f)
    assert [r["customer_id"] for r in rows] == ["c2"]
    assert [line for line, _, _ in bad] == [2]


def test_quoted_line_breaks_and_doubled_quotes_still_load(tmp_path: Path) -> None:
    f = tmp_path / "q.csv"
    f.write_bytes(
        b'customer_id,timestamp,event,note\r\nc1,2025-01-01,"multi\r\nline",x\r\n'
        b'c2,2025-01-02,"say ""hi""","a,b"\r\nc3,2025-01-03,z,\r\n'
    )
    rows, bad = read(f)
    assert bad == []
    assert [(r["event"], r["note"]) for r in rows] == [
        ("multi\r\nline", "x"),
        ('say "hi"', "a,b"),
        ("z", None),
    ]


def test_bad_quotes_across_block_boundaries(tmp_path: Path) -> None:
    # Many records, so that the checker's 1 MiB blocks cut records and quoted fields.
    good = b'c%d,2025-01-01,"v ""%d""\nx",plain\n'
    body = b"".join(
        (b'b%d,2025-01-01,a"b,p\n' % i) if i % 1000 == 7 else good % (i, i) for i in range(60_000)
    )
    f = tmp_path / "big.csv"
    f.write_bytes(b"customer_id,timestamp,event,p\n" + body)
    rows, bad = read(f)
    assert len(bad) == 60
    assert len(rows) == 60_000 - 60
    assert all(r["event"] == f'v "{r["customer_id"][1:]}"\nx' for r in rows)


FIELD = st.text(alphabet=st.sampled_from(list('ab,"\n\r ;é')), max_size=8)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(FIELD, FIELD), min_size=1, max_size=20))
def test_what_a_csv_writer_writes_reads_back(tmp_path_factory: object, rows: list) -> None:  # type: ignore[type-arg]
    """Any file Python's csv module writes (quoting as needed) reads back field for field."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow(["customer_id", "timestamp", "event"])
    for a, b in rows:
        w.writerow(["c", a or "-", b or "-"])
    path = tmp_path_factory.mktemp("h") / "h.csv"  # type: ignore[attr-defined]
    path.write_text(buf.getvalue(), encoding="utf-8")
    got, bad = read(path)
    assert bad == []
    assert [(r["timestamp"], r["event"]) for r in got] == [(a or "-", b or "-") for a, b in rows]


def test_tab_separated_text_keeps_quotes_inside_a_field(tmp_path: Path) -> None:
    # TSV has no quoting of its own (Snowplow writes raw JSON); a field that opens with a
    # quote is still a quoted field (Excel's "Unicode text").
    f = tmp_path / "e.tsv"
    f.write_bytes(
        b'customer_id\ttimestamp\tevent\tctx\nc1\t2025-01-01\ta"b"\t{"k":"v"}\n'
        b'c2\t2025-01-02\t"tab\there"\tx\nc3\t2025-01-03\t"open\tx\n'
    )
    rows, bad = read(f)
    assert [(r["event"], r["ctx"]) for r in rows] == [('a"b"', '{"k":"v"}'), ("tab\there", "x")]
    assert [line for line, _, _ in bad] == [4]


def test_a_quote_left_open_past_the_row_limit_is_unterminated(tmp_path: Path) -> None:
    # No quote follows for more than 8 MiB: the quote is never closed; the rows after load.
    rows_after = b"".join(b"c%d,2025-01-01,x\n" % i for i in range(600_000))
    f = tmp_path / "q.csv"
    f.write_bytes(b'customer_id,timestamp,event\nc,2025-01-01,"open\n' + rows_after)
    n, bad = 0, []
    for batch in iter_raw_batches(f):
        n += len(batch.lines)
        bad.extend((r.line, r.reason) for r in batch.rejected)
    assert n == 600_000
    assert [(line, "unterminated quote" in why) for line, why in bad] == [(2, True)]
