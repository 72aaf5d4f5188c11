"""Fixtures of the live-events tests: a fresh project and a client of its collector."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from kundresa.project import Project

WRITE_KEY = "test-write-key"
"""The write key of :func:`make_collector`'s apps (also in the tests that use it)."""


@pytest.fixture
def project_dir(tmp_path: Path) -> Path:
    """A new project (the kundresa-5 template), no events."""
    Project.init(tmp_path / "shop").close()
    return tmp_path / "shop"


@pytest.fixture
def make_collector() -> Iterator[Callable[..., Any]]:
    """A factory of in-process clients of ``create_app(folder, write_key=..., **options)``;
    their apps are closed (last load included) afterwards."""
    from kundresa.web import create_app

    apps: list[Any] = []

    def make(folder: Path, **options: Any) -> Any:
        options.setdefault("write_key", WRITE_KEY)
        app = create_app(folder, **options)
        apps.append(app)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # StarletteDeprecationWarning: prefers httpx2
            from fastapi.testclient import TestClient
        return TestClient(app)

    yield make
    for app in apps:
        app.state.project.close()
