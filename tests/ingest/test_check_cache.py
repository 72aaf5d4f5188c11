"""The in-place check's cache: a file whose event ids were proven distinct is not re-proven,
and any change to its event ids is checked again (kundresa.store._proofs)."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from kundresa.store import _proofs, _read_ahead, in_place
from kundresa.store.in_place import read_in_place
from kundresa.store.warehouse import Warehouse

T0 = datetime(2025, 3, 1, 12)


def _write(path: Path, ids: list[str | None], customers: list[str] | None = None) -> Path:
    n = len(ids)
    table = pa.table(
        {
            "customer_id": customers or [f"c{i % 3}" for i in range(n)],
            "timestamp": pa.array(
                [T0 + timedelta(minutes=i) for i in range(n)], pa.timestamp("us")
            ),
            "event": ["visit" if i % 2 else "signup" for i in range(n)],
            "event_id": pa.array(ids, pa.string()),
        }
    )
    pq.write_table(table, path)
    return path


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "checks"
    monkeypatch.setenv("KUNDRESA_CHECK_CACHE", str(folder))
    return folder


@pytest.fixture
def reads(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """The columns each in-place check read (with Arrow; ``event_id`` also when the event ids
    were hashed from their pages while the others were read: ``each`` given)."""
    seen: list[list[str]] = []
    real = _read_ahead.read

    def spy(path: Any, columns: list[str], *rest: Any) -> pa.Table:
        seen.append([*columns, *(["event_id"] if rest and rest[0] is not None else [])])
        return real(path, columns, *rest)

    monkeypatch.setattr(_read_ahead, "read", spy)
    return seen


def _check(path: Path) -> int | None:
    wh = Warehouse(None)
    try:
        report = read_in_place(wh, path)
        return None if report is None else wh.event_count()
    finally:
        wh.con.close()


def test_a_proven_file_is_not_proven_again(
    tmp_path: Path, cache: Path, reads: list[list[str]]
) -> None:
    path = _write(tmp_path / "e.parquet", [f"e{i}" for i in range(50)])
    assert _check(path) == 50
    assert "event_id" in reads[-1]
    assert len(list(cache.glob("*.txt"))) == 1
    assert _check(path) == 50
    assert reads[-1] == ["customer_id", "event", "timestamp"]


def test_a_copy_finds_the_proof_and_a_changed_id_does_not(
    tmp_path: Path, cache: Path, reads: list[list[str]]
) -> None:
    ids = [f"e{i}" for i in range(50)]
    path = _write(tmp_path / "e.parquet", ids)
    assert _check(path) == 50
    copy = tmp_path / "copy.parquet"
    copy.write_bytes(path.read_bytes())
    assert _check(copy) == 50
    assert "event_id" not in reads[-1]
    # Same size, same statistics (min e0, max e9), same times set back: one id now a duplicate.
    stat = path.stat()
    dup = ids.copy()
    dup[7] = dup[8]
    _write(path, dup)
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert _check(path) is None  # read again: the duplicate sends the file to the ingest
    assert "event_id" in reads[-1]


def test_no_proof_is_remembered_for_what_fails(tmp_path: Path, cache: Path) -> None:
    _write(tmp_path / "dup.parquet", ["e1", "e1", "e2"])
    _write(tmp_path / "null.parquet", ["e1", None, "e2"])
    _write(tmp_path / "spaces.parquet", ["e1", " e2", "e3"])
    assert _check(tmp_path / "dup.parquet") is None  # the ingest drops a duplicate
    assert _check(tmp_path / "spaces.parquet") is None  # the ingest trims " e2"
    assert _check(tmp_path / "null.parquet") == 3  # no id: the whole rows are the keys
    assert not cache.exists() or not list(cache.glob("*.txt"))


@pytest.mark.parametrize("entry", ["", "garbage", "{}", "0" * 64 + "\nother verdict\n"])
def test_a_bad_entry_is_passed_over(
    tmp_path: Path, cache: Path, reads: list[list[str]], entry: str
) -> None:
    path = _write(tmp_path / "e.parquet", [f"e{i}" for i in range(20)])
    ident = _proofs.identity(path)
    assert ident is not None
    cache.mkdir()
    _proofs._entry(cache, ident).write_text(entry)
    assert _check(path) == 20
    assert "event_id" in reads[-1]  # not taken as proven


def test_a_named_pipe_for_an_entry_is_passed_over(tmp_path: Path, cache: Path) -> None:
    path = _write(tmp_path / "e.parquet", [f"e{i}" for i in range(20)])
    ident = _proofs.identity(path)
    assert ident is not None
    cache.mkdir()
    os.mkfifo(_proofs._entry(cache, ident))
    assert not _proofs.proven_distinct_ids(ident)  # returns at once, no writer awaited
    assert _check(path) == 20


def test_an_entry_for_other_ids_proves_nothing(tmp_path: Path, cache: Path) -> None:
    # An entry naming another digest inside this digest's file name (a file copied over).
    dup = _write(tmp_path / "dup.parquet", ["e1", "e1", "e2"])
    ident = _proofs.identity(dup)
    assert ident is not None
    other = _proofs.Identity("f" * 64)
    cache.mkdir()
    _proofs._entry(cache, ident).write_text(
        f"{other.digest}\npresent, distinct, stored as they are\n"
    )
    assert _check(dup) is None


def test_cache_off_or_unwritable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, reads: list[list[str]]
) -> None:
    path = _write(tmp_path / "e.parquet", [f"e{i}" for i in range(20)])
    monkeypatch.setenv("KUNDRESA_CHECK_CACHE", "off")
    assert _proofs.folder() is None
    assert _check(path) == 20 and _check(path) == 20
    assert all("event_id" in r for r in reads)
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("KUNDRESA_CHECK_CACHE", str(blocker / "checks"))
    assert _check(path) == 20 and _check(path) == 20
    assert all("event_id" in r for r in reads)


def test_the_default_folder_follows_xdg(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    for on in ("1", "ON", "yes", "True"):  # the default folder, not a folder named "1"
        monkeypatch.setenv("KUNDRESA_CHECK_CACHE", on)
        assert _proofs.folder() == tmp_path / "home" / ".cache" / "kundresa" / "checks"
    monkeypatch.setenv("KUNDRESA_CHECK_CACHE", "~/kc")
    assert _proofs.folder() == tmp_path / "home" / "kc"
    monkeypatch.setenv("KUNDRESA_CHECK_CACHE", "rel/kc")
    assert _proofs.folder() == tmp_path / "rel" / "kc"
    monkeypatch.setenv("HOME", "relhome")  # a relative home: no default folder
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    monkeypatch.delenv("KUNDRESA_CHECK_CACHE")
    assert _proofs.folder() is None
    monkeypatch.setenv("HOME", "")
    assert _proofs.folder() is None
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert _proofs.folder() == tmp_path / "kundresa" / "checks"
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/cache")  # invalid: the home's cache
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert _proofs.folder() == tmp_path / "home" / ".cache" / "kundresa" / "checks"
    monkeypatch.delenv("HOME")
    monkeypatch.setattr(Path, "home", lambda: (_ for _ in ()).throw(RuntimeError("no home")))
    assert _proofs.folder() is None


def test_the_command_line_remembers_and_answers_the_same(tmp_path: Path, cache: Path) -> None:
    path = _write(tmp_path / "e.parquet", [f"e{i}" for i in range(40)])
    cmd = [
        sys.executable, "-m", "kundresa", "funnel", "--events", str(path),
        "--step", "signup", "--step", "visit", "--format", "json",
    ]  # fmt: skip
    env = {**os.environ, "KUNDRESA_CHECK_CACHE": str(cache)}
    first = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True)
    assert len(list(cache.glob("*.txt"))) == 1
    second = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True)
    assert json.loads(first.stdout) == json.loads(second.stdout)
    assert [r["count"] for r in json.loads(second.stdout)] == [3, 3]


def test_the_event_id_rule_is_pinned() -> None:
    # A change to what passes as an event id must change every digest (old proofs unfound):
    # update _proofs.EVENT_ID_RULE to the new test's digest.
    rule = in_place._clean_parts()["event_id"]
    assert hashlib.sha256(rule.encode()).hexdigest()[:8] == _proofs.EVENT_ID_RULE


def test_the_digest_covers_the_column_schema(tmp_path: Path, cache: Path) -> None:
    # The same page bytes under a required and an optional column decode differently.
    ids = [f"e{i}" for i in range(5)]
    schema = pa.schema([pa.field("event_id", pa.string(), nullable=False)])
    required = tmp_path / "required.parquet"
    pq.write_table(pa.table({"event_id": ids}, schema=schema), required)
    optional = tmp_path / "optional.parquet"
    pq.write_table(pa.table({"event_id": ids}), optional)
    digests = {f.name: _proofs.identity(f) for f in (required, optional)}
    assert None not in digests.values()
    assert digests["required.parquet"] != digests["optional.parquet"]


def test_a_file_replaced_during_the_read_proves_only_what_was_read(
    tmp_path: Path, cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A's ids pass; B (a duplicate id, same size) takes A's name while A is being read (the
    # session-17 review's race, which remembered A's verdict under B's digest): the digest
    # and the ids checked come from one open of the file, so the proof names A's bytes only.
    path = _write(tmp_path / "T.parquet", [f"e{i}" for i in range(20)])
    a_bytes = tmp_path / "A.parquet"
    a_bytes.write_bytes(path.read_bytes())
    dup = [f"e{i}" for i in range(20)]
    dup[3] = dup[4]
    other = _write(tmp_path / "B.parquet", dup)
    real = _read_ahead.read

    def swapped(source: Any, columns: list[str], *rest: Any) -> pa.Table:
        if other.exists():
            os.replace(other, path)  # the name now points to B; the open file is still A
        return real(source, columns, *rest)

    monkeypatch.setattr(_read_ahead, "read", swapped)
    assert _check(path) == 20  # A's rows, read through the open file
    entries = list(cache.glob("*.txt"))
    assert len(entries) == 1
    assert entries[0].read_text().split()[0] == _proofs.identity(a_bytes).digest
    monkeypatch.setattr(_read_ahead, "read", real)
    assert _check(path) is None  # B on its own: its duplicate id is found


@pytest.mark.parametrize("name", ["e?.parquet", "e*.parquet", "a[b].parquet", "x{y}.parquet"])
def test_a_name_with_glob_characters_is_read_as_itself(tmp_path: Path, name: str) -> None:
    # DuckDB's read_parquet reads such a name as a pattern (other files): no view over it.
    path = _write(tmp_path / name, [f"e{i}" for i in range(6)])
    _write(tmp_path / "ex.parquet", [f"e{i}" for i in range(9)])
    _write(tmp_path / "ab.parquet", ["e1", "e1"])
    assert _check(path) is None  # the ordinary ingest reads it
    wh = Warehouse(None)
    try:
        assert wh.ingest([path]).loaded == 6 and wh.event_count() == 6
    finally:
        wh.con.close()
