"""Reading and checking ``journey.yaml`` (format version 1).

The parser walks the YAML node tree, so every problem carries the line and column of the
value at fault, and it reports all problems at once instead of stopping at the first.
:func:`parse_journey` never raises on any input, and refuses (as one error) a text larger than
:data:`MAX_JOURNEY_BYTES` (1 MiB), nested deeper than :data:`MAX_DEPTH` (50) or whose YAML
aliases would add more than :data:`MAX_ALIAS_NODES` (10,000) nodes, so that a small hostile
file cannot take the memory or the stack of whoever checks it. Parsing is pure; only
:func:`validate_file` and :func:`load_journey` read a file.
"""

from __future__ import annotations

import difflib
import math
import os
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from functools import partial
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml

from kundresa._files import not_a_regular_file
from kundresa.errors import InputError
from kundresa.model.journey import (
    KPI_METRICS,
    LANES,
    SURVEY_METRICS,
    Channel,
    Condition,
    Journey,
    Kpi,
    Match,
    Persona,
    PersonaMatch,
    Stage,
    Survey,
    Touchpoint,
)
from kundresa.model.templates import FUNNEL_POSITIONS, LANGUAGES, TEMPLATES

__all__ = [
    "FORMAT_VERSION",
    "MAX_ALIAS_NODES",
    "MAX_DEPTH",
    "MAX_JOURNEY_BYTES",
    "JourneyError",
    "Problem",
    "load_journey",
    "load_yaml",
    "parse_journey",
    "validate_file",
]

FORMAT_VERSION = 1
OWNERSHIP = ("owned", "paid", "earned")
KPI_DIRECTIONS = ("at_least", "at_most")
_ID = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")
# Python's `re` accepts these, the RE2 engine behind DuckDB's regexp functions does not.
_NOT_RE2 = re.compile(r"\(\?<?[=!]|\\[1-9]|\(\?P=")


@dataclass(frozen=True)
class Problem:
    """One problem in a journey file, with where it is."""

    severity: str  # "error" or "warning"
    message: str
    source: str
    line: int | None = None
    column: int | None = None
    path: str = ""

    def __str__(self) -> str:
        """``file:line:column: severity: message``, like a compiler.

        Examples
        --------
        >>> print(Problem("error", "unknown stage 'x'", "j.yaml", 14, 7, "touchpoints[2].stage"))
        j.yaml:14:7: error: unknown stage 'x' (at touchpoints[2].stage)
        """
        where = self.source
        if self.line is not None:
            where += f":{self.line}"
            if self.column is not None:
                where += f":{self.column}"
        field = f" (at {self.path})" if self.path and self.path not in self.message else ""
        return f"{where}: {self.severity}: {self.message}{field}"


class JourneyError(InputError):
    """A journey file with errors; ``problems`` lists all of them."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        errors = [p for p in problems if p.severity == "error"]
        super().__init__("\n".join(str(p) for p in errors or problems))


MAX_JOURNEY_BYTES = 1 << 20
"""The largest journey file read, in bytes of UTF-8 (1 MiB; real maps are a few KB)."""
MAX_DEPTH = 50
"""The deepest nesting of lists and mappings in a journey file (real maps nest about 6 deep)."""
MAX_ALIAS_NODES = 10_000
"""How many nodes YAML aliases (``*name``) may add to a journey file in all, counting each
alias as the whole node it repeats: anchors for a shared match rule are fine, a "billion
laughs" document (aliases of aliases, each level multiplying the size) is refused."""
MAX_NODES = 20_000
"""The most YAML nodes (keys, values, list items) a journey file may have: composing them is
the costly part of reading a file (a real map has a few hundred to a few thousand; 40,000
keys took seconds). Composing stops at the node past it."""


class _Refused(yaml.MarkedYAMLError):
    """A document the journey loader will not build (too deep, aliases that expand too far)."""


class _JourneyLoader(yaml.SafeLoader):
    """PyYAML's safe loader with limits on nesting and on what aliases expand to.

    The composer returns the anchored node itself for an alias, so a small text can stand for
    an enormous tree; anything that walks or constructs it (the checks here, ``safe_load`` in
    the web editor) would expand it. The limits are checked while composing, at the alias or
    the node at fault, so the error names its line and column.
    """

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._alias_nodes = 0
        self._nodes = 0
        self._sizes: dict[int, int] = {}
        self._open: set[str] = set()
        self._depth = 0

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node | None:
        event: Any = self.peek_event()
        mark: Any = event.start_mark
        if isinstance(event, yaml.AliasEvent):
            anchor = event.anchor
            if anchor in self._open:
                raise _Refused(
                    None,
                    None,
                    f"the alias *{anchor} is inside the node it repeats (an endless document)",
                    mark,
                )
            node = self.anchors.get(anchor)
            if node is not None:
                self._alias_nodes += _size(node, self._sizes)
                if self._alias_nodes > MAX_ALIAS_NODES:
                    raise _Refused(
                        None,
                        None,
                        f"the aliases (*name) expand to more than {MAX_ALIAS_NODES:,} nodes; "
                        "write the repeated parts out or use fewer aliases",
                        mark,
                    )
            return super().compose_node(parent, index)
        self._nodes += 1
        if self._nodes > MAX_NODES:
            raise _Refused(
                None,
                None,
                f"the file has more than {MAX_NODES:,} YAML nodes (keys, values and list "
                "items; journey files are small)",
                mark,
            )
        self._depth += 1
        if self._depth > MAX_DEPTH:
            raise _Refused(None, None, f"the file nests deeper than {MAX_DEPTH} levels", mark)
        anchor = getattr(event, "anchor", None)
        if anchor is not None:
            self._open.add(anchor)
        try:
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1
            if anchor is not None:
                self._open.discard(anchor)


