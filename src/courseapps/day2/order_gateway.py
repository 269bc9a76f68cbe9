"""An order API that answers 201 only once Kafka has the order, and 503 when Kafka cannot confirm it in time.

* ``POST /orders`` — produce the order (key = ``order_id``) and wait for its delivery report. 201 with the
  partition and offset once the brokers acknowledged it (``acks=all``, idempotent producer).
  When the delivery fails with an error that may go away (the network was down until ``delivery.timeout.ms``
  expired: ``_MSG_TIMED_OUT``; no leader; not enough in-sync replicas; see :func:`worth_retrying`): **503**
  with ``Retry-After`` and ``"retriable": true``, and a body that says the order may or may not be stored
  and that the caller should retry **with the same Idempotency-Key**. Any other failure (the broker refused
  this record for good, e.g. ``MSG_SIZE_TOO_LARGE``): **500** with ``"retriable": false`` and no
  ``Retry-After``, because sending the same request again cannot succeed.
* An optional ``Idempotency-Key`` header (the client makes one per order and sends it with every attempt):
  the gateway answers a key it already stored an order for with that first answer (the same 201 body) and
  produces nothing; and it writes the key into the record's ``idempotency-key`` header, so that a consumer can drop the second copy of an order whose first attempt got a 503 *and* was stored after all
  (the gateway cannot know that one). Here the store is this process's memory; the Day 2 lab makes it durable.
* ``GET /stats`` — how many orders were stored, replayed for a known key, or failed (by Kafka error name).
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
from typing import Annotated, Any

from confluent_kafka import KafkaError, KafkaException
from fastapi import FastAPI, Header, HTTPException, Request

from courseapps.day1.models import Order
from kafkacourse.instruments.aio import AsyncProducer
from kafkacourse.client_env import env_client_settings

RETRY_AFTER_S = 1

# Errors after which the same request, sent again a little later, can succeed. librdkafka marks some errors
# retriable itself (error.retriable()), but not _MSG_TIMED_OUT: the client has already retried until
# delivery.timeout.ms ran out. For the *caller* of an API, though, a timeout is the textbook "try again later".
TRY_AGAIN_LATER = frozenset({
    KafkaError._MSG_TIMED_OUT, KafkaError._TIMED_OUT, KafkaError._TRANSPORT, KafkaError._ALL_BROKERS_DOWN,
    KafkaError._QUEUE_FULL, KafkaError.REQUEST_TIMED_OUT, KafkaError.LEADER_NOT_AVAILABLE,
    KafkaError.NOT_LEADER_FOR_PARTITION, KafkaError.NOT_ENOUGH_REPLICAS, KafkaError.NOT_ENOUGH_REPLICAS_AFTER_APPEND,
})


def worth_retrying(error: KafkaError) -> bool:
    """True when the caller may retry the same request later (answer 503), False when it cannot help (500).

    >>> worth_retrying(KafkaError(KafkaError._MSG_TIMED_OUT))
    True
    >>> worth_retrying(KafkaError(KafkaError.MSG_SIZE_TOO_LARGE))
    False
    """
    return error.retriable() or error.code() in TRY_AGAIN_LATER


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
        return {**env_client_settings(), "bootstrap.servers": self.bootstrap_servers, "acks": "all", "enable.idempotence": True,
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
        app.state.answers = {}  # Idempotency-Key -> the 201 body it got (this process's memory only)
        try:
            yield
        finally:
            await app.state.producer.aclose()  # flush what is still queued

    app = FastAPI(title="order gateway", lifespan=lifespan)

    @app.post("/orders", status_code=201)
    async def place_order(order: Order, request: Request,
                          idempotency_key: Annotated[str | None, Header(min_length=1, max_length=200)] = None) -> dict:
        producer: AsyncProducer = request.app.state.producer
        outcomes: Counter = request.app.state.outcomes
        answers: dict = request.app.state.answers
        if idempotency_key is not None and idempotency_key in answers:
            outcomes["replayed"] += 1
            return answers[idempotency_key]  # this key's order is stored: the same answer, nothing produced
        value = json.dumps(order.model_dump()).encode()
        headers = {"idempotency-key": idempotency_key} if idempotency_key else None
        retry_with = "the same Idempotency-Key" if idempotency_key else "the same order_id"
        try:
            msg = await asyncio.wait_for(
                producer.send(settings.topic, value=value, key=order.order_id, headers=headers), wait_s)
        except KafkaException as exc:
            error = exc.args[0]
            outcomes[error.name()] += 1
            if not worth_retrying(error):
                raise HTTPException(500, detail={
                    "message": f"Kafka refused order {order.order_id!r}: {error.str()}. Retrying will not help.",
                    "kafka_error": error.name(), "retriable": False, "order_id": order.order_id})
            raise HTTPException(503, detail={
                "message": f"Kafka did not acknowledge order {order.order_id!r}: {error.str()}. It may or may not "
                           f"be stored; retry with {retry_with}.",
                "kafka_error": error.name(), "retriable": True, "order_id": order.order_id,
            }, headers={"Retry-After": str(RETRY_AFTER_S)})
        except asyncio.TimeoutError:
            outcomes["NO_DELIVERY_REPORT"] += 1
            raise HTTPException(503, detail={
                "message": f"no delivery report for order {order.order_id!r} within {wait_s:.0f} s; it may or "
                           f"may not be stored; retry with {retry_with}.",
                "kafka_error": None, "retriable": True, "order_id": order.order_id,
            }, headers={"Retry-After": str(RETRY_AFTER_S)})
        outcomes["stored"] += 1
        answer = {"order_id": order.order_id, "partition": msg.partition(), "offset": msg.offset()}
        if idempotency_key is not None:
            answers[idempotency_key] = answer
        return answer

    @app.get("/stats")
    async def stats(request: Request) -> dict:
        return dict(request.app.state.outcomes)

    @app.get("/health")
    async def health() -> dict:
        return {"status": "ok", "bootstrap_servers": settings.bootstrap_servers, "topic": settings.topic,
                "delivery_timeout_ms": settings.delivery_timeout_ms, "socket_timeout_ms": settings.socket_timeout_ms}

    return app
