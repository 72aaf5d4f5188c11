"""The fast paths' kernels as ahead-of-time compiled machine code, run without numba.

The per-customer kernels (:mod:`kundresa.analytics._kernels`, :mod:`kundresa.store._distinct`)
are numba functions, compiled on first use and cached. A process that runs one pays for
importing numba and loading its cached code: ~0.5-1 s of CPU under Python's interpreter lock,
most of a short command's start-up (the file funnel, ``kundresa funnel --events FILE``).
:func:`kundresa.native.build.build` (run by ``kundresa demo`` and ``make demo``) compiles the
kernels that command runs, with numba, as C-callable functions (numba's ``cfunc``) and keeps
their machine code (an object file each) in the kernel folder (:func:`folders`).
:func:`kernels` loads that code with llvmlite's JIT linker (the same LLVM that numba uses; no
compilation) and calls it through :mod:`ctypes`, which releases the interpreter lock:
~0.1 s instead of ~0.5-1 s, and numba is not imported.

The folder's name is a key of everything the code depends on: the kernels' source files, the
versions of numba, llvmlite and Python, and this machine's processor (its name and features:
the code uses them), so code built for other sources or another processor is never loaded;
each object file's SHA-256, the argument types its function was built for and the symbols it
takes from the process are checked before it is loaded (a function called with other
arguments, or one whose symbol is missing, would crash the process). When no
code fits, or loading fails, :func:`kernels` returns None and the callers run the numba
functions, which give the same results (tests compare both on random inputs); so do they when a
compiled kernel raises (it returns a status: :data:`SIGNATURES`).

The compiled code uses numba's runtime for the arrays it allocates inside a kernel: its two C
extensions (``numba._helperlib``, ``numba.core.runtime._nrt_python``) are loaded from numba's
folder without importing numba, and their functions given to the linker under the names
numba's own start-up gives them.

Environment: ``KUNDRESA_NATIVE=0`` turns the compiled code off (the numba functions run);
``KUNDRESA_NATIVE_DIR`` names the one kernel folder to use.
"""

from __future__ import annotations

import builtins
import ctypes
import hashlib
import importlib.machinery
import importlib.util
import json
import os
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = ["NativeKernels", "folders", "kernel_key", "kernels", "reset"]

SOURCES = (
    "analytics/_kernels_jit.py",
    "store/_distinct_jit.py",
    "native/build.py",
    "native/__init__.py",
)
"""The source files (under the package) whose kernels are compiled, and the signatures they are
called with (:data:`SIGNATURES`, here): part of the key."""

SIGNATURES: dict[str, str] = {
    # name: "return: arguments" of each compiled function (build.py defines them): ``i`` an
    # int64, ``p64``/``p32``/``pu64``/``pu8`` a pointer to int64/int32/uint64/uint8. Each
    # returns a status, positive when the kernel ran (``*_size``: 1 + the size; all_distinct:
    # 1 + whether the values are), 0 when it raised (numba's ``cfunc`` wrapper then writes
    # the exception as "unraisable" and returns zero: an allocation failed, say).
    "grouped_sequence_i32_i32": "i: p32 i i p64 p32 p64 p64 p64",
    "grouped_sequence_i64_i64": "i: p64 i i p64 p64 p64 p64 p64",
    "ranked_count": "i: p32 i p64 p32 p64 i i i i i i i p64 i",
    "ranked_fill": "i: p32 i p64 p32 p64 i i i i i i i p64 i p64 i p64 p64 i",
    "sort_customers_range": "i: p64 i p64 p64 i i i",
    "coded_sequence_size": "i: p64 i p64 p64 i i i p64",
    "coded_sequence_into": "i: p64 i p64 p64 p64 i p64 p64 p64 i i i i p64 i p64 i p64 p64 p64 pu8",
    "funnel_best_into": "i: p64 i p64 p64 p64 pu8 i p64 i i i p64 p64 p64 i i i p64 p64 p64",
    "grouped_best_into": (
        "i: p64 i p64 p64 i p64 i p64 p64 p64 i i i i i i p64 i i i p64 p64 p64 i i i p64 p64 p64"
    ),
    "all_distinct": "i: pu64 i",
    "text_hashes_into": "i: p32 i pu8 i pu64 pu8",
    # partition_count, partition_fill: 1 + whether the inputs fit; partitions_distinct: 2 +
    # the kernel's answer (-1, 0, 1); first_equal_into: 2 + its count (-1: did not fit).
    "partition_count": "i: pu64 i p64 i",
    "partition_fill": "i: pu64 i p64 i pu64 i",
    "partitions_distinct": "i: pu64 i p64 i i i",
    "first_equal_into": "i: p32 i pu8 i pu64 p64",
    # plain_page_hashes: 3 + where the texts end, 2 at a text not plain, 1 when they do not
    # fit; dictionary_page_gather: 2 + where the runs end, 1 when they do not fit;
    # levels_all_one: 2 + the kernel's answer (-1, 0, 1).
    "plain_page_hashes": "i: pu8 i i pu64 i",
    "dictionary_page_gather": "i: pu8 i i pu64 i pu64 i",
    "levels_all_one": "i: pu8 i i i i",
}
"""The compiled functions' C signatures."""


