"""Compile the fast paths' kernels ahead of time (numba ``cfunc``) into the kernel folder.

Each function of :data:`kundresa.native.SIGNATURES` is a C-callable wrapper (numba's
``cfunc``: plain pointers and integers in, an integer status out, 0 when the kernel raised)
around the very numba kernel the numba path runs (the ``*_into`` kernels of
:mod:`kundresa.analytics._kernels_jit` and :mod:`kundresa.store._distinct_jit`), so both paths
run one implementation. Its machine code (for this processor, as numba compiles it) is written
as an object file, with an index of names, symbols, signatures, the symbols each takes from
the process and SHA-256s, into ``<folder>/<key>/`` (:func:`kundresa.native.kernel_key`), all
at once (a folder renamed into place; a folder there already that does not load is
replaced). This module imports numba; :mod:`kundresa.native` does not.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from numba import carray, cfunc, types

from kundresa.analytics._kernels_jit import (
    coded_sequence_into,
    coded_sequence_size,
    funnel_best_into,
    grouped_best_into,
    grouped_sequence_into,
    ranked_count,
    ranked_fill,
    sort_customers_range,
)
from kundresa.native import (
    SIGNATURES,
    _llvm,
    _load_folder,
    folders,
    kernel_key,
    reset,
    signature,
)
from kundresa.store._distinct_jit import (
    _all_distinct,
    dictionary_page_gather,
    first_equal_into,
    levels_all_one,
    partition_count,
    partition_fill,
    partitions_distinct,
    plain_page_hashes,
    text_hashes_into,
)

__all__ = ["build"]

_TYPES = {
    "i": types.int64,
    "p64": types.CPointer(types.int64),
    "p32": types.CPointer(types.int32),
    "pu64": types.CPointer(types.uint64),
    "pu8": types.CPointer(types.uint8),
}


def _c(name: str, function: Callable[..., Any]) -> Any:
    """``function`` compiled as a ``cfunc`` of :data:`kundresa.native.SIGNATURES`' ``name``."""
    result, arguments = signature(name)
    return cfunc(_TYPES[result](*(_TYPES[a] for a in arguments)))(function)


def _grouped(name: str) -> Any:
    def grouped(codes, n, n_cust, us, events, out_c, out_u, out_e):
        grouped_sequence_into(
            carray(codes, (n,)),
            n_cust,
            carray(us, (n,)),
            carray(events, (n,)),
            carray(out_c, (n,)),
            carray(out_u, (n,)),
            carray(out_e, (n,)),
        )
        return 1

    return _c(name, grouped)


def _count(codes, n, us, events, rank, n_rank, n_ranked, every, lo, hi, r_lo, r_hi, count, k):
    ranked_count(
        carray(codes, (n,)),
        carray(us, (n,)),
        carray(events, (n,)),
        carray(rank, (n_rank,)),
        n_ranked,
        every != 0,
        lo,
        hi,
        r_lo,
        r_hi,
        carray(count, (k,)),
    )
    return 1


def _fill(
    codes, n, us, events, rank, n_rank, n_ranked, every, lo, hi, r_lo, r_hi, fill, k, oc, n_c,
    ou, oe, m,
):  # fmt: skip
    ranked_fill(
        carray(codes, (n,)),
        carray(us, (n,)),
        carray(events, (n,)),
        carray(rank, (n_rank,)),
        n_ranked,
        every != 0,
        lo,
        hi,
        r_lo,
        r_hi,
        carray(fill, (k,)),
        carray(oc, (n_c,)),
        carray(ou, (m,)),
        carray(oe, (m,)),
    )
    return 1


def _sort_range(start, n_start, ou, oe, m, c_lo, c_hi):
    sort_customers_range(carray(start, (n_start,)), carray(ou, (m,)), carray(oe, (m,)), c_lo, c_hi)
    return 1


def _coded_size(codes, n, events, lookup, n_lookup, other, every, sizes):
    m, n_cust = coded_sequence_size(
        carray(codes, (n,)), carray(events, (n,)), carray(lookup, (n_lookup,)), other, every != 0
    )
    out = carray(sizes, (2,))
    out[0] = m
    out[1] = n_cust
    return 1


