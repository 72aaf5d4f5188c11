"""Reading event files: formats, column aliases, line numbers for quarantine."""

from kundresa.ingest.columns import ALIASES, ColumnError, ColumnMap, map_columns
from kundresa.ingest.readers import FORMATS, ReadError, detect_format, iter_raw_batches

__all__ = [
    "ALIASES",
    "FORMATS",
    "ColumnError",
    "ColumnMap",
    "ReadError",
    "detect_format",
    "iter_raw_batches",
    "map_columns",
]