def signature(name: str) -> tuple[str, list[str]]:
    """The return type and argument types of :data:`SIGNATURES`' ``name``."""
    result, arguments = SIGNATURES[name].split(":")
    return result.strip(), arguments.split()


def _ctypes(name: str) -> Any:
    _, arguments = signature(name)
    return ctypes.CFUNCTYPE(
        ctypes.c_int64, *(ctypes.c_int64 if a == "i" else ctypes.c_void_p for a in arguments)
    )


_MANGLED = {"i": "x", "p64": "8int64_2a", "p32": "8int32_2a", "pu64": "9uint64_2a"}
_MANGLED["pu8"] = "8uint8_2a"
"""Each argument type as numba's mangled names spell it (Itanium ABI: ``x`` is int64)."""


def _fits(name: str, entry: dict[str, Any]) -> bool:
    """Whether an index entry's function takes the arguments :data:`SIGNATURES` gives ``name``:
    the signature it was built for is this one, and so is its symbol's (numba's mangled name
    ends with its argument types). Calling a function with other arguments would crash."""
    symbol = entry.get("symbol")
    _, arguments = signature(name)
    return (
        entry.get("signature") == SIGNATURES[name]
        and isinstance(symbol, str)
        and symbol.endswith("E" + "".join(_MANGLED[a] for a in arguments))
    )


_lock = threading.Lock()
_loaded: list[NativeKernels | None] = []
_llvm_ready: list[Any] = []


def _package() -> Path:
    return Path(__file__).resolve().parent.parent


def folders() -> list[Path]:
    """Where kernel code is looked for, in order: ``KUNDRESA_NATIVE_DIR`` alone when set;
    else the package's own ``native/__pycache__/kernels`` folder, then the user's cache folder
    (``$XDG_CACHE_HOME/kundresa/kernels``, default ``~/.cache``) for a read-only install. A
    folder that cannot be read, or whose code does not load, is passed over."""
    named = os.environ.get("KUNDRESA_NATIVE_DIR", "").strip()
    if named:
        return [Path(named)]
    cache = os.environ.get("XDG_CACHE_HOME", "").strip() or str(Path.home() / ".cache")
    return [
        Path(__file__).resolve().parent / "__pycache__" / "kernels",
        Path(cache) / "kundresa" / "kernels",
    ]


def _llvm() -> Any:
    """llvmlite's binding, its native target set up, with the symbols numba's start-up gives
    the linker (once a process): numba's C helpers and runtime, Python's exceptions, None."""
    if _llvm_ready:
        return _llvm_ready[0]
    import llvmlite.binding as llvm

    llvm.initialize_native_target()
    llvm.initialize_native_asmprinter()
    helperlib = _extension("numba._helperlib", ("_helperlib",))
    dynfunc = _extension("numba._dynfunc", ("_dynfunc",))
    nrt = _extension("numba.core.runtime._nrt_python", ("core", "runtime", "_nrt_python"))
    # As numba.core.base._load_global_helpers and numba.core.runtime.nrt.Runtime.initialize.
    llvm.add_symbol("_Py_NoneStruct", id(None))
    for helpers in (helperlib.c_helpers, dynfunc.c_helpers):
        for name, address in helpers.items():
            llvm.add_symbol("numba_" + name, address)
    for name, address in nrt.c_helpers.items():
        llvm.add_symbol(name if name.startswith("_") else "NRT_" + name, address)
    for value in builtins.__dict__.values():
        if isinstance(value, type) and issubclass(value, BaseException):
            llvm.add_symbol(f"PyExc_{value.__name__}", id(value))
    _llvm_ready.append(llvm)
    return llvm


