"""Long work off the server's event loop: jobs with an id, progress and a cancel button.

An upload's ingest and a journey check run in worker threads (:class:`JobManager`), never in
the event loop, so pages, API answers and static files keep being served meanwhile. Each job
has an id; ``GET /api/jobs/{id}`` tells its state (``queued``, ``running``, ``done``,
``failed``, ``cancelled``), progress (0–1) and result or error, and ``POST
/api/jobs/{id}/cancel`` asks it to stop. A job stops at its next progress report (an ingest
reports every batch it reads, and its database work is interrupted; the ingest's transaction
is then rolled back, so the warehouse is as it was); a job still queued never starts.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import secrets
import threading
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Path
from fastapi.responses import JSONResponse, RedirectResponse, Response

__all__ = ["Job", "JobCancelled", "JobError", "JobManager", "api_router"]

STATES = ("queued", "running", "done", "failed", "cancelled")


class JobCancelled(Exception):
    """Raised inside a job when it was asked to stop."""


class JobError(Exception):
    """A job that failed for a reason a person can act on; ``status`` is the HTTP status."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class Job:
    """One piece of long work."""

    id: str
    kind: str
    name: str
    state: str = "queued"
    progress: float = 0.0
    message: str = ""
    result: Any = None
    error: str | None = None
    status: int = 200
    created: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))
    finished: str | None = None
    on_cancel: list[Callable[[], Any]] = field(default_factory=list, repr=False)
    """Called (from the canceller's thread) when the job is asked to stop, e.g. to interrupt
    a running query."""
    on_skipped: list[Callable[[], Any]] = field(default_factory=list, repr=False)
    """Called when the job ends without its work having started (cancelled while queued, or
    the server stopping), e.g. to remove the upload the work would have removed."""
    _cancel: threading.Event = field(default_factory=threading.Event, repr=False)
    _future: Future[Any] | None = field(default=None, repr=False)

    @property
    def cancel_requested(self) -> bool:
        return self._cancel.is_set()

    @property
    def over(self) -> bool:
        return self.state in ("done", "failed", "cancelled")

    def report(self, progress: float | None = None, message: str | None = None) -> None:
        """Record progress (0–1) and what is happening; raises :class:`JobCancelled` when the
        job was asked to stop."""
        if self._cancel.is_set():
            raise JobCancelled(self.id)
        if progress is not None:
            self.progress = max(self.progress, min(max(progress, 0.0), 1.0))
        if message is not None:
            self.message = message

    def as_dict(self) -> dict[str, Any]:
        """The job as ``GET /api/jobs/{id}`` answers it."""
        return {
            "id": self.id,
            "kind": self.kind,
            "name": self.name,
            "state": self.state,
            "progress": round(self.progress, 4),
            "message": self.message,
            "result": self.result,
            "error": self.error,
            "status": self.status,
            "created": self.created,
            "finished": self.finished,
        }


