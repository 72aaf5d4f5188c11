"""The journey model is pure: importing it loads no engine, data library or interface."""

from __future__ import annotations

import subprocess
import sys

HEAVY = ("ibis", "duckdb", "pyarrow", "pandas", "numpy", "pyspark", "fastapi", "click")
OUTSIDE = ("kundresa.store", "kundresa.ingest", "kundresa.analytics", "kundresa.web")


def test_importing_the_model_loads_nothing_heavy() -> None:
    code = (
        "import sys\n"
        "import kundresa.model, kundresa.model.events, kundresa.model.parse\n"
        f"heavy = sorted(m for m in {HEAVY!r} if m in sys.modules)\n"
        f"outside = sorted(m for m in sys.modules if m.startswith({OUTSIDE!r})"
        " or m == 'kundresa.cli')\n"
        "print(heavy, outside)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[] []"


def test_the_event_schema_names_the_model_columns() -> None:
    from kundresa.model.events import EVENT_COLUMNS
    from kundresa.store.schema import EVENT_SCHEMA

    assert tuple(EVENT_SCHEMA.names) == EVENT_COLUMNS
