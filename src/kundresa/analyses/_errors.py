"""The two ways running an analysis fails that a user can fix."""

from __future__ import annotations

from kundresa.errors import KundresaError, UsageError

__all__ = ["AnalysisError", "ParameterError"]


class ParameterError(UsageError):
    """A parameter is wrong: unknown, of the wrong type, out of range, or names a stage,
    touchpoint or persona the journey does not have. A usage error: exit code 2 on the command
    line, HTTP 422.

    ``warnings`` are what resolving the parameters warned of before the analysis refused
    one (``property 'x' never occurs in the data``), often the reason why: the command line
    prints them before the error, as it prints them before a result.
    """

    exit_code = 2
    http_status = 422
    warnings: tuple[str, ...] = ()


class AnalysisError(KundresaError):
    """The analysis cannot answer with these data (no events for a customer, no paths to
    attribute). Exit code 1 on the command line, HTTP 404/409 as the web sees fit."""

    exit_code = 1
    http_status = 409