def _coded_into(
    codes, n, us, events, lookup, n_lookup, first_of, mask_of, xmask_of, n_tab, start, end,
    every, bounds, n_cust, src, m, us_seq, mask, xmask, inper,
):  # fmt: skip
    coded_sequence_into(
        carray(codes, (n,)),
        carray(us, (n,)),
        carray(events, (n,)),
        carray(lookup, (n_lookup,)),
        carray(first_of, (n_tab,)),
        carray(mask_of, (n_tab,)),
        carray(xmask_of, (n_tab,)),
        start,
        end,
        every != 0,
        carray(bounds, (n_cust + 1,)),
        carray(src, (m,)),
        carray(us_seq, (m,)),
        carray(mask, (m,)),
        carray(xmask, (m,)),
        carray(inper, (m,)),
    )
    return 1


def _best_into(
    bounds, n_cust, us, mask, xmask, inper, m, group_of, k, n_groups, n_x, ex_x, ex_a, ex_b,
    n_ex, window_us, strict, best_row, best_level, best_rows,
):  # fmt: skip
    funnel_best_into(
        carray(bounds, (n_cust + 1,)),
        carray(us, (m,)),
        carray(mask, (m,)),
        carray(xmask, (m,)),
        carray(inper, (m,)),
        carray(group_of, (k,)),
        n_groups,
        n_x,
        carray(ex_x, (n_ex,)),
        carray(ex_a, (n_ex,)),
        carray(ex_b, (n_ex,)),
        window_us,
        strict != 0,
        carray(best_row, (n_cust,)),
        carray(best_level, (n_cust,)),
        carray(best_rows, (n_cust, k)),
    )
    return 1


def _grouped_best(
    start, n_cust, us, events, m, lookup, n_lookup, first_of, mask_of, xmask_of, n_tab,
    p_start, p_end, every, c_lo, c_hi, group_of, k, n_groups, n_x, ex_x, ex_a, ex_b, n_ex,
    window_us, strict, best_row, best_level, best_rows,
):  # fmt: skip
    grouped_best_into(
        carray(start, (n_cust + 1,)),
        carray(us, (m,)),
        carray(events, (m,)),
        carray(lookup, (n_lookup,)),
        carray(first_of, (n_tab,)),
        carray(mask_of, (n_tab,)),
        carray(xmask_of, (n_tab,)),
        p_start,
        p_end,
        every != 0,
        c_lo,
        c_hi,
        carray(group_of, (k,)),
        n_groups,
        n_x,
        carray(ex_x, (n_ex,)),
        carray(ex_a, (n_ex,)),
        carray(ex_b, (n_ex,)),
        window_us,
        strict != 0,
        carray(best_row, (n_cust,)),
        carray(best_level, (n_cust,)),
        carray(best_rows, (n_cust, k)),
    )
    return 1


def _distinct(hashes, n):
    return 2 if _all_distinct(carray(hashes, (n,))) else 1


def _hashes(offsets, n, data, n_data, out, plain):
    text_hashes_into(
        carray(offsets, (n + 1,)), carray(data, (n_data,)), carray(out, (n,)), carray(plain, (n,))
    )
    return 1


def _partition_count(h, n, count, parts):
    return 2 if partition_count(carray(h, (n,)), carray(count, (parts,))) else 1


def _partition_fill(h, n, fill, parts, out, m):
    return 2 if partition_fill(carray(h, (n,)), carray(fill, (parts,)), carray(out, (m,))) else 1


def _partitions_distinct(out, m, start, k, first, last):
    return 2 + partitions_distinct(carray(out, (m,)), carray(start, (k,)), first, last)


def _first_equal(offsets, n, data, n_data, hashes, first):
    return 2 + first_equal_into(
        carray(offsets, (n + 1,)),
        carray(data, (n_data,)),
        carray(hashes, (n,)),
        carray(first, (n,)),
    )


def _plain_page(page, size, start, out, n):
    end = plain_page_hashes(carray(page, (size,)), start, carray(out, (n,)))
    return 3 + end if end >= 0 else (2 if end == -2 else 1)


def _dictionary_page(page, size, start, values, entries, out, n):
    end = dictionary_page_gather(
        carray(page, (size,)), start, carray(values, (entries,)), carray(out, (n,))
    )
    return 2 + end if end >= 0 else 1


def _levels(page, size, start, end, n):
    return 2 + levels_all_one(carray(page, (size,)), start, end, n)


