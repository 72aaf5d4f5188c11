"""Query parameters of the web app, declared once as registry parameters.

A page and its JSON twin take the same parameters, written once as
:class:`kundresa.analyses.Param` — taken from the analysis' own declaration where it has one
(:func:`of`), so the CLI option, the API parameter and the page's form field are the same
thing with the same type, default and choices. :func:`dependency` turns such a list into a
FastAPI dependency: every parameter becomes a documented query parameter (type, default,
choices as an enum, bounds), and the handler gets them as one dict.

Examples
--------
>>> from kundresa.analyses import Param
>>> dep = dependency([of("funnel", "order"), Param("limit", "int", 200, min=1, max=10000)])
>>> [(p.name, p.default.default) for p in dep.__signature__.parameters.values()]
[('order', 'ordered'), ('limit', 200)]
>>> dep(order="any", limit=5)
{'order': 'any', 'limit': 5}
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import Any, Literal

from fastapi import Query

from kundresa.analyses import Param, get

__all__ = ["LANG", "PERSONA", "SCOPE", "SINCE", "UNTIL", "dependency", "of", "read_form"]

PERSONA = Param("persona", resolve="persona", help="Only this persona's customers (persona id).")
SINCE = Param(
    "since",
    help="Count only events at or after this date or time (ISO 8601; a date is midnight in "
    "the journey's time zone). Customers keep their whole history.",
)
UNTIL = Param(
    "until",
    help="Count only events before this date or time (the journey's time zone).",
)
LANG = Param(
    "lang",
    choices=("sv", "da", "en"),
    help="Language of labels and numbers (default: the journey's, or the app's).",
)
#: Who and when every analysis page looks at (:meth:`Project.scope`).
SCOPE = (PERSONA, SINCE, UNTIL)

_TYPES: dict[str, type] = {"int": int, "float": float, "bool": bool}


def of(analysis: str, name: str, **changes: Any) -> Param:
    """The parameter ``name`` of a registered analysis, with ``changes`` (a web default).

    Raises
    ------
    KeyError
        The analysis has no such parameter.
    """
    param = get(analysis).param(name)
    return replace(param, **changes) if changes else param


def _annotation(p: Param) -> Any:
    base: Any = Literal[p.choices] if p.choices else _TYPES.get(p.type, str)
    if p.multiple:
        base = list[base]
    if p.required or p.default is not None:
        return base
    return base | None


def _query(p: Param) -> Any:
    help_ = p.help
    if p.type == "duration":
        help_ = (help_ + " " if help_ else "") + "A duration: 90s, 30m, 12h, 7d or seconds."
    kwargs: dict[str, Any] = {"description": help_ or None}
    if p.min is not None:
        kwargs["ge"] = p.min
    if p.max is not None:
        kwargs["le"] = p.max
    if p.required:
        return Query(**kwargs)
    return Query(p.default, **kwargs)


def dependency(params: Sequence[Param]) -> Callable[..., dict[str, Any]]:
    """A FastAPI dependency taking ``params`` as query parameters and giving them as a dict.

    Types follow the declaration: ``int``/``float``/``bool`` as such, a closed list of
    choices as an enum, ``multiple`` as a repeated parameter, the rest (durations, periods,
    names) as text that the analysis checks.
    """
    names = [p.name for p in params]
    if len(set(names)) != len(names):
        raise ValueError(f"parameters declared twice: {names}")

    def values(**given: Any) -> dict[str, Any]:
        return {name: given.get(name) for name in names}

    values.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
        [
            inspect.Parameter(
                p.name, inspect.Parameter.KEYWORD_ONLY, default=_query(p), annotation=_annotation(p)
            )
            for p in params
        ]
    )
    return values


_TRUE = frozenset({"true", "1", "on", "yes"})
_FALSE = frozenset({"false", "0", "off", "no", ""})


def read_form(
    params: Sequence[Param], given: Mapping[str, Sequence[str]]
) -> tuple[dict[str, Any], dict[str, str]]:
    """A page form's values as typed (text), checked against the declarations.

    A page answers a bad value with its form and the error next to the field, not with a
    bare error: each value is converted and checked by the registry's declaration
    (:meth:`kundresa.analyses.Param.check`: type, choices, bounds); a bad one is reported
    by name and replaced by the parameter's default.

    Parameters
    ----------
    params
        The declared parameters.
    given
        Every query parameter's values as text (a repeated one has several).

    Returns
    -------
    tuple
        The values by name (the default where a value is missing or bad) and the errors
        by name (the registry's message).

    Examples
    --------
    >>> from kundresa.analyses import Param
    >>> read_form([of("funnel", "order"), Param("limit", "int", 200, min=1, max=10)],
    ...           {"order": ["any"], "limit": ["50"]})
    ({'order': 'any', 'limit': 200}, {'limit': "limit: '50' is not in the range 1..10"})
    """
    values: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for p in params:
        texts = [t for t in given.get(p.name, ()) if t != "" or p.type == "bool"]
        try:
            if not texts:
                value = p.default
            elif p.multiple:
                value = p.check([_typed(p, t) for t in texts])
            else:
                value = p.check(_typed(p, texts[-1]))
        except ValueError as exc:  # the registry's ParameterError
            errors[p.name] = str(exc)
            value = p.default
        values[p.name] = value
    return values, errors


def _typed(p: Param, text: str) -> Any:
    if p.type != "bool":
        return text
    low = text.strip().lower()
    if low in _TRUE:
        return True
    if low in _FALSE:
        return False
    return text  # the registry says it is not true or false
