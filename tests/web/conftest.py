"""Shared fixtures for the web app's tests: a small demo project built once per session, and
for the browser tests one Chromium and one server of the unchanged demo per session."""

from __future__ import annotations

import shutil
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from e2e_server import CHROMIUM, serve

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


class _Chromium:
    """The one Chromium the browser tests share, launched when a test first needs it.

    Playwright's sync API keeps an asyncio event loop running in the main thread while it
    is started, where ``asyncio.run`` (Starlette's test client, other tests) then fails; so
    it is stopped as soon as the tests that use it are over (see
    :func:`pytest_runtest_teardown`), and started again should a later module need it."""

    def __init__(self) -> None:
        self.playwright: Any = None
        self.browser: Any = None

    def get(self) -> Any:
        if self.browser is None:
            from playwright.sync_api import sync_playwright

            self.playwright = sync_playwright().start()
            # --no-sandbox: CI runs as root, where Chromium's sandbox cannot start.
            self.browser = self.playwright.chromium.launch(
                executable_path=CHROMIUM, args=["--no-sandbox"]
            )
        return self.browser

    def stop(self) -> None:
        if self.browser is not None:
            self.browser.close()
            self.playwright.stop()
            self.browser = self.playwright = None


_CHROMIUM = _Chromium()
_BROWSER_MODULES: set[str] = set()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Note the modules with a test that uses the browser."""
    for item in items:
        if "browser" in getattr(item, "fixturenames", ()):
            _BROWSER_MODULES.add(str(item.path))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[None]:
    """After the fixtures are torn down: stop Chromium when the next test's module does not
    use it (the end of the browser tests, or of the run)."""
    result = yield
    if nextitem is None or str(nextitem.path) not in _BROWSER_MODULES:
        _CHROMIUM.stop()
    return result


@pytest.fixture(scope="module")
def browser() -> Any:
    """The Chromium the browser tests share (each test opens its own context or page in
    it): launched once for a run of browser test modules, not once per module."""
    return _CHROMIUM.get()


@pytest.fixture(scope="session")
def demo_url(tmp_path_factory: pytest.TempPathFactory, demo_dir: Path) -> Iterator[str]:
    """The address of one server, for the whole session, of a copy of the demo project that
    no test changes (a test that saves a journey or uploads events serves its own copy with
    ``e2e_server.serve``). Its analyses' cache is shared by every page that asks."""
    folder = tmp_path_factory.mktemp("served") / "demo"
    shutil.copytree(demo_dir, folder)
    with serve(folder) as server:
        yield server.url