def _extension(name: str, parts: tuple[str, ...]) -> Any:
    """numba's C extension ``name``: the imported module when numba is imported already, else
    loaded from numba's folder without importing numba (its runtime starts when loaded)."""
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.find_spec("numba")
    if spec is None or spec.origin is None:
        raise ImportError("numba is not installed")
    folder = Path(spec.origin).parent.joinpath(*parts[:-1])
    # This Python's own suffixes, in its order (as its import system looks): a file built for
    # another Python version, left in the folder, is never loaded.
    found = [
        folder / (parts[-1] + suffix)
        for suffix in importlib.machinery.EXTENSION_SUFFIXES
        if (folder / (parts[-1] + suffix)).is_file()
    ]
    if not found:
        raise ImportError(f"no {name} in {folder}")
    loader = importlib.machinery.ExtensionFileLoader(name, str(found[0]))
    module_spec = importlib.util.spec_from_file_location(name, found[0], loader=loader)
    assert module_spec is not None
    module = importlib.util.module_from_spec(module_spec)
    loader.exec_module(module)
    return module


def kernel_key(llvm: Any | None = None) -> str:
    """The key of the kernel code this process can run: a SHA-256 (hex, 24 digits) of the
    kernels' sources (:data:`SOURCES`), the numba, llvmlite and Python versions, and this
    processor's name and features as LLVM reads them."""
    from importlib.metadata import version

    llvm = llvm if llvm is not None else _llvm()
    digest = hashlib.sha256()
    for name in SOURCES:
        digest.update(name.encode())
        digest.update(_package().joinpath(name).read_bytes())
    for part in (
        version("numba"),
        version("llvmlite"),
        sys.version,
        llvm.get_process_triple(),
        llvm.get_host_cpu_name(),
        llvm.get_host_cpu_features().flatten(),
    ):
        digest.update(b"\0" + part.encode())
    return digest.hexdigest()[:24]


def kernels() -> NativeKernels | None:
    """The compiled kernels of this process (loaded once), or None: no code built for this
    key, ``KUNDRESA_NATIVE=0``, or loading failed (then the numba functions run)."""
    if _loaded:
        return _loaded[0]
    with _lock:
        if not _loaded:
            _loaded.append(_load())
    return _loaded[0]


def reset() -> None:
    """Forget the loaded kernels: the next :func:`kernels` looks again (for tests)."""
    with _lock:
        _loaded.clear()


def _load() -> NativeKernels | None:
    from kundresa._env import switched_off

    if switched_off("KUNDRESA_NATIVE"):
        return None
    try:
        llvm = _llvm()
        key = kernel_key(llvm)
    except Exception:  # no llvmlite or numba, say: the numba functions run (or fail) instead
        return None
    for folder in folders():
        index = folder / key / "index.json"
        try:
            if index.is_file():
                loaded = _load_folder(llvm, index)
                if loaded is not None:
                    return loaded
        except Exception:  # an unreadable folder or index, say: look in the next folder
            continue
    return None


def _load_folder(llvm: Any, index: Path) -> NativeKernels | None:
    spec = json.loads(index.read_text())
    target = llvm.Target.from_default_triple()
    engines: list[Any] = []
    functions: dict[str, Any] = {}
    for name in SIGNATURES:
        entry = spec["kernels"][name]
        if not _fits(name, entry) or not _resolved(llvm, entry.get("imports")):
            return None
        blob = index.parent.joinpath(entry["object"]).read_bytes()
        if hashlib.sha256(blob).hexdigest() != entry["sha256"]:
            return None
        # An engine owns its module and target machine: one of each per engine.
        engine = llvm.create_mcjit_compiler(llvm.parse_assembly(""), target.create_target_machine())
        engine.add_object_file(llvm.ObjectFileRef.from_data(blob))
        engine.finalize_object()
        address = engine.get_function_address(entry["symbol"])
        if not address:
            return None
        engines.append(engine)
        functions[name] = _ctypes(name)(address)
    _quiet_kernel_errors()
    return NativeKernels(functions, engines, str(index.parent))


_CFUNC_ERROR = "<numba.core.cpu.CPUContext>"
"""The object numba's ``cfunc`` wrapper names when it writes a kernel's exception."""

_quiet: list[bool] = []


_process: list[Any] = []


