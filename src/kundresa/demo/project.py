"""Build the demo company's project folder: journey file, events file and warehouse."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pyarrow.parquet as pq

from kundresa.demo.generator import demo_journey_yaml, generate_events
from kundresa.project import JOURNEY_FILE, STORE_DIR, Project, ProjectError

__all__ = ["build_demo"]

MARKER = "demo.json"


def build_demo(
    directory: str | os.PathLike[str] = "kundresa-demo",
    *,
    customers: int = 20_000,
    seed: int = 0,
    lang: str = "en",
    force: bool = False,
) -> Project:
    """Write the demo company's project into ``directory`` and load its events.

    The folder gets ``journey.yaml``, ``data/events.parquet`` and a warehouse with the events
    ingested through the same path as ``kundresa ingest``. An earlier demo in the folder is
    replaced; a folder holding another project is left alone unless ``force``.

    Raises
    ------
    ProjectError
        When ``directory`` holds a project that is not a demo (and ``force`` is false).
    """
    root = Path(directory)
    store = root / STORE_DIR
    if (root / JOURNEY_FILE).exists() and not (store / MARKER).exists() and not force:
        raise ProjectError(
            f"{root} holds a project that is not a Kundresa demo; "
            "choose another folder or use --force to replace it"
        )
    if root.exists() and not root.is_dir():
        raise ProjectError(f"{root} is a file, not a folder")
    if store.exists():
        shutil.rmtree(store)
    (root / "data").mkdir(parents=True, exist_ok=True)
    store.mkdir(parents=True)
    (root / JOURNEY_FILE).write_text(demo_journey_yaml(lang), encoding="utf-8")
    events = generate_events(customers, seed=seed)
    pq.write_table(events, root / "data" / "events.parquet")
    (store / MARKER).write_text(
        json.dumps({"customers": customers, "seed": seed, "lang": lang}), encoding="utf-8"
    )
    project = Project.open(root)
    project.ingest([root / "data" / "events.parquet"])
    return project
