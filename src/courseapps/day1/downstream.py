"""A downstream service (inventory, payment, email…) whose speed and health a lesson can switch at run time.

``POST /orders`` handles one order: it waits ``delay_s`` seconds (a slow dependency), then records the order
id and answers 200; while ``failing`` is on it answers 503 at once and records nothing. ``PUT /control``
flips the switches, ``GET /stats`` shows what it handled.

>>> import kafkacourse as kc, httpx
>>> payment = kc.serve(create_app("payment"))
>>> httpx.put(payment.url + "/control", json={"delay_s": 0.5, "failing": False})
>>> httpx.post(payment.url + "/orders", json={"order_id": "o-1"}).status_code          # 200, after 0.5 s
"""

from __future__ import annotations

import asyncio

from fastapi import FastAPI, HTTPException, Request
from pydantic import BaseModel, ConfigDict, Field

from .models import ID_PATTERN


class OrderRef(BaseModel):
    """What a downstream service needs from an order (other fields of the order or event are ignored)."""

    model_config = ConfigDict(extra="ignore")
    order_id: str = Field(pattern=ID_PATTERN)


class Behaviour(BaseModel):
    model_config = ConfigDict(extra="forbid")
    delay_s: float = Field(default=0.0, ge=0, le=30)
    failing: bool = False


def create_app(name: str) -> FastAPI:
    """A fresh downstream service called `name`, healthy and fast, that has handled nothing yet."""
    app = FastAPI(title=f"{name} service")
    app.state.name = name
    app.state.behaviour = Behaviour()
    app.state.handled = []  # order ids, in the order they were handled (a retry shows up twice)

    @app.post("/orders")
    async def handle_order(order: OrderRef, request: Request) -> dict:
        behaviour: Behaviour = request.app.state.behaviour
        if behaviour.failing:
            raise HTTPException(status_code=503, detail=f"{name} is unavailable")
        if behaviour.delay_s:
            await asyncio.sleep(behaviour.delay_s)  # slow, but it does not block other requests
        request.app.state.handled.append(order.order_id)
        return {"service": name, "order_id": order.order_id, "status": "done"}

    @app.put("/control")
    async def control(behaviour: Behaviour, request: Request) -> Behaviour:
        request.app.state.behaviour = behaviour
        return behaviour

    @app.get("/stats")
    async def stats(request: Request) -> dict:
        handled = request.app.state.handled
        return {"service": name, **request.app.state.behaviour.model_dump(),
                "handled": len(handled), "order_ids": list(handled)}

    @app.get("/health")
    async def health() -> dict:
        return {"service": name, "status": "ok"}

    return app
