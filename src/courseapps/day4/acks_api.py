"""The same order endpoint with and without Kafka, to measure what waiting for ``acks=all`` adds to a request.

``POST /orders`` validates the order (``courseapps.day1.models.Order``) and encodes it as JSON; then, when the
app was made with a Kafka config, it produces the record with ``acks=all`` and awaits its delivery report
(``kafkacourse.instruments.aio.AsyncProducer``: the event loop stays free meanwhile) and answers 201 with
partition and offset; without Kafka it answers 201 at once. Everything else is identical.

>>> with_kafka = create_app(cluster.config(), topic)
>>> without = create_app(None, topic)
>>> python -m courseapps.day4.acks_api --port 8700 --topic T [--no-kafka]      # as its own process
"""

from __future__ import annotations

import argparse
import json
import sys
from contextlib import asynccontextmanager
from typing import Any

from confluent_kafka import KafkaException
from fastapi import FastAPI, HTTPException, Request

from courseapps.day1.models import Order
from kafkacourse.client_env import env_client_settings


def create_app(kafka_config: dict[str, Any] | None, topic: str) -> FastAPI:
    """The order API; `kafka_config` None: the same endpoint, without Kafka."""

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        app.state.producer = None
        if kafka_config is not None:
            from kafkacourse.instruments.aio import AsyncProducer

            app.state.producer = AsyncProducer({**kafka_config, "acks": "all"})
        try:
            yield
        finally:
            if app.state.producer is not None:
                await app.state.producer.aclose()

    app = FastAPI(title=f"orders ({'acks=all' if kafka_config is not None else 'no Kafka'})", lifespan=lifespan)

    @app.post("/orders", status_code=201)
    async def place_order(order: Order, request: Request) -> dict:
        value = json.dumps(order.model_dump()).encode()
        producer = request.app.state.producer
        if producer is None:
            return {"order_id": order.order_id, "bytes": len(value)}
        try:
            msg = await producer.send(topic, value=value, key=order.order_id)
        except KafkaException as exc:
            raise HTTPException(503, f"could not record the order: {exc.args[0].str()}")
        return {"order_id": order.order_id, "bytes": len(value), "partition": msg.partition(), "offset": msg.offset()}

    return app


def main(argv: list[str] | None = None) -> int:
    import uvicorn

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bootstrap-servers", default="localhost:9092")
    parser.add_argument("--topic", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--no-kafka", action="store_true")
    args = parser.parse_args(argv)
    config = None if args.no_kafka else {**env_client_settings(), "bootstrap.servers": args.bootstrap_servers}
    uvicorn.run(create_app(config, args.topic), host="127.0.0.1", port=args.port, log_level="warning")
    return 0


if __name__ == "__main__":
    sys.exit(main())
