"""A schema contract test: the next OrderPlaced schema must stay readable by today's consumers.

The consumers read with schemas/OrderPlaced.avsc. The test registers it in a fresh subject with FORWARD
compatibility (data written with the new schema must be readable with the old one) and asks the registry
(its Confluent-compatible API) whether the candidate passes. The candidate is $ORDER_SCHEMA_CANDIDATE (a path
to an .avsc), by default today's schema plus an optional field. Lesson 06 runs it with a breaking candidate.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from confluent_kafka.schema_registry import Schema, SchemaRegistryClient

import kafkacourse as kc
from kafkacourse.instruments.schemas import delete_subjects

REPO = Path(__file__).resolve().parents[1]
CONSUMERS_SCHEMA = REPO / "schemas" / "OrderPlaced.avsc"


def candidate_schema() -> dict:
    path = os.environ.get("ORDER_SCHEMA_CANDIDATE")
    if path:
        return json.loads(Path(path).read_text())
    schema = json.loads(CONSUMERS_SCHEMA.read_text())
    schema["fields"].append({"name": "note", "type": ["null", "string"], "default": None})
    return schema


@pytest.fixture
def subject(cluster):
    registry = SchemaRegistryClient(cluster.registry_config())
    name = kc.unique_name("contract-orderplaced") + "-value"
    registry.register_schema(name, Schema(CONSUMERS_SCHEMA.read_text(), "AVRO"))
    registry.set_compatibility(name, "FORWARD")
    yield registry, name
    delete_subjects(registry, [name])


def test_the_next_order_schema_keeps_consumers_reading(subject):
    registry, name = subject
    candidate = candidate_schema()
    assert registry.test_compatibility(name, Schema(json.dumps(candidate), "AVRO")), (
        f"the candidate OrderPlaced schema (fields {[f['name'] for f in candidate['fields']]}) would break "
        f"consumers reading with {CONSUMERS_SCHEMA.name}")
