"""The kernels' ahead-of-time compiled code (:mod:`kundresa.native`) against the numba kernels.

The compiled code is built once into a temporary kernel folder; every kernel is then run both
ways on random inputs (hypothesis) and must give equal arrays. Loading must refuse code that
does not fit: a changed object file, ``KUNDRESA_NATIVE=0``, an empty folder. A fresh process
running ``kundresa funnel --events FILE`` with the code built must not import numba and must
print what the numba kernels print.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kundresa import native
from kundresa.analytics import _kernels, _kernels_jit
from kundresa.native.build import build
from kundresa.store import _distinct, _distinct_jit


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build(tmp_path_factory.mktemp("kernels"))


@pytest.fixture
def compiled(built: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[native.NativeKernels]:
    monkeypatch.setenv("KUNDRESA_NATIVE_DIR", str(built.parent))
    native.reset()
    loaded = native.kernels()
    assert loaded is not None, "the built kernels did not load"
    assert loaded.folder == str(built)
    yield loaded
    native.reset()


def _equal(a: tuple[np.ndarray, ...], b: tuple[np.ndarray, ...]) -> None:
    assert len(a) == len(b)
    for x, y in zip(a, b, strict=True):
        assert x.dtype == y.dtype and x.shape == y.shape
        np.testing.assert_array_equal(x, y)


@st.composite
def _rows(draw: st.DrawFn) -> tuple[np.ndarray, int, np.ndarray, np.ndarray]:
    """Customer codes, customers, times and event ranks of random rows: few instants, so
    ties; a long customer now and then (the sort for more than 32 rows)."""
    n_cust = draw(st.integers(1, 6))
    n = draw(st.integers(0, 120))
    codes = draw(st.lists(st.integers(0, n_cust - 1), min_size=n, max_size=n))
    us = draw(st.lists(st.integers(-3, 40), min_size=n, max_size=n))
    events = draw(st.lists(st.integers(0, 5), min_size=n, max_size=n))
    return np.array(codes, np.int64), n_cust, np.array(us, np.int64), np.array(events, np.int64)


_TABLES = (
    np.array([0, 1, 2, 3, 3, 1], np.int64),  # lookup: event code -> index (3: other)
    np.array([1, 2, 3, 4], np.int64),  # first_of
    np.array([1, 2, 4, 0], np.int64),  # mask_of
    np.array([0, 0, 1, 0], np.int64),  # xmask_of (event index 2 is an exclusion event too)
)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(rows=_rows(), window=st.integers(0, 30), start=st.integers(-5, 20), span=st.integers(0, 40))
def test_funnel_kernels_equal_numba(
    compiled: native.NativeKernels,
    rows: tuple[np.ndarray, int, np.ndarray, np.ndarray],
    window: int,
    start: int,
    span: int,
) -> None:
    codes, n_cust, us, events = rows
    for kind in (np.int32, np.int64):
        got = compiled.grouped_sequence(codes.astype(kind), n_cust, us, events.astype(kind))
        assert got is not None
        _equal(got, _kernels_jit._grouped_sequence(codes, n_cust, us, events))
    # The funnel's rows chosen and grouped in one pass: as choosing them first.
    rank = np.array([1, 0, 2, 3, 3, 2], np.int64)  # event code -> rank; 3: not the funnel's
    for every in (False, True):
        keep = (every | (rank[events] < 3)) & (us >= start) & (us <= start + span)
        want = _kernels_jit._grouped_sequence(codes[keep], n_cust, us[keep], rank[events][keep])
        c32, e32 = codes.astype(np.int32), events.astype(np.int32)
        starts = np.cumsum(np.bincount(want[0], minlength=n_cust + 1)[: n_cust + 1])
        starts = np.concatenate([[0], starts[:-1]]).astype(np.int64)
        for native_code in (True, False):
            with pytest.MonkeyPatch.context() as patch:
                patch.setattr(_kernels, "_RANGE_ROWS", 1)  # ranges even for a few rows
                if not native_code:
                    patch.setattr(_kernels, "kernels", lambda: None)
                for threads in (1, 2, 3):
                    got = _kernels.grouped_ranked(
                        c32, n_cust, us, e32, rank, 3, every=every, lo_us=start,
                        hi_us=start + span, threads=threads,
                    )  # fmt: skip
                    _equal(got[1:], want)
                    _equal((got[0],), (starts,))
    c, u, e = _kernels_jit._grouped_sequence(codes, n_cust, us, events)
    for every in (False, True):
        args = (c, u, e, *_TABLES, start, start + span, every)
        sequence = compiled.coded_sequence(*args)
        assert sequence is not None
        _equal(sequence, _kernels_jit._coded_sequence(*args))
        bounds, _, u_seq, mask, xmask, inper = sequence
        for exclusions in ([], [(0, 1, 3)], [(0, 2, 3), (0, 1, 2)]):
            ex = _kernels.exclusion_arrays(exclusions)
            for strict in (False, True):
                best = (bounds, u_seq, mask, xmask, inper, np.array([0, 1, 2], np.int64), 3, 1)
                got_best = compiled.funnel_best(*best, *ex, window, strict)
                assert got_best is not None
                _equal(got_best, _kernels_jit._funnel_best(*best, *ex, window, strict))
                _grouped_best_is_the_two_passes(
                    compiled,
                    (c, u, e, n_cust),
                    args,
                    sequence,
                    got_best,
                    exclusions,
                    window,
                    strict,
                )


def _grouped_best_is_the_two_passes(
    compiled: native.NativeKernels,
    grouped: tuple[np.ndarray, np.ndarray, np.ndarray, int],
    args: tuple[object, ...],
    sequence: tuple[np.ndarray, ...],
    best: tuple[np.ndarray, np.ndarray, np.ndarray],
    exclusions: list[tuple[int, int, int]],
    window: int,
    strict: bool,
) -> None:
    """``grouped_best`` (compiled and numba, whole or in two ranges of customers) gives what
    ``coded_sequence`` then ``funnel_best`` give, rows numbered in the grouped rows."""
    c, u, e, n_cust = grouped
    lookup, first_of, mask_of, xmask_of = _TABLES
    p_start, p_end, every = args[-3:]
    start = np.zeros(n_cust + 1, np.int64)
    np.cumsum(np.bincount(c, minlength=n_cust), out=start[1:])
    ex = _kernels.exclusion_arrays(exclusions)
    group_of = np.array([0, 1, 2], np.int64)
    outs = []
    for run, cuts in (
        ("compiled", [0, n_cust]),
        ("numba", [0, n_cust]),
        ("compiled", [0, 1, n_cust]),
    ):
        out = (np.full(n_cust, 7), np.full(n_cust, 7), np.full((n_cust, 3), 7))
        for lo, hi in itertools.pairwise(cuts):
            call = (start, u, e, lookup, first_of, mask_of, xmask_of, p_start, p_end, every, lo, hi)
            call += (group_of, 3, 1, *ex, window, strict, *out)
            if run == "compiled":
                assert compiled.grouped_best(*call)
            else:
                _kernels_jit.grouped_best_into(*call)
        outs.append(out)
    _equal(outs[0], outs[1])
    _equal(outs[0], outs[2])
    got_row, got_level, got_steps = outs[0]
    bounds, src = sequence[0], sequence[1]
    best_row, level, step_rows = best
    seen = set()
    for i in range(len(bounds) - 1):
        code = int(c[src[bounds[i]]])
        seen.add(code)
        assert (got_row[code] >= 0) == (best_row[i] >= 0)
        if best_row[i] >= 0:
            assert got_row[code] - start[code] == best_row[i] - bounds[i]
            assert got_level[code] == level[i]
            want = [int(src[r]) if r >= 0 else -1 for r in step_rows[i]]
            assert got_steps[code].tolist() == want
    for code in set(range(n_cust)) - seen:
        assert got_row[code] == -1 and got_level[code] == 0


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    values=st.lists(st.integers(0, 2**64 - 1) | st.sampled_from([0, 1, 2**63]), max_size=300),
    texts=st.lists(st.text(max_size=6) | st.sampled_from([" a", "b ", "\t", ""]), max_size=60),
)
def test_distinct_kernels_equal_numba(
    compiled: native.NativeKernels, values: list[int], texts: list[str]
) -> None:
    hashes = np.array(values, np.uint64)
    assert compiled.all_distinct(hashes) == bool(_distinct_jit._all_distinct(hashes))
    assert compiled.all_distinct(hashes) == (len(set(values)) == len(values))
    array = pa.array(texts, pa.string())
    _, offsets, data = array.buffers()
    at = np.frombuffer(offsets, np.int32)[: len(texts) + 1]
    raw = np.frombuffer(data if data is not None else b"", np.uint8)
    _equal(compiled.text_hashes(at, raw), _distinct_jit._text_hashes(at, raw))


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    values=st.lists(st.integers(0, 2**64 - 1) | st.sampled_from([0, 1, 2**63]), max_size=300),
    texts=st.lists(st.sampled_from(["a", "b", "ab", "", "é", " a"]), max_size=60),
    split=st.integers(0, 1024),
)
def test_partition_and_first_equal_kernels_equal_numba(
    compiled: native.NativeKernels, values: list[int], texts: list[str], split: int
) -> None:
    assert _distinct.PARTITIONS == 1 << _distinct_jit._BITS
    hashes = np.array(values, np.uint64)
    count, count_jit = np.zeros((2, _distinct.PARTITIONS), np.int64)
    assert compiled.partition_count(hashes, count)
    assert _distinct_jit.partition_count(hashes, count_jit)
    _equal((count,), (count_jit,))
    start = np.zeros(_distinct.PARTITIONS + 1, np.int64)
    start[1:] = np.cumsum(count)
    out, out_jit = np.zeros((2, len(hashes)), np.uint64)
    assert compiled.partition_fill(hashes, start[:-1].copy(), out)
    assert _distinct_jit.partition_fill(hashes, start[:-1].copy(), out_jit)
    _equal((out,), (out_jit,))
    for first, last in ((0, split), (split, _distinct.PARTITIONS), (0, 1025), (3, 2)):
        got = compiled.partitions_distinct(out, start, first, last)
        assert got == _distinct_jit.partitions_distinct(out, start, first, last)
    # Places and partitions that do not fit the output are refused, not written.
    if len(hashes):
        assert not compiled.partition_fill(hashes, start[:-1] + len(hashes), out)
        assert compiled.partitions_distinct(out[:-1], start, 0, _distinct.PARTITIONS) == -1
    array = pa.array(texts, pa.string())
    _, offsets, data = array.buffers()
    at = np.frombuffer(offsets, np.int32)[: len(texts) + 1]
    raw = np.frombuffer(data if data is not None else b"", np.uint8)
    for h in (_distinct.text_hashes(array)[0], np.zeros(len(texts), np.uint64)):
        first, first_jit = np.zeros((2, len(texts)), np.int64)
        n = compiled.first_equal(at, raw, h, first)
        assert n == _distinct_jit.first_equal_into(at, raw, h, first_jit) == len(set(texts))
        _equal((first,), (first_jit,))
    if len(texts) and len(raw):
        short = raw[:-1]  # the last offset points past the data
        assert compiled.first_equal(at, short, h, first) == -1


def test_public_kernels_use_the_compiled_code_where_types_fit(
    compiled: native.NativeKernels, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The public functions call the compiled code for its types and the numba kernels for
    others (int16 codes), with equal results."""
    calls: list[str] = []
    run = compiled.functions["grouped_sequence_i32_i32"]
    monkeypatch.setitem(
        compiled.functions, "grouped_sequence_i32_i32", lambda *a: (calls.append("c"), run(*a))[1]
    )
    codes = np.array([1, 0, 1, 1], np.int32)
    us = np.array([9, 5, 7, 7], np.int64)
    events = np.array([0, 0, 2, 1], np.int32)
    got = _kernels.grouped_sequence(codes, 2, us, events)
    assert calls == ["c"]
    other = _kernels.grouped_sequence(codes.astype(np.int16), 2, us, events.astype(np.int16))
    assert calls == ["c"]
    _equal(got, other)
    assert compiled.grouped_sequence(codes, 2, us, events.astype(np.int64)) is None
    assert _distinct.all_distinct(np.array([3, 3], np.uint64)) is False


