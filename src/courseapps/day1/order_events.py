"""The event-driven order API: it records an "order placed" event in Kafka and answers 202 Accepted.

``POST /orders`` validates the order (422 otherwise, and nothing is produced), produces one event keyed by
the order id, waits for the broker's acknowledgement (``acks=all``) and answers 202 with where the event
landed. It calls no downstream service: inventory, payment and email each read the topic in their own
consumer group, at their own pace. If Kafka itself cannot take the event, the answer is 503.

>>> import kafkacourse as kc
>>> orders = kc.serve(create_app(cluster.config(), topic))
>>> httpx.post(orders.url + "/orders", json={"order_id": "o-1", "customer": "ada", "amount": 12.5})
... # 202 {"order_id": "o-1", "status": "accepted", "partition": 2, "offset": 0}
"""

from __future__ import annotations

import json
import time
from contextlib import asynccontextmanager
from typing import Any

from confluent_kafka import KafkaException
from fastapi import FastAPI, HTTPException, Request

from kafkacourse.instruments.aio import AsyncProducer

from .models import Order

EVENT_TYPE = "order_placed"
# acks=all: stored on every in-sync replica; idempotence: retries add no duplicates.
PRODUCER_SETTINGS = {"acks": "all", "enable.idempotence": True}


def order_event(order: Order) -> bytes:
    """The record value: the order plus the event type and the time it was accepted (epoch seconds)."""
    return json.dumps({"event": EVENT_TYPE, **order.model_dump(), "placed_at": time.time()}).encode()


def create_app(kafka_config: dict[str, Any], topic: str) -> FastAPI:
    """An order API that publishes to `topic`; `kafka_config` is a producer config (bootstrap.servers …)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        # One producer per app, not per request; acks=all: "stored" means every in-sync replica has it.
        app.state.producer = AsyncProducer({**kafka_config, **PRODUCER_SETTINGS})
        try:
            yield
        finally:
            await app.state.producer.aclose()  # flush: nothing the app accepted stays in its memory

    app = FastAPI(title="orders (event-driven)", lifespan=lifespan)

    @app.post("/orders", status_code=202)
    async def place_order(order: Order, request: Request) -> dict:
        producer: AsyncProducer = request.app.state.producer
        try:
            msg = await producer.send(topic, key=order.order_id, value=order_event(order))
        except KafkaException as exc:
            raise HTTPException(503, f"could not record the order: {exc.args[0].str()}")
        return {"order_id": order.order_id, "status": "accepted", "partition": msg.partition(),
                "offset": msg.offset()}

    @app.get("/health")
    async def health() -> dict:
        return {"status": "ok", "topic": topic}

    return app
