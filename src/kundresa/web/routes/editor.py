"""The journey editor (``/editor``, ``/api/editor``, ``/api/journey``) and the journey file's
history (``/history``, ``/api/history``). Checks and saves run as jobs in worker threads
(:mod:`kundresa.web.jobs`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response

from kundresa.errors import KundresaError
from kundresa.web import editor, jobs, security, views
from kundresa.web.site import Site


def router(site: Site, job_manager: jobs.JobManager) -> APIRouter:
    r = APIRouter()

    # -- editor and history -------------------------------------------------------------------

    def editor_data(text: str | None = None, problems: Any = None) -> dict[str, Any]:
        path = site.state.journey_path
        current = path.read_text(encoding="utf-8") if path.exists() else ""
        text = current if text is None else text
        try:
            structured = views.records_one({"s": editor.yaml_to_structured(text)})["s"]
        except ValueError:
            structured = None
        return {
            "text": text,
            "problems": editor.check(text) if problems is None else problems,
            "structured": structured,
        }

    @r.get("/api/editor", tags=["editor"], summary="The journey file and its problems")
    def api_editor() -> Response:
        """The text of ``journey.yaml``, its problems (as ``kundresa validate``) and its
        data."""
        return JSONResponse(editor_data())

    async def in_worker(kind: str, work: Callable[[], Any]) -> Any:
        """Run ``work`` as a job in a worker thread (web/jobs.py), off the event loop; a
        failure becomes ``JobError`` with its status."""
        job = await job_manager.run(kind, kind, lambda _job: work())
        if job.state != "done":
            prefix = "journey: " if job.status == 422 else ""
            raise jobs.JobError(f"{prefix}{job.error}", job.status)
        return job.result

    def job_error(exc: jobs.JobError) -> Response:
        return JSONResponse({"detail": site.shown(exc)}, status_code=exc.status)

    @r.post("/api/journey/validate", tags=["editor"], summary="Check a journey text")
    async def api_validate(request: Request) -> Response:
        """Send the YAML as the request body (``application/yaml``, or JSON ``{"text":
        ...}``); get the problems with line and column."""
        text, why = await _body_text(request)
        if text is None:
            return JSONResponse({"detail": why}, status_code=400)
        try:
            problems = await in_worker("validate", lambda: editor.check(text))
        except jobs.JobError as exc:
            return job_error(exc)
        return JSONResponse(
            {"valid": not any(p["severity"] == "error" for p in problems), "problems": problems}
        )

    @r.put("/api/journey", tags=["editor"], summary="Save the journey file")
    async def api_save(request: Request) -> Response:
        """Send the YAML as the request body. Saved only without errors (else 422 with the
        problems); the previous version is kept in history."""
        text, why = await _body_text(request)
        if text is None:
            return JSONResponse({"detail": why}, status_code=400)
        try:
            result = await in_worker("save", lambda: save(text))
        except jobs.JobError as exc:
            return job_error(exc)
        return JSONResponse(result, status_code=200 if result["saved"] else 422)

    def save(text: str) -> dict[str, Any]:
        with site.state.lock:
            result = editor.save_journey(site.state.root, text)
            if result["saved"]:
                site.state.reload_journey()
        return result

    @r.get("/editor", response_class=HTMLResponse, include_in_schema=False)
    def editor_page(request: Request) -> HTMLResponse:
        return site.page(
            request, "editor.html", {"data": editor_data(), "result": None}, title="editor"
        )

    @r.post("/editor", response_class=HTMLResponse, include_in_schema=False)
    async def editor_post(
        request: Request,
        text: Annotated[str, Form()],
        action: Annotated[Literal["validate", "save"], Form()] = "validate",
    ) -> HTMLResponse:
        text = text.replace("\r\n", "\n")

        def work() -> tuple[Any, dict[str, Any]]:
            if action == "save":
                result = save(text)
                return result, editor_data(None if result["saved"] else text, result["problems"])
            return None, editor_data(text)

        try:
            result, data = await in_worker(action, work)
        except jobs.JobError as exc:
            return site.error_page(request, site.shown(exc), exc.status, "editor")
        return site.page(
            request,
            "editor.html",
            {"data": data, "result": result},
            title="editor",
            status_code=200 if result is None or result["saved"] else 422,
        )

    @r.post("/editor/structured", response_class=HTMLResponse, include_in_schema=False)
    async def editor_structured(request: Request) -> HTMLResponse:
        form = await request.form()
        fields = {str(k): str(v) for k, v in form.multi_items() if isinstance(v, str)}
        fields.pop(security.CSRF_FIELD, None)

        def work() -> tuple[Any, dict[str, Any]]:
            base = editor.yaml_to_structured(fields.pop("base", ""))
            text = editor.structured_to_yaml(editor.apply_form(base, fields))
            if fields.get("action") == "save":
                result = save(text)
                return result, editor_data(None if result["saved"] else text, result["problems"])
            return None, editor_data(text)

        try:
            result, view = await in_worker("structured", work)
        except jobs.JobError as exc:
            return site.error_page(request, site.shown(exc), exc.status, "editor")
        return site.page(
            request,
            "editor.html",
            {"data": view, "result": result},
            title="editor",
            status_code=200 if result is None or result["saved"] else 422,
        )

    @r.get("/api/history", tags=["editor"], summary="Kept versions of the journey file")
    def api_history(
        a: Annotated[str | None, Query(description="Compare this version ...")] = None,
        b: Annotated[str | None, Query(description="... with this one (default current).")] = None,
    ) -> Response:
        """Versions newest first; with ``a`` the unified diff from ``a`` to ``b``."""
        try:
            return JSONResponse(history_data(a, b))
        except ValueError as exc:
            return JSONResponse({"detail": str(exc)}, status_code=site.status_of(exc))

    def history_data(a: str | None, b: str | None, confirm: str | None = None) -> dict[str, Any]:
        versions = editor.history(site.state.root)
        if confirm is not None:  # what restoring ``confirm`` changes: current → confirm
            a, b = "current", confirm
        if a is None and len(versions) > 1:
            a = versions[1]["version"]
        b = b or "current"
        diff = editor.diff_versions(site.state.root, a, b) if a else []
        return {"versions": versions, "a": a, "b": b, "diff": diff, "confirm": confirm}

    def history_page_of(
        request: Request,
        a: str | None = None,
        b: str | None = None,
        confirm: str | None = None,
        **context: Any,
    ) -> HTMLResponse:
        try:
            data = history_data(a, b, confirm)
        except ValueError as exc:
            return site.error_page(request, str(exc), site.status_of(exc), "history")
        status = context.pop("status_code", 200)
        return site.page(
            request, "history.html", {"data": data, **context}, title="history", status_code=status
        )

    @r.get("/history", response_class=HTMLResponse, include_in_schema=False)
    def history_page(
        request: Request, a: str | None = None, b: str | None = None, confirm: str | None = None
    ) -> HTMLResponse:
        """Versions and a diff; with ``confirm`` the changes a restore would make, and the
        form that makes it."""
        if confirm == "current":
            confirm = None
        return history_page_of(request, a, b, confirm)

    def restore(version: str) -> dict[str, Any]:
        with site.state.lock:
            try:
                result = editor.restore_version(site.state.root, version)
            except KundresaError as exc:  # history's: not a version (400), not kept (404)
                raise jobs.JobError(str(exc), exc.http_status) from exc
            site.state.reload_journey()
        return result

    @r.post("/history/restore", response_class=HTMLResponse, include_in_schema=False)
    async def history_restore(
        request: Request, version: Annotated[str, Form(max_length=64)]
    ) -> HTMLResponse:
        try:
            result = await in_worker("restore", lambda: restore(version))
        except jobs.JobError as exc:
            return history_page_of(
                request,
                restore_problem=site.shown(exc),
                status_code=exc.status,
            )
        return history_page_of(request, restored=result)

    @r.post(
        "/api/history/restore", tags=["editor"], summary="Restore a kept version of the journey"
    )
    async def api_restore(
        version: Annotated[str, Query(max_length=64, description="The version to restore.")],
    ) -> Response:
        """Make a kept version the journey file again (as ``kundresa restore VERSION``); the
        current file is kept in history. A version with errors is not restored (400); an
        unknown one is 404. Answers ``restored``, ``previous`` (the current file's new version
        name) and ``problems`` (warnings)."""
        try:
            result = await in_worker("restore", lambda: restore(version))
        except jobs.JobError as exc:
            return job_error(exc)
        return JSONResponse(result)

    return r


_NOT_UTF8 = "body: expected UTF-8 text"
_NOT_JOURNEY_JSON = (
    'body: expected the journey file\'s text as JSON {"text": "..."} (or a JSON string), '
    "or the YAML itself as application/yaml"
)


async def _body_text(request: Request) -> tuple[str | None, str]:
    """The journey text a request sends, or ``None`` and why not (one line for the 400)."""
    body = await request.body()
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return None, _NOT_UTF8
    if request.headers.get("content-type", "").split(";")[0].strip() == "application/json":
        given = security.json_text(text)  # web/security.py: a JSON string or {"text": ...}
        if given is None:
            return None, _NOT_JOURNEY_JSON
        text = given
    return text.replace("\r\n", "\n"), ""
