"""An order API that answers 201 only once Kafka has the order, and 503 when Kafka cannot confirm it in time.

* ``POST /orders`` — produce the order (key = ``order_id``) and wait for its delivery report. 201 with the
  partition and offset once the brokers acknowledged it (``acks=all``, idempotent producer). If the producer
  gives up — ``delivery.timeout.ms`` expired while the network was down (``_MSG_TIMED_OUT``), or the broker
  refused the record — 503 with a ``Retry-After`` header and a body that says what happened and that the
  caller should retry **with the same order_id** (the order may or may not be stored: a timed-out request
  can have reached the broker).
* ``GET /stats`` — how many orders were stored and how many got a 503, by Kafka error name.
* ``GET /health`` — the settings the app runs with.

Everything comes from :class:`Settings`, so the lesson can point the app at the brokers through a fault
proxy (``cluster.proxied_bootstrap_servers``) and choose how long it may wait:

>>> import kafkacourse as kc
>>> settings = Settings(cluster.proxied_bootstrap_servers, topic, delivery_timeout_ms=2000)
>>> api = kc.serve(create_app(settings))
>>> httpx.post(api.url + "/orders", json={"order_id": "o-1", "customer": "ada", "amount": 9.5})   # 201 or 503
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from confluent_kafka import KafkaException
from fastapi import FastAPI, HTTPException, Request

from courseapps.day1.models import Order
from kafkacourse.instruments.aio import AsyncProducer

RETRY_AFTER_S = 1


@dataclass
class Settings:
    """Where the gateway produces and how long it waits for Kafka.

    `delivery_timeout_ms` bounds the producer's retries of one record (``delivery.timeout.ms``): past it the
    record fails with ``_MSG_TIMED_OUT`` and the request gets a 503. `socket_timeout_ms` is how long one
    request to a broker may stay unanswered before the client drops that connection and retries.
    `producer_config` adds or overrides any librdkafka setting.
    """

    bootstrap_servers: str
    topic: str
    delivery_timeout_ms: int = 3000
    socket_timeout_ms: int = 1000
    producer_config: dict[str, Any] = field(default_factory=dict)

    def kafka_config(self) -> dict[str, Any]:
        return {"bootstrap.servers": self.bootstrap_servers, "acks": "all", "enable.idempotence": True,
                "delivery.timeout.ms": self.delivery_timeout_ms, "socket.timeout.ms": self.socket_timeout_ms,
                "linger.ms": 5, **self.producer_config}


def create_app(settings: Settings) -> FastAPI:
    """The order gateway for `settings` (see the module docstring); one producer, made in the lifespan."""
    # The delivery report decides the answer; this only guards against a report that never comes at all.
    wait_s = settings.delivery_timeout_ms / 1000 + 5

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        app.state.producer = AsyncProducer(settings.kafka_config())
        app.state.outcomes = Counter()
        try:
            yield
        finally:
            await app.state.producer.aclose()  # flush what is still queued

    app = FastAPI(title="order gateway", lifespan=lifespan)

    @app.post("/orders", status_code=201)
    async def place_order(order: Order, request: Request) -> dict:
        producer: AsyncProducer = request.app.state.producer
        outcomes: Counter = request.app.state.outcomes
        value = json.dumps(order.model_dump()).encode()
        try:
            msg = await asyncio.wait_for(producer.send(settings.topic, value=value, key=order.order_id), wait_s)
        except KafkaException as exc:
            error = exc.args[0]
            outcomes[error.name()] += 1
            raise HTTPException(503, detail={
                "message": f"Kafka did not acknowledge order {order.order_id!r}: {error.str()}. It may or may not "
                           f"be stored; retry with the same order_id.",
                "kafka_error": error.name(), "retriable": error.retriable(), "order_id": order.order_id,
            }, headers={"Retry-After": str(RETRY_AFTER_S)})
        except asyncio.TimeoutError:
            outcomes["NO_DELIVERY_REPORT"] += 1
            raise HTTPException(503, detail={
                "message": f"no delivery report for order {order.order_id!r} within {wait_s:.0f} s; it may or "
                           f"may not be stored; retry with the same order_id.",
                "kafka_error": None, "retriable": True, "order_id": order.order_id,
            }, headers={"Retry-After": str(RETRY_AFTER_S)})
        outcomes["stored"] += 1
        return {"order_id": order.order_id, "partition": msg.partition(), "offset": msg.offset()}

    @app.get("/stats")
    async def stats(request: Request) -> dict:
        return dict(request.app.state.outcomes)

    @app.get("/health")
    async def health() -> dict:
        return {"status": "ok", "bootstrap_servers": settings.bootstrap_servers, "topic": settings.topic,
                "delivery_timeout_ms": settings.delivery_timeout_ms, "socket_timeout_ms": settings.socket_timeout_ms}

    return app
