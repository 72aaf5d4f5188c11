"""The data page and API: what the warehouse holds (``/data``, ``/api/data``, ``/api/info``)
and uploads (``POST /data``, ``POST /data/columns``, ``POST /api/data/upload``), ingested as
jobs (:mod:`kundresa.web.jobs`) in a worker thread.

An upload names its source (``auto``: recognised from the file's columns; see
:mod:`kundresa.ingest.sources`) and may name its customer, time and event columns. When its
columns are not recognised the file is kept for a moment and the page asks for them, with
selects filled from the file's header, and ingests it again with the columns chosen.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Query, Request, UploadFile
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from kundresa.project import STORE_DIR
from kundresa.store.warehouse import IngestError
from kundresa.web import jobs, limits, views
from kundresa.web.site import Site

_UPLOAD_SUFFIX = re.compile(r"\.((csv|tsv|parquet|jsonl|ndjson|json)(\.gz)?|zip)$", re.IGNORECASE)
_KEPT = re.compile(r"^\d{8}T\d{12}Z-[^/\\]+$")
#: Command-line options in ingest messages, as the web's field names.
_FIELDS = {
    "--customer-col": "customer column",
    "--time-col": "time column",
    "--event-col": "event column",
    "--source": "source",
}
#: Whole phrases of ingest messages that name options with their values.
_PHRASES = (
    (r"with --event NAME \(e\.g\. --event (\w+)\)", r"in the event name field (e.g. \1)"),
    (r"--date-format dmy or --date-format mdy", "the date order (day or month first)"),
    (r"--date-format", "the date order"),
    (r"--event(?![-\w])", "the event name field"),
)
#: Ingest messages that the column choices can answer.
_COLUMN_PROBLEMS = ("column;", "not a recognised export", "is not a column of this file")
COLUMN_FIELDS = ("customer_col", "time_col", "event_col")


def source_choices() -> list[str]:
    """``auto`` and every source an upload can be read as."""
    from kundresa.ingest.sources import source_names

    return ["auto", *source_names()]


def web_message(text: str) -> str:
    """An ingest message with the command line's options named as the page's fields.

    Examples
    --------
    >>> web_message("x.csv: no event column; looked for event (columns: a); name it with "
    ...             "--event-col")
    'x.csv: no event column; looked for event (columns: a); name it with the event column'
    """
    for pattern, words in _PHRASES:
        text = re.sub(pattern, words, text)
    for option, name in _FIELDS.items():
        text = re.sub(rf"(the )?{re.escape(option)}\b", f"the {name}", text)
    return text


def upload_outcome(report: dict[str, Any]) -> str:
    """How an ingest went, as the page colours it: ``all_loaded`` (every row read is loaded
    or was loaded before), ``partly_quarantined`` (rows loaded, some quarantined),
    ``nothing_new`` (every row was already loaded), ``identities`` (an identify file: links,
    no events) or ``nothing_loaded`` (no row loaded).

    Examples
    --------
    >>> upload_outcome({"read": 10, "loaded": 10, "duplicates": 0, "quarantined": 0})
    'all_loaded'
    >>> upload_outcome({"read": 10, "loaded": 7, "duplicates": 0, "quarantined": 3})
    'partly_quarantined'
    >>> upload_outcome({"read": 10, "loaded": 0, "duplicates": 0, "quarantined": 10})
    'nothing_loaded'
    >>> upload_outcome({"read": 0, "loaded": 0, "duplicates": 0, "quarantined": 0})
    'nothing_loaded'
    >>> upload_outcome({"read": 4, "loaded": 0, "duplicates": 4, "quarantined": 0})
    'nothing_new'
    """
    loaded, quarantined = report.get("loaded") or 0, report.get("quarantined") or 0
    if loaded > 0:
        return "partly_quarantined" if quarantined > 0 else "all_loaded"
    if report.get("identified") or report.get("links"):
        return "identities"
    read, duplicates = report.get("read") or 0, report.get("duplicates") or 0
    if read > 0 and duplicates == read:
        return "nothing_new"
    return "nothing_loaded"


class UploadNotKept(ValueError):
    """The server could not write an upload to the project (a full disk): 507."""


def router(site: Site, job_manager: jobs.JobManager, *, limit: int) -> APIRouter:
    r = APIRouter()
    state = site.state
    max_bytes, max_rows = limits.upload_limits()
    #: Uploads whose columns were not recognised: job id -> (kept file, header, options).
    pending: dict[str, dict[str, Any]] = {}

    def summary() -> dict[str, Any]:
        with state.lock:
            return dict(limits.relative_paths(views.data_view(state), state.root))

    def context(**more: Any) -> dict[str, Any]:
        out: dict[str, Any] = {
            "data": summary(),
            "report": None,
            "problem": None,
            "limit": limit,
            "sources": source_choices(),
            "job": None,
            "mapping": None,
        }
        out.update(more)
        return out

    @r.get("/api/data", tags=["data"], summary="Warehouse summary, ingests, quarantine")
    def api_data(
        limit: Annotated[int, Query(ge=1, le=10000, description="Quarantined rows.")] = 200,
    ) -> Response:
        """Events and customers held, every ingest, and quarantined rows with reasons."""
        with state.lock:
            data = views.data_view(state, limit=limit)
        return JSONResponse(limits.relative_paths(data, state.root))

    @r.get("/data", response_class=HTMLResponse, include_in_schema=False)
    def data_page(
        request: Request, job: Annotated[str | None, Query(max_length=64)] = None
    ) -> HTMLResponse:
        found = job_manager.get(job) if job else None
        # One snapshot of the job for the whole page: it may end while the page waits for
        # the project's lock, and a page must not show it running and finished at once.
        seen = found.as_dict() if found is not None else {}
        now = seen.get("state")
        report = seen["result"] if now == "done" else None
        problem = seen["error"] if now in ("done", "failed", "cancelled") and not report else None
        mapping = pending.get(seen["id"]) if now == "failed" else None
        ctx = context(report=report, problem=problem, mapping=mapping)
        ctx["job"] = seen or None
        return site.page(request, "data.html", ctx, title="data")

    async def spool(file: UploadFile) -> tuple[Path, str]:
        """Keep an upload in the project (.kundresa/uploads/), so the ingest log and the
        quarantine name a file that still exists; one that loads nothing is removed."""
        name = limits.upload_name(file.filename)
        if not _UPLOAD_SUFFIX.search(name):
            raise ValueError(
                f"file: {name or '(no name)'!r}: expected .csv, .tsv, .parquet, .jsonl, "
                ".ndjson or .json (optionally .gz)"
            )
        folder = state.root / STORE_DIR / "uploads"
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
        target = folder / f"{stamp}-{name}"
        size = 0
        try:
            folder.mkdir(parents=True, exist_ok=True)
            with target.open("wb") as out:
                while chunk := await file.read(1 << 20):
                    size += len(chunk)
                    if size > limit:
                        raise ValueError(
                            f"file: larger than the upload limit of {limit:,} bytes "
                            "(ingest big files with `kundresa ingest`)"
                        )
                    out.write(chunk)
        except OSError as exc:  # a full disk, a failing read: no partial file stays
            target.unlink(missing_ok=True)
            raise UploadNotKept(
                f"file: could not be kept in {STORE_DIR}/uploads: {exc.strerror or exc}; "
                "nothing was loaded"
            ) from exc
        except BaseException:  # too large, or the request ended: no partial file stays
            target.unlink(missing_ok=True)
            raise
        return target, name

    def options_of(
        source: str | None,
        columns: dict[str, str | None],
        event: str | None = None,
        date_order: str | None = None,
    ) -> dict[str, Any]:
        chosen = source or "auto"
        if chosen not in source_choices():
            raise ValueError(f"source: {chosen!r} is not one of {', '.join(source_choices())}")
        opts: dict[str, Any] = {"source": chosen}
        opts.update({k: v.strip() for k, v in columns.items() if v and v.strip()})
        if event and event.strip():
            opts["source_options"] = {"event": event.strip()}
        if date_order:
            if date_order not in ("dmy", "mdy"):
                raise ValueError(f"date_order: {date_order!r} is not dmy or mdy")
            opts["date_format"] = date_order
        return opts

    def start(target: Path, name: str, options: dict[str, Any]) -> jobs.Job:
        return job_manager.submit(
            "upload",
            name,
            lambda job: ingest_job(job, target, name, options),
            # Cancelled before it started: the kept file goes, as after a failed ingest.
            on_skipped=lambda: target.unlink(missing_ok=True),
        )

    def ingest_job(
        job: jobs.Job, target: Path, name: str, options: dict[str, Any]
    ) -> dict[str, Any]:
        """Measure an upload against the limits, then ingest it (in a worker thread)."""
        loaded = kept = False
        try:
            job.report(0.0, "measuring")
            try:
                limits.measure_upload(
                    target,
                    max_bytes=max_bytes,
                    max_rows=max_rows,
                    progress=lambda f: job.report(0.3 * f),
                    name=name,
                )
            except limits.UploadTooLarge as exc:
                raise jobs.JobError(str(exc), 413) from exc
            job.report(0.3, "reading")

            def read(_file: str, done: int, total: int) -> None:
                job.report(0.3 + 0.5 * done / max(total, 1), "reading")
                if done >= total:
                    job.report(0.8, "checking and loading rows")

            def opened(writer: Any) -> None:
                job.on_cancel.append(writer.con.interrupt)  # stops the load's queries
                job.report()  # cancelled while waiting for the warehouse: stop now

            try:
                report = state.ingest(target, progress=read, opened=opened, **options)
            except IngestError as exc:
                detail = web_message(str(exc).replace(str(target), name))
                status = 409 if "has it open" in detail else 400
                if status == 400 and any(p in detail for p in _COLUMN_PROBLEMS):
                    kept = _ask_for_columns(job, target, name, options)
                raise jobs.JobError(site.shown(detail), status) from exc
            loaded = bool(report.get("loaded"))
            report["outcome"] = upload_outcome(report)
            return dict(limits.relative_paths(views.records_one(report), state.root))
        finally:
            if not loaded and not kept:
                target.unlink(missing_ok=True)

    def _ask_for_columns(job: jobs.Job, target: Path, name: str, options: dict[str, Any]) -> bool:
        from kundresa.ingest.readers import ReadError, read_header

        try:
            header = read_header(target)
        except (ReadError, OSError, ValueError):
            return False
        if not header:
            return False
        for old in list(pending)[:-20]:  # a few kept at a time; the oldest go
            gone = pending.pop(old)
            (state.root / STORE_DIR / "uploads" / gone["upload"]).unlink(missing_ok=True)
        pending[job.id] = {"upload": target.name, "name": name, "header": header, **options}
        return True

    @r.post(
        "/api/data/upload",
        tags=["data"],
        summary="Ingest an uploaded events file",
        responses={202: {"description": "The ingest started as a job (`wait=false`)."}},
    )
    async def api_upload(
        file: Annotated[UploadFile, File(description="Events file.")],
        wait: Annotated[
            bool, Query(description="Wait for the ingest (default), or answer 202 with the job.")
        ] = True,
        source: Annotated[
            str,
            Query(
                description="The export format: auto (recognised from the columns) or a "
                "source name (see /data).",
            ),
        ] = "auto",
        customer_col: Annotated[
            str | None, Query(description="The customer column, when not recognised.")
        ] = None,
        time_col: Annotated[
            str | None, Query(description="The time column, when not recognised.")
        ] = None,
        event_col: Annotated[
            str | None, Query(description="The event column, when not recognised.")
        ] = None,
        event: Annotated[
            str | None,
            Query(max_length=200, description="Survey answers: the event every row becomes."),
        ] = None,
        date_order: Annotated[
            str | None,
            Query(description="Slashed dates: dmy (day first) or mdy (month first)."),
        ] = None,
    ) -> Response:
        """Load the file like ``kundresa ingest``: bad rows are quarantined with the reason;
        a file that cannot be read leaves the warehouse as it was (400); one past the upload
        limits is refused (413). The answer's ``recognised`` says which source each file was
        read as. The ingest runs as a job (``/api/jobs/{id}``)."""
        columns = {"customer_col": customer_col, "time_col": time_col, "event_col": event_col}
        try:
            options = options_of(source, columns, event, date_order)
            target, name = await spool(file)
        except ValueError as exc:
            status = 507 if isinstance(exc, UploadNotKept) else 400
            return JSONResponse({"detail": site.shown(exc)}, status_code=status)
        job = start(target, name, options)
        if not wait:
            return JSONResponse({"job": job.as_dict()}, status_code=202)
        await job_manager.wait(job)
        if job.state != "done":
            answer: dict[str, Any] = {"detail": job.error, "job": job.id}
            asked = pending.pop(job.id, None)
            if asked is not None:  # the API resends the file with the columns named
                answer["columns"] = asked["header"]
                (state.root / STORE_DIR / "uploads" / asked["upload"]).unlink(missing_ok=True)
            return JSONResponse(answer, status_code=job.status)
        return JSONResponse(job.result)

    @r.post("/data", response_class=HTMLResponse, include_in_schema=False)
    async def data_upload(
        request: Request,
        file: Annotated[UploadFile, File()],
        source: Annotated[str, Form()] = "auto",
        customer_col: Annotated[str | None, Form()] = None,
        time_col: Annotated[str | None, Form()] = None,
        event_col: Annotated[str | None, Form()] = None,
        event: Annotated[str | None, Form(max_length=200)] = None,
        date_order: Annotated[str | None, Form()] = None,
    ) -> Response:
        columns = {"customer_col": customer_col, "time_col": time_col, "event_col": event_col}
        try:
            options = options_of(source, columns, event, date_order or None)
            target, name = await spool(file)
        except ValueError as exc:
            ctx = context(problem=site.shown(exc))
            status = 507 if isinstance(exc, UploadNotKept) else 400
            return site.page(request, "data.html", ctx, title="data", status_code=status)
        job = start(target, name, options)
        await job_manager.wait(job, timeout=1.0)  # a small file is done by then
        return RedirectResponse(f"/data?job={job.id}", status_code=303)

    @r.post("/data/columns", response_class=HTMLResponse, include_in_schema=False)
    async def data_columns(
        request: Request,
        job: Annotated[str, Form(max_length=64)],
        source: Annotated[str, Form()] = "auto",
        customer_col: Annotated[str | None, Form()] = None,
        time_col: Annotated[str | None, Form()] = None,
        event_col: Annotated[str | None, Form()] = None,
    ) -> Response:
        """The columns chosen for an upload that was not recognised: ingest it again."""
        asked = pending.pop(job, None)
        if asked is None or not _KEPT.match(asked["upload"]):
            ctx = context(problem="upload: no longer kept; upload the file again")
            return site.page(request, "data.html", ctx, title="data", status_code=409)
        target = state.root / STORE_DIR / "uploads" / asked["upload"]
        columns = {"customer_col": customer_col, "time_col": time_col, "event_col": event_col}
        try:
            options = options_of(source, columns)
        except ValueError as exc:
            target.unlink(missing_ok=True)
            ctx = context(problem=site.shown(exc))
            return site.page(request, "data.html", ctx, title="data", status_code=400)
        if not target.exists():
            ctx = context(problem="upload: no longer kept; upload the file again")
            return site.page(request, "data.html", ctx, title="data", status_code=409)
        started = start(target, asked["name"], options)
        await job_manager.wait(started, timeout=1.0)
        return RedirectResponse(f"/data?job={started.id}", status_code=303)

    @r.get("/api/info", tags=["data"], summary="What the project holds")
    def api_info() -> Response:
        """As ``kundresa info --format json`` (paths relative to the project)."""
        with state.lock:
            info = views.records_one(state.project.info())
        return JSONResponse(limits.relative_paths(info, state.root))

    return r
