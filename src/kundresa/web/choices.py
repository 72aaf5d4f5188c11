"""What a page's form offers as choices: the journey's stages, touchpoints and personas, and
the event names, property names and property values seen in the data.

The forms stay plain GET forms: the choices become ``<select>`` options or ``<datalist>``
suggestions (a person may still type any name). Names are offered as the registry reads them:
a funnel step ``touchpoint:ID`` or ``stage:ID``, a breakdown ``persona``, ``channel`` or a
property key, a segment value as stored in the data.

Examples
--------
>>> step_choices({"stages": [{"id": "buy", "label": "Buy"}], "touchpoints": [],
...               "events": ["purchase"]})
[('stage:buy', 'Buy'), ('purchase', 'purchase')]
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from kundresa.project import Project

__all__ = ["TOP_EVENTS", "TOP_PROPERTIES", "TOP_VALUES", "form_choices", "step_choices"]

#: Most event names offered (the most frequent first).
TOP_EVENTS = 200
#: Most property keys offered (the most frequent first).
TOP_PROPERTIES = 50
#: Most values of one segment offered (the most frequent first).
TOP_VALUES = 50

#: Breakdowns every project has besides its property keys.
BUILT_IN_SEGMENTS = ("persona", "channel")


def form_choices(
    project: Project, *, lang: str | None = None, by: str | None = None
) -> dict[str, Any]:
    """The choices a form offers for ``project`` (three to four small queries of the
    data; the web app keeps the answer per project version).

    Parameters
    ----------
    project
        The served project (a missing or broken journey gives no journey choices).
    lang
        Language of the stage labels.
    by
        A segment (``persona``, ``channel`` or a property key) whose top values to offer.

    Returns
    -------
    dict
        ``stages`` and ``touchpoints`` (lists of ``{"id", "label"}``), ``personas``
        (``{"id", "name"}``), ``events`` and ``properties`` (names, most frequent first, at
        most :data:`TOP_EVENTS` and :data:`TOP_PROPERTIES`), ``segments`` (``persona``,
        ``channel`` and the property keys) and ``values`` (the top :data:`TOP_VALUES`
        values of ``by`` as ``(value, label)``, most frequent first; a persona's label is
        its name; empty without ``by``).
    """
    from kundresa.project import ProjectError

    out: dict[str, Any] = {"stages": [], "touchpoints": [], "personas": []}
    try:
        journey = project.journey
    except ProjectError:
        journey = None
    if journey is not None:
        out["stages"] = [
            {"id": s, "label": journey.stage_label(s, lang)} for s in journey.stage_ids
        ]
        out["touchpoints"] = [
            {"id": tp.id, "label": tp.label or tp.id.replace("_", " ")}
            for tp in journey.touchpoints
        ]
        out["personas"] = [{"id": p.id, "name": p.name or p.id} for p in journey.personas]
    out.update(_seen(project, by))
    if by == "persona":
        out["values"] = [(p["id"], p["name"]) for p in out["personas"]]
    else:
        out["values"] = [(v, v) for v in out["values"]]
    out["segments"] = list(BUILT_IN_SEGMENTS) + [
        p for p in out["properties"] if p not in BUILT_IN_SEGMENTS
    ]
    return out


def step_choices(choices: dict[str, Any]) -> list[tuple[str, str]]:
    """Funnel steps to suggest, as ``(value, label)``: the stages (``stage:ID``), the
    touchpoints (``touchpoint:ID``) and the events seen, in that order."""
    out = [(f"stage:{s['id']}", s["label"]) for s in choices["stages"]]
    out += [(f"touchpoint:{tp['id']}", tp["label"]) for tp in choices["touchpoints"]]
    out += [(e, e) for e in choices["events"]]
    return out


def _seen(project: Project, by: str | None) -> dict[str, Any]:
    """Event names, property keys and ``by``'s values in the data, most frequent first. The
    names are kept per project version (:meth:`Project.cached
    <kundresa.project.Project.cached>`) apart from the values, so that a form with another
    ``by`` or language reads only its values (the property keys unnest every event's
    properties: a fraction of a second on a million events)."""
    from kundresa.model.events import CHANNEL, EVENT, PROPERTIES

    if project.warehouse.event_count() == 0:
        return {"events": [], "properties": [], "values": []}

    def names() -> dict[str, list[str]]:
        t = project.events
        events = t.group_by(name=t[EVENT].cast("string")).aggregate(n=t.count())
        keys = t.select(name=t[PROPERTIES].keys().unnest().cast("string"))
        keys = keys.group_by("name").aggregate(n=keys.count())
        return {"events": _top(events, TOP_EVENTS), "properties": _top(keys, TOP_PROPERTIES)}

    def values() -> list[str]:
        t = project.events
        column = t[CHANNEL] if by == "channel" else t[PROPERTIES][by]
        chosen = t.select(name=column.cast("string"))
        chosen = chosen.filter(chosen.name.notnull())
        return _top(chosen.group_by("name").aggregate(n=chosen.count()), TOP_VALUES)

    seen: dict[str, list[str]] = project.cached(("form_seen_names",), names)
    out: dict[str, Any] = {k: list(v) for k, v in seen.items()}
    out["values"] = (
        list(project.cached(("form_seen_values", by), values)) if by and by != "persona" else []
    )
    return out


def _top(table: Any, limit: int) -> list[str]:
    rows = table.order_by([table.n.desc(), table.name]).limit(limit).to_pyarrow()
    return [str(n) for n in rows.column("name").to_pylist() if n]
