"""Spark sees the same resolved customer ids as DuckDB (identity stitching)."""

from __future__ import annotations

import pyarrow as pa
import pytest

from kundresa.project import Project

pytest.importorskip("pyspark")

# py4j leaves sockets to the JVM open (as in test_engines.py).
pytestmark = [
    pytest.mark.slow,
    pytest.mark.filterwarnings("ignore::DeprecationWarning"),
    pytest.mark.filterwarnings("ignore::ResourceWarning"),
    pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning"),
]


def test_spark_reads_resolved_customer_ids() -> None:
    events = pa.table(
        {
            "anonymous_id": ["anon-1", "anon-1", None, "anon-2"],
            "user_id": [None, "u42", "u42", None],
            "timestamp": ["2025-03-01 09:00", "2025-03-01 09:05", "2025-03-01 09:30", "2025-03-02"],
            "event": ["page_view", "sign_in", "purchase", "page_view"],
        }
    )
    duck = Project.from_events(events)
    spark = Project.from_events(events, engine="local[1]")
    try:

        def ids(p: Project) -> list[tuple[str, str]]:
            df = p.events.select("customer_id", "event").to_pandas()
            return sorted(zip(df["customer_id"], df["event"], strict=True))

        assert (
            ids(spark)
            == ids(duck)
            == [
                ("anon-2", "page_view"),
                ("u42", "page_view"),
                ("u42", "purchase"),
                ("u42", "sign_in"),
            ]
        )
    finally:
        duck.close()
        spark.close()
