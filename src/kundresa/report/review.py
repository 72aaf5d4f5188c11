"""Reviewing the map: what changed since the last review, and the date of the next one.

A journey map should be reviewed at least twice a year. :func:`review` takes the numbers of
today (:func:`snapshot`: the stage funnel, the KPIs, the touchpoints' counts and the lanes
of the journey file, from :meth:`Project.run <kundresa.project.Project.run>`), compares
them with the last review's (:func:`compare`), keeps them for the next one
(:mod:`kundresa.store.reviews`) and writes ``review_by`` into the journey file (six months
ahead unless given; comments kept, the old file kept in the journey history).

What a review lists:

- each stage's reached and conversion from the previous stage then and now, and the change
  (a count, and percentage points);
- the KPIs missed now (and whether they were missed at the last review);
- the touchpoints without any event (nothing in the data matches them);
- the lanes untouched since the last review (the same text as then), and those changed;
- when each lane last changed according to the journey history (useful on a first review).

Examples
--------
>>> then = {"reviewed_on": "2026-01-10", "stages": [{"stage": "buy", "label": "Buy",
...     "reached": 80, "conversion_from_previous": 0.4}], "kpis": [], "touchpoints": [],
...     "lanes": {"needs": {"buy": ["Fast delivery"]}}}
>>> now = {"reviewed_on": "2026-07-10", "stages": [{"stage": "buy", "label": "Buy",
...     "reached": 100, "conversion_from_previous": 0.5}], "kpis": [], "touchpoints": [],
...     "lanes": {"needs": {"buy": ["Fast delivery"]}, "thoughts": {"buy": ["Is it safe?"]}}}
>>> r = compare(then, now)
>>> r["days_since"], r["stages"][0]["reached_change"], round(r["stages"][0]["conversion_change"], 3)
(181, 20, 0.1)
>>> r["lanes_untouched"], r["lanes_changed"]
(['needs'], ['thoughts'])
"""

from __future__ import annotations

import json
import os
import stat
import tempfile
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kundresa.errors import KundresaError
from kundresa.report.export import file_mode
from kundresa.report.labels import heading, touchpoint_label, word
from kundresa.report.units import (
    MISSING,
    format_count,
    format_pp,
    format_rate,
    format_value,
)

if TYPE_CHECKING:
    from kundresa.model.journey import Journey
    from kundresa.project import Project

__all__ = ["ReviewError", "compare", "lanes_last_changed", "review", "review_text", "snapshot"]


class ReviewError(KundresaError):
    """A review cannot be made: no project folder or journey file, a ``--by`` date that is
    not after today, or a journey file that cannot take the date. Exit code 1."""

    exit_code = 1
    http_status = 409


def _plain(value: Any) -> Any:
    from kundresa.report.export import _plain as plain

    return plain(value)


def _records(project: Project, name: str) -> list[dict[str, Any]]:
    from kundresa.analyses import AnalysisError

    try:
        frame = project.run(name).frame
    except AnalysisError:
        return []
    return [{str(k): _plain(v) for k, v in row.items()} for row in frame.to_dict("records")]


def snapshot(project: Project, today: date | None = None) -> dict[str, Any]:
    """The numbers and lanes of ``project`` as a review keeps them (JSON-ready): the date,
    the stage funnel (``stage``, ``label``, ``reached``, ``conversion_from_previous``), the
    KPIs (``stage``, ``metric``, ``target``, ``direction``, ``actual``, ``met``), each
    touchpoint's ``customers`` and ``events`` and the journey file's ``lanes``. Numbers are
    over all events."""
    journey = project.journey
    stages = [
        {
            "stage": r["stage"],
            "label": journey.stage_label(str(r["stage"])),
            "reached": r["reached"],
            "conversion_from_previous": r["conversion_from_previous"],
        }
        for r in _records(project, "stages")
    ]
    kpis = [
        {k: r.get(k) for k in ("stage", "metric", "target", "direction", "actual", "met")}
        for r in _records(project, "kpis")
    ]
    counts = {str(r["touchpoint"]): r for r in _records(project, "touchpoints")}
    touchpoints = [
        {
            "touchpoint": t.id,
            "stage": t.stage,
            "customers": int(counts.get(t.id, {}).get("customers") or 0),
            "events": int(counts.get(t.id, {}).get("events") or 0),
        }
        for t in journey.touchpoints
    ]
    lanes = json.loads(json.dumps(dict(journey.lanes), default=str, ensure_ascii=False))
    return {
        "reviewed_on": (today or date.today()).isoformat(),
        "stages": stages,
        "kpis": kpis,
        "touchpoints": touchpoints,
        "lanes": lanes,
    }