def _size(node: yaml.Node, sizes: dict[int, int]) -> int:
    """The number of nodes in the tree ``node`` stands for, aliases expanded (memoised by
    node: the depth limit bounds the recursion, and refusing self-reference keeps it finite)."""
    known = sizes.get(id(node))
    if known is not None:
        return known
    if isinstance(node, yaml.SequenceNode):
        n = 1 + sum(_size(child, sizes) for child in node.value)
    elif isinstance(node, yaml.MappingNode):
        n = 1 + sum(_size(k, sizes) + _size(v, sizes) for k, v in node.value)
    else:
        n = 1
    sizes[id(node)] = n
    return n


def _compose(text: str) -> yaml.Node | None:
    """The YAML node tree of ``text`` within the limits (raises ``yaml.YAMLError``)."""
    loader = _JourneyLoader(text)
    try:
        return loader.get_single_node()
    finally:
        loader.dispose()


def load_yaml(text: str) -> Any:
    """The data of a YAML text, with the journey file's limits on size, nesting and aliases.

    For code that reads a journey's YAML as plain data (the web editor's form) rather than
    through :func:`parse_journey`.

    Raises
    ------
    ValueError
        The text is larger than :data:`MAX_JOURNEY_BYTES`, not valid YAML, nested deeper than
        :data:`MAX_DEPTH` or its aliases expand beyond :data:`MAX_ALIAS_NODES` nodes; the
        message gives the line and column.

    Examples
    --------
    >>> load_yaml("a: &x [1, 2]\\nb: *x\\n")
    {'a': [1, 2], 'b': [1, 2]}
    >>> load_yaml("[" * 60)
    Traceback (most recent call last):
    ...
    ValueError: line 1, column 51: the file nests deeper than 50 levels
    """
    if _too_big(text):
        raise ValueError(_TOO_BIG)
    try:
        node = _compose(text)
    except yaml.YAMLError as exc:
        p = _syntax_problem(exc, text, "")
        where = f"line {p.line}, column {p.column}: " if p.line is not None else ""
        raise ValueError(where + p.message) from None
    return None if node is None else yaml.constructor.SafeConstructor().construct_document(node)


_TOO_BIG = f"the file is larger than {MAX_JOURNEY_BYTES:,} bytes (journey files are small)"


def _too_big(text: str) -> bool:
    # Characters never outnumber UTF-8 bytes, so the first test spares encoding a huge text.
    return len(text) > MAX_JOURNEY_BYTES or len(text.encode("utf-8")) > MAX_JOURNEY_BYTES


def _value(node: yaml.Node) -> Any:
    # A fresh constructor each time: one shared constructor would keep every object it ever
    # built in its cache, and is not safe to use from two threads.
    try:
        return yaml.constructor.SafeConstructor().construct_object(node, deep=True)
    except Exception:  # a bad tag or timestamp: treat the text as it is
        return getattr(node, "value", None)


MAX_PROBLEMS = 100
"""The most problems reported for one journey file; the rest are counted (a last problem says
how many more), and their messages are never built: a file of 40,000 unknown keys costs what
100 do beyond reading it."""

Message = str | Callable[[], str]
"""A problem's message, or what builds it (suggestions compare a name with every known one:
built only for the problems that are reported)."""


