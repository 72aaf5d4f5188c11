"""Whether 64-bit hashes are all distinct: one pass over an open-addressing set (numba).

The in-place check of a Parquet events file (:mod:`kundresa.store.in_place`) proves its event
ids distinct by their 64-bit hashes: distinct hashes mean distinct ids (a collision of two
different ids only sends the file to the ordinary ingest). A set in memory does in one pass
what ``count(DISTINCT hash(...))`` does with DuckDB's hash aggregation, without building
its groups.
"""

from __future__ import annotations

import numba
import numpy as np
import numpy.typing as npt

__all__ = ["all_distinct"]


@numba.njit(cache=True, nogil=True)
def _all_distinct(h: npt.NDArray[np.uint64]) -> bool:
    n = h.shape[0]
    size = 1
    while size < 2 * n:
        size <<= 1
    table = np.zeros(size, np.uint64)  # 0: an empty slot (a hash of 0 is kept aside)
    mask = np.uint64(size - 1)
    zero = False
    for i in range(n):
        x = h[i]
        if x == 0:
            if zero:
                return False
            zero = True
            continue
        j = x & mask
        while True:
            y = table[j]
            if y == 0:
                table[j] = x
                break
            if y == x:
                return False
            j = (j + np.uint64(1)) & mask
    return True


def all_distinct(hashes: npt.NDArray[np.uint64]) -> bool:
    """True when no two values of ``hashes`` (``uint64[n]``) are equal.

    Memory: a table of 16 to 32 bytes a value. Expected time O(n) for well-mixed hashes.

    Examples
    --------
    >>> all_distinct(np.array([3, 0, 2**64 - 1, 7], np.uint64))
    True
    >>> all_distinct(np.array([5, 9, 5], np.uint64)), all_distinct(np.zeros(2, np.uint64))
    (False, False)
    """
    return bool(_all_distinct(np.ascontiguousarray(hashes, dtype=np.uint64)))
