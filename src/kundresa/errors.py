"""Kundresa's exceptions: one tree, so that every interface reports them the same way.

Every error a user can fix derives from :class:`KundresaError`. Each class carries the exit
code the command line ends with and the HTTP status the web app answers with, so the CLI and
the web map errors in one place (``except KundresaError as exc: ... exc.exit_code``)::

    KundresaError                 exit 1, HTTP 400: bad input the user can fix
    ├── UsageError                exit 2, HTTP 400: a bad parameter value (an unknown
    │                             stage or model name, a reversed period, a bad option);
    │                             also a ValueError
    ├── NotFoundError             exit 1, HTTP 404: a thing asked for by name does not exist
    ├── ProjectError              exit 1, HTTP 409: a project cannot be opened or created
    │                             (kundresa.project)
    ├── EngineError               exit 1, HTTP 503: the query engine named cannot be used
    │                             (kundresa.store.engines)
    └── InputError                exit 1, HTTP 422: a file's content is wrong
        ├── JourneyError          a journey file with errors (kundresa.model.parse)
        ├── IngestError           an ingest that could not run (kundresa.store.warehouse)
        ├── ReadError             an events file that cannot be read (kundresa.ingest.readers)
        ├── ColumnError           a column missing or misnamed (kundresa.ingest.columns);
        │                         also a ValueError
        ├── SourceError           a file that is not what its source says
        │                         (kundresa.ingest.sources); also a ValueError
        ├── PathsFileError        an attribution paths file that cannot be read
        │                         (kundresa.attribution.paths_file); also a ValueError
        └── PredictError          a history the next-stage model cannot learn from or apply
                                  to (kundresa.analytics.predict)

The classes that are also :class:`ValueError` were ``ValueError`` subclasses before the tree
existed; they stay so, for code that catches ``ValueError``. Each class is importable from the
module named beside it as well as from here (the ones defined there are re-exported here on
first use). This module imports nothing else of Kundresa, and no engine or data library.

Examples
--------
>>> from kundresa.errors import KundresaError, UsageError
>>> exc = UsageError("unknown stage 'decison' (known: awareness, decision)")
>>> isinstance(exc, KundresaError), isinstance(exc, ValueError)
(True, True)
>>> exc.exit_code, exc.http_status
(2, 400)
>>> from kundresa.errors import JourneyError
>>> JourneyError.exit_code, JourneyError.http_status
(1, 422)
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from kundresa.analytics.predict import PredictError
    from kundresa.attribution.paths_file import PathsFileError
    from kundresa.ingest.columns import ColumnError
    from kundresa.ingest.readers import ReadError
    from kundresa.ingest.sources._base import SourceError
    from kundresa.model.parse import JourneyError
    from kundresa.project import ProjectError
    from kundresa.store.engines import EngineError
    from kundresa.store.warehouse import IngestError

__all__ = [
    "ColumnError",
    "EngineError",
    "IngestError",
    "InputError",
    "JourneyError",
    "KundresaError",
    "NotFoundError",
    "PathsFileError",
    "PredictError",
    "ProjectError",
    "ReadError",
    "SourceError",
    "UsageError",
    "exit_code",
    "http_status",
]


class KundresaError(Exception):
    """A problem the user can fix; the message says what and where, in one line or a few.

    Attributes
    ----------
    exit_code : int
        The command line's exit code: 1 for bad input, 2 for a usage error.
    http_status : int
        The web app's HTTP status.
    """

    exit_code: int = 1
    http_status: int = 400


class UsageError(KundresaError, ValueError):
    """A bad parameter value: an unknown name, a reversed period, an option out of range."""

    exit_code = 2
    http_status = 400


class NotFoundError(KundresaError):
    """A thing asked for by name (a customer, a version) does not exist."""

    http_status = 404


class InputError(KundresaError):
    """A file whose content is wrong (a journey, an events file, a paths file)."""

    http_status = 422


_DEFINED_ELSEWHERE = {
    "ColumnError": "kundresa.ingest.columns",
    "EngineError": "kundresa.store.engines",
    "IngestError": "kundresa.store.warehouse",
    "JourneyError": "kundresa.model.parse",
    "PathsFileError": "kundresa.attribution.paths_file",
    "PredictError": "kundresa.analytics.predict",
    "ProjectError": "kundresa.project",
    "ReadError": "kundresa.ingest.readers",
    "SourceError": "kundresa.ingest.sources._base",
}


def __getattr__(name: str) -> Any:
    # Imported on first use: the classes live beside the code that raises them, and
    # importing their modules here would load the engines with every error.
    if name in _DEFINED_ELSEWHERE:
        return getattr(import_module(_DEFINED_ELSEWHERE[name]), name)
    raise AttributeError(f"module 'kundresa.errors' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)


def exit_code(exc: BaseException) -> int:
    """The command line's exit code for an error (1 for anything not in the tree).

    >>> exit_code(UsageError("bad")), exit_code(KundresaError("bad")), exit_code(OSError())
    (2, 1, 1)
    """
    return exc.exit_code if isinstance(exc, KundresaError) else 1


def http_status(exc: BaseException) -> int:
    """The web app's HTTP status for an error (500 for anything not in the tree).

    >>> http_status(NotFoundError("no customer 'c9'")), http_status(RuntimeError())
    (404, 500)
    """
    return exc.http_status if isinstance(exc, KundresaError) else 500
