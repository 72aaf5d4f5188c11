"""The HTTP API against its own OpenAPI description, fuzzed by Schemathesis (bounded, seeded).

Every operation gets a few requests that fit its description and a few that do not; none
may answer 5xx, and every status must be one its description lists. ``bench/web_fuzz.py``
runs the same with ten thousand cases.
"""

from __future__ import annotations

import shutil
import warnings
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

EXAMPLES = 4


def fuzz(app: Any, token: str, examples: int, seed: int) -> dict[str, Any]:
    """Run Schemathesis on ``app`` in process; counts of cases, statuses and problems."""
    import schemathesis
    from hypothesis import HealthCheck, Phase, given, settings
    from hypothesis import seed as hseed
    from hypothesis.errors import Unsatisfiable
    from schemathesis import GenerationMode

    auth = {"Authorization": f"Bearer {token}"}
    schema = schemathesis.openapi.from_asgi("/openapi.json", app, headers=auth)
    raw = schema.raw_schema
    stats: dict[str, Any] = {"cases": 0, "statuses": Counter(), "operations": Counter()}
    stats["problems"] = []
    for result in schema.get_all_operations():
        op = result.ok()
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @hseed(seed)
            @settings(
                max_examples=examples,
                database=None,
                deadline=None,
                derandomize=False,
                suppress_health_check=list(HealthCheck),
                phases=[Phase.generate],
            )
            @given(case=op.as_strategy(generation_mode=mode))
            def run(case: Any) -> None:
                response = case.call(headers=auth)
                stats["cases"] += 1
                stats["statuses"][response.status_code] += 1
                where = case.operation
                stats["operations"][f"{where.method} {where.path}"] += 1
                documented = set(raw["paths"][where.path][where.method.lower()]["responses"])
                code = str(response.status_code)
                if response.status_code >= 500 or (
                    code not in documented and "default" not in documented
                ):
                    stats["problems"].append(
                        (
                            where.method,
                            where.path,
                            case.query,
                            response.status_code,
                            response.text[:200],
                        )
                    )

            try:
                run()
            except Unsatisfiable:
                continue  # no parameters to get wrong
    return stats


def test_the_api_answers_as_described(demo_dir: Path, tmp_path: Path) -> None:
    from kundresa.web import create_app

    folder = tmp_path / "demo"
    shutil.copytree(demo_dir, folder)
    app = create_app(folder, token="fuzz-token", upload_limit=200_000)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # Schemathesis' own deprecations
            stats = fuzz(app, "fuzz-token", EXAMPLES, seed=20261130)
    finally:
        app.state.jobs.shutdown()
        app.state.project.close()
    assert stats["cases"] >= 60 and len(stats["operations"]) >= 18
    assert stats["problems"] == [], stats["problems"][:5]
    assert not any(code >= 500 for code in stats["statuses"])


pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")
