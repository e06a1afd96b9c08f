"""Bulk actions run in the background of the admin process: ``POST /api/v1/orders/bulk``
answers 202 with the job's URL, ``GET /api/v1/jobs/{id}`` shows each order's result as it
comes. A job's record lives in this process for ``KEEP_SECONDS``; each order's own outcome is
in its timeline for good. Jobs still running when the service stops are cancelled between
two orders (each order is its own unit of work, so none is left half-done).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal

from application.bulk import BulkResult

logger = logging.getLogger(__name__)

KEEP_SECONDS = 3600.0
MAX_JOBS = 200

Work = Callable[[Callable[[BulkResult], None]], Awaitable[list[BulkResult]]]


@dataclass
class Job:
    id: str
    action: str
    actor: str
    total: int
    results: list[BulkResult] = field(default_factory=list)
    state: Literal["running", "done", "failed"] = "running"
    error: str | None = None
    created_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    finished_at: datetime | None = None
    _started: float = field(default_factory=time.monotonic)


class Jobs:
    def __init__(self) -> None:
        self._jobs: dict[str, Job] = {}
        self._tasks: dict[str, asyncio.Task[None]] = {}

    def start(self, action: str, actor: str, total: int, work: Work) -> Job:
        self._forget_old()
        job = Job(secrets.token_hex(8), action, actor, total)
        self._jobs[job.id] = job
        self._tasks[job.id] = asyncio.create_task(self._run(job, work), name=f"job-{job.id}")
        return job

    async def _run(self, job: Job, work: Work) -> None:
        try:
            await work(job.results.append)
            job.state = "done"
        except asyncio.CancelledError:
            job.state, job.error = "failed", "the admin service stopped during the job"
            raise
        except Exception as exc:  # a job's failure is its result; the service goes on
            logger.exception("bulk %s job %s failed", job.action, job.id)
            job.state, job.error = "failed", f"{type(exc).__name__}: {exc}".splitlines()[0]
        finally:
            job.finished_at = datetime.now(UTC)
            self._tasks.pop(job.id, None)

    def get(self, job_id: str) -> Job | None:
        return self._jobs.get(job_id)

    def _forget_old(self) -> None:
        now = time.monotonic()
        for job_id, job in list(self._jobs.items()):
            if job.state != "running" and now - job._started > KEEP_SECONDS:
                del self._jobs[job_id]
        while len(self._jobs) >= MAX_JOBS:
            oldest = next((j for j in self._jobs.values() if j.state != "running"), None)
            if oldest is None:
                break
            del self._jobs[oldest.id]

    async def stop(self) -> None:
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