class JobManager:
    """Runs jobs in worker threads and remembers the last ``keep`` of them.

    Parameters
    ----------
    workers
        Threads for jobs of each kind's pool: ``ingest`` jobs run one at a time (they take
        the warehouse's write lock), ``check`` jobs (journey validation) beside them.
    keep
        Finished jobs remembered (oldest forgotten first).
    """

    def __init__(self, workers: int = 2, keep: int = 200) -> None:
        self._pools = {
            "ingest": ThreadPoolExecutor(1, thread_name_prefix="kundresa-ingest"),
            "check": ThreadPoolExecutor(workers, thread_name_prefix="kundresa-check"),
        }
        self._jobs: OrderedDict[str, Job] = OrderedDict()
        self._lock = threading.Lock()
        self._keep = keep
        self._seq = itertools.count(1)

    def submit(
        self,
        kind: str,
        name: str,
        work: Callable[[Job], Any],
        pool: str = "ingest",
        on_skipped: Callable[[], Any] | None = None,
    ) -> Job:
        """Start ``work(job)`` in a worker thread; its return value becomes ``job.result``.
        ``on_skipped`` is called if the job ends without ``work`` having started."""
        job = Job(id=f"{next(self._seq)}-{secrets.token_hex(6)}", kind=kind, name=name)
        if on_skipped is not None:
            job.on_skipped.append(on_skipped)
        with self._lock:
            self._jobs[job.id] = job
            finished = [j for j in self._jobs.values() if j.over]
            for old in finished[: max(0, len(self._jobs) - self._keep)]:
                self._jobs.pop(old.id, None)
        job._future = self._pools[pool].submit(self._run, job, work)
        return job

    @staticmethod
    def _run(job: Job, work: Callable[[Job], Any]) -> Any:
        if job.cancel_requested:
            job.state, job.status, job.error = "cancelled", 409, "cancelled"
            job.finished = _now()
            _skipped(job)
            return None
        job.state = "running"
        try:
            job.result = work(job)
            job.progress, job.state = 1.0, "done"
        except Exception as exc:  # the job's own message; the server keeps running
            job.state, job.status, job.error = "failed", 500, f"{exc.__class__.__name__}: {exc}"
            if job.cancel_requested or isinstance(exc, JobCancelled):
                # However the work noticed (a progress report, an interrupted query).
                job.state, job.status, job.error = "cancelled", 409, "cancelled"
            elif isinstance(exc, RecursionError):
                job.status = 422
                job.error = "nested too deeply to be read (more than a few hundred levels)"
            elif isinstance(exc, JobError):
                job.status, job.error = exc.status, str(exc)
            elif isinstance(exc, ValueError):  # bad input, named by the message
                job.status, job.error = 400, str(exc)
        finally:
            job.finished = _now()
        return job.result

    def get(self, job_id: str) -> Job | None:
        """The job with this id (``None`` when unknown or forgotten)."""
        with self._lock:
            return self._jobs.get(job_id)

    def jobs(self) -> list[Job]:
        """Every remembered job, newest first."""
        with self._lock:
            return list(reversed(self._jobs.values()))

    def cancel(self, job_id: str) -> Job | None:
        """Ask a job to stop (it stops at its next progress report)."""
        job = self.get(job_id)
        if job is not None and not job.over:
            job._cancel.set()
            for stop in list(job.on_cancel):
                with contextlib.suppress(Exception):  # the work may be just finishing
                    stop()
            if job._future is not None and job._future.cancel():
                job.state, job.status, job.error = "cancelled", 409, "cancelled"
                job.finished = _now()
                _skipped(job)
        return job

    async def wait(self, job: Job, timeout: float | None = None) -> Job:
        """Wait for a job without blocking the event loop (up to ``timeout`` seconds)."""
        assert job._future is not None
        waiting = asyncio.wrap_future(job._future)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(waiting), timeout)
        return job

    async def run(self, kind: str, name: str, work: Callable[[Job], Any]) -> Job:
        """Run a short job (a check) in a worker thread and wait for it."""
        return await self.wait(self.submit(kind, name, work, pool="check"))

    def shutdown(self) -> None:
        """Stop taking jobs; ask running ones to stop."""
        for job in self.jobs():
            job._cancel.set()
        for pool in self._pools.values():
            pool.shutdown(wait=False, cancel_futures=True)
        for job in self.jobs():
            if job._future is not None and job._future.cancelled():
                _skipped(job)


def _skipped(job: Job) -> None:
    for clean in list(job.on_skipped):
        with contextlib.suppress(Exception):  # a clean-up must not fail the cancel
            clean()


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def api_router(manager: JobManager) -> APIRouter:
    """The job endpoints: ``GET /api/jobs``, ``GET /api/jobs/{id}``, ``POST
    /api/jobs/{id}/cancel`` and the data page's ``POST /jobs/{id}/cancel``."""
    router = APIRouter()
    JobId = Path(description="The job's id.", max_length=64, pattern=r"^[0-9a-f-]+$")
    missing = {"description": "No such job (unknown, or forgotten long ago)."}

    @router.get("/api/jobs", tags=["data"], summary="Recent jobs (uploads, checks)")
    def list_jobs() -> Response:
        """Every remembered job, newest first."""
        return JSONResponse({"jobs": [j.as_dict() for j in manager.jobs()]})

    @router.get(
        "/api/jobs/{job_id}", tags=["data"], summary="A job's state", responses={404: missing}
    )
    def get_job(job_id: str = JobId) -> Response:
        """State, progress (0–1), result (an upload's ingest report) or error of a job."""
        job = manager.get(job_id)
        if job is None:
            return JSONResponse({"detail": f"job: no job {job_id!r}"}, status_code=404)
        return JSONResponse(job.as_dict())

    @router.post(
        "/api/jobs/{job_id}/cancel",
        tags=["data"],
        summary="Cancel a job",
        responses={404: missing},
    )
    def cancel_job(job_id: str = JobId) -> Response:
        """Ask a job to stop; an ingest stops at its next batch and changes nothing."""
        job = manager.cancel(job_id)
        if job is None:
            return JSONResponse({"detail": f"job: no job {job_id!r}"}, status_code=404)
        return JSONResponse(job.as_dict())

    @router.post("/jobs/{job_id}/cancel", include_in_schema=False)
    def cancel_form(job_id: str = JobId) -> Response:
        manager.cancel(job_id)
        return RedirectResponse(f"/data?job={job_id}", status_code=303)

    return router