def _resolved(llvm: Any, imports: Any) -> bool:
    """Whether every symbol of ``imports`` (an index entry's: those its code takes from the
    process) is there for the linker: given to it (:func:`_llvm`) or in the process (Python's
    C API, the C library). The linker leaves a missing one at address 0, and the first call
    of the function crashes (a kernel needing what only numba's own start-up gives, say)."""
    if not isinstance(imports, list):
        return False
    if not _process:
        try:
            _process.append(ctypes.CDLL(None))
        except Exception:  # no handle of the process here: only the linker's own symbols
            _process.append(None)
    return all(
        isinstance(name, str)
        and bool(llvm.address_of_symbol(name) or (_process[0] and hasattr(_process[0], name)))
        for name in imports
    )


def _quiet_kernel_errors() -> None:
    """Leave out of stderr the exceptions the compiled kernels write as "unraisable" (once a
    process): the kernel then returns 0 and its caller runs the numba function, which raises
    the same exception as an exception (or succeeds). Others go to the hook as before."""
    if _quiet:
        return
    _quiet.append(True)
    previous = sys.unraisablehook

    def hook(unraisable: Any) -> None:
        if not (isinstance(unraisable.object, str) and unraisable.object == _CFUNC_ERROR):
            previous(unraisable)

    sys.unraisablehook = hook


_MAPPED = 1 << 20
"""Outputs of at least this many bytes are mapped memory (:func:`_empty`)."""


