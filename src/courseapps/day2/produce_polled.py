"""An order API with a *sync* endpoint and an *async* producer: ``def`` + a poll thread + one future per record.

The pattern for teams whose code is synchronous (a ``def`` endpoint, a sync ORM, a sync HTTP client): FastAPI
runs the endpoint on its threadpool; the producer is created once and polled all the time by a background
thread (:class:`kafkacourse.instruments.aio.AsyncProducer`); each request waits for *its own* record's
delivery report (``submit(...).result(timeout)``), not for a ``flush()`` of every record in the producer, so
requests do not finish in convoys.

* ``POST /orders`` — 201 with the record's partition and offset once the broker acknowledged it. 503 with
  ``Retry-After`` when the producer's queue is full (``BufferError``: the client holds
  ``queue.buffering.max.messages`` records that the brokers have not acknowledged yet) or when Kafka did not
  acknowledge the record (a delivery error, or no report within `timeout_s`).
* ``GET /stats`` — stored orders, and 503s by cause (``queue_full``, Kafka error names, ``no_report``).

>>> import kafkacourse as kc
>>> api = kc.serve(create_app(cluster.config(), topic))
>>> httpx.post(api.url + "/orders", json={"order_id": "o-1", "customer": "ada", "amount": 9.5})
"""

from __future__ import annotations

import concurrent.futures
import json
import threading
from collections import Counter
from contextlib import asynccontextmanager
from typing import Any

from confluent_kafka import KafkaException
from fastapi import FastAPI, HTTPException, Request

from courseapps.day1.models import Order
from kafkacourse.instruments.aio import AsyncProducer

RETRY_AFTER_S = 1


def create_app(kafka_config: dict[str, Any], topic: str, timeout_s: float = 10.0) -> FastAPI:
    """An order API producing to `topic` from a ``def`` endpoint that waits for its own delivery report."""

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        app.state.producer = AsyncProducer(kafka_config)  # one producer, polled by its own thread
        app.state.outcomes = Counter()
        app.state.lock = threading.Lock()  # Counter updates from many threadpool threads
        try:
            yield
        finally:
            await app.state.producer.aclose()  # flush what is still queued, then close

    app = FastAPI(title="orders (def endpoint, polled producer)", lifespan=lifespan)

    def count(request: Request, outcome: str) -> None:
        with request.app.state.lock:
            request.app.state.outcomes[outcome] += 1

    def unavailable(request: Request, outcome: str, message: str) -> HTTPException:
        count(request, outcome)
        return HTTPException(503, detail={"message": message, "cause": outcome, "retriable": True},
                             headers={"Retry-After": str(RETRY_AFTER_S)})

    @app.post("/orders", status_code=201)
    def place_order(order: Order, request: Request) -> dict:
        # a plain def: FastAPI runs it on a threadpool thread, which may block on this one record's report
        producer: AsyncProducer = request.app.state.producer
        value = json.dumps(order.model_dump()).encode()
        try:
            future = producer.submit(topic, value=value, key=order.order_id)
        except BufferError:
            raise unavailable(request, "queue_full", f"the producer's queue is full; order {order.order_id!r} "
                                                     "was not taken: retry later") from None
        try:
            msg = future.result(timeout_s)
        except KafkaException as exc:
            error = exc.args[0]
            raise unavailable(request, error.name(), f"Kafka did not acknowledge order {order.order_id!r}: "
                                                     f"{error.str()}; it may or may not be stored") from None
        except concurrent.futures.TimeoutError:
            raise unavailable(request, "no_report", f"no delivery report for order {order.order_id!r} within "
                                                    f"{timeout_s:g} s; it may or may not be stored") from None
        count(request, "stored")
        return {"order_id": order.order_id, "partition": msg.partition(), "offset": msg.offset()}

    @app.get("/stats")
    def stats(request: Request) -> dict:
        with request.app.state.lock:
            return dict(request.app.state.outcomes)

    @app.get("/health")
    async def health() -> dict:
        return {"status": "ok", "topic": topic}

    return app
