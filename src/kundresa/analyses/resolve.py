"""Names in analyses resolved against the journey and the data.

A step (a funnel step, a path's start or end, a correlation target, what a purchase or a
conversion is) is written ``stage:ID``, ``touchpoint:ID``, ``event:NAME``, ``a|b`` for
alternatives, or a bare name: an event when the data has it, else a touchpoint id, else a stage
id (said in a note, as the map shows touchpoint ids without their prefix). A stage, touchpoint
or persona the journey does not have is a usage error that names the known ones
(:class:`UnknownNameError`); an event or property never seen in the data is a warning, so a
result is never silently zero.

Everything here is pure: it takes the journey model and the sets of known event names and
property keys, and does no I/O.

Examples
--------
>>> from kundresa.model.parse import parse_journey
>>> journey, _ = parse_journey(
...     "kundresa: 1\\nname: Shop\\ntemplate: buyers-journey\\ntouchpoints:\\n"
...     "  - {id: pricing_page, stage: consideration, match: {event: page_view}}\\n"
... )
>>> names = Names(journey, events={"page_view", "purchase"}, properties={"variant"})
>>> out = Resolution()
>>> names.step("pricing_page", out), out.notes
('touchpoint:pricing_page', ["step 'pricing_page' read as touchpoint:pricing_page"])
>>> names.step("stage:nowhere", Resolution())  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
kundresa.analyses.resolve.UnknownNameError: no stage 'nowhere'; stages: awareness, ...
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from kundresa.analyses._errors import ParameterError

if TYPE_CHECKING:
    from kundresa.model.journey import Journey

__all__ = ["BREAKDOWNS", "Names", "Resolution", "UnknownNameError"]

#: ``--by`` values that are not properties.
BREAKDOWNS = ("persona", "channel")

_KINDS = ("event", "touchpoint", "stage")


class UnknownNameError(ParameterError):
    """A stage, touchpoint or persona the journey does not have (a usage error)."""


@dataclass
class Resolution:
    """What resolving said: notes (how a name was read) and warnings (names not in the data)."""

    notes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def note(self, text: str) -> None:
        if text not in self.notes:
            self.notes.append(text)

    def warn(self, text: str) -> None:
        if text not in self.warnings:
            self.warnings.append(text)


def _known(kind: str, ids: Collection[str]) -> str:
    return f"{kind}: {', '.join(ids) if ids else '(none)'}"


class Names:
    """Resolves the names an analysis is given.

    Parameters
    ----------
    journey
        The journey model, or ``None`` (events only: ``stage:`` and ``touchpoint:`` names are
        then errors).
    events
        Event names seen in the data, or ``None`` when not known (no warnings then).
    properties
        Property keys seen in the data, or ``None`` when not known.
    """

    def __init__(
        self,
        journey: Journey | None,
        events: Collection[str] | None = None,
        properties: Collection[str] | None = None,
    ) -> None:
        self.journey = journey
        self.events = events
        self.properties = properties

    @property
    def stage_ids(self) -> tuple[str, ...]:
        return self.journey.stage_ids if self.journey is not None else ()

    @property
    def touchpoint_ids(self) -> tuple[str, ...]:
        return tuple(t.id for t in self.journey.touchpoints) if self.journey is not None else ()

    @property
    def persona_ids(self) -> tuple[str, ...]:
        return tuple(p.id for p in self.journey.personas) if self.journey is not None else ()

    # -- single kinds ------------------------------------------------------------------------

    def stage(self, name: str) -> str:
        if self.journey is None:
            raise UnknownNameError(f"stage {name!r}: stages need a journey file (--journey FILE)")
        if name not in self.stage_ids:
            raise UnknownNameError(f"no stage {name!r}; {_known('stages', self.stage_ids)}")
        return name

    def touchpoint(self, name: str) -> str:
        if self.journey is None:
            raise UnknownNameError(
                f"touchpoint {name!r}: touchpoints need a journey file (--journey FILE)"
            )
        if name not in self.touchpoint_ids:
            raise UnknownNameError(
                f"no touchpoint {name!r}; {_known('touchpoints', self.touchpoint_ids)}"
            )
        return name

    def persona(self, name: str) -> str:
        if self.journey is None:
            raise UnknownNameError(
                f"persona {name!r}: personas need a journey file (--journey FILE)"
            )
        if name not in self.persona_ids:
            raise UnknownNameError(f"no persona {name!r}; {_known('personas', self.persona_ids)}")
        return name

    def event(self, name: str, out: Resolution, what: str = "event") -> str:
        if self.events is not None and name not in self.events:
            out.warn(f"{what} {name!r} never occurs in the data; it counts 0")
        return name

    def property(self, name: str, out: Resolution) -> str:
        """A ``--by`` breakdown: ``persona``, ``channel`` or a property key."""
        if not isinstance(name, str):
            raise ParameterError(f"by: {name!r} is not a name (persona, channel or a property key)")
        if name == "persona":
            if self.journey is None:
                raise UnknownNameError("by persona needs a journey file (--journey FILE)")
            if not self.persona_ids:
                raise UnknownNameError("by persona: the journey has no personas")
            return name
        if name in BREAKDOWNS:
            return name
        if self.properties is not None and name not in self.properties:
            known = sorted(self.properties)
            shown = ", ".join(known[:20]) + (", …" if len(known) > 20 else "")
            out.warn(
                f"property {name!r} never occurs in the data; every customer has no value "
                f"(properties: {shown or '(none)'})"
            )
        return name

    # -- steps --------------------------------------------------------------------------------

    def step(self, text: str, out: Resolution) -> str:
        """A step as the analyses read it: ``stage:ID``, ``touchpoint:ID`` or event names."""
        if not isinstance(text, str):
            return text
        prefix, sep, rest = text.partition(":")
        if sep and prefix.strip() in _KINDS:
            kind, names = prefix.strip(), [n.strip() for n in rest.split("|")]
            if kind == "stage":
                for n in names:
                    if n:
                        self.stage(n)
            elif kind == "touchpoint":
                for n in names:
                    if n:
                        self.touchpoint(n)
            else:
                for n in names:
                    if n:
                        self.event(n, out)
            return text
        names = [n.strip() for n in text.split("|")]
        if not all(names):
            return text  # the analysis says what is wrong with it
        if self.events is None or any(n in self.events for n in names):
            for n in names:
                self.event(n, out)
            return text
        for kind, ids in (("touchpoint", self.touchpoint_ids), ("stage", self.stage_ids)):
            if all(n in ids for n in names):
                resolved = f"{kind}:{'|'.join(names)}"
                out.note(f"step {text!r} read as {resolved}")
                return resolved
        for n in names:
            self.event(n, out)
        return text

    def exclusion(self, text: str, out: Resolution) -> str:
        """``X:a:b``: the event X is checked like a step's event."""
        if isinstance(text, str) and text.count(":") >= 2:
            event = text.rsplit(":", 2)[0]
            if event:
                self.event(event, out)
        return text
