"""Editing the journey file from the browser: check, save with history, compare versions.

Saving with history, listing and comparing versions live in :mod:`kundresa.store.history`
(shared with ``kundresa history`` and ``kundresa restore``); this module adds the structured
editor's form.
"""

from __future__ import annotations

import re
from typing import Any

import yaml

from kundresa.model.parse import load_yaml
from kundresa.store.history import (
    HISTORY_DIR,
    JourneyChanged,
    check,
    diff_versions,
    file_sha256,
    history,
    read_version,
    restore_version,
    save_journey,
)

__all__ = [
    "HISTORY_DIR",
    "JourneyChanged",
    "apply_form",
    "check",
    "diff_versions",
    "file_sha256",
    "history",
    "read_version",
    "restore_version",
    "save_journey",
    "stages_of",
    "structured_to_yaml",
    "yaml_to_structured",
]


# -- the structured editor -----------------------------------------------------------------
# The form edits the parts a marketer changes most: stages (label, funnel, goal, KPIs),
# personas, touchpoints and their rules, and the lanes. It works on the YAML's data and writes
# YAML back, so everything the form does not show is kept (comments are not).


def yaml_to_structured(text: str) -> dict[str, Any]:
    """The journey text as data for the form (``ValueError`` when it is not a YAML mapping)."""
    try:
        data = load_yaml(text)  # the journey file's limits: no alias bomb, no deep nesting
    except ValueError as exc:
        raise ValueError(f"journey: {exc}") from exc
    if not isinstance(data, dict):
        raise ValueError("journey: the file must be a YAML mapping")
    return data


def structured_to_yaml(data: dict[str, Any]) -> str:
    """The form's data as journey YAML, in the file's usual key order.

    Examples
    --------
    >>> print(structured_to_yaml({"name": "Shop", "kundresa": 1, "template": "kundresa-5"}))
    kundresa: 1
    name: Shop
    template: kundresa-5
    <BLANKLINE>
    """
    order = [
        "kundresa",
        "name",
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
    ]
    ordered = {k: data[k] for k in order if k in data}
    ordered.update({k: v for k, v in data.items() if k not in ordered})
    return yaml.safe_dump(ordered, sort_keys=False, allow_unicode=True, width=100)


def stages_of(data: dict[str, Any]) -> list[dict[str, Any]]:
    """The stages as a list of mappings, a template's written out (labels in every language).

    Examples
    --------
    >>> [s["id"] for s in stages_of({"template": "buyers-journey"})]
    ['awareness', 'consideration', 'decision']
    """
    stages = data.get("stages")
    template = data.get("template")
    if isinstance(stages, dict) and "template" in stages:
        template = stages["template"]
    if isinstance(stages, list):
        return [dict(s) if isinstance(s, dict) else {"id": str(s)} for s in stages]
    if isinstance(template, str):
        from kundresa.model.parse import parse_journey

        journey, _ = parse_journey(f"kundresa: 1\nname: x\ntemplate: {template}\n")
        if journey is not None:
            out = []
            for s in journey.stages:
                item: dict[str, Any] = {"id": s.id, "label": dict(s.label)}
                if s.funnel:
                    item["funnel"] = s.funnel
                out.append(item)
            return out
    return []


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


_KPI = re.compile(r"^\s*([a-z_]+)\s*(>=|<=)\s*([-+0-9.eE]+)\s*$")


def kpi_text(kpis: Any) -> str:
    """KPIs as form text, one ``metric >= target`` (or ``<=``) per line."""
    out = []
    for k in kpis or []:
        if isinstance(k, dict) and "metric" in k:
            op = "<=" if k.get("direction") == "at_most" else ">="
            out.append(f"{k['metric']} {op} {k.get('target')}")
    return "\n".join(out)


def _parse_kpis(text: str, where: str) -> list[dict[str, Any]]:
    kpis = []
    for line in _lines(text):
        m = _KPI.match(line)
        if m is None:
            raise ValueError(f"{where}: {line!r}: write a KPI as `metric >= target`")
        target = float(m.group(3))
        kpi: dict[str, Any] = {
            "metric": m.group(1),
            "target": int(target) if target.is_integer() and abs(target) >= 1 else target,
        }
        if m.group(2) == "<=":
            kpi["direction"] = "at_most"
        kpis.append(kpi)
    return kpis


def _rows(fields: dict[str, str], kind: str) -> list[dict[str, str]]:
    """Form rows ``kind.N.field`` in N order; rows marked ``delete`` or without an id dropped."""
    rows: dict[int, dict[str, str]] = {}
    for name, value in fields.items():
        parts = name.split(".", 2)
        # isascii: str.isdigit() holds for '²', which int() refuses
        if len(parts) == 3 and parts[0] == kind and parts[1].isascii() and parts[1].isdigit():
            rows.setdefault(int(parts[1]), {})[parts[2]] = value
    return [r for _, r in sorted(rows.items()) if r.get("id", "").strip() and not r.get("delete")]


