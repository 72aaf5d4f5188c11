"""--encoding and bytes that do not decode: one line naming the file and the line."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from kundresa.cli import main
from kundresa.ingest.readers import ReadError, iter_raw_batches, text_encoding

CSV = b"customer_id,timestamp,event\nc,2025-01-01,a\n"


def run(*args: str) -> Result:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    assert run("init", str(tmp_path / "p")).exit_code == 0
    return tmp_path / "p"


@pytest.mark.parametrize("name", ["rot13", "base64", "zlib", "hex", "no-such-codec"])
def test_a_codec_that_is_not_a_text_encoding_is_a_usage_error(
    project: Path, tmp_path: Path, name: str
) -> None:
    f = tmp_path / "u.csv"
    f.write_bytes(CSV)
    r = run("ingest", str(f), "--project", str(project), "--encoding", name)
    assert r.exit_code == 2
    assert "is not a text encoding" in r.output
    assert "Traceback" not in r.output
    with pytest.raises(ValueError, match="not a text encoding"):
        text_encoding(name)


@pytest.mark.parametrize("name", ["utf-8", "UTF8", "utf-16", "cp1252", "latin-1", "mac-roman"])
def test_text_encodings_are_accepted(name: str) -> None:
    assert text_encoding(name)


@pytest.mark.parametrize("name", ["utf-16", "utf-32"])
def test_utf16_without_a_byte_order_mark_is_one_line(
    project: Path, tmp_path: Path, name: str
) -> None:
    f = tmp_path / "u.csv"
    f.write_bytes(CSV)
    r = run("ingest", str(f), "--project", str(project), "--encoding", name)
    assert r.exit_code == 1
    assert r.output.count("\n") == 1, r.output
    assert "u.csv" in r.output and f"not valid {name}" in r.output


def test_bad_byte_in_a_forced_encoding_names_its_line(tmp_path: Path) -> None:
    f = tmp_path / "cp.csv"
    f.write_bytes(b"customer_id,timestamp,event\nc,2025-01-01,a\nd,2025-01-01,\x81\n")
    with pytest.raises(ReadError, match=r"cp\.csv:3: byte 57 is not valid cp1252"):
        list(iter_raw_batches(f, encoding="cp1252"))


@pytest.mark.parametrize("forced", [None, "utf-8", "utf-8-sig"])
def test_bad_utf8_after_a_bom_names_its_line_not_64_kib(tmp_path: Path, forced: str | None) -> None:
    f = tmp_path / "latin.csv"
    f.write_bytes(b"\xef\xbb\xbfcustomer_id,timestamp,event\nc,2025-01-01,caf\xe9\n")
    with pytest.raises(ReadError) as exc:
        list(iter_raw_batches(f, encoding=forced))
    text = str(exc.value)
    assert text.startswith(f"{f}:2: byte 48 is not valid UTF-8")
    assert "KiB" not in text


def test_bad_utf8_past_the_sniffed_start_says_so(tmp_path: Path) -> None:
    f = tmp_path / "late.csv"
    rows = b"".join(b"c%d,2025-01-01,a\n" % i for i in range(10_000))
    f.write_bytes(b"customer_id,timestamp,event\n" + rows + b"z,2025-01-01,caf\xe9\n")
    with pytest.raises(ReadError) as exc:
        list(iter_raw_batches(f))
    text = str(exc.value)
    assert text.startswith(f"{f}:10002: byte ")
    assert "told from the first 64 KiB" in text
