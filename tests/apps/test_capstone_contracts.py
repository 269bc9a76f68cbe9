"""The capstone's contracts: the schemas follow the course's rules, register schema-first with BACKWARD per
subject, and the registry refuses a change that would break a consumer."""

from __future__ import annotations

import json

import pytest
from confluent_kafka.schema_registry import Schema, SchemaRegistryClient
from confluent_kafka.schema_registry.error import SchemaRegistryError

import kafkacourse as kc
from courseapps.capstone import contracts
from kafkacourse.instruments.schemas import avro_problems, delete_subjects, schema_files


def test_every_event_has_a_schema_that_passes_the_course_lint_and_carries_the_common_fields():
    files = {p.stem: p for p in schema_files(contracts.SCHEMA_DIR)}
    assert set(files) == set(contracts.EVENTS.values())
    for name, path in files.items():
        assert avro_problems(path) == [], name
        fields = {f["name"]: f for f in contracts.schema(name)["fields"]}
        assert {"event_id", "order_id", "occurred_at"} <= set(fields), name
        assert fields["occurred_at"]["type"]["logicalType"] == "timestamp-millis"
    placed = {f["name"] for f in contracts.schema("OrderPlaced")["fields"]}
    assert {"customer_id", "lines", "total", "placed_at"} <= placed


def test_topic_names_dlqs_and_bad_input():
    t = contracts.topics("run-1")
    assert t["orders.placed"] == "run-1.orders.placed" and len(t) == 9
    assert contracts.dlq("run-1", "inventory") == "run-1.inventory.dlq"
    assert len(contracts.all_topics("run-1")) == 9 + len(contracts.CONSUMES)
    consumed = {s for topics in contracts.CONSUMES.values() for s in topics}
    assert consumed <= set(contracts.EVENTS)
    with pytest.raises(ValueError, match="prefix"):
        contracts.topics("bad prefix!")
    with pytest.raises(ValueError, match="no DLQ"):
        contracts.dlq("run-1", "provider")
    assert contracts.event_id("OrderPlaced", "o-1") == contracts.event_id("OrderPlaced", "o-1")
    assert contracts.event_id("OrderPlaced", "o-1") != contracts.event_id("OrderCompleted", "o-1")


def test_registered_schema_first_with_backward_and_a_breaking_change_is_refused(cluster):
    registry = SchemaRegistryClient(cluster.registry_config())
    prefix = kc.unique_name("capstone-test")
    subjects = [contracts.subject(t) for t in contracts.topics(prefix).values()]
    try:
        ids = contracts.register_schemas(registry, prefix)
        assert set(ids) == set(subjects)
        assert contracts.register_schemas(registry, prefix) == ids, "registering again changes nothing"
        placed = contracts.subject(contracts.topics(prefix)["orders.placed"])
        assert registry.get_compatibility(placed) == "BACKWARD"

        schema = contracts.schema("OrderPlaced")
        breaking = {**schema, "fields": [*schema["fields"], {"name": "coupon", "type": "string"}]}  # no default
        with pytest.raises(SchemaRegistryError) as refused:
            registry.register_schema(placed, Schema(json.dumps(breaking), "AVRO"))
        assert refused.value.http_status_code == 409
        assert registry.get_versions(placed) == [1], "the refused version was not stored"

        compatible = {**schema, "fields": [*schema["fields"],
                                            {"name": "coupon", "type": ["null", "string"], "default": None}]}
        registry.register_schema(placed, Schema(json.dumps(compatible), "AVRO"))
        assert registry.get_versions(placed) == [1, 2], "a new field with a default is BACKWARD"
    finally:
        delete_subjects(registry, subjects)
