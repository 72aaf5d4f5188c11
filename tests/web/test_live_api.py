"""The live customer API and page: /api/customers/{id}, /api/stage-events, /customer."""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from kundresa.project import Project

FIELDS = [
    "customer_id",
    "stage",
    "stage_label",
    "stage_entered_at",
    "persona",
    "next_stage",
    "p_next_stage",
    "recommended_content",
]


@pytest.fixture(scope="module")
def trained(demo_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo project with its next-stage model trained and saved."""
    folder = tmp_path_factory.mktemp("live") / "demo"
    shutil.copytree(demo_dir, folder)
    with Project.open(folder) as project:
        project.train_next_stage(horizon="30d", seed=1)
    return folder


def some_customer(folder: Path, stage: str = "consideration") -> str:
    with Project.open(folder, read_only=True) as p:
        row = p.warehouse.con.execute(
            "SELECT customer_id FROM customer_state WHERE stage = ? ORDER BY customer_id LIMIT 1",
            [stage],
        ).fetchone()
    assert row is not None
    return str(row[0])


def test_customer_state_without_a_model(demo_copy: Path, make_client: Any) -> None:
    who = some_customer(demo_copy)
    client = make_client(demo_copy)
    answer = client.get(f"/api/customers/{who}").json()
    assert list(answer)[: len(FIELDS)] == FIELDS
    assert answer["customer_id"] == who and answer["stage"] == "consideration"
    assert answer["next_stage"] == "decision" and answer["p_next_stage"] is None
    assert any("kundresa predict" in n for n in answer["notes"])
    assert all(i["score"] is None for i in answer["recommended_content"])
    assert client.get("/api/customers/nobody-at-all").status_code == 404


def test_customer_state_with_the_saved_model(trained: Path, make_client: Any) -> None:
    who = some_customer(trained)
    client = make_client(trained)
    answer = client.get(f"/api/customers/{who}", params={"lang": "sv"}).json()
    assert 0 <= answer["p_next_stage"] <= 1 and answer["notes"] == []
    assert answer["stage_label"] == "Övervägande"
    kinds = [i["kind"] for i in answer["recommended_content"]]
    assert kinds[0] == "touchpoint"
    # The same answer as `kundresa next` (the model applied through the whole pipeline).
    with Project.open(trained, read_only=True) as p:
        slow, _ = p.next_best_step(who)
    assert answer["p_next_stage"] == pytest.approx(slow["p_next_stage"])
    assert answer["recommended_content"] == slow["recommended_content"]
    assert answer["not_recommended"] == slow["not_recommended"]
    assert all(i["score"] > 0 for i in answer["recommended_content"] if i["kind"] == "touchpoint")
    assert answer["stage_entered_at"].rstrip("Z") == slow["stage_entered_at"]
    page = client.get("/customer", params={"id": who})
    assert page.status_code == 200 and 'id="live-state"' in page.text
    assert 'id="recommended"' in page.text


def test_any_of_a_persons_ids_works(tmp_path: Path, make_client: Any) -> None:
    folder = tmp_path / "p"
    folder.mkdir()
    (folder / "journey.yaml").write_text(
        "kundresa: 1\nname: Ids\ntemplate: buyers-journey\n"
        "touchpoints:\n  - {id: ad, stage: awareness, match: {event: ad}}\n",
        encoding="utf-8",
    )
    events = folder / "e.csv"
    pd.DataFrame(
        {
            "userId": [None, "u1"],
            "anonymousId": ["anon-9", "anon-9"],
            "timestamp": ["2025-01-01", "2025-01-02"],
            "event": ["ad", "other"],
        }
    ).to_csv(events, index=False)
    with Project.open(folder) as p:
        p.ingest([events])
    client = make_client(folder)
    answer = client.get("/api/customers/anon-9").json()
    assert answer["customer_id"] == "u1" and answer["stage"] == "awareness"


def test_an_id_with_a_slash_is_found(tmp_path: Path, make_client: Any) -> None:
    """Before, ``/api/customers/shop%2F42`` was 404 Not Found: the ``%2F`` is decoded before
    routing, and the id's ``/`` split the path."""
    folder = tmp_path / "p"
    folder.mkdir()
    (folder / "journey.yaml").write_text(
        "kundresa: 1\nname: Ids\ntemplate: buyers-journey\n"
        "touchpoints:\n  - {id: ad, stage: awareness, match: {event: ad}}\n",
        encoding="utf-8",
    )
    events = folder / "e.csv"
    pd.DataFrame(
        {"customer_id": ["shop/42", "a/b/"], "timestamp": ["2025-01-01"] * 2, "event": ["ad"] * 2}
    ).to_csv(events, index=False)
    with Project.open(folder) as p:
        p.ingest([events])
    client = make_client(folder)
    for sent, id_ in (("shop%2F42", "shop/42"), ("shop/42", "shop/42"), ("a%2Fb%2F", "a/b/")):
        answer = client.get(f"/api/customers/{sent}")
        assert answer.status_code == 200, (sent, answer.text)
        assert answer.json()["customer_id"] == id_ and answer.json()["stage"] == "awareness"
    assert client.get("/api/customers/shop%2F43").status_code == 404
    spec = client.get("/openapi.json").json()["paths"]
    assert "/api/customers/{customer_id}" in spec


def test_stage_events_feed(demo_copy: Path, make_client: Any) -> None:
    client = make_client(demo_copy)
    first = client.get("/api/stage-events", params={"limit": 5}).json()
    assert [e["seq"] for e in first["events"]] == [1, 2, 3, 4, 5]
    assert first["next_since"] == 5
    assert set(first["events"][0]) == {"seq", "customer_id", "from_stage", "to_stage", "at"}
    assert first["events"][0]["from_stage"] is None
    more = client.get("/api/stage-events", params={"since": 5, "limit": 2}).json()
    assert [e["seq"] for e in more["events"]] == [6, 7]
    late = client.get("/api/stage-events", params={"since": "2025-12-01", "limit": 50}).json()
    assert late["events"] and all(e["at"] >= "2025-12-01" for e in late["events"])
    bad = client.get("/api/stage-events", params={"since": "yesterday"})
    assert bad.status_code == 422 and "since" in bad.json()["detail"]
    schema = client.get("/openapi.json").json()
    assert "/api/customers/{customer_id}" in schema["paths"]
    assert "/api/stage-events" in schema["paths"]


def test_a_feed_polled_from_a_date_goes_on_from_the_newest_event(
    demo_copy: Path, make_client: Any
) -> None:
    """``next_since`` after a date is where the feed stands: polling it returns only what is
    recorded later. Before, a date after every event answered ``next_since: 0`` and a date
    that matched a few events answered the last of them, so the next poll replayed the
    whole history from the start, or every event before the date recorded after those."""
    client = make_client(demo_copy)
    everything = client.get("/api/stage-events", params={"limit": 10_000}).json()
    head = everything["events"][-1]["seq"]
    assert everything["next_since"] == head
    for since in ("2099-01-01", "2025-12-31T12:00:00Z"):
        first = client.get("/api/stage-events", params={"since": since}).json()
        assert len(first["events"]) < 1000 and first["next_since"] == head, since
        again = client.get("/api/stage-events", params={"since": first["next_since"]}).json()
        assert again == {"events": [], "next_since": head}
    # A full page still goes on from its last event; a position past the head is kept.
    page = client.get("/api/stage-events", params={"since": 0, "limit": 3}).json()
    assert page["next_since"] == page["events"][-1]["seq"] == 3
    ahead = client.get("/api/stage-events", params={"since": head + 50}).json()
    assert ahead == {"events": [], "next_since": head + 50}


def test_customer_state_and_a_page_computation_do_not_deadlock(demo_copy: Path) -> None:
    """A customer-state request holds the app's lock and then asks the project (whose lock it
    takes); a page being computed must take the two locks in that same order, else each
    waits for the other forever (and the collector's loader behind them)."""
    import threading

    from kundresa.web.state import ProjectState

    who = some_customer(demo_copy)
    state = ProjectState(demo_copy)
    page_started = threading.Event()
    answers: dict[str, Any] = {}

    def page() -> None:
        page_started.set()
        answers["page"] = state.cached(("deadlock-test",), state.project.warehouse.event_count)

    def customer() -> None:
        with state.lock:  # as api_customer_state does
            threading.Thread(target=page, daemon=True).start()
            page_started.wait(5)
            time.sleep(0.3)  # the page is now waiting for a lock
            answers["customer"] = state.project.customer_state(who)["customer_id"]

    worker = threading.Thread(target=customer, daemon=True)
    worker.start()
    deadline = time.monotonic() + 20
    while len(answers) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert answers.get("customer") == who, "the customer-state request hung"
    assert answers.get("page", 0) > 0, "the page computation hung"
    state.close()