class _Reader:
    """Walks the node tree and collects problems (the first :data:`MAX_PROBLEMS`; the others
    only counted, by severity, in ``more``)."""

    def __init__(self, source: str, today: date | None) -> None:
        self.source = source
        self.today = today
        self.problems: list[Problem] = []
        self.more = {"error": 0, "warning": 0}

    # -- reporting --

    def add(self, severity: str, node: yaml.Node | None, path: str, message: Message) -> None:
        if len(self.problems) >= MAX_PROBLEMS:
            self.more[severity] += 1
            return
        line = col = None
        if node is not None:
            line, col = node.start_mark.line + 1, node.start_mark.column + 1
        text = message if isinstance(message, str) else message()
        self.problems.append(Problem(severity, text, self.source, line, col, path))

    def error(self, node: yaml.Node | None, path: str, message: Message) -> None:
        self.add("error", node, path, message)

    def warn(self, node: yaml.Node | None, path: str, message: Message) -> None:
        self.add("warning", node, path, message)

    @property
    def has_errors(self) -> bool:
        return self.more["error"] > 0 or any(p.severity == "error" for p in self.problems)

    def summary(self) -> Problem | None:
        """The last problem when some were not reported: how many, an error if one was."""
        errors, warnings = self.more["error"], self.more["warning"]
        if not errors and not warnings:
            return None
        kinds = [
            f"{n:,} {k}{'s' if n != 1 else ''}"
            for n, k in ((errors, "error"), (warnings, "warning"))
            if n
        ]
        return Problem(
            "error" if errors else "warning",
            f"and {errors + warnings:,} more problems not listed ({', '.join(kinds)}): only "
            f"the first {MAX_PROBLEMS} are reported",
            self.source,
        )

    # -- typed access --

    def mapping(
        self,
        node: yaml.Node,
        path: str,
        allowed: tuple[str, ...] | None = None,
        *,
        unknown: str = "error",
    ) -> dict[str, tuple[yaml.Node, yaml.Node]] | None:
        """The keys of a mapping node; keys outside ``allowed`` are reported with the known
        ones and left out. ``unknown`` is the severity of that report: an error wherever a
        misspelt key would change what the journey means (a match rule that is dropped
        matches more events), a warning only where keys name display text (label languages,
        lanes)."""
        if not isinstance(node, yaml.MappingNode):
            self.error(node, path, f"{path or 'the file'} must be a mapping of keys to values")
            return None
        out: dict[str, tuple[yaml.Node, yaml.Node]] = {}
        for knode, vnode in node.value:
            key = str(_value(knode))
            if key in out:
                self.error(knode, path, f"key {key!r} appears twice")
                continue
            if allowed is not None and key not in allowed:
                self.add(unknown, knode, _join(path, key), partial(_unknown_in, key, path, allowed))
                continue
            out[key] = (knode, vnode)
        return out

    def seq(self, node: yaml.Node, path: str) -> list[yaml.Node]:
        if isinstance(node, yaml.SequenceNode):
            return list(node.value)
        if _is_null(node):  # `touchpoints:` with nothing under it yet
            return []
        self.error(node, path, f"{path} must be a list")
        return []

    def text(self, node: yaml.Node, path: str, *, required_nonempty: bool = True) -> str | None:
        v = _value(node)
        if isinstance(v, str | int | float) and not isinstance(v, bool):
            s = str(v)
            if required_nonempty and not s.strip():
                self.error(node, path, f"{path} must not be empty")
                return None
            return s
        if v is None:
            self.error(node, path, f"{path} has no value")
            return None
        self.error(node, path, f"{path} must be text, not {_kind(v)}")
        return None

    def ident(self, node: yaml.Node, path: str) -> str | None:
        s = self.text(node, path)
        if s is not None and not _ID.match(s):
            self.error(node, path, f"{path} {s!r} must be a simple id (letters, digits, _ . -)")
            return None
        return s

    def texts(self, node: yaml.Node, path: str) -> tuple[str, ...]:
        v = _value(node)
        if isinstance(v, str):
            return (v,)
        if isinstance(v, list) and all(isinstance(x, str | int | float) for x in v):
            return tuple(str(x) for x in v)
        self.error(node, path, f"{path} must be a text or a list of texts")
        return ()

    def boolean(self, node: yaml.Node, path: str) -> bool | None:
        v = _value(node)
        if isinstance(v, bool):
            return v
        self.error(node, path, f"{path} must be true or false, not {_value_text(node)}")
        return None

    def number(self, node: yaml.Node, path: str) -> float | None:
        v = _value(node)
        if isinstance(v, int | float) and not isinstance(v, bool):
            if math.isfinite(v):
                return float(v)
            # .nan or .inf: a KPI target no actual can meet or miss, a survey scale of no width
            self.error(node, path, f"{path} must be a finite number, not {_value_text(node)}")
            return None
        self.error(node, path, f"{path} must be a number, not {_value_text(node)}")
        return None

    def choice(self, node: yaml.Node, path: str, choices: tuple[str, ...]) -> str | None:
        s = self.text(node, path)
        if s is not None and s not in choices:
            self.error(node, path, f"{path} must be one of {', '.join(choices)}, not {s!r}")
            return None
        return s


