"""What every capstone service shares: its command line, its HTTP side (/health, /metrics), its consumer loop.

A service is one OS process (started by :class:`courseapps.capstone.system.System`): an HTTP server on a
thread (``kafkacourse.server.serve``) and, in the main thread, an :class:`EventLoop` that reads the service's
topics and hands each decoded event to the service's handler. The loop is at-least-once, made effectively
once by the handlers (each keeps a SQLite store keyed by order id, and re-sends the same events, with the same
event ids, for an order it already handled):

1. poll a batch of records (up to 100) and decode each (Avro, through the registry); a record that does not decode goes to the
   service's DLQ (``<prefix>.<service>.dlq``, retry.py's headers, reason ``malformed``), as does one whose
   handler raises PermanentError;
2. the handler updates its store (one SQLite transaction) and returns the events to publish;
3. the batch's events are produced (idempotent producer, acks=all) and flushed once, then its offsets are
   committed once (a flush and a commit per record would cap a service at a few records per second).

A TransientError (or an open circuit breaker) from the handler is retried in place: the loop seeks back to
the record, pauses its assignment and keeps polling (so it stays in its group) for ``backoff`` s, then
resumes. SIGTERM stops the loop after the record in hand: consumer closed (LeaveGroup), producer flushed,
HTTP server stopped, ``closed`` printed. A SIGKILLed service's partitions come back once the broker notices
(``session.timeout.ms`` 10 s); static membership (``group.instance.id``) would skip that wait, but on a
loaded machine whose brokers restart, a member that the coordinator dropped was fenced for good
(FENCED_INSTANCE_ID, fatal in librdkafka) — so the services do without it. A commit that fails because a
rebalance took the partitions is logged, not fatal: their records come again, and the handlers make that
harmless.

Lines a service prints (JSON, read with ``ServiceProcess.events()``): ``{"event": "listening", "url": ...}``,
``{"event": "assigned", ...}``, ``{"event": "dlq", ...}``, ``{"event": "closed"}``.
"""

from __future__ import annotations

import argparse
import json
import signal
import sqlite3
import time
from datetime import datetime
from pathlib import Path
from typing import Any, Callable, Iterable

import pybreaker
from confluent_kafka import Consumer, KafkaError, KafkaException, Producer, TopicPartition
from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroDeserializer, AvroSerializer
from confluent_kafka.serialization import MessageField, SerializationContext
from fastapi import FastAPI
from fastapi import Response
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Gauge, Histogram, generate_latest

from kafkacourse.instruments.retry import PermanentError, RetryRoute, RetryRouter, TransientError

from . import contracts

# -- the metrics of the contract (CAPSTONE.md); each service process has its own registry: the default one ---
EVENTS_TOTAL = Counter("capstone_events_total", "Records a service consumed, by outcome (ok, retry, dlq).",
                       ["service", "topic", "outcome"])
DLQ_TOTAL = Counter("capstone_dlq_total", "Records a service wrote to its DLQ.", ["service"])
SAGA_OUTCOMES = Counter("capstone_saga_outcomes_total", "Orders that reached a terminal state, by outcome.",
                        ["outcome"])
ORDER_E2E = Histogram("capstone_order_e2e_seconds", "Placed → terminal state, per order (orders service).",
                      buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120))
BREAKER_STATE = Gauge("capstone_circuit_breaker_state", "0 closed, 1 open, 2 half-open.", ["service", "breaker"])
BREAKER_CODES = {"closed": 0, "open": 1, "half-open": 2}

Published = list[tuple[str, dict[str, Any]]]  # (topic suffix, event) pairs a handler asks to publish


def say(event: str, **fields: Any) -> None:
    """Print one structured line (JSON) for the log and ServiceProcess.events()."""
    print(json.dumps({"t": round(time.time(), 3), "event": event, **fields}, default=str), flush=True)


def now_ms() -> int:
    return int(time.time() * 1000)


def millis(value: Any) -> int:
    """A timestamp-millis field as int ms (fastavro decodes them to aware datetimes)."""
    return int(value.timestamp() * 1000) if isinstance(value, datetime) else int(value)


