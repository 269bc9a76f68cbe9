"""A job API that does its work with FastAPI ``BackgroundTasks``: fast to answer, gone if the process dies.

``POST /jobs`` validates the job (422 otherwise), schedules the work and answers 202 at once; FastAPI runs
the work after the response is sent, inside this same server process. The work waits ``seconds``, then
appends the job id to a "done" file. Nothing else remembers the job: if the process is killed before the
work finishes, the job is lost, and a restarted server knows nothing about it.

Run it in its own process (the lesson kills that process); the done file comes from ``JOBS_DONE_FILE``:

    JOBS_DONE_FILE=/tmp/done.txt python -m uvicorn courseapps.day1.background_work:app --port 8123

or build one in-process with ``create_app(done_file)``.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
from pathlib import Path

from fastapi import BackgroundTasks, FastAPI

from .models import Job

DONE_FILE_ENV = "JOBS_DONE_FILE"


async def do_work(job: Job, done_file: Path) -> None:
    """The work itself: take `job.seconds`, then record the job id as done (one line per completed job)."""
    await asyncio.sleep(job.seconds)
    with done_file.open("a") as out:
        out.write(job.job_id + "\n")


def create_app(done_file: str | os.PathLike) -> FastAPI:
    """A job API recording completed jobs in `done_file`."""
    path = Path(done_file)
    app = FastAPI(title="jobs (BackgroundTasks)")

    @app.post("/jobs", status_code=202)
    async def submit_job(job: Job, background_tasks: BackgroundTasks) -> dict:
        background_tasks.add_task(do_work, job, path)  # runs after the 202 is sent, in this process
        return {"job_id": job.job_id, "status": "scheduled"}

    @app.get("/health")
    async def health() -> dict:
        return {"status": "ok", "pid": os.getpid()}

    return app


app = create_app(os.environ.get(DONE_FILE_ENV) or Path(tempfile.gettempdir()) / "background-jobs-done.txt")
