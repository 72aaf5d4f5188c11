"""Shared fixtures for the web app's tests: a small demo project built once per session."""

from __future__ import annotations

import shutil
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kundresa.demo.project import build_demo


@pytest.fixture(scope="session")
def demo_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A demo project of 600 customers (left unchanged by the tests that use it)."""
    folder = tmp_path_factory.mktemp("web") / "demo"
    build_demo(folder, customers=600, seed=3).close()
    return folder


@pytest.fixture
def demo_copy(demo_dir: Path, tmp_path: Path) -> Path:
    """A copy of the demo project that a test may change (save a journey, upload events)."""
    target = tmp_path / "demo"
    shutil.copytree(demo_dir, target)
    return target


def in_process_client(app: Any) -> Any:
    """Starlette's TestClient (its import warns that httpx is deprecated there; it works)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # StarletteDeprecationWarning: prefers httpx2
        from fastapi.testclient import TestClient
    return TestClient(app)


@pytest.fixture
def make_client() -> Iterator[Any]:
    """A factory of in-process clients; their apps' warehouses are closed afterwards."""
    from kundresa.web import create_app

    apps: list[Any] = []

    def make(folder: Path, *, csrf: bool = True, **options: Any) -> Any:
        """A client of ``create_app(folder, **options)``; with ``csrf`` (and no token) it
        sends its session's anti-forgery token with every request, as app.js does."""
        app = create_app(folder, **options)
        apps.append(app)
        client = in_process_client(app)
        if csrf and options.get("token") is None:
            client.headers["X-Kundresa-CSRF"] = client.get("/api/session").json()["csrf_token"]
        return client

    yield make
    for app in apps:
        app.state.project.close()


@pytest.fixture(scope="module")
def client(demo_dir: Path) -> Iterator[Any]:
    """An in-process client of the unchanged demo project."""
    from kundresa.web import create_app

    app = create_app(demo_dir)
    yield in_process_client(app)
    app.state.project.close()
