"""The columns of a file read in place as Arrow decoded them (:mod:`kundresa.store.in_place`),
kept beside the warehouse's DuckDB connection for the analyses that can read them instead of
scanning the file again (the event funnel: :func:`kundresa.analytics._ordered.fetched_codes`).
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass

import duckdb
import numpy as np
import numpy.typing as npt
import pyarrow as pa

__all__ = ["DecodedFile", "decoded_file", "remember"]


_SLICE = 1 << 20


@dataclass(frozen=True)
class DecodedFile:
    """The customer, event and time of every row of a file read in place, decoded once by
    Arrow with the file's own dictionaries (the funnel reads these instead of the file).

    Attributes
    ----------
    customers
        Strings: the customer id of each customer code (the file's dictionaries unified; an
        id no row uses may be among them).
    codes
        ``int32[n]``, read-only: the customer code of each row, in file order.
    names
        Strings: the event name of each event code (likewise).
    events
        ``int32[n]``, read-only: the event code of each row.
    us
        ``int64[n]``, read-only: each row's time in microseconds since 1970 (zone-less).
    """

    customers: pa.Array
    codes: npt.NDArray[np.int32]
    names: pa.Array
    events: npt.NDArray[np.int32]
    us: npt.NDArray[np.int64]

    def used_names(self) -> list[str]:
        """The event names at least one row has."""
        # By slices: bincount copies its input to 64-bit integers, and a copy of every row
        # would be fresh memory (0.1-0.2 s of page faults at 10M rows).
        counts = np.zeros(len(self.names), np.int64)
        for at in range(0, len(self.events), _SLICE):
            counts += np.bincount(self.events[at : at + _SLICE], minlength=len(self.names))
        used = counts > 0
        return [n for n, u in zip(self.names.to_pylist(), used.tolist(), strict=True) if u]


_decoded: weakref.WeakKeyDictionary[duckdb.DuckDBPyConnection, DecodedFile] = (
    weakref.WeakKeyDictionary()
)


def decoded_file(con: duckdb.DuckDBPyConnection) -> DecodedFile | None:
    """The decoded columns of the file whose view is ``con``'s ``events`` (this very
    connection: a cursor has none), or None (no file read in place, or read by DuckDB)."""
    return _decoded.get(con)


def remember(con: duckdb.DuckDBPyConnection, decoded: DecodedFile | None) -> None:
    """Keep ``decoded`` as ``con``'s (None: forget them, before ``events`` changes)."""
    if decoded is None:
        _decoded.pop(con, None)
    else:
        _decoded[con] = decoded
