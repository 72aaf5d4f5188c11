"""The map's emotion lane: the measured NPS line from survey answers beside the drawn one."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from kundresa.project import Project

FIXTURES = Path(__file__).parent.parent / "fixtures" / "sources"

JOURNEY = """\
kundresa: 1
name: Kaffe
template: kundresa-5
touchpoints:
  - {id: checkout_nps, stage: decision, match: {event: nps_answer, where: {touchpoint: checkout}}}
  - {id: delivery_nps, stage: retention, match: {event: nps_answer, where: {touchpoint: delivery}}}
surveys:
  - {event: nps_answer, metric: nps, label: NPS}
"""


@pytest.fixture
def surveyed(tmp_path: Path) -> Path:
    folder = tmp_path / "p"
    Project.init(folder, template="kundresa-5").close()
    (folder / "journey.yaml").write_text(JOURNEY)
    with Project.open(folder) as project:
        project.ingest(
            [FIXTURES / "survey_nps.csv"], source="survey", source_options={"event": "nps_answer"}
        )
    return folder


def test_map_has_the_measured_line(surveyed: Path, make_client: Any) -> None:
    client = make_client(surveyed)
    data = client.get("/api/map").json()
    (line,) = data["measured_emotions"]
    # Stages: awareness, consideration, decision, retention, advocacy. Checkout answers
    # (6, 8) give NPS -50 on decision, delivery answers (10, 9) 100 on retention.
    assert line["name"] == "NPS" and line["metric"] == "nps"
    assert line["scores"] == [None, None, -50.0, 100.0, None]
    assert line["values"] == [None, None, -1.0, 2.0, None]
    assert line["responses"] == [0, 0, 2, 2, 0]
    # No emotions are drawn in this journey, yet the lane shows the measured curve.
    assert all(v is None for curve in data["emotions"].values() for v in curve)
    page = client.get("/")
    assert page.status_code == 200 and 'id="emotion-curve"' in page.text
