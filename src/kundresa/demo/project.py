"""Build the demo company's project folder: journey file, events file and warehouse."""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from kundresa.demo.generator import demo_journey_yaml, generate_events
from kundresa.project import JOURNEY_FILE, STORE_DIR, Project, ProjectError

__all__ = ["FILE_KERNEL_ANALYSES", "KERNEL_ANALYSES", "build_demo", "compile_kernels"]

MARKER = "demo.json"

KERNEL_ANALYSES: tuple[tuple[str, dict[str, Any]], ...] = (
    ("stages", {}),
    ("transitions", {}),
    ("time_in_stage", {}),
    ("funnel", {"steps": ["stage:awareness", "stage:consideration", "stage:decision"]}),
    ("funnel", {"steps": ["page_view", "checkout_start", "purchase"], "order": "any"}),
    ("dfg", {}),
    ("paths", {}),
)
"""The analyses whose fast paths run compiled kernels (numba) between them: the stage
analysis, the ordered and any-order event funnels and the directly-follows graph, read from
the journey-ordered store."""

FILE_KERNEL_ANALYSES: tuple[tuple[str, dict[str, Any]], ...] = (
    ("funnel", {"steps": ["page_view", "checkout_start", "purchase"]}),
)
"""The analyses run over a canonical Parquet file read in place (``kundresa funnel --events
FILE.parquet``): the in-place check's distinct set (:mod:`kundresa.store._distinct`) and the
event funnel over fetched rows (:func:`kundresa.analytics._kernels.grouped_sequence`)."""


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
    # First, before the folder is touched: a generation that fails (a seed numpy refuses, too
    # little memory for so many customers) leaves an earlier demo as it was, and no folder
    # with a journey but no demo marker, which a second try would refuse as another project.
    events = generate_events(customers, seed=seed)
    if store.exists():
        shutil.rmtree(store)
    (root / "data").mkdir(parents=True, exist_ok=True)
    store.mkdir(parents=True)
    (root / JOURNEY_FILE).write_text(demo_journey_yaml(lang), encoding="utf-8")
    pq.write_table(events, root / "data" / "events.parquet")
    (store / MARKER).write_text(
        json.dumps({"customers": customers, "seed": seed, "lang": lang}), encoding="utf-8"
    )
    project = Project.open(root)
    project.ingest([root / "data" / "events.parquet"])
    return project


def compile_kernels(lang: str = "en") -> None:
    """Compile the fast paths' kernels now and cache them on disk, by running
    :data:`KERNEL_ANALYSES` once on a few generated customers (in memory), and
    :data:`FILE_KERNEL_ANALYSES` on the same events written to a temporary Parquet file read in
    place.

    The kernels are compiled on their first use on a machine (seconds each) and cached
    beside the package (or in the user's cache folder); ``kundresa demo`` calls this while it
    sets up, so the web app's first pages load them instead of compiling them. Where they are
    cached already this takes about a second. Then the file funnel's kernels are compiled
    ahead of time (:func:`kundresa.native.build.build`), so that ``--events`` commands run
    them without importing numba; if that fails (no kernel folder can be written), a note on
    stderr says so and the numba functions run instead.
    """
    from kundresa.model.parse import parse_journey

    journey, _ = parse_journey(demo_journey_yaml(lang))
    events = generate_events(60, seed=1)
    with Project.from_events(events, journey=journey) as project:
        for name, params in KERNEL_ANALYSES:
            project.run(name, **params)
    # The same events as a canonical Parquet file, read in place as `--events FILE` reads it.
    with tempfile.TemporaryDirectory(prefix="kundresa-kernels-") as folder:
        path = Path(folder) / "events.parquet"
        pq.write_table(events.drop_columns(["properties"]), path)
        with Project.from_events(path, journey=journey, in_place=True) as project:
            if project.warehouse.in_place is None:
                raise RuntimeError("the kernels' sample file was not read in place")
            for name, params in FILE_KERNEL_ANALYSES:
                project.run(name, **params)
    from kundresa.native.build import build

    try:
        build()
    except Exception as e:  # the numba kernels run instead: say so, do not fail the set-up
        print(
            f"note: the kernels were not compiled ahead of time ({type(e).__name__}: {e}); "
            "commands run numba's",
            file=sys.stderr,
        )
