"""A downstream service that a consumer calls for every record, made flaky on demand (Day 3, lesson 05).

``POST /process`` with ``{"id": ..., "key": ..., "seq": ...}`` answers 200 when the service is healthy,
**503** while it is unhealthy (``PUT /control {"healthy": false}``) or while a record id still has
transient failures planned (``{"fail": {"17": 2}}``: the first two calls for id 17 get 503), and **422** for
an id it rejects for good (``{"reject": [40]}``). Every call is written down (``GET /calls``: time, id,
status) and every accepted record once per call (``GET /accepted``, in arrival order), so a lesson can
count what arrived, twice, or out of order. ``delay_ms`` slows every answer down.

>>> server = kc.serve(create_app())
>>> httpx.put(server.url + "/control", json={"fail": {"3": 1}, "reject": [5]})
"""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

from fastapi import FastAPI
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field


class Work(BaseModel):
    id: int
    key: str | None = None
    seq: int | None = None
    attempt: int = 0


class Control(BaseModel):
    healthy: bool | None = None
    fail: dict[int, int] | None = Field(default=None, description="id -> how many calls still get 503")
    reject: list[int] | None = Field(default=None, description="ids answered 422 from now on")
    delay_ms: float | None = Field(default=None, ge=0)
    reset: bool = False


def create_app() -> FastAPI:
    app = FastAPI(title="flaky downstream")
    lock = threading.Lock()
    state: dict[str, Any] = {"healthy": True, "fail": {}, "reject": set(), "delay_ms": 0.0,
                             "calls": [], "accepted": []}

    @app.post("/process")
    async def process(work: Work):
        if state["delay_ms"]:
            await asyncio.sleep(state["delay_ms"] / 1000)
        with lock:
            now = time.time()
            if not state["healthy"]:
                status = 503
            elif work.id in state["reject"]:
                status = 422
            elif state["fail"].get(work.id, 0) > 0:
                state["fail"][work.id] -= 1
                status = 503
            else:
                status = 200
                state["accepted"].append({"t": now, "id": work.id, "key": work.key, "seq": work.seq,
                                          "attempt": work.attempt})
            state["calls"].append({"t": now, "id": work.id, "status": status, "attempt": work.attempt})
        if status == 200:
            return {"id": work.id, "status": "done"}
        detail = "unavailable, try again later" if status == 503 else f"record {work.id} can never be processed"
        return JSONResponse({"detail": detail}, status_code=status, headers={"Retry-After": "1"} if status == 503 else None)

    @app.put("/control")
    def control(change: Control) -> dict:
        with lock:
            if change.reset:
                state.update(healthy=True, fail={}, reject=set(), delay_ms=0.0, calls=[], accepted=[])
            if change.healthy is not None:
                state["healthy"] = change.healthy
            if change.fail is not None:
                state["fail"] = dict(change.fail)
            if change.reject is not None:
                state["reject"] = set(change.reject)
            if change.delay_ms is not None:
                state["delay_ms"] = change.delay_ms
            return {"healthy": state["healthy"], "fail": state["fail"], "reject": sorted(state["reject"]),
                    "delay_ms": state["delay_ms"]}

    @app.get("/calls")
    def calls() -> list[dict]:
        with lock:
            return list(state["calls"])

    @app.get("/accepted")
    def accepted() -> list[dict]:
        with lock:
            return list(state["accepted"])

    @app.get("/health")
    def health():
        return JSONResponse({"healthy": state["healthy"]}, status_code=200 if state["healthy"] else 503)

    return app
