"""The public surface stays explicit: every package's ``__all__`` is sorted and importable."""

from __future__ import annotations

import importlib

import pytest

PACKAGES = [
    "kundresa",
    "kundresa.analyses",
    "kundresa.analytics",
    "kundresa.demo",
    "kundresa.ingest",
    "kundresa.model",
    "kundresa.report.export",
    "kundresa.store",
]


@pytest.mark.parametrize("name", PACKAGES)
def test_all_is_sorted_and_resolves(name: str) -> None:
    module = importlib.import_module(name)
    exported = list(module.__all__)

    # isort-style, as ruff's RUF022 keeps it: CONSTANTS, then Classes, then functions.
    def kind(n: str) -> tuple[int, str]:
        return (0 if n.isupper() else 1 if n[:1].isupper() else 2, n)

    assert exported == sorted(exported, key=kind), f"{name}.__all__ is not sorted"
    for attr in exported:
        assert getattr(module, attr) is not None, f"{name}.{attr}"


def test_top_level_names() -> None:
    import kundresa

    assert {"Project", "read_events", "TEMPLATES"} <= set(kundresa.__all__)
    with pytest.raises(AttributeError):
        kundresa.no_such_name  # noqa: B018
