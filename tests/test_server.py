"""A FastAPI app on a background uvicorn thread: start, serve, stop, restart on the same port."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI
from pydantic import BaseModel

import kafkacourse as kc


class Order(BaseModel):
    item: str
    quantity: int


def make_app(events: list[str]) -> FastAPI:
    from contextlib import asynccontextmanager

    @asynccontextmanager
    async def lifespan(app):
        events.append("startup")
        yield
        events.append("shutdown")

    app = FastAPI(lifespan=lifespan)

    @app.post("/orders", status_code=201)
    def create(order: Order) -> dict:
        return {"item": order.item, "quantity": order.quantity}

    return app


def test_serves_until_stopped_and_runs_the_lifespan():
    events: list[str] = []
    with kc.serve(make_app(events)) as server:
        assert server.port > 0 and events == ["startup"]
        response = httpx.post(server.url + "/orders", json={"item": "book", "quantity": 2})
        assert response.status_code == 201 and response.json() == {"item": "book", "quantity": 2}
        invalid = httpx.post(server.url + "/orders", json={"item": "book", "quantity": "many"})
        assert invalid.status_code == 422, "pydantic rejects an invalid payload"
    assert events == ["startup", "shutdown"]
    with pytest.raises(httpx.ConnectError):
        httpx.get(server.url + "/docs", timeout=1)


def test_rerun_on_the_same_port_replaces_the_old_server():
    first = kc.serve(make_app([]), port=0)
    port = first.port
    first.stop()
    again = kc.serve(make_app([]), port=port)  # no "address already in use" after a stop
    replacing = kc.serve(make_app([]), port=port)  # a re-run cell while the old one still serves
    try:
        assert not again.thread.is_alive() and replacing.thread.is_alive()
        assert httpx.get(f"{replacing.url}/openapi.json").status_code == 200
    finally:
        replacing.stop()


def test_failing_startup_raises_instead_of_hanging():
    from contextlib import asynccontextmanager

    @asynccontextmanager
    async def broken(app):
        raise RuntimeError("no database")
        yield

    with pytest.raises(RuntimeError, match="failed to start"):
        kc.serve(FastAPI(lifespan=broken), timeout=10)