def _change(now: Any, then: Any) -> Any:
    if now is None or then is None:
        return None
    return now - then


def compare(previous: dict[str, Any] | None, current: dict[str, Any]) -> dict[str, Any]:
    """What changed from the review ``previous`` (``None``: this is the first) to
    ``current`` (both as :func:`snapshot` makes them).

    Returns a JSON-ready dict: ``reviewed_on``, ``previous_review`` and ``days_since`` (or
    ``None``), ``stages`` (``reached_then``/``_now``/``_change`` and the same for
    ``conversion``; ``conversion_change`` a difference of fractions), ``kpis_missed`` (with
    ``missed_then``: true, false, or ``None`` when it was not measured then),
    ``touchpoints_without_events``, and ``lanes_untouched`` / ``lanes_changed`` (``None`` on
    a first review).
    """
    then_stages = {s["stage"]: s for s in (previous or {}).get("stages", [])}
    stages = []
    for s in current["stages"]:
        old = then_stages.get(s["stage"], {})
        stages.append(
            {
                "stage": s["stage"],
                "label": s["label"],
                "reached_then": old.get("reached"),
                "reached_now": s["reached"],
                "reached_change": _change(s["reached"], old.get("reached")),
                "conversion_then": old.get("conversion_from_previous"),
                "conversion_now": s["conversion_from_previous"],
                "conversion_change": _change(
                    s["conversion_from_previous"], old.get("conversion_from_previous")
                ),
            }
        )
    then_kpis = {(k["stage"], k["metric"]): k for k in (previous or {}).get("kpis", [])}
    missed = []
    for k in current["kpis"]:
        if k.get("met") is False:
            old = then_kpis.get((k["stage"], k["metric"]))
            was = None if old is None or old.get("met") is None else not old["met"]
            missed.append({**k, "missed_then": was})
    untouched: list[str] | None = None
    changed: list[str] | None = None
    if previous is not None:
        before, now = previous.get("lanes", {}), current["lanes"]
        untouched = sorted(k for k in now if k in before and now[k] == before[k])
        changed = sorted(k for k in set(now) | set(before) if now.get(k) != before.get(k))
    days = None
    if previous is not None:
        days = (
            date.fromisoformat(current["reviewed_on"]) - date.fromisoformat(previous["reviewed_on"])
        ).days
    return {
        "reviewed_on": current["reviewed_on"],
        "previous_review": previous["reviewed_on"] if previous else None,
        "days_since": days,
        "stages": stages,
        "kpis_missed": missed,
        "touchpoints_without_events": [
            t["touchpoint"] for t in current["touchpoints"] if not t["events"]
        ],
        "lanes_untouched": untouched,
        "lanes_changed": changed,
    }


def lanes_last_changed(root: str | os.PathLike[str]) -> dict[str, str | None]:
    """When each lane of the project's ``journey.yaml`` last changed, from the journey
    history (:mod:`kundresa.store.history`): the time (ISO 8601, UTC) the newest kept
    version whose content of that lane differs was replaced — the lane changed then, or
    later by an edit outside Kundresa — or ``None`` when every kept version has the same
    content (no change on record). Lanes of the current file only."""
    from kundresa.model.parse import load_yaml
    from kundresa.store import history

    def lanes(text: str) -> dict[str, Any]:
        try:
            data = load_yaml(text)
        except ValueError:
            return {}
        found = data.get("lanes") if isinstance(data, dict) else None
        return found if isinstance(found, dict) else {}

    entries = history.history(Path(root))  # newest first; the first is the current file
    if not entries or entries[0]["version"] != "current":
        return {}
    now = lanes(history.read_version(Path(root), "current"))
    out: dict[str, str | None] = dict.fromkeys(now)
    pending = set(now)
    for entry in entries[1:]:
        if not pending:
            break
        kept = lanes(history.read_version(Path(root), entry["version"]))
        for lane in sorted(pending):
            if kept.get(lane) != now[lane]:
                out[lane] = entry["saved_at"]
                pending.discard(lane)
    return out


