"""What one blocking call inside ``async def`` does to every other request of the same server.

All endpoints of an app share one event loop. ``GET /ping`` answers at once, unless the loop is busy:

* ``/slow/blocking?seconds=1`` — ``async def`` calling ``time.sleep``: the loop itself sleeps; no other
  request of this server is even read until it returns.
* ``/slow/awaiting?seconds=1`` — ``async def`` with ``await asyncio.sleep``: the loop serves others meanwhile.
* ``/slow/threadpool?seconds=1`` — a plain ``def`` calling ``time.sleep``: FastAPI runs it in a worker thread,
  so the loop stays free (the right choice for a blocking library you cannot make async).

>>> import kafkacourse as kc
>>> server = kc.serve(app)
"""

from __future__ import annotations

import asyncio
import time
from typing import Annotated

from fastapi import FastAPI, Query

app = FastAPI(title="blocking vs non-blocking")

Seconds = Annotated[float, Query(ge=0, le=10, description="how long the call takes")]


@app.get("/ping")
async def ping() -> dict:
    return {"pong": True}


@app.get("/slow/blocking")
async def slow_blocking(seconds: Seconds = 1.0) -> dict:
    time.sleep(seconds)  # WRONG in async def: blocks the event loop, and with it every request
    return {"slept": seconds, "how": "time.sleep in async def"}


@app.get("/slow/awaiting")
async def slow_awaiting(seconds: Seconds = 1.0) -> dict:
    await asyncio.sleep(seconds)  # yields to the loop while waiting
    return {"slept": seconds, "how": "await asyncio.sleep in async def"}


@app.get("/slow/threadpool")
def slow_threadpool(seconds: Seconds = 1.0) -> dict:
    time.sleep(seconds)  # fine in a plain def: FastAPI runs it in its threadpool
    return {"slept": seconds, "how": "time.sleep in def (threadpool)"}
