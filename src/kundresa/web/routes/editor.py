"""The journey editor (``/editor``, ``/api/editor``, ``/api/journey``) and the journey file's
history (``/history``, ``/api/history``). Checks and saves run as jobs in worker threads
(:mod:`kundresa.web.jobs`)."""

from __future__ import annotations

import difflib
import hashlib
from collections.abc import Callable, Collection
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Form, Header, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response

from kundresa.errors import KundresaError
from kundresa.web import editor, jobs, security, views
from kundresa.web.site import Site


def router(site: Site, job_manager: jobs.JobManager) -> APIRouter:
    r = APIRouter()

    # -- editor and history -------------------------------------------------------------------

    def editor_data(
        text: str | None = None,
        problems: Any = None,
        sha256: str | None = None,
        conflict: str | None = None,
    ) -> dict[str, Any]:
        """What the editor shows: ``text`` (default the file's), its ``problems`` and
        ``structured`` data, and ``sha256``, the file the page is an edit of (default the
        file as it is now; the forms carry it back so that a save can tell whether the file
        changed meanwhile). With ``conflict`` (the edited text a save refused because the
        file changed) also ``current``, the file's text now, and ``diff``, from it to the
        edit."""
        path = site.state.journey_path
        # Bytes that are not UTF-8 are shown as U+FFFD, so the editor can repair such a file.
        current = path.read_text(encoding="utf-8", errors="replace") if path.exists() else ""
        text = current if text is None else text
        try:
            structured = views.records_one({"s": editor.yaml_to_structured(text)})["s"]
        except ValueError:
            structured = None
        data = {
            "text": text,
            "problems": editor.check(text) if problems is None else problems,
            "structured": structured,
            "sha256": editor.file_sha256(site.state.root) if sha256 is None else sha256,
        }
        if conflict is not None:
            data["current"] = current
            data["diff"] = list(
                difflib.unified_diff(
                    current.splitlines(),
                    conflict.splitlines(),
                    "journey.yaml",
                    "edit",
                    lineterm="",
                )
            )
        return data

    @r.get("/api/editor", tags=["editor"], summary="The journey file and its problems")
    def api_editor() -> Response:
        """The text of ``journey.yaml``, its problems (as ``kundresa validate``), its data
        and ``sha256`` (the file's hash; the ``ETag`` header is it in quotes)."""
        data = editor_data()
        return JSONResponse(data, headers=_etag_header(data["sha256"]))

    @r.get(
        "/api/journey",
        tags=["editor"],
        summary="The journey file's text",
        response_class=PlainTextResponse,
        responses={
            200: {
                "description": "The YAML, with the file's ETag",
                "content": {"application/yaml": {"schema": {"type": "string"}}},
            },
            404: {"description": "The project has no journey.yaml; `detail` says so."},
        },
    )
    def api_journey() -> Response:
        """``journey.yaml`` as it is (``application/yaml``), with an ``ETag`` (its SHA-256 in
        quotes) to send back as ``If-Match`` with ``PUT /api/journey``."""
        path = site.state.journey_path
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            return JSONResponse({"detail": "the project has no journey.yaml"}, status_code=404)
        return Response(
            data,
            media_type="application/yaml; charset=utf-8",
            headers=_etag_header(hashlib.sha256(data).hexdigest()),
        )

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

    @r.put(
        "/api/journey",
        tags=["editor"],
        summary="Save the journey file",
        responses={
            412: {
                "description": "`If-Match` names no ETag of the file as it is now (it changed "
                "since it was read; the answer's `ETag` is the file's now): nothing is saved.",
                "content": {"application/json": {"schema": {"type": "object"}}},
            },
        },
    )
    async def api_save(
        request: Request,
        if_match: Annotated[
            str | None,
            Header(
                description="The ETag of `GET /api/journey` the text was made from: saved only "
                "while the file is still that one (else 412). Without it the file is replaced "
                "whatever it holds.",
                max_length=1000,
            ),
        ] = None,
    ) -> Response:
        """Send the YAML as the request body. Saved only without errors (else 422 with the
        problems); the previous version is kept in history. With ``If-Match`` saved only
        while the file is the one that ETag names (else 412, nothing saved); the answer's
        ``ETag`` is the saved file's."""
        text, why = await _body_text(request)
        if text is None:
            return JSONResponse({"detail": why}, status_code=400)
        base = None if if_match is None else _if_match(if_match)
        try:
            result = await in_worker("save", lambda: save(text, base))
        except jobs.JobError as exc:
            return job_error(exc)
        now = editor.file_sha256(site.state.root)
        if result.get("changed"):
            why = result["detail"] + (
                "" if now is None else f'; its ETag is now "{now}" (GET /api/journey)'
            )
            return JSONResponse({"detail": why}, status_code=412, headers=_etag_header(now))
        return JSONResponse(
            result, status_code=200 if result["saved"] else 422, headers=_etag_header(now)
        )

    def save(text: str, base: Collection[str] | None = None) -> dict[str, Any]:
        """Save under the app's lock; a file that is no longer ``base`` gives ``{"saved":
        False, "changed": True, "detail": why, "problems": []}``."""
        with site.state.lock:
            try:
                result = editor.save_journey(site.state.root, text, base=base)
            except editor.JourneyChanged as exc:
                return {"saved": False, "changed": True, "detail": str(exc), "problems": []}
            if result["saved"]:
                site.state.reload_journey()
        return result

    def saved_page(
        request: Request, text: str, result: dict[str, Any], sha256: str | None
    ) -> HTMLResponse:
        """The editor after a save: the file as saved; the edit with its problems (422); or,
        when the file changed since the page was loaded, the edit kept with the file as it is
        now beside it (409), and the page's hash moved on to it, so that saving again
        replaces it knowingly."""
        if result.get("changed"):
            data = editor_data(text, conflict=text)  # the page now edits the file as it is
            status = 409
        elif result["saved"]:
            data, status = editor_data(), 200
        else:
            data, status = editor_data(text, result["problems"], sha256), 422
        return site.page(
            request,
            "editor.html",
            {"data": data, "result": result},
            title="editor",
            status_code=status,
        )

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
        sha256: Annotated[str | None, Form(max_length=64)] = None,
    ) -> HTMLResponse:
        text = text.replace("\r\n", "\n")
        base = None if sha256 is None else [sha256]

        def work() -> tuple[Any, dict[str, Any] | None]:
            if action == "save":
                return save(text, base), None
            return None, editor_data(text, sha256=sha256)

        try:
            result, data = await in_worker(action, work)
        except jobs.JobError as exc:
            return site.error_page(request, site.shown(exc), exc.status, "editor")
        if result is not None:
            return saved_page(request, text, result, sha256)
        return site.page(request, "editor.html", {"data": data, "result": None}, title="editor")

    @r.post("/editor/structured", response_class=HTMLResponse, include_in_schema=False)
    async def editor_structured(request: Request) -> HTMLResponse:
        form = await request.form()
        fields = {str(k): str(v) for k, v in form.multi_items() if isinstance(v, str)}
        fields.pop(security.CSRF_FIELD, None)
        sha256 = fields.pop("sha256", None)
        base = None if sha256 is None else [sha256]

        def work() -> tuple[Any, str, dict[str, Any] | None]:
            data = editor.yaml_to_structured(fields.pop("base", ""))
            text = editor.structured_to_yaml(editor.apply_form(data, fields))
            if fields.get("action") == "save":
                return save(text, base), text, None
            return None, text, editor_data(text, sha256=sha256)

        try:
            result, text, view = await in_worker("structured", work)
        except jobs.JobError as exc:
            return site.error_page(request, site.shown(exc), exc.status, "editor")
        if result is not None:
            return saved_page(request, text, result, sha256)
        return site.page(request, "editor.html", {"data": view, "result": None}, title="editor")

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


def _etag_header(sha256: str | None) -> dict[str, str]:
    """The ``ETag`` header of a journey file with this SHA-256 (none without a file)."""
    return {} if sha256 is None else {"ETag": f'"{sha256}"'}


def _if_match(header: str) -> list[str]:
    """The SHA-256s an ``If-Match`` header names (``*`` kept): its strong entity-tags without
    their quotes. A weak tag (``W/"..."``) never matches, as RFC 9110 13.1.1 compares
    strongly.

    >>> _if_match('"ab", W/"cd", *')
    ['ab', '*']
    """
    out = []
    for tag in header.split(","):
        tag = tag.strip()
        if tag == "*":
            out.append(tag)
        elif len(tag) >= 2 and tag[0] == tag[-1] == '"':
            out.append(tag[1:-1])
    return out


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