def arguments(description: str, extra: Callable[[argparse.ArgumentParser], None] | None = None) -> argparse.Namespace:
    """The command line every service takes (plus `extra` options)."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--prefix", required=True, help="the run's topic prefix")
    parser.add_argument("--bootstrap-servers", required=True)
    parser.add_argument("--registry-url", required=True)
    parser.add_argument("--port", type=int, default=0, help="HTTP port for /health and /metrics (0: any)")
    parser.add_argument("--store", required=True, help="the service's SQLite file")
    if extra:
        extra(parser)
    return parser.parse_args()


def connect_store(path: str | Path, schema: str) -> sqlite3.Connection:
    """The service's SQLite store (WAL, so the checker can read it while the service writes), `schema` applied."""
    db = sqlite3.connect(path, timeout=30, check_same_thread=False, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")  # WAL + NORMAL: a killed process loses nothing; a power cut may
    db.execute("PRAGMA busy_timeout=30000")
    db.executescript(schema)
    return db


def http_app(service: str, health: Callable[[], dict[str, Any]] | None = None, app: FastAPI | None = None) -> FastAPI:
    """`app` (or a new FastAPI app) with GET /health and GET /metrics (prometheus-client's text format)."""
    app = app or FastAPI(title=f"capstone {service}")

    @app.get("/health")
    def get_health() -> dict[str, Any]:
        return {"service": service, "status": "ok", **(health() if health else {})}

    @app.get("/metrics")
    def get_metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    return app


class Events:
    """Avro encode/decode of the run's topics against the registry (schemas registered before, never auto)."""

    def __init__(self, registry_url: str, prefix: str) -> None:
        self.registry = SchemaRegistryClient({"url": registry_url})
        self.prefix = prefix
        self.topics = contracts.topics(prefix)
        self.suffix_of = {topic: suffix for suffix, topic in self.topics.items()}
        self._serializers = {suffix: AvroSerializer(self.registry, contracts.schema_text(event),
                                                    conf={"auto.register.schemas": False})
                             for suffix, event in contracts.EVENTS.items()}
        self._deserializer = AvroDeserializer(self.registry)

    def encode(self, suffix: str, event: dict[str, Any]) -> bytes:
        topic = self.topics[suffix]
        return self._serializers[suffix](event, SerializationContext(topic, MessageField.VALUE))

    def decode(self, topic: str, value: bytes | None) -> dict[str, Any]:
        """The event of a record; PermanentError for anything that is not this topic's Avro."""
        if not value or value[:1] != b"\x00":
            raise PermanentError("not a registry-framed Avro record (no magic byte)")
        try:
            return self._deserializer(value, SerializationContext(topic, MessageField.VALUE))
        except Exception as exc:  # a broken payload: SerializationError, struct/EOF errors from fastavro
            raise PermanentError(f"undecodable record: {type(exc).__name__}: {exc}") from None


def producer_config(bootstrap_servers: str) -> dict[str, Any]:
    return {"bootstrap.servers": bootstrap_servers, "acks": "all", "enable.idempotence": True, "linger.ms": 5,
            "message.timeout.ms": 120000}


def publish(producer: Producer, events: Events, published: Iterable[tuple[str, dict[str, Any]]],
            timeout: float = 60.0) -> int:
    """Produce each (suffix, event), keyed by its order id, and wait for every ack; how many were sent."""
    sent = 0
    for suffix, event in published:
        producer.produce(events.topics[suffix], key=event["order_id"].encode(), value=events.encode(suffix, event))
        sent += 1
    if sent and producer.flush(timeout):
        raise TransientError(f"{sent} events not acknowledged within {timeout:.0f} s")
    return sent


class EventLoop:
    """The consumer loop of one service: decode, handle, publish, commit; DLQ and in-place retry on failure.

    `handler(suffix, event, msg)` returns the events to publish ([] for none).
    """

    def __init__(self, service: str, args: argparse.Namespace,
                 handler: Callable[[str, dict[str, Any], Any], Published], backoff: float = 1.0,
                 batch: int = 100) -> None:
        self.service, self.args, self.handler, self.backoff, self.batch = service, args, handler, backoff, batch
        self.events = Events(args.registry_url, args.prefix)
        self.subscribed = [self.events.topics[s] for s in contracts.CONSUMES[service]]
        self.consumer = Consumer({
            "bootstrap.servers": args.bootstrap_servers, "group.id": contracts.group(args.prefix, service),
            "session.timeout.ms": 10000,
            "enable.auto.commit": False, "auto.offset.reset": "earliest", "isolation.level": "read_committed"})
        self.producer = Producer(producer_config(args.bootstrap_servers))
        self.router = RetryRouter(self.producer, RetryRoute(f"{args.prefix}.{service}", delays=()))
        self.stopping = False
        self.assigned: list[int] = []
        signal.signal(signal.SIGTERM, self._stop)
        signal.signal(signal.SIGINT, self._stop)

    def _stop(self, *_: Any) -> None:
        self.stopping = True

    def run(self, on_close: Callable[[], None] | None = None) -> None:
        self.consumer.subscribe(self.subscribed, on_assign=self._on_assign)
        try:
            while not self.stopping:
                batch = self.consumer.consume(self.batch, 0.2)
                records = []
                for msg in batch:
                    if msg.error():
                        if msg.error().code() == KafkaError._PARTITION_EOF or not msg.error().fatal():
                            continue
                        raise KafkaException(msg.error())
                    records.append(msg)
                if records:
                    self._handle_batch(records)
        finally:
            self.consumer.close()
            self.producer.flush(10)
            if on_close:
                on_close()
            say("closed", service=self.service)

    def _on_assign(self, consumer: Any, partitions: list[TopicPartition]) -> None:
        self.assigned = sorted({p.partition for p in partitions})
        say("assigned", service=self.service, partitions=[f"{p.topic}/{p.partition}" for p in partitions])

    def _handle_batch(self, records: list[Any]) -> None:
        """Handle the records in order, publish what they asked for (one flush), commit them (one commit).

        At a transient failure the records before it are published and committed, and the loop holds at the
        failed one (:meth:`_hold`); the ones after it are polled again after the hold."""
        published: Published = []
        done: list[Any] = []
        failed = None
        for msg in records:
            suffix = self.events.suffix_of[msg.topic()]
            try:
                event = self.events.decode(msg.topic(), msg.value())
                published += self.handler(suffix, event, msg)
            except (PermanentError, ValueError, KeyError, TypeError) as exc:
                self.router.dead_letter(msg, exc, reason="malformed" if "record" in str(exc) else "permanent")
                EVENTS_TOTAL.labels(self.service, suffix, "dlq").inc()
                DLQ_TOTAL.labels(self.service).inc()
                say("dlq", service=self.service, topic=msg.topic(), key=_text(msg.key()), error=str(exc)[:200])
            except (TransientError, pybreaker.CircuitBreakerError, TimeoutError, ConnectionError,
                    sqlite3.OperationalError) as exc:
                EVENTS_TOTAL.labels(self.service, suffix, "retry").inc()
                say("retry", service=self.service, key=_text(msg.key()), error=str(exc)[:200])
                failed = msg
                break
            else:
                EVENTS_TOTAL.labels(self.service, suffix, "ok").inc()
            done.append(msg)
        try:
            publish(self.producer, self.events, published)
        except TransientError as exc:  # not acknowledged: commit nothing, read the whole batch again
            say("retry", service=self.service, error=str(exc)[:200])
            self._hold(records)
            return
        if done:
            last: dict[tuple[str, int], int] = {}
            for msg in done:
                last[(msg.topic(), msg.partition())] = msg.offset() + 1
            try:
                self.consumer.commit(offsets=[TopicPartition(t, p, o) for (t, p), o in last.items()],
                                     asynchronous=False)
            except KafkaException as exc:  # a rebalance took the partitions: their records come again (harmless)
                if exc.args[0].fatal():
                    raise
                say("commit-failed", service=self.service, error=str(exc)[:200])
        if failed is not None:
            self._hold(records[len(done):])

    def _hold(self, undone: list[Any]) -> None:
        """Seek each partition of the `undone` records back to its first one, pause the assignment for
        `backoff` s while polling on (the member stays in its group), then resume."""
        assignment = self.consumer.assignment()
        self.consumer.pause(assignment)
        first: dict[tuple[str, int], int] = {}
        for record in undone:
            first.setdefault((record.topic(), record.partition()), record.offset())
        for (topic, partition), offset in first.items():
            self.consumer.seek(TopicPartition(topic, partition, offset))
        until = time.monotonic() + self.backoff
        while time.monotonic() < until and not self.stopping:
            self.consumer.poll(0.1)  # paused: returns nothing, but keeps the member alive in its group
        self.consumer.resume(self.consumer.assignment())


def serve_http(app: FastAPI, port: int) -> Any:
    """Serve `app` on a thread; prints the ``listening`` line the System waits for."""
    from kafkacourse.server import serve

    server = serve(app, port=port)
    say("listening", url=server.url)
    return server


def _text(data: bytes | None) -> str | None:
    return None if data is None else data.decode(errors="replace")