def review(
    project: Project, *, by: date | None = None, today: date | None = None
) -> dict[str, Any]:
    """Review the map of ``project``: compare today's numbers with the last review's, keep
    them, and set ``review_by`` in the journey file to ``by`` (default six months after
    ``today``). Returns :func:`compare`'s dict with ``review_by`` (ISO date) added.

    The journey file is changed in one line (comments and layout kept); the project's own
    ``journey.yaml`` keeps its old version in the journey history. When keeping the numbers
    fails, the journey file is put back as it was.

    Raises
    ------
    ReviewError
        No project folder or journey file, ``by`` not after ``today``, or a journey file
        that cannot take the date.
    kundresa.store.reviews.ReviewStoreError
        The reviews file cannot be read or written.
    """
    from kundresa.model.review import ReviewDateError, six_months_after, with_review_by
    from kundresa.store import history
    from kundresa.store.reviews import add_review, load_reviews

    today = today or date.today()
    by = by or six_months_after(today)
    if by <= today:
        raise ReviewError(f"the next review ({by.isoformat()}) must be after today ({today})")
    root, path = project.root, project.journey_path
    if root is None or path is None or not path.exists():
        raise ReviewError(
            "a review needs a project folder with a journey file; create one with "
            "`kundresa init` or pass --journey FILE"
        )
    earlier = load_reviews(root)
    previous = earlier[-1] if earlier else None
    current = snapshot(project, today)
    old_text = path.read_text(encoding="utf-8")
    try:
        new_text = with_review_by(old_text, by)
    except ReviewDateError as exc:
        raise ReviewError(f"{path}: {exc}") from None
    errors = [p for p in history.check(new_text) if p["severity"] == "error"]
    if errors:
        raise ReviewError(f"{path}: {errors[0]['text']}")
    own = path.resolve() == (Path(root) / history.JOURNEY_FILE).resolve()
    changed_at = lanes_last_changed(root) if own else {}
    if own:
        history.save_journey(root, new_text)
    else:
        _write_atomic(path, new_text)
    try:
        add_review(root, {**current, "review_by": by.isoformat()})
    except BaseException:  # an error, a full disk or Ctrl-C: the journey file as it was
        _write_atomic(path, old_text)
        raise
    project.reload_journey()
    return {
        **compare(previous, current),
        "lanes_last_changed": changed_at,
        "review_by": by.isoformat(),
    }


