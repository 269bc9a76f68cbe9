"""The capstone's contracts: topic names, which event each topic carries, who consumes what, the Avro schemas.

Every topic of one run starts with the run's prefix (``kc.unique_name("capstone")``), so runs never collide;
the key is the order id everywhere, so every event of one order lands on one partition, in order.

>>> t = topics("capstone-3f9a1c")
>>> t["orders.placed"]                      # 'capstone-3f9a1c.orders.placed'
>>> EVENTS["orders.placed"]                 # 'OrderPlaced' (schemas/capstone/OrderPlaced.avsc)
>>> CONSUMES["inventory"]                   # ['orders.placed', 'payments.failed']
>>> register_schemas(registry, "capstone-3f9a1c")   # schema-first, BACKWARD per subject

Subjects follow TopicNameStrategy (``<topic>-value``). The producers never auto-register: a service whose
schema is not the registered one fails at its first record, not silently with a new version.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import fastavro
from confluent_kafka.schema_registry import Schema, SchemaRegistryClient

SCHEMA_DIR = Path(__file__).resolve().parents[3] / "schemas" / "capstone"
PARTITIONS = 3
COMPATIBILITY = "BACKWARD"

# topic suffix → the event type it carries (one event type per topic)
EVENTS: dict[str, str] = {
    "orders.placed": "OrderPlaced",
    "inventory.reserved": "InventoryReserved",
    "inventory.rejected": "InventoryRejected",
    "inventory.released": "InventoryReleased",
    "payments.charged": "PaymentCharged",
    "payments.failed": "PaymentFailed",
    "shipping.shipped": "OrderShipped",
    "orders.completed": "OrderCompleted",
    "orders.cancelled": "OrderCancelled",
}

# service → the topics (suffixes) its consumer reads; each consuming service has its own DLQ <p>.<service>.dlq
CONSUMES: dict[str, list[str]] = {
    "orders": ["inventory.rejected", "payments.failed", "shipping.shipped"],
    "inventory": ["orders.placed", "payments.failed"],
    "payments": ["inventory.reserved"],
    "shipping": ["payments.charged"],
    "notifications": ["orders.completed", "orders.cancelled"],
}
SERVICES: tuple[str, ...] = ("orders", "inventory", "payments", "shipping", "notifications")

TERMINAL_STATES = ("COMPLETED", "CANCELLED")
CANCEL_REASONS = ("out_of_stock", "payment_failed")
SAGA_OUTCOMES = ("completed", "cancelled_out_of_stock", "cancelled_payment_failed")


def topics(prefix: str) -> dict[str, str]:
    """Every event topic of the run `prefix`, by suffix: ``{"orders.placed": "<prefix>.orders.placed", ...}``."""
    _check_prefix(prefix)
    return {suffix: f"{prefix}.{suffix}" for suffix in EVENTS}


def dlq(prefix: str, service: str) -> str:
    """The DLQ of a consuming service: ``<prefix>.<service>.dlq``."""
    if service not in CONSUMES:
        raise ValueError(f"{service!r} consumes nothing and has no DLQ; services with one: {sorted(CONSUMES)}")
    return f"{prefix}.{service}.dlq"


def all_topics(prefix: str) -> list[str]:
    """The event topics and every DLQ of the run."""
    return [*topics(prefix).values(), *(dlq(prefix, s) for s in CONSUMES)]


def group(prefix: str, service: str) -> str:
    """The consumer group of a service in the run `prefix`."""
    return f"{prefix}.{service}"


def subject(topic: str) -> str:
    return f"{topic}-value"


def schema(event_type: str) -> dict[str, Any]:
    """The Avro schema of an event type, from schemas/capstone/<EventType>.avsc (parsed by fastavro first).

    Read here rather than with kafkacourse.instruments.schemas.load_avro, which imports pandas and protobuf:
    every service process imports this module, and start-up time counts on a 2-core machine."""
    path = SCHEMA_DIR / f"{event_type}.avsc"
    if not path.is_file():
        raise FileNotFoundError(f"no schema file {path} (the capstone's events: {sorted(EVENTS.values())})")
    loaded = json.loads(path.read_text())
    fastavro.parse_schema(loaded)
    return loaded


def schema_text(event_type: str) -> str:
    return json.dumps(schema(event_type))


def register_schemas(registry: SchemaRegistryClient, prefix: str) -> dict[str, int]:
    """Schema-first: set BACKWARD on each subject of the run, then register its schema; ``{subject: schema_id}``.

    Registering the schema a subject already has is a no-op that returns the same id (idempotent).
    """
    ids = {}
    for suffix, topic in topics(prefix).items():
        name = subject(topic)
        registry.set_compatibility(subject_name=name, level=COMPATIBILITY)
        ids[name] = registry.register_schema(name, Schema(schema_text(EVENTS[suffix]), "AVRO"))
    return ids


def event_id(event_type: str, order_id: str) -> str:
    """The id of the one `event_type` event about `order_id`: a uuid5, so a re-sent event keeps its id."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"capstone:{event_type}:{order_id}"))


def _check_prefix(prefix: str) -> None:
    if not prefix or any(c not in "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_" for c in prefix):
        raise ValueError(f"a run prefix is letters, digits, '-' and '_' (e.g. kc.unique_name('capstone')), not {prefix!r}")