def test_code_that_does_not_fit_is_not_loaded(
    built: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    copy = tmp_path / built.name
    copy.mkdir()
    for f in built.iterdir():
        (copy / f.name).write_bytes(f.read_bytes())
    monkeypatch.setenv("KUNDRESA_NATIVE_DIR", str(tmp_path))
    native.reset()
    assert native.kernels() is not None
    monkeypatch.setenv("KUNDRESA_NATIVE", "0")
    native.reset()
    assert native.kernels() is None
    monkeypatch.delenv("KUNDRESA_NATIVE")
    # One byte of one object file changed: its SHA-256 no longer matches the index.
    index = json.loads((copy / "index.json").read_text())
    obj = copy / index["kernels"]["funnel_best_into"]["object"]
    blob = bytearray(obj.read_bytes())
    blob[len(blob) // 2] ^= 0xFF
    obj.write_bytes(bytes(blob))
    native.reset()
    assert native.kernels() is None
    # No folder for this process's key (another processor, numba or source).
    monkeypatch.setenv("KUNDRESA_NATIVE_DIR", str(tmp_path / "empty"))
    native.reset()
    assert native.kernels() is None
    native.reset()


def test_build_is_idempotent(built: Path) -> None:
    assert built.stat().st_mode & 0o777 == 0o755  # readable by every user of the package
    before = {f.name: f.stat().st_mtime_ns for f in built.iterdir()}
    assert build(built.parent) == built
    assert {f.name: f.stat().st_mtime_ns for f in built.iterdir()} == before


_PROCESS = r"""
import contextlib, io, sys
from kundresa.cli import main
out = io.StringIO()
with contextlib.redirect_stdout(out), contextlib.suppress(SystemExit):
    main(sys.argv[1:], standalone_mode=False)
sys.stderr.write("numba imported: %s\n" % ("numba" in sys.modules))
sys.stdout.write(out.getvalue())
"""


def test_file_funnel_runs_without_numba(built: Path, tmp_path: Path) -> None:
    """A fresh ``kundresa funnel --events FILE`` runs the compiled code and never imports
    numba; its output equals the numba kernels' (``KUNDRESA_NATIVE=0``)."""
    from kundresa.demo.generator import generate_events

    path = tmp_path / "events.parquet"
    pq.write_table(generate_events(200, seed=3).drop_columns(["properties"]), path)
    args = ["funnel", "--events", str(path), "--step", "page_view", "--step", "signup"]
    args += ["--step", "purchase", "--window", "7d", "--format", "json"]
    outputs = {}
    for setting in ("1", "0"):
        env = {**os.environ, "KUNDRESA_NATIVE_DIR": str(built.parent), "KUNDRESA_NATIVE": setting}
        done = subprocess.run(
            [sys.executable, "-c", _PROCESS, *args],
            env=env,
            capture_output=True,
            text=True,
            check=True,
            timeout=300,
        )
        assert f"numba imported: {setting == '0'}" in done.stderr, done.stderr
        outputs[setting] = done.stdout
    assert json.loads(outputs["1"])[0]["count"] > 0
    assert outputs["1"] == outputs["0"]


def _copy(built: Path, where: Path) -> Path:
    """A copy of the built kernel folder under ``where`` (returned: the key's folder)."""
    copy = where / built.name
    copy.mkdir(parents=True)
    for f in built.iterdir():
        (copy / f.name).write_bytes(f.read_bytes())
    return copy


@pytest.mark.parametrize("forged", ["other kernel", "other kernel, signature rewritten"])
def test_an_index_naming_another_signature_is_not_loaded(
    built: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, forged: str
) -> None:
    """An index entry whose object file and SHA-256 are those of another function (built for
    other arguments) is refused: calling it with this name's arguments would crash."""
    copy = _copy(built, tmp_path)
    index = json.loads((copy / "index.json").read_text())
    entry = dict(index["kernels"]["grouped_sequence_i64_i64"])
    if forged != "other kernel":
        entry["signature"] = native.SIGNATURES["grouped_sequence_i32_i32"]
    index["kernels"]["grouped_sequence_i32_i32"] = entry
    (copy / "index.json").write_text(json.dumps(index))
    monkeypatch.setenv("KUNDRESA_NATIVE_DIR", str(tmp_path))
    native.reset()
    assert native.kernels() is None
    native.reset()


def test_the_key_covers_the_signatures() -> None:
    """The signatures the code is called with are part of the key: code built for others is
    never loaded."""
    here = Path(native.__file__).resolve()
    assert here.relative_to(here.parent.parent).as_posix() in native.SOURCES


_RAISES = r"""
import numpy as np, sys
from kundresa import native
from kundresa.analytics import _kernels
loaded = native.kernels()
assert loaded is not None
c, u, e = np.array([1, 0], np.int32), np.array([9, 5]), np.array([0, 1], np.int32)
print("native:", loaded.grouped_sequence(c, 2**45, u, e))  # 2**48 bytes: never allocated
try:
    _kernels.grouped_sequence(c, 2**45, u, e)
except MemoryError as error:
    print("raised:", type(error).__name__)
print("ran:", [a.tolist() for a in _kernels.grouped_sequence(c, 2, u, e)])
"""


def test_a_kernel_that_raises_runs_the_numba_function(built: Path) -> None:
    """A compiled kernel that raises (an allocation fails) gives no results, its exception is
    not written to stderr, and the numba function runs instead (and raises it); the compiled
    code still runs afterwards, numba imported or not."""
    env = {**os.environ, "KUNDRESA_NATIVE_DIR": str(built.parent)}
    done = subprocess.run(
        [sys.executable, "-c", _RAISES], env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "native: None",
        "raised: MemoryError",
        "ran: [[0, 1], [5, 9], [1, 0]]",
    ]
    assert "Exception ignored" not in done.stderr, done.stderr


def test_an_unreadable_folder_is_passed_over(
    built: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A kernel folder that cannot be read (another user's, say) does not stop the search:
    the next folder's code loads."""
    unreadable = tmp_path / "theirs"
    is_file = Path.is_file

    def guarded(self: Path) -> bool:
        if unreadable in self.parents:
            raise PermissionError(13, "Permission denied", str(self))
        return is_file(self)

    monkeypatch.setattr(Path, "is_file", guarded)
    monkeypatch.delenv("KUNDRESA_NATIVE_DIR", raising=False)
    monkeypatch.setattr(native, "folders", lambda: [unreadable, built.parent])
    native.reset()
    loaded = native.kernels()
    assert loaded is not None and loaded.folder == str(built)
    native.reset()


def test_build_replaces_a_damaged_folder_and_passes_over_an_unwritable_one(
    built: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A build where a kernel folder is there but damaged (an object file changed) writes it
    anew; one whose first folder cannot be written (a read-only package) writes the next."""
    from kundresa.native import build as building

    copy = _copy(built, tmp_path / "damaged")
    obj = copy / "all_distinct.o"
    blob = bytearray(obj.read_bytes())
    blob[len(blob) // 2] ^= 0xFF
    obj.write_bytes(bytes(blob))
    (tmp_path / "a file").write_text("")
    monkeypatch.setattr(building, "folders", lambda: [tmp_path / "a file", copy.parent])
    assert building.build() == copy
    index = json.loads((copy / "index.json").read_text())
    assert (
        hashlib.sha256(obj.read_bytes()).hexdigest() == index["kernels"]["all_distinct"]["sha256"]
    )
    assert [p.name for p in copy.parent.iterdir()] == [copy.name]  # nothing left aside
    monkeypatch.setenv("KUNDRESA_NATIVE_DIR", str(copy.parent))
    native.reset()
    assert native.kernels() is not None
    native.reset()


def test_build_that_cannot_write_says_so_in_one_line(tmp_path: Path) -> None:
    (tmp_path / "a file").write_text("")
    done = subprocess.run(
        [sys.executable, "-m", "kundresa.native.build", str(tmp_path / "a file" / "kernels")],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 1
    assert done.stderr.startswith("kundresa.native.build: could not write the kernels: ")
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr


def test_threads_share_the_compiled_code(compiled: native.NativeKernels) -> None:
    """Kernels called from several threads at once (they release the GIL) give each thread
    the numba kernels' results."""
    from concurrent.futures import ThreadPoolExecutor

    rng = np.random.default_rng(7)
    inputs = []
    for _ in range(8):
        n = int(rng.integers(0, 50_000))
        codes = rng.integers(0, 300, n).astype(np.int32)
        inputs.append((codes, rng.integers(0, 1000, n), rng.integers(0, 5, n).astype(np.int32)))
    with ThreadPoolExecutor(4) as pool:
        got = list(pool.map(lambda a: _kernels.grouped_sequence(a[0], 300, a[1], a[2]), inputs))
    for (codes, us, events), out in zip(inputs, got, strict=True):
        _equal(out, _kernels_jit._grouped_sequence(codes, 300, us, events))


def test_numba_extensions_of_another_python_are_not_loaded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """numba's C extensions are loaded, without importing numba, from the file this Python's
    import system would choose: one built for another Python version is never opened."""
    import importlib.machinery
    import importlib.util

    fake = tmp_path / "numba"
    fake.mkdir()
    (fake / "__init__.py").write_text("")
    (fake / "_helperlib.cpython-30-x86_64-linux-gnu.so").write_bytes(b"not this one")
    (fake / "_helperlib.c").write_text("")
    spec = importlib.machinery.ModuleSpec("numba", None, origin=str(fake / "__init__.py"))
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: spec)
    monkeypatch.delitem(sys.modules, "numba._helperlib", raising=False)  # as before numba
    opened: list[str] = []

    class Loader:
        def __init__(self, name: str, path: str) -> None:
            opened.append(path)
            raise ImportError(f"opened {path}")

    monkeypatch.setattr(importlib.machinery, "ExtensionFileLoader", Loader)
    with pytest.raises(ImportError, match=r"no numba\._helperlib in"):
        native._extension("numba._helperlib", ("_helperlib",))
    assert opened == []
    # This Python's own file is chosen, named by its first suffix.
    own = fake / ("_helperlib" + importlib.machinery.EXTENSION_SUFFIXES[0])
    own.write_bytes(b"")
    with pytest.raises(ImportError, match="opened"):
        native._extension("numba._helperlib", ("_helperlib",))
    assert opened == [str(own)]


@pytest.mark.parametrize("imports", [["numba_no_such_helper"], None])
def test_code_taking_a_symbol_the_process_lacks_is_not_loaded(
    built: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, imports: list[str] | None
) -> None:
    """A function whose code takes a symbol that neither the loader gives the linker nor the
    process has (or whose index does not say what it takes) is refused: the linker would
    leave it at address 0 and the first call would crash."""
    copy = _copy(built, tmp_path)
    index = json.loads((copy / "index.json").read_text())
    entry = index["kernels"]["all_distinct"]
    assert "numba_gil_ensure" in entry["imports"] and "PyErr_Clear" in entry["imports"]
    if imports is None:
        del entry["imports"]
    else:
        entry["imports"] += imports
    (copy / "index.json").write_text(json.dumps(index))
    monkeypatch.setenv("KUNDRESA_NATIVE_DIR", str(tmp_path))
    native.reset()
    assert native.kernels() is None
    native.reset()


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    page=st.binary(max_size=80),
    start=st.integers(-2, 20),
    n=st.integers(0, 12),
    entries=st.lists(st.integers(0, 2**64 - 1), max_size=5),
    end=st.integers(-1, 90),
)
def test_page_kernels_equal_numba(
    compiled: native.NativeKernels, page: bytes, start: int, n: int, entries: list[int], end: int
) -> None:
    # Any bytes, as a damaged Parquet page could hold: the same answer and output, no crash.
    raw = np.frombuffer(page, np.uint8)
    out, out_jit = np.zeros((2, n), np.uint64)
    got = compiled.plain_page_hashes(raw, start, out)
    assert got == _distinct_jit.plain_page_hashes(raw, start, out_jit)
    assert got is not None and (got >= start or got in (-1, -2))
    if start < 0 or start > len(raw):
        assert got == -1
    if got is not None and got >= 0:
        _equal((out,), (out_jit,))
    dictionary = np.array(entries, np.uint64)
    out, out_jit = np.zeros((2, n), np.uint64)
    got = compiled.dictionary_page_gather(raw, start, dictionary, out)
    assert got == _distinct_jit.dictionary_page_gather(raw, start, dictionary, out_jit)
    if got is not None and got >= 0:
        _equal((out,), (out_jit,))
    got = compiled.levels_all_one(raw, start, end, n)
    assert got == _distinct_jit.levels_all_one(raw, start, end, n)