def _join(path: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else key


def _unknown_in(key: str, path: str, allowed: Sequence[str]) -> str:
    """``unknown key 'evnt' in match; did you mean 'event'? (known: ...)``"""
    close = difflib.get_close_matches(key, allowed, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    where = f" in {path}" if path else ""
    return f"unknown key {key!r}{where}{hint} (known: {', '.join(allowed)})"


def _unknown(what: str, name: str, path: str, known: list[str]) -> Callable[[], str]:
    """What builds ``unknown stage 'decison' in touchpoints[2].stage; did you mean ...?
    (known: ...)``: the suggestion is looked for only when the problem is reported."""
    return partial(_unknown_text, what, name, path, known)


def _unknown_text(what: str, name: str, path: str, known: list[str]) -> str:
    close = difflib.get_close_matches(name, known, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    listed = ", ".join(known) if known else f"no {what}s are defined"
    return f"unknown {what} {name!r} in {_join(path, what)}{hint} (known: {listed})"


def _kind(v: Any) -> str:
    if isinstance(v, dict):
        return "a mapping"
    if isinstance(v, list):
        return "a list"
    return type(v).__name__


def _is_null(node: yaml.Node) -> bool:
    return isinstance(node, yaml.ScalarNode) and node.tag == "tag:yaml.org,2002:null"


def _plain(node: yaml.Node) -> str:
    return str(node.value) if isinstance(node, yaml.ScalarNode) else _value_text(node)


def _value_text(node: yaml.Node) -> str:
    if isinstance(node, yaml.ScalarNode):
        return repr(node.value)
    return "a mapping" if isinstance(node, yaml.MappingNode) else "a list"


# -- the sections ---------------------------------------------------------------------------------

_TOP = (
    "kundresa",
    "name",
    "description",
    "language",
    "circular",
    "timezone",
    "review_by",
    "template",
    "stages",
    "personas",
    "channels",
    "touchpoints",
    "lanes",
    "surveys",
)
_STAGE = ("id", "label", "funnel", "goal", "kpis", "description")
_KPI = ("metric", "target", "direction", "label")
_PERSONA = ("id", "name", "description", "needs", "challenges", "goals", "match")
_CHANNEL = ("id", "label", "online", "ownership", "match")
_TOUCHPOINT = ("id", "stage", "channel", "label", "description", "match")
_MATCH = ("event", "where", "nth")
_SURVEY = ("event", "metric", "score", "stage", "scale", "label")
_CONDITION = ("equals", "in", "regex", "gte", "lte")


def _re2_refuses(pattern: str) -> str | None:
    """Why RE2 (DuckDB's regex engine, which also matches conditions in Python) cannot
    compile ``pattern``, or None when it can."""
    import re2

    from kundresa.model.journey import compiled

    try:
        compiled(pattern)
    except re2.error as exc:
        return str(exc) or "refused"
    return None


def _condition(r: _Reader, node: yaml.Node, path: str) -> Condition | None:
    if isinstance(node, yaml.ScalarNode):  # `path: /pricing` is short for `equals`
        s = r.text(node, path, required_nonempty=False)
        return Condition(equals=s) if s is not None else None
    m = r.mapping(node, path, _CONDITION)
    if m is None:
        return None
    if not m and not node.value:  # only unknown keys: reported already
        r.error(node, path, f"{path} needs one of {', '.join(_CONDITION)}")
        return None
    kw: dict[str, Any] = {}
    if "equals" in m:
        kw["equals"] = r.text(m["equals"][1], _join(path, "equals"), required_nonempty=False)
    if "in" in m:
        kw["in_"] = r.texts(m["in"][1], _join(path, "in"))
    if "regex" in m:
        vnode = m["regex"][1]
        pattern = r.text(vnode, _join(path, "regex"), required_nonempty=False)
        if pattern is not None:
            try:
                re.compile(pattern)
            except re.error as exc:
                r.error(vnode, _join(path, "regex"), f"invalid regex {pattern!r}: {exc}")
            else:
                if _NOT_RE2.search(pattern):
                    r.error(
                        vnode,
                        _join(path, "regex"),
                        f"regex {pattern!r} uses look-around or a back-reference, which DuckDB "
                        "(RE2) cannot run; rewrite it without them",
                    )
                elif (refused := _re2_refuses(pattern)) is not None:
                    r.error(
                        vnode,
                        _join(path, "regex"),
                        f"regex {pattern!r} is not RE2 syntax, which DuckDB runs: {refused}",
                    )
                else:
                    kw["regex"] = pattern
    for bound in ("gte", "lte"):
        if bound in m:
            vnode = m[bound][1]
            v = _value(vnode)
            if isinstance(v, int | float) and not isinstance(v, bool):
                if math.isfinite(v):
                    kw[bound] = float(v)
                else:  # .nan fits no value, .inf every or none: never what was meant
                    r.error(
                        vnode,
                        _join(path, bound),
                        f"{_join(path, bound)} must be a finite number, not {_value_text(vnode)}",
                    )
            elif isinstance(v, str | date):
                kw[bound] = str(v)
            else:
                r.error(vnode, _join(path, bound), f"{_join(path, bound)} must be a number or text")
    return Condition(**kw)


def _match(r: _Reader, node: yaml.Node, path: str) -> Match | None:
    m = r.mapping(node, path, _MATCH)
    if m is None:
        return None
    events = None
    if "event" in m:
        events = r.texts(m["event"][1], _join(path, "event")) or None
    where: dict[str, Condition] = {}
    if "where" in m:
        wm = r.mapping(m["where"][1], _join(path, "where"))
        for key, (_, vnode) in (wm or {}).items():
            c = _condition(r, vnode, _join(_join(path, "where"), key))
            if c is not None:
                where[key] = c
    nth = None
    if "nth" in m:
        vnode = m["nth"][1]
        v = _value(vnode)
        if isinstance(v, int) and not isinstance(v, bool) and v >= 1:
            nth = v
        else:
            r.error(
                vnode,
                _join(path, "nth"),
                f"nth must be a whole number >= 1, not {_value_text(vnode)}",
            )
    return Match(events, where, nth)


def _label(r: _Reader, node: yaml.Node, path: str, lang: str) -> dict[str, str]:
    if isinstance(node, yaml.ScalarNode):
        s = r.text(node, path)
        return {lang: s} if s is not None else {}
    m = r.mapping(node, path, LANGUAGES, unknown="warning")  # a label in no known language
    out = {}
    for k, (_, vnode) in (m or {}).items():
        s = r.text(vnode, _join(path, k))
        if s is not None:
            out[k] = s
    return out


def _in_language(labels: Mapping[str, str], lang: str) -> str | None:
    """A label's text in the journey's language, else English, else its first language."""
    return labels.get(lang) or labels.get("en") or next(iter(labels.values()), None)


def _stages(r: _Reader, node: yaml.Node, lang: str) -> list[tuple[Stage, yaml.Node, int]]:
    out: list[tuple[Stage, yaml.Node, int]] = []
    for i, snode in enumerate(r.seq(node, "stages")):
        path = f"stages[{i}]"
        m = r.mapping(snode, path, _STAGE)
        if m is None:
            continue
        if "id" not in m:
            r.error(snode, path, f"{path} needs an id")
            continue
        sid = r.ident(m["id"][1], _join(path, "id"))
        if sid is None:
            continue
        label = _label(r, m["label"][1], _join(path, "label"), lang) if "label" in m else {}
        funnel = (
            r.choice(m["funnel"][1], _join(path, "funnel"), FUNNEL_POSITIONS)
            if "funnel" in m
            else None
        )
        goal = r.text(m["goal"][1], _join(path, "goal")) if "goal" in m else None
        desc = (
            r.text(m["description"][1], _join(path, "description")) if "description" in m else None
        )
        kpis: list[Kpi] = []
        if "kpis" in m:
            for j, knode in enumerate(r.seq(m["kpis"][1], _join(path, "kpis"))):
                kp = f"{path}.kpis[{j}]"
                km = r.mapping(knode, kp, _KPI)
                if km is None:
                    continue
                if "metric" not in km or "target" not in km:
                    r.error(knode, kp, f"{kp} needs a metric and a target")
                    continue
                metric = r.choice(km["metric"][1], _join(kp, "metric"), KPI_METRICS)
                target = r.number(km["target"][1], _join(kp, "target"))
                direction = (
                    r.choice(km["direction"][1], _join(kp, "direction"), KPI_DIRECTIONS)
                    if "direction" in km
                    else "at_least"
                )
                klabel = r.text(km["label"][1], _join(kp, "label")) if "label" in km else None
                if metric in _RATE_METRICS and target is not None and not 0 <= target <= 1:
                    r.warn(
                        km["target"][1],
                        _join(kp, "target"),
                        f"{_join(kp, 'target')} {target:g} is outside 0-1: a conversion is a "
                        "fraction (write 60% as 0.6), so the KPI is met always or never",
                    )
                if metric is not None and target is not None and direction is not None:
                    kpis.append(Kpi(metric, target, direction, klabel))
        out.append((Stage(sid, label, funnel, goal, tuple(kpis), desc), m["id"][1], i))
    return out


def _template_stages(r: _Reader, node: yaml.Node, path: str) -> tuple[str | None, list[Stage]]:
    tid = r.text(node, path)
    if tid is None:
        return None, []
    if tid not in TEMPLATES:
        close = difflib.get_close_matches(tid, TEMPLATES, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        r.error(node, path, f"unknown template {tid!r}{hint} (known: {', '.join(TEMPLATES)})")
        return None, []
    t = TEMPLATES[tid]
    return tid, [Stage(s.id, dict(s.label), s.funnel) for s in t.stages]


def _check_unique(r: _Reader, items: list[tuple[str, yaml.Node, str]], what: str) -> None:
    """Report ids defined twice; ``items`` are (id, its node, its field path)."""
    seen: dict[str, yaml.Node] = {}
    for key, node, path in items:
        if key in seen:
            first = seen[key].start_mark.line + 1
            r.error(node, path, f"duplicate {what} id {key!r} (first defined on line {first})")
        else:
            seen[key] = node


def _timezone(r: _Reader, node: yaml.Node) -> str | None:
    """The project time zone: an IANA name such as ``Europe/Stockholm``."""
    name = r.text(node, "timezone")
    if name is None:
        return None
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        r.error(
            node,
            "timezone",
            f"unknown time zone {name!r}; use an IANA name such as Europe/Stockholm or UTC",
        )
        return None
    return name


def _parse(r: _Reader, root: yaml.Node) -> Journey | None:
    top = r.mapping(root, "", _TOP)
    if top is None:
        return None
    # Version first: a file for another format version is not worth checking further.
    if "kundresa" not in top:
        r.error(root, "kundresa", f"missing `kundresa: {FORMAT_VERSION}` (the format version)")
    else:
        vnode = top["kundresa"][1]
        if _value(vnode) != FORMAT_VERSION:
            r.error(
                vnode,
                "kundresa",
                f"format version {_plain(vnode)} is not supported; this version of "
                f"Kundresa reads `kundresa: {FORMAT_VERSION}`",
            )
            return None
    name = "Journey"
    if "name" in top:
        name = r.text(top["name"][1], "name") or name
    lang = "en"
    if "language" in top:
        lang = r.choice(top["language"][1], "language", LANGUAGES) or "en"
    timezone = "UTC"
    if "timezone" in top:
        timezone = _timezone(r, top["timezone"][1]) or "UTC"
    review_by = None
    if "review_by" in top:
        vnode = top["review_by"][1]
        v = _value(vnode)
        if isinstance(v, date):
            review_by = v
            if r.today is not None and v < r.today:
                r.warn(
                    vnode,
                    "review_by",
                    f"the map was due for review on {v.isoformat()}; review it and set a new "
                    "review_by (maps should be reviewed at least twice a year)",
                )
        else:
            r.error(
                vnode, "review_by", f"review_by must be a date YYYY-MM-DD, not {_value_text(vnode)}"
            )

    # Stages: a list, or a template (at the top or as `stages: {template: ...}`).
    template: str | None = None
    stage_items: list[tuple[Stage, yaml.Node, int]] = []
    stages_node = top.get("stages", (None, None))[1]
    if "template" in top:
        if stages_node is not None:
            r.error(
                top["template"][0],
                "template",
                "give either `template:` or a `stages:` list, not both",
            )
        template, stages = _template_stages(r, top["template"][1], "template")
        stage_items = [(s, top["template"][1], i) for i, s in enumerate(stages)]
    elif isinstance(stages_node, yaml.MappingNode):
        m = r.mapping(stages_node, "stages", ("template",))
        if m and "template" in m:
            template, stages = _template_stages(r, m["template"][1], "stages.template")
            stage_items = [(s, m["template"][1], i) for i, s in enumerate(stages)]
        elif m is not None:
            r.error(stages_node, "stages", "stages must be a list or `{template: ID}`")
    elif stages_node is not None:
        stage_items = _stages(r, stages_node, lang)
    else:
        r.error(root, "stages", "no stages: give a `stages:` list or `template: kundresa-5`")
    _check_unique(r, [(s.id, n, f"stages[{i}].id") for s, n, i in stage_items], "stage")
    stages = []
    seen_ids: set[str] = set()
    for s, _, _ in stage_items:
        if s.id not in seen_ids:
            stages.append(s)
            seen_ids.add(s.id)
    stage_ids = [s.id for s in stages]
    stage_set = set(stage_ids)  # membership tests: a journey may have many stages

    circular = TEMPLATES[template].circular if template else False
    if "circular" in top:
        c = r.boolean(top["circular"][1], "circular")
        circular = circular if c is None else c

    # Personas.
    personas: list[Persona] = []
    persona_nodes: list[tuple[str, yaml.Node, str]] = []
    if "personas" in top:
        for i, pnode in enumerate(r.seq(top["personas"][1], "personas")):
            path = f"personas[{i}]"
            m = r.mapping(pnode, path, _PERSONA)
            if m is None:
                continue
            if "id" not in m:
                r.error(pnode, path, f"{path} needs an id")
                continue
            pid = r.ident(m["id"][1], _join(path, "id"))
            if pid is None:
                continue
            persona_nodes.append((pid, m["id"][1], _join(path, "id")))
            pname = r.text(m["name"][1], _join(path, "name")) if "name" in m else pid
            desc = (
                r.text(m["description"][1], _join(path, "description"))
                if "description" in m
                else None
            )
            lists = {
                k: (r.texts(m[k][1], _join(path, k)) if k in m else ())
                for k in ("needs", "challenges", "goals")
            }
            pmatch = None
            if "match" in m:
                mp = _join(path, "match")
                mm = r.mapping(m["match"][1], mp, ("property", *_CONDITION))
                if mm is not None:
                    if "property" not in mm:
                        r.error(m["match"][1], mp, f"{mp} needs a property")
                    else:
                        prop = r.text(mm["property"][1], _join(mp, "property"))
                        cond_node = yaml.MappingNode(
                            "tag:yaml.org,2002:map",
                            [(k, v) for k, v in mm.values() if _value(k) != "property"],
                            m["match"][1].start_mark,
                            m["match"][1].end_mark,
                        )
                        cond = _condition(r, cond_node, mp)
                        if prop is not None and cond is not None:
                            pmatch = PersonaMatch(prop, cond)
            personas.append(
                Persona(
                    pid,
                    pname or pid,
                    desc,
                    lists["needs"],
                    lists["challenges"],
                    lists["goals"],
                    pmatch,
                )
            )
    _check_unique(r, persona_nodes, "persona")

    # Channels.
    channels: list[Channel] = []
    channel_nodes: list[tuple[str, yaml.Node, str]] = []
    if "channels" in top:
        for i, cnode in enumerate(r.seq(top["channels"][1], "channels")):
            path = f"channels[{i}]"
            m = r.mapping(cnode, path, _CHANNEL)
            if m is None:
                continue
            if "id" not in m:
                r.error(cnode, path, f"{path} needs an id")
                continue
            cid = r.ident(m["id"][1], _join(path, "id"))
            if cid is None:
                continue
            channel_nodes.append((cid, m["id"][1], _join(path, "id")))
            labels = _label(r, m["label"][1], _join(path, "label"), lang) if "label" in m else {}
            label = _in_language(labels, lang)
            online = r.boolean(m["online"][1], _join(path, "online")) if "online" in m else True
            own = (
                r.choice(m["ownership"][1], _join(path, "ownership"), OWNERSHIP)
                if "ownership" in m
                else None
            )
            cmatch = _match(r, m["match"][1], _join(path, "match")) if "match" in m else None
            if cmatch is not None and cmatch.nth is not None:
                r.error(
                    m["match"][1],
                    _join(path, "match"),
                    f"{_join(path, 'match')}: nth is for touchpoints; a channel matches events "
                    "by event and where",
                )
                cmatch = None
            channels.append(
                Channel(cid, label, True if online is None else online, own, cmatch, labels)
            )
    _check_unique(r, channel_nodes, "channel")
    channel_ids = {c.id for c in channels}

    # Touchpoints.
    touchpoints: list[Touchpoint] = []
    tp_nodes: list[tuple[str, yaml.Node, str]] = []
    tp_lines: dict[str, int] = {}
    led: set[str] = set()  # stages some touchpoint names (one refused for its id counts too)
    if "touchpoints" in top:
        for i, tnode in enumerate(r.seq(top["touchpoints"][1], "touchpoints")):
            path = f"touchpoints[{i}]"
            m = r.mapping(tnode, path, _TOUCHPOINT)
            if m is None:
                continue
            missing = [k for k in ("id", "stage", "match") if k not in m]
            if missing:
                r.error(tnode, path, f"{path} needs {', '.join(missing)}")
            tid = r.ident(m["id"][1], _join(path, "id")) if "id" in m else None
            stage = None
            if "stage" in m:
                snode = m["stage"][1]
                stage = r.text(snode, _join(path, "stage"))
                if stage is not None and stage_ids and stage not in stage_set:
                    r.error(snode, _join(path, "stage"), _unknown("stage", stage, path, stage_ids))
                    stage = None
            channel = None
            if "channel" in m:
                cnode = m["channel"][1]
                channel = r.text(cnode, _join(path, "channel"))
                if channel is not None and channel not in channel_ids:
                    r.error(
                        cnode,
                        _join(path, "channel"),
                        _unknown("channel", channel, path, [c.id for c in channels]),
                    )
                    channel = None
            match = _match(r, m["match"][1], _join(path, "match")) if "match" in m else None
            if stage is not None:
                led.add(stage)
            labels = _label(r, m["label"][1], _join(path, "label"), lang) if "label" in m else {}
            label = _in_language(labels, lang)
            desc = (
                r.text(m["description"][1], _join(path, "description"))
                if "description" in m
                else None
            )
            if tid is None:
                continue
            tp_nodes.append((tid, m["id"][1], _join(path, "id")))
            if tid in tp_lines:
                continue
            tp_lines[tid] = tnode.start_mark.line + 1
            if stage is None or match is None:
                continue
            # Shadowed: an earlier touchpoint takes every event this one would.
            for earlier in touchpoints:
                if earlier.match.covers(match):
                    r.error(
                        tnode,
                        path,
                        f"touchpoint {tid!r} can never match: {earlier.id!r} "
                        f"(line {tp_lines[earlier.id]}) comes first and matches every event "
                        "it would; move it below this one or narrow its match",
                    )
                    break
            touchpoints.append(Touchpoint(tid, stage, match, label, channel, desc, labels))
    _check_unique(r, tp_nodes, "touchpoint")
    if stage_ids and "touchpoints" in top:
        for sid in stage_ids:
            if sid not in led:
                r.warn(
                    top["touchpoints"][0],
                    "touchpoints",
                    f"no touchpoint leads to stage {sid!r}: no customer can enter it",
                )

    # Lanes.
    lanes: dict[str, Any] = {}
    persona_ids = {p.id for p in personas}
    if "lanes" in top:
        lnode = top["lanes"][1]
        lm = None if _is_null(lnode) else r.mapping(lnode, "lanes", LANES, unknown="warning")
        for lane, (_, lnode) in (lm or {}).items():
            lanes[lane] = _lane(r, lane, lnode, stage_ids, persona_ids)

    surveys = _surveys(r, top["surveys"][1], stage_ids) if "surveys" in top else []
    for i, sv in enumerate(surveys):
        takes = any(t.match.events is None or sv.event in t.match.events for t in touchpoints)
        if sv.stage is None and not takes:
            r.warn(
                top["surveys"][1],
                f"surveys[{i}]",
                f"surveys[{i}]: no stage and no touchpoint takes {sv.event!r} events: its "
                "answers count for no stage; give it a stage or a touchpoint",
            )

    if r.has_errors:
        return None
    return Journey(
        name=name,
        stages=tuple(stages),
        language=lang,
        circular=circular,
        timezone=timezone,
        review_by=review_by,
        template=template,
        personas=tuple(personas),
        channels=tuple(channels),
        touchpoints=tuple(touchpoints),
        lanes=lanes,
        source=r.source,
        surveys=tuple(surveys),
    )


def _surveys(r: _Reader, node: yaml.Node, stage_ids: list[str]) -> list[Survey]:
    """``surveys:``: which answer events measure NPS or CSAT, and on which stage."""
    out: list[Survey] = []
    for i, snode in enumerate(r.seq(node, "surveys")):
        path = f"surveys[{i}]"
        m = r.mapping(snode, path, _SURVEY)
        if m is None:
            continue
        missing = [k for k in ("event", "metric") if k not in m]
        if missing:
            r.error(snode, path, f"{path} needs {', '.join(missing)}")
            continue
        event = r.text(m["event"][1], _join(path, "event"))
        metric = r.choice(m["metric"][1], _join(path, "metric"), SURVEY_METRICS)
        score = r.text(m["score"][1], _join(path, "score")) if "score" in m else "score"
        label = r.text(m["label"][1], _join(path, "label")) if "label" in m else None
        stage = None
        if "stage" in m:
            stage = r.text(m["stage"][1], _join(path, "stage"))
            if stage is not None and stage_ids and stage not in stage_ids:
                r.error(
                    m["stage"][1], _join(path, "stage"), _unknown("stage", stage, path, stage_ids)
                )
                stage = None
        scale: tuple[float, float] | None = None
        if "scale" in m:
            cnode = m["scale"][1]
            cpath = _join(path, "scale")
            if metric == "nps":
                r.error(cnode, cpath, f"{cpath}: NPS answers are always 0-10; remove scale")
            else:
                items = r.seq(cnode, cpath)
                nums = [r.number(n, _join(cpath, k)) for k, n in enumerate(items)]
                low, high = (nums[0], nums[1]) if len(nums) == 2 else (None, None)
                if low is None or high is None:
                    r.error(cnode, cpath, f"{cpath} must be [lowest, highest], e.g. [1, 5]")
                elif low >= high:
                    r.error(cnode, cpath, f"{cpath}: the lowest score must be below the highest")
                else:
                    scale = (low, high)
        if event is None or metric is None or score is None:
            continue
        out.append(Survey(event, metric, score, stage, scale, label))
    return out


_RATE_METRICS = frozenset({"conversion_from_previous", "conversion_from_start"})
"""KPI metrics that are fractions 0-1."""


def _lane(
    r: _Reader, lane: str, node: yaml.Node, stage_ids: list[str], persona_ids: set[str]
) -> dict[str, Any]:
    path = f"lanes.{lane}"
    m = None if _is_null(node) else r.mapping(node, path)
    out: dict[str, Any] = {}
    stages = set(stage_ids)  # a set: a lane may have many keys, a journey many stages
    candidates = [*stage_ids, *sorted(persona_ids)]
    known = ", ".join(stage_ids) + (
        f"; personas: {', '.join(sorted(persona_ids))}" if persona_ids else ""
    )

    def unknown(key: str) -> str:
        close = difflib.get_close_matches(key, candidates, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        return f"unknown stage or persona {key!r} in {path}{hint} (stages: {known})"

    for key, (knode, vnode) in (m or {}).items():
        if key in stages:
            out[key] = _lane_cell(r, lane, vnode, _join(path, key))
        elif key in persona_ids:
            pm = r.mapping(vnode, _join(path, key))
            cells: dict[str, Any] = {}
            for skey, (sknode, svnode) in (pm or {}).items():
                if skey in stages:
                    cells[skey] = _lane_cell(r, lane, svnode, _join(_join(path, key), skey))
                else:
                    r.error(
                        sknode, _join(path, key), _unknown_key("stage", skey, path, key, stage_ids)
                    )
            out[key] = cells
        else:
            r.error(knode, path, partial(unknown, key))
    return out


def _unknown_key(what: str, name: str, path: str, key: str, known: list[str]) -> Callable[[], str]:
    """What builds the message for ``name``, unknown in ``path.key`` (built when reported)."""
    return partial(_unknown_key_text, what, name, path, key, known)


def _unknown_key_text(what: str, name: str, path: str, key: str, known: list[str]) -> str:
    close = difflib.get_close_matches(name, known, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return f"unknown {what} {name!r} in {_join(path, key)}{hint} (known: {', '.join(known)})"


def _lane_cell(r: _Reader, lane: str, node: yaml.Node, path: str) -> Any:
    if lane == "emotions":
        v = _value(node)
        if isinstance(v, int | float) and not isinstance(v, bool):
            if not -2 <= v <= 2:
                r.error(
                    node, path, f"emotion {v} is outside -2..2 (-2 very negative, 2 very positive)"
                )
            return float(v)
        r.error(node, path, f"an emotion must be a number from -2 to 2, not {_value_text(node)}")
        return None
    v = _value(node)
    if isinstance(v, str | int | float) and not isinstance(v, bool):
        return [str(v)]
    if isinstance(v, list) and all(isinstance(x, str | int | float) for x in v):
        return [str(x) for x in v]
    r.error(node, path, f"{path} must be a text or a list of texts")
    return None


# -- entry points ----------------------------------------------------------------------------------


def _syntax_problem(exc: yaml.YAMLError, text: str, source: str) -> Problem:
    line = col = None
    if isinstance(exc, _Refused):
        mark = exc.problem_mark
        if mark is not None:
            line, col = mark.line + 1, mark.column + 1
        return Problem("error", exc.problem or str(exc), source, line, col)
    if isinstance(exc, yaml.MarkedYAMLError):
        mark = exc.problem_mark or exc.context_mark
        if mark is not None:
            line, col = mark.line + 1, mark.column + 1
        message = exc.problem or exc.context or str(exc)
    elif isinstance(exc, yaml.reader.ReaderError):
        # A bad character is found before any mark exists; its position indexes the text.
        before = text[: exc.position]
        line = before.count("\n") + 1
        col = exc.position - (before.rfind("\n") + 1) + 1
        message = str(exc).splitlines()[0]
    else:
        message = str(exc)
    return Problem("error", f"not valid YAML: {message}", source, line, col)


def parse_journey(
    text: str, source: str = "journey.yaml", *, today: date | None = None
) -> tuple[Journey | None, list[Problem]]:
    """Parse and check a journey file's text.

    Parameters
    ----------
    text
        The YAML text.
    source
        The file name used in problem messages.
    today
        Compare ``review_by`` with this date (default: today).

    Returns
    -------
    (Journey or None, list of Problem)
        The journey is ``None`` when there are errors; warnings alone keep it.

    Examples
    --------
    >>> journey, problems = parse_journey('''
    ... kundresa: 1
    ... name: Shop
    ... template: buyers-journey
    ... touchpoints:
    ...   - {id: ad, stage: awareness, match: {event: ad_click}}
    ...   - {id: buy, stage: decison, match: {event: purchase}}
    ... ''', "shop.yaml")
    >>> journey is None
    True
    >>> err = [p for p in problems if p.severity == "error"][0]
    >>> err.source, err.line, err.column, err.path
    ('shop.yaml', 7, 22, 'touchpoints[1].stage')
    >>> err.message.split(";")[0]
    "unknown stage 'decison' in touchpoints[1].stage"
    """
    if _too_big(text):
        return None, [Problem("error", _TOO_BIG, source)]
    r = _Reader(source, today if today is not None else date.today())
    try:
        root = _compose(text)
    except RecursionError:
        return None, [Problem("error", "the file is nested too deeply", source)]
    except yaml.YAMLError as exc:
        return None, [_syntax_problem(exc, text, source)]
    if root is None:
        return None, [Problem("error", "the file is empty", source, 1, 1)]
    try:
        journey = _parse(r, root)
    except RecursionError:
        return None, [Problem("error", "the file is nested too deeply", source)]
    r.problems.sort(key=lambda p: (p.line or 0, p.column or 0))
    last = r.summary()
    return journey, r.problems + ([last] if last else [])


def _read(p: Path) -> str | Problem:
    """The file's text, or the problem reading it (a file too large is not read at all)."""
    kind = not_a_regular_file(p)
    if kind not in (None, "a folder"):  # a named pipe would wait for a writer forever
        return Problem("error", f"is {kind}, not a file; name a journey file", str(p))
    try:
        if p.stat().st_size > MAX_JOURNEY_BYTES:
            return Problem("error", _TOO_BIG, str(p))
        return p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return Problem("error", f"cannot read the file: {exc}", str(p))


def validate_file(path: str | os.PathLike[str], *, today: date | None = None) -> list[Problem]:
    """Every problem in a journey file (an unreadable file is one problem)."""
    p = Path(path)
    text = _read(p)
    if isinstance(text, Problem):
        return [text]
    return parse_journey(text, str(p), today=today)[1]


def load_journey(path: str | os.PathLike[str], *, today: date | None = None) -> Journey:
    """Read a journey file.

    Raises
    ------
    JourneyError
        Listing every error (with line and column) when the file has any.
    """
    p = Path(path)
    text = _read(p)
    if isinstance(text, Problem):
        raise JourneyError([text])
    journey, problems = parse_journey(text, str(p), today=today)
    if journey is None:
        raise JourneyError(problems)
    return journey
