"""The request-response order API: it calls every downstream service in turn before it answers.

``POST /orders`` validates the order (422 otherwise), then POSTs it to each service of `services`, one after
the other, and answers 200 only when all of them said yes. The caller therefore waits for the sum of their
latencies, and any one of them failing fails the order: 502 when a service answers with an error or cannot
be reached, 504 when it does not answer within `timeout_s`. Services called before the failing one have
already acted on the order: nothing undoes that.

>>> import kafkacourse as kc
>>> app = create_app({"inventory": inventory.url, "payment": payment.url, "email": email.url})
>>> orders = kc.serve(app)
>>> httpx.post(orders.url + "/orders", json={"order_id": "o-1", "customer": "ada", "amount": 12.5})
"""

from __future__ import annotations

import time
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI, HTTPException, Request

from .models import Order


def create_app(services: dict[str, str], timeout_s: float = 2.0) -> FastAPI:
    """An order API that calls ``{url}/orders`` of each named service (name → base URL), in dict order."""

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        # One HTTP client (and its connection pool) for the app's whole life, closed on shutdown.
        async with httpx.AsyncClient(timeout=timeout_s) as client:
            app.state.client = client
            yield

    app = FastAPI(title="orders (request-response)", lifespan=lifespan)

    @app.post("/orders")
    async def place_order(order: Order, request: Request) -> dict:
        client: httpx.AsyncClient = request.app.state.client
        calls_ms: dict[str, float] = {}
        for name, url in services.items():
            started = time.perf_counter()
            try:
                response = await client.post(f"{url}/orders", json=order.model_dump())
            except httpx.TimeoutException:
                raise HTTPException(504, {"failed": name, "error": f"no answer within {timeout_s} s",
                                          "already_done": list(calls_ms)})
            except httpx.HTTPError as exc:
                raise HTTPException(502, {"failed": name, "error": type(exc).__name__,
                                          "already_done": list(calls_ms)})
            if not response.is_success:
                raise HTTPException(502, {"failed": name, "status": response.status_code,
                                          "already_done": list(calls_ms)})
            calls_ms[name] = round((time.perf_counter() - started) * 1000, 1)
        return {"order_id": order.order_id, "status": "confirmed", "calls_ms": calls_ms}

    @app.get("/health")
    async def health() -> dict:
        return {"status": "ok", "services": list(services)}

    return app
