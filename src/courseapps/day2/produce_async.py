"""An order API that awaits each record's delivery report in ``async def``, without blocking the event loop.

* ``POST /orders`` — produce, then ``await`` this record's delivery report; 201 with its partition and
  offset once the broker has it, 503 if Kafka refused it. The loop serves other requests while it waits.
* ``POST /orders/fire-and-forget`` — queue the record and answer 202 at once, before the broker has it.
  Only the lifespan's flush on shutdown makes sure such records are not lost when the server stops.
* ``GET /stats`` — records queued in the producer, and fire-and-forget records whose delivery failed.

`engine` picks the producer: ``"bridge"`` (default) is :class:`kafkacourse.instruments.aio.AsyncProducer`, a Producer
with a poll thread that resolves one asyncio future per record; ``"aio"`` is confluent-kafka's AIOProducer,
created with `aio_options` (``batch_size``, ``buffer_timeout``). Either is created once, in the lifespan, and
closed (flushed) on shutdown.

>>> import kafkacourse as kc
>>> api = kc.serve(create_app(cluster.config(), topic))
>>> httpx.post(api.url + "/orders", json={"order_id": "o-1", "customer": "ada", "amount": 9.5})
"""

from __future__ import annotations

import asyncio
import json
from contextlib import asynccontextmanager
from typing import Any, Literal

from confluent_kafka import KafkaException
from fastapi import FastAPI, HTTPException, Request

from courseapps.day1.models import Order
from kafkacourse.instruments.aio import AsyncProducer, aio_producer


def create_app(kafka_config: dict[str, Any], topic: str, engine: Literal["bridge", "aio"] = "bridge",
               aio_options: dict[str, Any] | None = None) -> FastAPI:
    """An order API producing to `topic` that awaits delivery reports (see the module docstring)."""
    if engine not in ("bridge", "aio"):
        raise ValueError(f"engine must be 'bridge' or 'aio', not {engine!r}")

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        app.state.failed = 0
        if engine == "bridge":
            app.state.producer = AsyncProducer(kafka_config)
        else:
            app.state.producer = aio_producer(kafka_config, **(aio_options or {}))  # needs the running loop
        try:
            yield
        finally:  # flush on shutdown: every record accepted so far reaches the broker before the process ends
            if engine == "bridge":
                await app.state.producer.aclose()
            else:
                await app.state.producer.close()

    app = FastAPI(title=f"orders (async, {engine})", lifespan=lifespan)

    async def enqueue(request: Request, order: Order) -> asyncio.Future:
        """Queue the record; the returned future resolves to its delivery report (a Message)."""
        producer = request.app.state.producer
        value = json.dumps(order.model_dump()).encode()
        if engine == "bridge":
            return producer.produce(topic, value=value, key=order.order_id)
        return await producer.produce(topic, value=value, key=order.order_id)

    @app.post("/orders", status_code=201)
    async def place_order(order: Order, request: Request) -> dict:
        try:
            msg = await (await enqueue(request, order))  # the loop serves other requests meanwhile
        except KafkaException as exc:
            raise HTTPException(503, f"could not record the order: {exc.args[0].str()}")
        return {"order_id": order.order_id, "partition": msg.partition(), "offset": msg.offset()}

    @app.post("/orders/fire-and-forget", status_code=202)
    async def place_order_unconfirmed(order: Order, request: Request) -> dict:
        future = await enqueue(request, order)

        def count_failure(done: asyncio.Future) -> None:  # nobody awaits it: count failures here
            if done.cancelled() or done.exception() is not None:
                request.app.state.failed += 1

        future.add_done_callback(count_failure)
        return {"order_id": order.order_id, "status": "queued"}

    @app.get("/stats")
    async def stats(request: Request) -> dict:
        return {"queued": len(request.app.state.producer), "failed": request.app.state.failed}

    @app.get("/health")
    async def health() -> dict:
        return {"status": "ok", "topic": topic, "engine": engine}

    return app
