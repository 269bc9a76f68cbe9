"""An order API that produces with the blocking calls of confluent_kafka.Producer: produce, then flush.

``flush()`` blocks the calling thread until *every* record the producer holds has its delivery report, so
each request waits for the broker (and for whatever other requests queued meanwhile). Two endpoints do
exactly the same work and differ only in where that blocking wait happens:

* ``POST /orders/threadpool`` — a plain ``def`` endpoint: FastAPI runs it on its threadpool (40 threads by
  default), so the event loop stays free; up to 40 requests wait in parallel, each holding a thread.
* ``POST /orders/event-loop`` — ``async def`` calling ``flush()``: the WORST choice. The blocking call runs on
  the event loop itself, so the server handles one request at a time and even ``GET /health`` waits.

Both answer 201 with where the record landed, and 503 when Kafka did not take it within `timeout_s`.
``GET /stats`` says, per endpoint, how many requests were inside the blocking produce + flush at the same
time, at most: 1 on the event loop, up to the threadpool's size for the ``def`` endpoint.
The producer is created once in the lifespan and flushed on shutdown.

>>> import kafkacourse as kc
>>> api = kc.serve(create_app(cluster.config(), topic))
>>> httpx.post(api.url + "/orders/threadpool", json={"order_id": "o-1", "customer": "ada", "amount": 9.5})
"""

from __future__ import annotations

import json
import threading
from contextlib import asynccontextmanager
from typing import Any

from confluent_kafka import Producer
from fastapi import FastAPI, HTTPException, Request

from courseapps.day1.models import Order


def produce_and_flush(producer: Producer, topic: str, order: Order, timeout_s: float) -> dict:
    """produce() queues the record; flush() blocks until the broker has answered for ALL queued records."""
    report: dict[str, Any] = {}
    delivered = threading.Event()

    def on_delivery(err, msg) -> None:  # runs inside whichever thread's flush() got the report
        report.update(error=err, partition=msg.partition(), offset=msg.offset())
        delivered.set()

    producer.produce(topic, key=order.order_id, value=json.dumps(order.model_dump()).encode(),
                     on_delivery=on_delivery)
    producer.flush(timeout_s)  # sends at once (ignores linger.ms), waits for every record in the producer
    if not delivered.wait(timeout_s) or report["error"] is not None:
        raise HTTPException(503, f"could not record the order: {report.get('error', 'no delivery report')}")
    return {"order_id": order.order_id, "partition": report["partition"], "offset": report["offset"]}


def create_app(kafka_config: dict[str, Any], topic: str, timeout_s: float = 10.0) -> FastAPI:
    """An order API producing to `topic` with a blocking produce + flush per request."""

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        app.state.producer = Producer(kafka_config)  # one producer for the app's whole life
        try:
            yield
        finally:
            app.state.producer.flush(timeout_s)  # nothing accepted stays in the client's memory
            app.state.producer.close()  # and leave the broker connections now

    app = FastAPI(title="orders (blocking produce + flush)", lifespan=lifespan)
    blocked = {"threadpool": _Gauge(), "event-loop": _Gauge()}

    @app.post("/orders/threadpool", status_code=201)
    def order_threadpool(order: Order, request: Request) -> dict:
        # a plain def: FastAPI calls it on a threadpool worker; flush() blocks that thread, not the loop
        with blocked["threadpool"]:
            return produce_and_flush(request.app.state.producer, topic, order, timeout_s)

    @app.post("/orders/event-loop", status_code=201)
    async def order_event_loop(order: Order, request: Request) -> dict:
        # WRONG: async def runs on the event loop itself; flush() blocks it, and with it every other request
        with blocked["event-loop"]:
            return produce_and_flush(request.app.state.producer, topic, order, timeout_s)

    @app.get("/stats")
    async def stats() -> dict:
        return {name: {"blocked_now": gauge.now, "blocked_peak": gauge.peak} for name, gauge in blocked.items()}

    @app.get("/health")
    async def health() -> dict:
        return {"status": "ok", "topic": topic}

    return app


class _Gauge:
    """How many threads are inside a `with` block now, and the most there ever were at once."""

    def __init__(self) -> None:
        self.now = self.peak = 0
        self._lock = threading.Lock()

    def __enter__(self) -> None:
        with self._lock:
            self.now += 1
            self.peak = max(self.peak, self.now)

    def __exit__(self, *exc: object) -> None:
        with self._lock:
            self.now -= 1
