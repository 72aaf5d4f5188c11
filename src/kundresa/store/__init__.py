"""The project's event warehouse (embedded DuckDB)."""

from kundresa.store.warehouse import IngestError, IngestReport, Warehouse

__all__ = ["IngestError", "IngestReport", "Warehouse"]