def apply_form(data: dict[str, Any], fields: dict[str, str]) -> dict[str, Any]:
    """The journey data with the structured form's fields applied.

    Field names: ``stage.N.{id,label,funnel,goal,kpis}``, ``persona.N.{id,name,needs,
    challenges,match_property,match_equals}``, ``touchpoint.N.{id,stage,channel,events,where,
    nth}``, ``lane.LANE.STAGE`` (one line per item); a row with ``delete`` set is removed.

    Examples
    --------
    >>> out = apply_form({"kundresa": 1, "name": "x", "template": "buyers-journey"},
    ...                  {"stage.0.id": "awareness", "stage.0.label": "Seen",
    ...                   "stage.0.kpis": "reached >= 100", "lane.pain_points.awareness": "Slow"})
    >>> out["stages"][0]["label"]["en"], out["stages"][0]["kpis"], out["lanes"]
    ('Seen', [{'metric': 'reached', 'target': 100}], {'pain_points': {'awareness': ['Slow']}})
    >>> "template" in out
    False
    """
    lang = str(data.get("language") or "en")
    out = dict(data)
    old_stages = {s.get("id"): s for s in stages_of(data)}
    if any(k.startswith("stage.") for k in fields):
        if "template" in out and "circular" not in out:
            from kundresa.model.templates import TEMPLATES

            tpl = TEMPLATES.get(str(out["template"]))
            if tpl is not None and tpl.circular:
                out["circular"] = True
        out.pop("template", None)
        stages = []
        for row in _rows(fields, "stage"):
            sid = row["id"].strip()
            stage = dict(old_stages.get(sid) or {"id": sid})
            stage["id"] = sid
            label = stage.get("label")
            labels = dict(label) if isinstance(label, dict) else ({lang: label} if label else {})
            value = row.get("label", "").strip()
            # Without a label in the journey's language the form shows the English one (as
            # editor.html does): sent back unchanged, it is no translation to write.
            if value and (lang in labels or value != str(labels.get("en") or "").strip()):
                labels[lang] = value
            if labels:
                stage["label"] = labels
            for key in ("funnel", "goal"):
                if key in row:
                    if row[key].strip():
                        stage[key] = row[key].strip()
                    else:
                        stage.pop(key, None)
            if "kpis" in row:
                kpis = _parse_kpis(row["kpis"], f"stage {sid} KPIs")
                if kpis:
                    stage["kpis"] = kpis
                else:
                    stage.pop("kpis", None)
            stages.append(stage)
        out["stages"] = stages
    if any(k.startswith("persona.") for k in fields):
        old = {p.get("id"): p for p in data.get("personas") or [] if isinstance(p, dict)}
        personas = []
        for row in _rows(fields, "persona"):
            pid = row["id"].strip()
            p = dict(old.get(pid) or {"id": pid})
            p["id"] = pid
            p["name"] = row.get("name", "").strip() or p.get("name") or pid
            for key in ("needs", "challenges"):
                if key in row:
                    items = _lines(row[key])
                    if items:
                        p[key] = items
                    else:
                        p.pop(key, None)
            prop, equals = row.get("match_property", "").strip(), row.get("match_equals", "")
            if prop and equals.strip():
                p["match"] = {"property": prop, "equals": equals.strip()}
            elif "match_property" in row and not prop:
                p.pop("match", None)
            personas.append(p)
        out["personas"] = personas
    if any(k.startswith("touchpoint.") for k in fields):
        old = {t.get("id"): t for t in data.get("touchpoints") or [] if isinstance(t, dict)}
        touchpoints = []
        for row in _rows(fields, "touchpoint"):
            tid = row["id"].strip()
            t = dict(old.get(tid) or {"id": tid})
            t["id"] = tid
            t["stage"] = row.get("stage", "").strip() or t.get("stage", "")
            if "channel" in row:
                if row["channel"].strip():
                    t["channel"] = row["channel"].strip()
                else:
                    t.pop("channel", None)
            match = dict(t.get("match") or {})
            names = [n.strip() for n in row.get("events", "").split(",") if n.strip()]
            if names:
                match["event"] = names[0] if len(names) == 1 else names
            else:
                match.pop("event", None)
            where = row.get("where", "").strip()
            if where:
                try:
                    parsed = load_yaml(where)
                except ValueError as exc:
                    raise ValueError(f"touchpoint {tid} where: {exc}") from exc
                if not isinstance(parsed, dict):
                    raise ValueError(
                        f"touchpoint {tid} where: write a mapping, e.g. "
                        '{path: {regex: "^/pricing"}}'
                    )
                match["where"] = parsed
            elif "where" in row:
                match.pop("where", None)
            nth = row.get("nth", "").strip()
            if nth:
                if not (nth.isascii() and nth.isdigit()) or int(nth) < 1:
                    raise ValueError(f"touchpoint {tid} nth: a whole number from 1, got {nth!r}")
                match["nth"] = int(nth)
            else:
                match.pop("nth", None)
            t["match"] = match
            touchpoints.append(t)
        out["touchpoints"] = touchpoints
    lane_fields = {k: v for k, v in fields.items() if k.startswith("lane.")}
    if lane_fields:
        lanes = dict(data.get("lanes") or {})
        for name, value in lane_fields.items():
            _, lane, stage_id = name.split(".", 2)
            content = dict(lanes.get(lane) or {})
            items = _lines(value)
            if items:
                content[stage_id] = items
            else:
                content.pop(stage_id, None)
            if content:
                lanes[lane] = content
            else:
                lanes.pop(lane, None)
        out["lanes"] = lanes
    return out