def _compiled() -> dict[str, Any]:
    """The ``cfunc`` of each name of :data:`kundresa.native.SIGNATURES`."""
    done = {
        "grouped_sequence_i32_i32": _grouped("grouped_sequence_i32_i32"),
        "grouped_sequence_i64_i64": _grouped("grouped_sequence_i64_i64"),
        "ranked_count": _c("ranked_count", _count),
        "ranked_fill": _c("ranked_fill", _fill),
        "sort_customers_range": _c("sort_customers_range", _sort_range),
        "coded_sequence_size": _c("coded_sequence_size", _coded_size),
        "coded_sequence_into": _c("coded_sequence_into", _coded_into),
        "funnel_best_into": _c("funnel_best_into", _best_into),
        "grouped_best_into": _c("grouped_best_into", _grouped_best),
        "all_distinct": _c("all_distinct", _distinct),
        "text_hashes_into": _c("text_hashes_into", _hashes),
        "partition_count": _c("partition_count", _partition_count),
        "partition_fill": _c("partition_fill", _partition_fill),
        "partitions_distinct": _c("partitions_distinct", _partitions_distinct),
        "first_equal_into": _c("first_equal_into", _first_equal),
        "plain_page_hashes": _c("plain_page_hashes", _plain_page),
        "dictionary_page_gather": _c("dictionary_page_gather", _dictionary_page),
        "levels_all_one": _c("levels_all_one", _levels),
    }
    assert set(done) == set(SIGNATURES)
    return done


def _object_code(function: Any) -> bytes:
    """The machine code of a compiled ``cfunc`` as an object file (this processor's)."""
    library = function._library
    library._ensure_finalized()
    return bytes(library._codegen._tm.emit_object(library._final_module))


def _imports(function: Any) -> list[str]:
    """The symbols the machine code of a compiled ``cfunc`` takes from the process: those its
    module declares without defining (LLVM's own intrinsics aside)."""
    module = function._library._final_module
    names = {f.name for f in module.functions if f.is_declaration}
    names |= {g.name for g in module.global_variables if g.is_declaration}
    return sorted(n for n in names if not n.startswith("llvm."))


def build(folder: str | os.PathLike[str] | None = None) -> Path:
    """Compile the kernels for this process's key and write them into ``folder`` (default:
        the first of :func:`kundresa.native.folders` that can be written); return the key's
        folder. Nothing is written when it is there already and loads (:func:`_usable`); a folder
    that does not (a damaged object file, say) is replaced. Takes ~10-20 s (numba compiles).

        Raises
        ------
        OSError
            When no folder can be written.
    """
    key = kernel_key(_llvm())
    candidates = [Path(folder)] if folder is not None else folders()
    for where in candidates:
        if _usable(where / key):
            return where / key
    functions = _compiled()
    error: OSError | None = None
    for where in candidates:
        try:
            where.mkdir(parents=True, exist_ok=True)
            return _write(where, key, functions)
        except OSError as e:
            error = e
    raise error if error is not None else OSError("no kernel folder")


def _usable(final: Path) -> bool:
    """Whether the kernel folder ``final`` loads (:func:`kundresa.native._load_folder`)."""
    try:
        return _load_folder(_llvm(), final / "index.json") is not None
    except Exception:  # no index, not readable, not JSON...
        return False


def _write(where: Path, key: str, functions: dict[str, Any]) -> Path:
    final = where / key
    if final.exists() and not _usable(final):  # damaged: moved aside, then replaced
        aside = Path(tempfile.mkdtemp(prefix=f".{key}-old-", dir=where))
        with contextlib.suppress(OSError):  # another process moved it first
            final.rename(aside / key)
        shutil.rmtree(aside, ignore_errors=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{key}-", dir=where))
    try:
        index: dict[str, Any] = {"key": key, "kernels": {}}
        for name, function in functions.items():
            blob = _object_code(function)
            (staging / f"{name}.o").write_bytes(blob)
            index["kernels"][name] = {
                "object": f"{name}.o",
                "symbol": function.native_name,
                "signature": SIGNATURES[name],
                "imports": _imports(function),
                "sha256": hashlib.sha256(blob).hexdigest(),
            }
        (staging / "index.json").write_text(json.dumps(index, indent=1))
        staging.chmod(0o755)  # readable by all, as the package's own files (mkdtemp: 0700)
        with contextlib.suppress(OSError):  # another process built it meanwhile: keep theirs
            staging.rename(final)
        if not _usable(final):
            raise OSError(f"could not write the kernels into {final}")
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    reset()
    return final


def main(argv: list[str]) -> int:
    """``python -m kundresa.native.build [FOLDER]``: build, print the key's folder; exit
    status 1 with a one-line message when no folder can be written."""
    try:
        print(build(argv[0] if argv else None))
    except OSError as e:
        print(f"kundresa.native.build: could not write the kernels: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
