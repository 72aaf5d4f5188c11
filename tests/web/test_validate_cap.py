"""The editor's checks are capped like `kundresa validate`'s: a journey text of thousands of
unknown keys answers the first problems and how many more, and one of too many YAML nodes is
refused as one problem."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kundresa.model.parse import MAX_NODES, MAX_PROBLEMS


def lanes(n: int) -> str:
    keys = "".join(f"    s{i}: x\n" for i in range(n))
    return f"kundresa: 1\nname: Big\ntemplate: kundresa-5\nlanes:\n  activities:\n{keys}"


def test_validate_answers_at_most_the_cap(make_client: Any, demo_dir: Path) -> None:
    client = make_client(demo_dir)  # validating writes nothing
    r = client.post("/api/journey/validate", content=lanes(3_000).encode())
    assert r.status_code == 200
    body = r.json()
    assert not body["valid"] and len(body["problems"]) == MAX_PROBLEMS + 1
    assert "2,900 more problems not listed" in body["problems"][-1]["message"]
    page = client.post("/editor", data={"text": lanes(3_000), "action": "validate"})
    assert page.status_code == 200 and page.text.count('<li class="error"') == MAX_PROBLEMS + 1


def test_validate_refuses_too_many_nodes(make_client: Any, demo_dir: Path) -> None:
    client = make_client(demo_dir)
    r = client.post("/api/journey/validate", content=lanes(MAX_NODES).encode())
    problems = r.json()["problems"]
    assert len(problems) == 1 and "YAML nodes" in problems[0]["message"]
