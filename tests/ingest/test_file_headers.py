"""Header names are matched without the spaces around them (or a BOM), in any case."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from kundresa.cli import main
from kundresa.errors import ColumnError
from kundresa.ingest.columns import map_columns

PAD = st.text(alphabet=st.sampled_from([" ", "\t", "\u00a0"]), max_size=3)


@given(PAD, PAD, PAD, PAD, st.booleans(), st.booleans())
def test_padded_and_cased_names_are_recognised(
    a: str, b: str, c: str, d: str, upper: bool, bom: bool
) -> None:
    names = ["customer_id", "timestamp", "event"]
    if upper:
        names = [n.upper() for n in names]
    columns = [("\ufeff" if bom else "") + a + names[0] + b, c + names[1] + d, names[2] + a]
    m = map_columns([*columns, " page "], source="x.csv")
    assert (m.customer, m.timestamp, m.event) == ((columns[0],), columns[1], columns[2])
    assert m.properties == (" page ",)


def test_names_equal_after_trimming_are_duplicates() -> None:
    with pytest.raises(ColumnError, match="appear more than once"):
        map_columns(["customer_id", " Customer_ID ", "timestamp", "event"], source="x.csv")


def test_explicit_column_option_matches_a_padded_header() -> None:
    m = map_columns([" kund ", "timestamp", "event"], source="x.csv", customer_col="kund")
    assert m.customer == (" kund ",)


def test_ingest_a_file_with_padded_headers(tmp_path: Path) -> None:
    f = tmp_path / "e.csv"
    f.write_text(" Customer_ID , Timestamp ,event \nc1,2025-01-01,signup\n", encoding="utf-8")
    runner = CliRunner()
    assert runner.invoke(main, ["init", str(tmp_path / "p")]).exit_code == 0
    r = runner.invoke(main, ["ingest", str(f), "--project", str(tmp_path / "p")])
    assert r.exit_code == 0, r.output
    assert "loaded 1" in r.output
