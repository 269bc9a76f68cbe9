"""An API that may also host its consumer: lessons 03 and 06 compare the three ways to run it.

``create_app(settings)`` serves ``GET /ping`` (the API's own work, measured under consumer load) and the
consumer's ``/health`` and ``/ready`` (``courseapps.day3.group_worker.health_routes``). Where the consumer
(a :class:`~courseapps.day3.group_worker.GroupWorker`) runs is ``mode``:

* ``thread``: the lifespan starts the worker's loop on a thread of this process (it shares the GIL with
  the event loop that answers requests), and stops it at shutdown: the loop ends, ``close()`` commits and
  leaves the group.
* ``task``: the lifespan starts an asyncio task on the event loop itself that polls and processes between
  two ``await asyncio.sleep(0)``: every poll and every record's work holds the loop.
* ``none``: no consumer here; it runs as a separate process (``python -m courseapps.day3.group_worker``).

Run by uvicorn as its own process (lessons SIGTERM or SIGKILL it); the settings come from the environment:

    WORKER_API_MODE=thread WORKER_API_TOPIC=orders WORKER_API_GROUP=g WORKER_API_WORK_MS=5 \\
        python -m uvicorn courseapps.day3.worker_api:app --port 8124

SIGTERM → uvicorn stops accepting, finishes running requests, runs the lifespan's exit → the consumer closes.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import threading
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI

from .group_worker import GroupWorker, health_routes
from kafkacourse.client_env import env_client_settings

MODES = ("thread", "task", "none")


@dataclass
class Settings:
    """What the app needs; :meth:`from_env` reads ``WORKER_API_*`` and ``KAFKA_BOOTSTRAP_SERVERS``."""

    topic: str = ""
    group: str = ""
    mode: str = "thread"
    bootstrap_servers: str = "localhost:9092"
    work_ms: float = 0.0
    work: str = "cpu"
    out: str | None = None
    instance_id: str | None = None
    max_lag: int = 100
    progress_every: int = 0    # print a "processed" event every N records (0: never)
    auto_commit_interval_ms: int | None = None   # librdkafka's default (5000) unless set
    extra: dict[str, Any] = field(default_factory=dict)   # more GroupWorker keyword arguments

    @classmethod
    def from_env(cls) -> "Settings":
        env = os.environ
        return cls(topic=env.get("WORKER_API_TOPIC", ""), group=env.get("WORKER_API_GROUP", ""),
                   mode=env.get("WORKER_API_MODE", "thread"),
                   bootstrap_servers=env.get("KAFKA_BOOTSTRAP_SERVERS", "localhost:9092"),
                   work_ms=float(env.get("WORKER_API_WORK_MS", "0")), work=env.get("WORKER_API_WORK", "cpu"),
                   out=env.get("WORKER_API_OUT") or None, instance_id=env.get("WORKER_API_INSTANCE_ID") or None,
                   max_lag=int(env.get("WORKER_API_MAX_LAG", "100")),
                   progress_every=int(env.get("WORKER_API_PROGRESS_EVERY", "0")),
                   auto_commit_interval_ms=int(env["WORKER_API_AUTO_COMMIT_INTERVAL_MS"])
                   if env.get("WORKER_API_AUTO_COMMIT_INTERVAL_MS") else None)


def _print_event(event: dict[str, Any]) -> None:
    print(json.dumps(event), flush=True)


def create_app(settings: Settings | None = None) -> FastAPI:
    """The API; `settings` default to the environment's (read when the app starts, not at import)."""
    state: dict[str, Any] = {"worker": None}

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI):
        config = settings or Settings.from_env()
        if config.mode not in MODES:
            raise ValueError(f"WORKER_API_MODE must be one of {MODES}, not {config.mode!r}")
        if config.mode == "none":
            yield
            return
        if not config.topic or not config.group:
            raise ValueError("set WORKER_API_TOPIC and WORKER_API_GROUP (or pass Settings) to host a consumer")
        worker = GroupWorker({**env_client_settings(), "bootstrap.servers": config.bootstrap_servers}, config.topic, config.group,
                             instance_id=config.instance_id, work_ms=config.work_ms, work=config.work,
                             out=config.out, emit=_print_event, name=config.instance_id or f"api-{config.mode}",
                             progress_every=config.progress_every,
                             auto_commit_interval_ms=config.auto_commit_interval_ms, **config.extra)
        state["worker"] = worker
        stop = threading.Event()
        if config.mode == "thread":
            runner = threading.Thread(target=worker.run, args=(stop,), name="consumer", daemon=True)
            runner.start()
            try:
                yield
            finally:      # uvicorn's shutdown: stop the loop, which closes the consumer (commit + LeaveGroup)
                stop.set()
                await asyncio.to_thread(runner.join, 30)
        else:
            task = asyncio.create_task(_consume_on_the_loop(worker, stop))
            try:
                yield
            finally:
                stop.set()
                await task
        _print_event({"event": "lifespan-exit", "closed": worker.closed})

    app = FastAPI(title="worker API", lifespan=lifespan)

    @app.get("/ping")
    async def ping() -> dict[str, bool]:
        return {"pong": True}

    health_routes(app, lambda: state["worker"], max_lag=(settings.max_lag if settings else
                                                          int(os.environ.get("WORKER_API_MAX_LAG", "100"))))
    return app


async def _consume_on_the_loop(worker: GroupWorker, stop: threading.Event) -> None:
    """The consumer as an asyncio task: poll(0.05) and the work both run on the event loop."""
    worker.subscribe()
    try:
        while not stop.is_set():
            worker.step(0.05)          # blocks the loop for up to 50 ms when there is nothing to read
            await asyncio.sleep(0)     # the only moment other requests get the loop
    finally:
        worker.running = False
        worker.close()


app = create_app()
