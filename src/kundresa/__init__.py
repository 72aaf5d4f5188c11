"""Kundresa: the customer journey as code, connected to your own event data.

The public names are imported on first use, so that ``import kundresa`` (and the CLI) start
fast and a layer can be used without loading the others.

Examples
--------
>>> import kundresa
>>> list(kundresa.TEMPLATES)[:3]
['buyers-journey', 'kunderejse-4', 'kundresa-5']
"""

from __future__ import annotations

from importlib import import_module

# Not `typing`'s: importing typing is ~15 ms of every command's start, before the command
# line can handle Ctrl-C (kundresa._command).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from kundresa.model.templates import TEMPLATES
    from kundresa.project import Project, ProjectError, read_events

    __version__: str

_LAZY = {
    "TEMPLATES": "kundresa.model.templates",
    "Project": "kundresa.project",
    "ProjectError": "kundresa.project",
    "read_events": "kundresa.project",
}

__all__ = ["TEMPLATES", "Project", "ProjectError", "__version__", "read_events"]


def __getattr__(name: str) -> Any:
    if name == "__version__":
        # Looked up on first use: importlib.metadata costs ~60 ms of every command's start.
        from importlib.metadata import PackageNotFoundError, version

        try:
            return version("kundresa")
        except PackageNotFoundError:  # pragma: no cover - running from a source tree
            return "0.0.0"
    if name in _LAZY:
        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'kundresa' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