def _write_atomic(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        # keep the journey file's own permissions (mkstemp makes the temporary file 0600)
        os.chmod(tmp, stat.S_IMODE(os.stat(path).st_mode) if path.exists() else file_mode())
        os.replace(tmp, path)
    except OSError as exc:
        raise ReviewError(f"{path}: cannot write the file ({exc.strerror})") from None
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _signed_count(value: Any, lang: str) -> str:
    if value is None:
        return MISSING
    text = format_count(abs(value), lang)
    return f"+{text}" if value > 0 else f"−{text}" if value < 0 else text


def review_text(result: dict[str, Any], lang: str = "en", journey: Journey | None = None) -> str:
    """:func:`review`'s result as lines for a terminal. The tool's words (sentences,
    headings, lane names) are English, as every command's; the journey's own labels (with
    the ``journey``: stages and touchpoints) are written in ``lang`` as the journey file has
    them, numbers in ``lang``'s format, dates as ISO 8601 (no month name in another
    language inside an English sentence).

    Examples
    --------
    >>> result = {"reviewed_on": "2026-11-30", "previous_review": None, "days_since": None,
    ...     "stages": [], "kpis_missed": [], "touchpoints_without_events": ["ad"],
    ...     "lanes_untouched": None, "lanes_changed": None, "review_by": "2027-05-30"}
    >>> for line in review_text(result, "sv").splitlines()[-2:]:
    ...     print(line)
    Touchpoints without events: ad.
    Next review by 2027-05-30 (review_by set in the journey file).
    """

    def stage(sid: str, fallback: Any = None) -> str:
        if journey is not None and sid in journey.stage_ids:
            return journey.stage_label(sid, lang)
        return str(fallback or sid)

    def when(day: Any) -> str:
        return str(day)[:10] if day else "–"

    out = []
    if result["previous_review"] is None:
        out.append(
            f"First review ({when(result['reviewed_on'])}): no earlier review to compare with; "
            "today's numbers are kept for the next one."
        )
    else:
        out.append(
            f"Review {when(result['reviewed_on'])}: changes since the last review "
            f"({when(result['previous_review'])}, {result['days_since']} days ago)."
        )
    out.append("")
    cols = [
        heading("stage", "en"),
        f"{heading('reached', 'en')} ({when(result['previous_review'])})",
        heading("reached", "en"),
        "±",
        f"{heading('conversion_from_previous', 'en')} ({when(result['previous_review'])})",
        heading("conversion_from_previous", "en"),
        "±",  # the cells carry their unit (pp; p.e. in Swedish)
    ]
    rows = [
        [
            stage(s["stage"], s.get("label")),
            format_count(s["reached_then"], lang) if s["reached_then"] is not None else MISSING,
            format_count(s["reached_now"], lang) if s["reached_now"] is not None else MISSING,
            _signed_count(s["reached_change"], lang),
            format_rate(s["conversion_then"], lang)
            if s["conversion_then"] is not None
            else MISSING,
            format_rate(s["conversion_now"], lang) if s["conversion_now"] is not None else MISSING,
            format_pp(s["conversion_change"], lang)
            if s["conversion_change"] is not None
            else MISSING,
        ]
        for s in result["stages"]
    ]
    widths = [max(len(str(r[i])) for r in [cols, *rows]) for i in range(len(cols))]
    for r in [cols, *rows]:
        out.append(
            "  ".join(
                str(v).ljust(w) if i == 0 else str(v).rjust(w)
                for i, (v, w) in enumerate(zip(r, widths, strict=True))
            ).rstrip()
        )
    out.append("")
    if result["kpis_missed"]:
        out.append(f"{word('kpis_missed', 'en')}:")
        for k in result["kpis_missed"]:
            unit = (
                "rate"
                if str(k["metric"]).startswith("conversion")
                else "days"
                if str(k["metric"]).startswith("median_days")
                else "count"
            )
            sign = "≤" if k.get("direction") == "at_most" else "≥"
            since = ""
            if result["previous_review"] is not None:
                since = (
                    "; "
                    + {
                        True: "missed at the last review too",
                        False: "met at the last review",
                        None: "not measured at the last review",
                    }[k["missed_then"]]
                )
            out.append(
                f"  {stage(k['stage'])}: {heading(str(k['metric']), 'en')} "
                f"{format_value(k['actual'], unit, lang)} (target {sign} "
                f"{format_value(k['target'], unit, lang)}{since})"
            )
    else:
        out.append(f"{word('kpis_missed', 'en')}: {word('none', 'en')}.")
    tps = [touchpoint_label(journey, t, lang) for t in result["touchpoints_without_events"]]
    out.append(
        f"{word('touchpoints_without_events', 'en')}: "
        f"{', '.join(tps) if tps else word('none', 'en')}."
    )
    if result["lanes_untouched"] is not None:
        untouched = [word(k, "en") if _known(k) else k for k in result["lanes_untouched"]]
        changed = [word(k, "en") if _known(k) else k for k in result["lanes_changed"]]
        out.append(
            f"{word('lanes_untouched', 'en')} {when(result['previous_review'])}: "
            f"{', '.join(untouched) if untouched else word('none', 'en')}."
        )
        out.append(
            f"{word('lanes_changed', 'en')}: "
            f"{', '.join(changed) if changed else word('none', 'en')}."
        )
    if result.get("lanes_last_changed"):
        changes = [
            f"{word(k, 'en') if _known(k) else k} "
            f"{when((v or '')[:10]) if v else word('never', 'en')}"
            for k, v in result["lanes_last_changed"].items()
        ]
        out.append(f"{word('lanes_last_changed', 'en')}: {', '.join(changes)}.")
    out.append(
        f"{word('next_review', 'en')} {when(result['review_by'])} "
        "(review_by set in the journey file)."
    )
    return "\n".join(out) + "\n"


def _known(key: str) -> bool:
    try:
        word(key, "en")
    except KeyError:
        return False
    return True
