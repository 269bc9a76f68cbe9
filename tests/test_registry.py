"""The schema registry through confluent_kafka.schema_registry, the only way the course talks to it:
auto-register, lookup, latest version, per-subject compatibility, and a real 409 on an incompatible schema."""

from __future__ import annotations

import json

import pytest
from confluent_kafka.schema_registry import Schema, SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroDeserializer, AvroSerializer
from confluent_kafka.schema_registry.error import SchemaRegistryError
from confluent_kafka.serialization import MessageField, SerializationContext

import kafkacourse as kc

V1 = {"type": "record", "name": "Order", "namespace": "shop",
      "fields": [{"name": "id", "type": "string"}, {"name": "amount", "type": "double"}]}
V2 = dict(V1, fields=V1["fields"] + [{"name": "currency", "type": "string", "default": "EUR"}])
REQUIRED_FIELD = dict(V1, fields=V1["fields"] + [{"name": "customer", "type": "string"}])


@pytest.fixture
def registry_subject(cluster):
    registry = SchemaRegistryClient({"url": cluster.schema_registry_url})
    topic = kc.unique_name("test-orders")
    subject = f"{topic}-value"
    yield registry, topic, subject
    if subject in registry.get_subjects():
        registry.delete_subject(subject)
        registry.delete_subject(subject, permanent=True)


def test_serializers_register_and_resolve(registry_subject):
    registry, topic, subject = registry_subject
    context = SerializationContext(topic, MessageField.VALUE)
    payload = AvroSerializer(registry, json.dumps(V1))({"id": "o1", "amount": 9.5}, context)
    assert payload[0] == 0, "Confluent wire format: magic byte, then the schema id"
    assert registry.get_latest_version(subject).version == 1
    assert registry.lookup_schema(subject, Schema(json.dumps(V1), "AVRO")).version == 1
    assert AvroDeserializer(registry)(payload, context) == {"id": "o1", "amount": 9.5}
    lookup_only = AvroSerializer(registry, json.dumps(V1), conf={"auto.register.schemas": False})
    assert lookup_only({"id": "o2", "amount": 1.0}, context)[1:5] == payload[1:5]


def test_incompatible_schema_is_rejected_with_409(registry_subject):
    registry, _topic, subject = registry_subject
    registry.register_schema(subject, Schema(json.dumps(V1), "AVRO"))
    assert registry.set_compatibility(subject, "BACKWARD") == {"compatibilityLevel": "BACKWARD"}
    assert registry.get_compatibility(subject) == "BACKWARD"
    assert registry.test_compatibility(subject, Schema(json.dumps(REQUIRED_FIELD), "AVRO")) is False
    with pytest.raises(SchemaRegistryError) as err:
        registry.register_schema(subject, Schema(json.dumps(REQUIRED_FIELD), "AVRO"))
    assert err.value.http_status_code == 409
    assert registry.test_compatibility(subject, Schema(json.dumps(V2), "AVRO")) is True
    registry.register_schema(subject, Schema(json.dumps(V2), "AVRO"))
    assert registry.get_versions(subject) == [1, 2]


@pytest.fixture
def scratch_registry(scratch_home, port_offset):
    """A registry of its own (fresh database, shifted port), stopped afterwards: the shared one is never restarted."""
    from kafkacourse.stack import LocalStack

    service = LocalStack().registry
    assert service.port != 8081 and service.data_dir.is_relative_to(scratch_home)
    service.start(progress=lambda _msg: None)
    service.wait_ready()
    yield service
    service.stop()


@pytest.mark.slow
def test_registered_schemas_survive_a_registry_restart(scratch_registry):
    registry = SchemaRegistryClient({"url": scratch_registry.url})
    subject = kc.unique_name("test-orders") + "-value"
    schema_id = registry.register_schema(subject, Schema(json.dumps(V1), "AVRO"))
    assert scratch_registry.stop(), "the scratch registry was ours and running"
    assert not scratch_registry.running()
    scratch_registry.start(progress=lambda _msg: None)
    scratch_registry.wait_ready()
    fresh_client = SchemaRegistryClient({"url": scratch_registry.url})  # no client-side cache
    assert fresh_client.get_latest_version(subject).schema_id == schema_id, "down/up must not lose schemas"


@pytest.mark.slow
def test_fresh_registry_defaults_to_backward_like_confluents(scratch_registry):
    registry = SchemaRegistryClient({"url": scratch_registry.url})
    assert registry.get_compatibility() == "BACKWARD", "Confluent Schema Registry's default global level"
    subject = kc.unique_name("test-orders") + "-value"
    registry.register_schema(subject, Schema(json.dumps(V1), "AVRO"))
    with pytest.raises(SchemaRegistryError) as err:  # no per-subject level: the global BACKWARD applies
        registry.register_schema(subject, Schema(json.dumps(REQUIRED_FIELD), "AVRO"))
    assert err.value.http_status_code == 409
    registry.set_compatibility(level="NONE")  # a level set later stays across restarts (set once per database)
    scratch_registry.stop()
    scratch_registry.start(progress=lambda _msg: None)
    scratch_registry.wait_ready()
    assert SchemaRegistryClient({"url": scratch_registry.url}).get_compatibility() == "NONE"
