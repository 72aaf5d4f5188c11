"""Identity commands: identity stitching and forgetting a person (docs/identity.md).

Thin commands over :meth:`Project.identities <kundresa.project.Project.identities>` and
:meth:`Project.forget <kundresa.project.Project.forget>`.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from kundresa.cli._common import (
    PROJECT_DIR,
    UserError,
    emit,
    open_project,
    out,
    stored_project,
    warn,
)


@click.command()
@click.argument("customer", metavar="[ID]", required=False)
@PROJECT_DIR
@click.option(
    "--events",
    "events_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Read this events file instead of the project's warehouse.",
)
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table")
def identities(customer: str | None, project_dir: Path, events_file: Path | None, fmt: str) -> None:
    """Identity stitching: a summary (ids, persons, links, conflicts), or with ID the person
    it belongs to (all their ids with first/last seen and event counts, and traits)."""
    import json

    from kundresa.report.tables import _plain

    with open_project(project_dir, events_file, None) as project:
        data = project.identities(customer)
    if fmt == "json":
        click.echo(json.dumps(_plain(data), indent=2, ensure_ascii=False, default=str))
        return
    if customer is None:
        _print_identity_summary(data)
    else:
        _print_person(data)


def _count(n: int, noun: str) -> str:
    """``n`` of ``noun`` in English (``1 id``, ``2 ids``, ``1,204 events``)."""
    return f"{n:,} {noun}" if n == 1 else f"{n:,} {noun}s"


def _print_identity_summary(data: dict[str, Any]) -> None:
    import pandas as pd

    out.print(
        f"{_count(data['ids'], 'id')}, {_count(data['persons'], 'person')}, "
        f"{_count(data['links'], 'link')}; "
        f"{_count(data['persons_with_several_ids'], 'person')} with several ids; "
        f"{_count(data['conflicts'], 'conflict')}",
        markup=False,
    )
    if data["conflicting_ids"]:
        rows = [
            {
                "anonymous_id": c["anonymous_id"],
                "belongs to": c["customer_id"],
                "linked to (first seen)": ", ".join(
                    f"{x['known_id']} ({x['first_seen']:%Y-%m-%d %H:%M})" for x in c["linked_to"]
                ),
            }
            for c in data["conflicting_ids"]
        ]
        emit(
            pd.DataFrame(rows),
            "table",
            title="Anonymous ids linked to several known ids (each stays with the first)",
        )


def _print_person(data: dict[str, Any]) -> None:
    import pandas as pd

    out.print(
        f"customer {data['customer_id']}: {_count(data['events'], 'event')}, "
        f"{_count(len(data['ids']), 'id')}",
        markup=False,
    )
    emit(pd.DataFrame(data["ids"]), "table", title="Ids")
    if data["traits"]:
        emit(pd.DataFrame(data["traits"]), "table", title="Traits (latest value)")
    for c in data["conflicts"]:
        others = [x["known_id"] for x in c["linked_to"] if x["known_id"] != c["customer_id"]]
        out.print(
            f"conflict: {c['anonymous_id']} is also linked to {', '.join(others)}; "
            f"it stays with {c['customer_id']}",
            markup=False,
        )


def _can_ask() -> bool:
    """Whether a confirmation can be asked (stdin is a terminal)."""
    return sys.stdin.isatty()


@click.command()
@click.argument("customer", metavar="ID")
@PROJECT_DIR
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table")
def forget(customer: str, project_dir: Path, yes: bool, fmt: str) -> None:
    """Remove a person (every id stitched to ID) from the project: events, identity links,
    traits, quarantined rows and uploaded files that mention them. Asks first unless --yes;
    without a terminal to ask on, --yes is required."""
    import json

    with stored_project(project_dir, write=True) as project:
        person = project.identities(customer)
        if not yes:
            if not _can_ask():
                raise UserError(
                    "forget deletes data for good: confirm with --yes (there is no terminal "
                    "to ask on)"
                )
            ids = ", ".join(i["id"] for i in person["ids"])
            click.confirm(
                f"Forget customer {person['customer_id']} ({ids}): {person['events']:,} events, "
                "their links and traits, and uploaded files that mention them?",
                abort=True,
                err=True,
            )
        counts = project.forget(customer)
        path = project.warehouse.path
    try:
        counts["file_rewritten"] = _rewrite(path)
    except KeyboardInterrupt as exc:
        from kundresa.project import InterruptedAfterCommit

        raise InterruptedAfterCommit(
            f"interrupted after customer {counts['customer_id']} was forgotten: the warehouse "
            "file was not rewritten, so the erased values may remain in its free blocks; run "
            "`kundresa reorganise` to finish"
        ) from exc
    if fmt == "json":
        click.echo(json.dumps(counts, indent=2, ensure_ascii=False))
        return
    out.print(
        f"forgot customer {counts['customer_id']}: {counts['events']:,} events, "
        f"{counts['ids']:,} ids, {counts['links']:,} links, {counts['traits']:,} traits, "
        f"{counts['quarantined']:,} quarantined rows, {counts['stage_events']:,} stage events "
        f"and the live state; {counts['file_rows']:,} rows from "
        f"{len(counts['files']):,} uploaded files",
        markup=False,
    )
    for f in counts["files"]:
        out.print(f"  rewrote {f}", markup=False)
    if counts["file_rewritten"]:
        out.print(f"  rewrote {path} (the erased values are gone from its bytes)", markup=False)


def _rewrite(path: Path | None) -> bool:
    """Rewrite the warehouse file after ``forget`` so that the erased values are physically
    gone (:func:`kundresa.store.rewrite.rewrite_file`); when that cannot be done now (another
    process holds the file, a full disk), the person is still forgotten: a warning says
    the bytes may remain until `kundresa reorganise` rewrites the file."""
    if path is None:
        return False
    from kundresa.store.rewrite import rewrite_file

    try:
        rewrite_file(path)
    except Exception as exc:
        from kundresa.project import is_interrupt

        if is_interrupt(exc):  # Ctrl-C inside DuckDB's copy: as one in Python
            raise KeyboardInterrupt from exc
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        warn(
            f"{path}: not rewritten ({first[:300]}); the erased values may remain in the "
            "file's free blocks until `kundresa reorganise` rewrites it"
        )
        return False
    return True
