"""Excel's delimiter line (``sep=;``, first in a CSV file so that Excel splits the columns
whatever the computer's list separator) names the delimiter; the header is the next line, and
line numbers still count it."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kundresa.ingest import readers
from kundresa.ingest.readers import iter_raw_batches, read_header, sniff_text_file
from kundresa.store.warehouse import Warehouse

ROWS = [
    "kund_id{d}tidpunkt{d}händelse{d}belopp",
    "k1{d}2025-03-01 10:00{d}köp{d}12",
    "k2{d}2025-03-01 11:00{d}köp",  # a field short: quarantined, naming its line
    "k3{d}2025-03-02 09:00{d}besök{d}",
]


def _file(tmp_path: Path, sep: str, end: str, encoding: str = "utf-8", bom: str = "") -> Path:
    d = "\t" if sep == "\\t" else sep
    text = bom + f"sep={d}" + end + end.join(r.format(d=d) for r in ROWS) + end
    path = tmp_path / "export.csv"
    path.write_bytes(text.encode(encoding))
    return path


@pytest.mark.parametrize("sep", [";", ",", "|", "\\t"])
@pytest.mark.parametrize("end", ["\r\n", "\n", "\r"])
def test_the_sep_line_names_the_delimiter_and_is_no_row(tmp_path: Path, sep: str, end: str) -> None:
    path = _file(tmp_path, sep, end)
    assert sniff_text_file(path).delimiter == ("\t" if sep == "\\t" else sep)
    assert read_header(path) == ["kund_id", "tidpunkt", "händelse", "belopp"]
    wh = Warehouse(None)
    report = wh.ingest(
        [path],
    )
    assert report.loaded == 2
    stored = wh.con.execute("SELECT customer_id, value FROM events ORDER BY 1").fetchall()
    assert stored == [("k1", 12.0), ("k3", None)]
    assert [(q["line"], "expected 4 fields" in q["reason"]) for q in wh.quarantined()] == [
        (4, True)
    ]


def test_a_byte_order_mark_and_cp1252(tmp_path: Path) -> None:
    wh = Warehouse(None)
    wh.ingest(
        [_file(tmp_path, ";", "\r\n", "utf-8", bom="\ufeff")],
    )
    assert wh.con.execute("SELECT count(*) FROM events").fetchone() == (2,)
    wh = Warehouse(None)
    wh.ingest(
        [_file(tmp_path, ";", "\r\n", "cp1252")],
        encoding="cp1252",
    )
    assert wh.con.execute("SELECT event FROM events ORDER BY 1").fetchall() == [
        ("besök",),
        ("köp",),
    ]


def test_only_a_first_line_is_a_sep_line(tmp_path: Path) -> None:
    # A header named sep=... elsewhere, or a longer first line, is a header as before.
    path = tmp_path / "e.csv"
    path.write_text("sep=;x,customer_id,timestamp,event\n1,c,2025-01-01 10:00,a\n")
    assert read_header(path) == ["sep=;x", "customer_id", "timestamp", "event"]


@settings(max_examples=30)
@given(st.sampled_from([5, 7, 64]), st.sampled_from(["\r\n", "\n", "\r"]))
def test_the_sep_line_cut_between_blocks(block: int, end: str) -> None:
    # The reader's blocks cut the sep line and its line end anywhere.
    import tempfile

    with tempfile.TemporaryDirectory() as tmp, pytest.MonkeyPatch.context() as mp:
        mp.setattr(readers._QuoteChecker, "_BLOCK", block)
        path = _file(Path(tmp), ";", end)
        kept: list[tuple[str, int]] = []
        bad: list[int] = []
        for batch in iter_raw_batches(path):
            ids, lines = batch.columns["kund_id"].to_pylist(), batch.lines.to_pylist()
            kept += list(zip(ids, lines, strict=True))
            bad += [r.line for r in batch.rejected]
        assert kept == [("k1", 3), ("k3", 5)]
        assert bad == [4]