def _empty(shape: int | tuple[int, int], dtype: Any) -> npt.NDArray[Any]:
    """An uninitialised array for a kernel to fill. A large one is anonymous mapped memory
    (zero pages until written; freed with the array), as numba's own allocations are: numpy
    asks the kernel for transparent huge pages for large arrays, which makes a first write
    wait for the kernel to compact memory (up to a second of system time a run, measured)."""
    dims = (shape,) if isinstance(shape, int) else shape
    size = int(np.prod(dims)) * np.dtype(dtype).itemsize
    if size < _MAPPED:
        return np.empty(dims, dtype)
    import mmap

    mapped = mmap.mmap(-1, size, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
    return np.frombuffer(mapped, dtype).reshape(dims)


def _writable(a: npt.NDArray[Any]) -> bool:
    """Whether ``a`` is an ``int64`` array a kernel may write in place (C-contiguous)."""
    return bool(a.dtype == np.int64 and a.flags.c_contiguous and a.flags.writeable)


def _writable_u64(a: npt.NDArray[Any]) -> bool:
    """Whether ``a`` is a ``uint64[n]`` a kernel may write in place (C-contiguous)."""
    return bool(a.dtype == np.uint64 and a.ndim == 1 and a.flags.c_contiguous and a.flags.writeable)


def _ptr(a: npt.NDArray[Any]) -> int:
    return int(a.ctypes.data)


def _contiguous(a: Any, dtype: Any) -> npt.NDArray[Any] | None:
    """``a`` as a C-contiguous array of exactly ``dtype`` without converting, or None."""
    if not isinstance(a, np.ndarray) or a.dtype != dtype or a.ndim != 1:
        return None
    return a if a.flags.c_contiguous else np.ascontiguousarray(a)


@dataclass
class NativeKernels:
    """The loaded kernel code; each method mirrors the kernel of the same name and returns None
    when its inputs have other types than the compiled code's, or when the kernel raised (an
    allocation failed, say): the caller then runs the numba function.

    Attributes
    ----------
    functions
        The C-callable functions (:mod:`ctypes`) by name (:data:`SIGNATURES`).
    folder
        Where their code was loaded from.
    """

    functions: dict[str, Any]
    engines: list[Any] = field(repr=False)
    folder: str = ""

    def grouped_sequence(
        self,
        codes: npt.NDArray[Any],
        n_cust: int,
        us: npt.NDArray[np.int64],
        events: npt.NDArray[Any],
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.int64]] | None:
        """:func:`kundresa.analytics._kernels.grouped_sequence` for ``int32`` or ``int64``
        customer codes and event ranks (both of one type)."""
        kind = {np.dtype(np.int32): "i32", np.dtype(np.int64): "i64"}.get(
            getattr(codes, "dtype", None)
        )
        if kind is None:
            return None
        c = _contiguous(codes, codes.dtype)
        e = _contiguous(events, codes.dtype)
        u = _contiguous(us, np.int64)
        if c is None or e is None or u is None or not len(c) == len(e) == len(u):
            return None
        n = len(c)
        out = (_empty(n, np.int64), _empty(n, np.int64), _empty(n, np.int64))
        ran = self.functions[f"grouped_sequence_{kind}_{kind}"](
            _ptr(c), n, int(n_cust), _ptr(u), _ptr(e), *(_ptr(o) for o in out)
        )
        return out if ran > 0 else None

    def _ranked_inputs(
        self,
        codes: npt.NDArray[Any],
        us: npt.NDArray[np.int64],
        events: npt.NDArray[Any],
        rank: npt.NDArray[np.int64],
        rows: tuple[int, int],
    ) -> tuple[Any, ...] | None:
        c = _contiguous(codes, np.int32)
        e = _contiguous(events, np.int32)
        u = _contiguous(us, np.int64)
        look = _contiguous(rank, np.int64)
        if c is None or e is None or u is None or look is None or not len(c) == len(e) == len(u):
            return None
        if not 0 <= rows[0] <= rows[1] <= len(c):
            return None
        return (_ptr(c), len(c), _ptr(u), _ptr(e), _ptr(look), len(look))

    def ranked_count(
        self,
        codes: npt.NDArray[Any],
        us: npt.NDArray[np.int64],
        events: npt.NDArray[Any],
        rank: npt.NDArray[np.int64],
        n_ranked: int,
        every: bool,
        lo_us: int,
        hi_us: int,
        rows: tuple[int, int],
        count: npt.NDArray[np.int64],
    ) -> bool:
        """:func:`kundresa.analytics._kernels_jit.ranked_count` for ``int32`` customer and
        event codes (a file's, decoded); False (nothing done) for other inputs."""
        inputs = self._ranked_inputs(codes, us, events, rank, rows)
        if inputs is None or not _writable(count):
            return False
        flags = (int(n_ranked), int(bool(every)), int(lo_us), int(hi_us), *map(int, rows))
        return self.functions["ranked_count"](*inputs, *flags, _ptr(count), len(count)) > 0

    def ranked_fill(
        self,
        codes: npt.NDArray[Any],
        us: npt.NDArray[np.int64],
        events: npt.NDArray[Any],
        rank: npt.NDArray[np.int64],
        n_ranked: int,
        every: bool,
        lo_us: int,
        hi_us: int,
        rows: tuple[int, int],
        fill: npt.NDArray[np.int64],
        out: tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.int64]],
    ) -> bool:
        """:func:`kundresa.analytics._kernels_jit.ranked_fill` for ``int32`` customer and
        event codes; False (nothing done) for other inputs."""
        inputs = self._ranked_inputs(codes, us, events, rank, rows)
        out_c, out_u, out_e = out
        if inputs is None or not all(_writable(a) for a in (fill, *out)):
            return False
        if len(out_u) != len(out_e) or len(out_c) not in (0, len(out_u)):
            return False
        flags = (int(n_ranked), int(bool(every)), int(lo_us), int(hi_us), *map(int, rows))
        ran = self.functions["ranked_fill"](
            *inputs, *flags, _ptr(fill), len(fill), _ptr(out_c), len(out_c), _ptr(out_u),
            _ptr(out_e), len(out_u),
        )  # fmt: skip
        return ran > 0

    def sort_customers_range(
        self,
        start: npt.NDArray[np.int64],
        out_u: npt.NDArray[np.int64],
        out_e: npt.NDArray[np.int64],
        customers: tuple[int, int],
    ) -> bool:
        """:func:`kundresa.analytics._kernels_jit.sort_customers_range`; False (nothing
        done) for other inputs."""
        b = _contiguous(start, np.int64)
        if b is None or not len(b) or not _writable(out_u) or not _writable(out_e):
            return False
        if len(out_u) != len(out_e) or not 0 <= customers[0] <= customers[1] <= len(b) - 1:
            return False
        if len(b) > 1 and (b[0] < 0 or b[-1] > len(out_u)):
            return False
        ran = self.functions["sort_customers_range"](
            _ptr(b), len(b), _ptr(out_u), _ptr(out_e), len(out_u), *map(int, customers)
        )
        return ran > 0

    def coded_sequence(
        self,
        codes: npt.NDArray[Any],
        us: npt.NDArray[np.int64],
        events: npt.NDArray[Any],
        lookup: npt.NDArray[np.int64],
        first_of: npt.NDArray[np.int64],
        mask_of: npt.NDArray[np.int64],
        xmask_of: npt.NDArray[np.int64],
        start: int,
        end: int,
        every: bool,
    ) -> (
        tuple[
            npt.NDArray[np.int64],
            npt.NDArray[np.int64],
            npt.NDArray[np.int64],
            npt.NDArray[np.int64],
            npt.NDArray[np.int64],
            npt.NDArray[np.bool_],
        ]
        | None
    ):
        """:func:`kundresa.analytics._kernels.coded_sequence` for ``int64`` inputs."""
        arrays = [_contiguous(a, np.int64) for a in (codes, us, events, lookup)]
        tables = [_contiguous(a, np.int64) for a in (first_of, mask_of, xmask_of)]
        if any(a is None for a in (*arrays, *tables)):
            return None
        c, u, e, look = arrays
        fo, mo, xo = tables
        assert c is not None and u is not None and e is not None and look is not None
        assert fo is not None and mo is not None and xo is not None
        n = len(c)
        if not len(u) == len(e) == n or not len(fo) == len(mo) == len(xo) or not len(fo):
            return None
        sizes = np.zeros(2, np.int64)
        if not self.functions["coded_sequence_size"](
            _ptr(c), n, _ptr(e), _ptr(look), len(look), len(fo) - 1, int(bool(every)), _ptr(sizes)
        ):
            return None
        m, n_cust = int(sizes[0]), int(sizes[1])
        bounds = _empty(n_cust + 1, np.int64)
        src, us_seq, mask, xmask = (_empty(m, np.int64) for _ in range(4))
        inper = _empty(m, np.bool_)
        ran = self.functions["coded_sequence_into"](
            _ptr(c), n, _ptr(u), _ptr(e), _ptr(look), len(look), _ptr(fo), _ptr(mo), _ptr(xo),
            len(fo), int(start), int(end), int(bool(every)),
            _ptr(bounds), n_cust, _ptr(src), m, _ptr(us_seq), _ptr(mask), _ptr(xmask), _ptr(inper),
        )  # fmt: skip
        return (bounds, src, us_seq, mask, xmask, inper) if ran > 0 else None

    def funnel_best(
        self,
        bounds: npt.NDArray[np.int64],
        us: npt.NDArray[np.int64],
        mask: npt.NDArray[np.int64],
        xmask: npt.NDArray[np.int64],
        inper: npt.NDArray[np.bool_],
        group_of: npt.NDArray[np.int64],
        n_groups: int,
        n_x: int,
        ex_x: npt.NDArray[np.int64],
        ex_a: npt.NDArray[np.int64],
        ex_b: npt.NDArray[np.int64],
        window_us: int,
        strict: bool,
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.int64]] | None:
        """:func:`kundresa.analytics._kernels.funnel_best` for ``int64`` inputs."""
        ints = [_contiguous(a, np.int64) for a in (bounds, us, mask, xmask, group_of)]
        ex = [_contiguous(a, np.int64) for a in (ex_x, ex_a, ex_b)]
        flags = _contiguous(inper, np.bool_)
        if any(a is None for a in (*ints, *ex)) or flags is None:
            return None
        b, u, mk, xm, g = ints
        exx, exa, exb = ex
        assert b is not None and u is not None and mk is not None and xm is not None
        assert g is not None and exx is not None and exa is not None and exb is not None
        m = len(u)
        if not len(b) or not len(mk) == len(xm) == len(flags) == m or not len(g):
            return None
        if not len(exx) == len(exa) == len(exb) or (len(b) > 1 and b[-1] > m):
            return None
        n_cust, k = len(b) - 1, len(g)
        best_row = _empty(n_cust, np.int64)
        best_level = _empty(n_cust, np.int64)
        best_rows = _empty((n_cust, k), np.int64)
        ran = self.functions["funnel_best_into"](
            _ptr(b), n_cust, _ptr(u), _ptr(mk), _ptr(xm), _ptr(flags), m, _ptr(g), k,
            int(n_groups), int(n_x), _ptr(exx), _ptr(exa), _ptr(exb), len(exx),
            int(window_us), int(bool(strict)),
            _ptr(best_row), _ptr(best_level), _ptr(best_rows),
        )  # fmt: skip
        return (best_row, best_level, best_rows) if ran > 0 else None

    def grouped_best(
        self,
        start: npt.NDArray[np.int64],
        us: npt.NDArray[np.int64],
        events: npt.NDArray[np.int64],
        lookup: npt.NDArray[np.int64],
        first_of: npt.NDArray[np.int64],
        mask_of: npt.NDArray[np.int64],
        xmask_of: npt.NDArray[np.int64],
        p_start: int,
        p_end: int,
        every: bool,
        c_lo: int,
        c_hi: int,
        group_of: npt.NDArray[np.int64],
        n_groups: int,
        n_x: int,
        ex_x: npt.NDArray[np.int64],
        ex_a: npt.NDArray[np.int64],
        ex_b: npt.NDArray[np.int64],
        window_us: int,
        strict: bool,
        best_row: npt.NDArray[np.int64],
        best_level: npt.NDArray[np.int64],
        best_rows: npt.NDArray[np.int64],
    ) -> bool:
        """:func:`kundresa.analytics._kernels.grouped_best` for ``int64`` inputs and
        C-contiguous ``int64`` outputs: False (nothing computed) when they are not or the
        kernel failed."""
        ints = [_contiguous(a, np.int64) for a in (start, us, events, lookup, group_of)]
        tables = [_contiguous(a, np.int64) for a in (first_of, mask_of, xmask_of)]
        ex = [_contiguous(a, np.int64) for a in (ex_x, ex_a, ex_b)]
        if any(a is None for a in (*ints, *tables, *ex)):
            return False
        outs = (best_row, best_level, best_rows)
        if any(
            o.dtype != np.int64 or not o.flags.c_contiguous or not o.flags.writeable for o in outs
        ):
            return False
        b, u, e, look, g = ints
        fo, mo, xo = tables
        exx, exa, exb = ex
        assert b is not None and u is not None and e is not None and look is not None
        assert g is not None and fo is not None and mo is not None and xo is not None
        assert exx is not None and exa is not None and exb is not None
        n_cust, m, k = len(b) - 1, len(u), len(g)
        if n_cust < 0 or len(e) != m or not len(fo) == len(mo) == len(xo) or not len(fo) or not k:
            return False
        if not len(exx) == len(exa) == len(exb) or not 0 <= c_lo <= c_hi <= n_cust:
            return False
        if len(best_row) != n_cust or len(best_level) != n_cust or best_rows.shape != (n_cust, k):
            return False
        ran = self.functions["grouped_best_into"](
            _ptr(b), n_cust, _ptr(u), _ptr(e), m, _ptr(look), len(look), _ptr(fo), _ptr(mo),
            _ptr(xo), len(fo), int(p_start), int(p_end), int(bool(every)), int(c_lo), int(c_hi),
            _ptr(g), k, int(n_groups), int(n_x), _ptr(exx), _ptr(exa), _ptr(exb), len(exx),
            int(window_us), int(bool(strict)), _ptr(best_row), _ptr(best_level), _ptr(best_rows),
        )  # fmt: skip
        return ran > 0

    def all_distinct(self, hashes: npt.NDArray[np.uint64]) -> bool | None:
        """:func:`kundresa.store._distinct.all_distinct` (``uint64``, contiguous)."""
        h = np.ascontiguousarray(hashes, dtype=np.uint64)
        ran = int(self.functions["all_distinct"](_ptr(h), len(h)))
        return ran == 2 if ran > 0 else None

    def partition_count(self, h: npt.NDArray[np.uint64], count: npt.NDArray[np.int64]) -> bool:
        """:func:`kundresa.store._distinct_jit.partition_count`; False (nothing done) for
        other inputs."""
        v = _contiguous(h, np.uint64)
        if v is None or not _writable(count) or count.ndim != 1:
            return False
        ran = self.functions["partition_count"](_ptr(v), len(v), _ptr(count), len(count))
        return int(ran) == 2

    def partition_fill(
        self, h: npt.NDArray[np.uint64], fill: npt.NDArray[np.int64], out: npt.NDArray[np.uint64]
    ) -> bool:
        """:func:`kundresa.store._distinct_jit.partition_fill`; False for other inputs or a
        ``fill`` that does not fit ``out`` (then ``out`` and ``fill`` are partly written)."""
        v = _contiguous(h, np.uint64)
        if v is None or not _writable(fill) or fill.ndim != 1:
            return False
        if not (out.dtype == np.uint64 and out.ndim == 1 and out.flags.c_contiguous):
            return False
        if not out.flags.writeable:
            return False
        ran = self.functions["partition_fill"](
            _ptr(v), len(v), _ptr(fill), len(fill), _ptr(out), len(out)
        )
        return int(ran) == 2

    def partitions_distinct(
        self, out: npt.NDArray[np.uint64], start: npt.NDArray[np.int64], first: int, last: int
    ) -> int | None:
        """:func:`kundresa.store._distinct_jit.partitions_distinct` (1, 0 or -1), or None
        for other types."""
        v = _contiguous(out, np.uint64)
        b = _contiguous(start, np.int64)
        if v is None or b is None:
            return None
        ran = int(
            self.functions["partitions_distinct"](
                _ptr(v), len(v), _ptr(b), len(b), int(first), int(last)
            )
        )
        return ran - 2 if ran > 0 else None

    def first_equal(
        self,
        offsets: npt.NDArray[np.int32],
        data: npt.NDArray[np.uint8],
        hashes: npt.NDArray[np.uint64],
        first: npt.NDArray[np.int64],
    ) -> int | None:
        """:func:`kundresa.store._distinct_jit.first_equal_into` (its count, -1 when the
        offsets do not fit), or None for other types."""
        at = _contiguous(offsets, np.int32)
        raw = _contiguous(data, np.uint8)
        h = _contiguous(hashes, np.uint64)
        if at is None or raw is None or h is None or not _writable(first):
            return None
        if len(at) != len(h) + 1 or len(first) != len(h):
            return -1
        ran = int(
            self.functions["first_equal_into"](
                _ptr(at), len(h), _ptr(raw), len(raw), _ptr(h), _ptr(first)
            )
        )
        return ran - 2 if ran > 0 else None

    def plain_page_hashes(
        self, page: npt.NDArray[np.uint8], start: int, out: npt.NDArray[np.uint64]
    ) -> int | None:
        """:func:`kundresa.store._distinct_jit.plain_page_hashes` (its answer), or None for
        other types (``out`` must be a contiguous, writable ``uint64[n]``)."""
        raw = _contiguous(page, np.uint8)
        if raw is None or not _writable_u64(out):
            return None
        ran = int(
            self.functions["plain_page_hashes"](_ptr(raw), len(raw), start, _ptr(out), len(out))
        )
        return {0: None, 1: -1, 2: -2}.get(ran, ran - 3)

    def dictionary_page_gather(
        self,
        page: npt.NDArray[np.uint8],
        start: int,
        dictionary: npt.NDArray[np.uint64],
        out: npt.NDArray[np.uint64],
    ) -> int | None:
        """:func:`kundresa.store._distinct_jit.dictionary_page_gather` (its answer), or None
        for other types."""
        raw = _contiguous(page, np.uint8)
        values = _contiguous(dictionary, np.uint64)
        if raw is None or values is None or not _writable_u64(out):
            return None
        ran = int(
            self.functions["dictionary_page_gather"](
                _ptr(raw), len(raw), start, _ptr(values), len(values), _ptr(out), len(out)
            )
        )
        return None if ran == 0 else -1 if ran == 1 else ran - 2

    def levels_all_one(
        self, page: npt.NDArray[np.uint8], start: int, end: int, n: int
    ) -> int | None:
        """:func:`kundresa.store._distinct_jit.levels_all_one` (its answer), or None for
        other types."""
        raw = _contiguous(page, np.uint8)
        if raw is None:
            return None
        ran = int(self.functions["levels_all_one"](_ptr(raw), len(raw), start, end, n))
        return ran - 2 if ran > 0 else None

    def text_hashes(
        self,
        offsets: npt.NDArray[np.int32],
        data: npt.NDArray[np.uint8],
        out: npt.NDArray[np.uint64] | None = None,
    ) -> tuple[npt.NDArray[np.uint64], npt.NDArray[np.bool_]] | None:
        """:func:`kundresa.store._distinct.text_hashes`' pass over 32-bit ``offsets`` (``n +
        1``) into ``data``; the hashes into ``out`` when given (``uint64[n]``, contiguous and
        writable, else None: nothing done)."""
        at = np.ascontiguousarray(offsets, dtype=np.int32)
        raw = np.ascontiguousarray(data, dtype=np.uint8)
        n = len(at) - 1
        if out is None:
            out = _empty(max(n, 0), np.uint64)
        elif not (
            out.dtype == np.uint64
            and out.shape == (max(n, 0),)
            and out.flags.c_contiguous
            and out.flags.writeable
        ):
            return None
        plain = _empty(max(n, 0), np.bool_)
        if n > 0 and not self.functions["text_hashes_into"](
            _ptr(at), n, _ptr(raw), len(raw), _ptr(out), _ptr(plain)
        ):
            return None
        return out, plain
