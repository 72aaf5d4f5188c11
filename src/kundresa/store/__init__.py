"""The project's event warehouse (embedded DuckDB) and the journey file's history.

The names are imported on first use, so that :mod:`kundresa.store.history` loads without
DuckDB.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from kundresa.store.warehouse import IngestError, IngestReport, Warehouse

__all__ = ["IngestError", "IngestReport", "Warehouse"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        return getattr(import_module("kundresa.store.warehouse"), name)
    raise AttributeError(f"module 'kundresa.store' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
