"""schemas/: every file lints clean and loads; the small proto3 parser builds the descriptors protoc would;
register_all and the Protobuf serializers work against the live registry and broker."""

from __future__ import annotations

import json

import pytest
from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroSerializer
from confluent_kafka.schema_registry.error import SchemaRegistryError
from confluent_kafka.schema_registry.protobuf import ProtobufDeserializer, ProtobufSerializer
from confluent_kafka.serialization import MessageField, SerializationContext
from google.protobuf import descriptor_pb2

import kafkacourse as kc
from kafkacourse.instruments import schemas
from kafkacourse.instruments.naming import topic_problems

FDP = descriptor_pb2.FieldDescriptorProto


@pytest.fixture
def registry(cluster):
    return SchemaRegistryClient({"url": cluster.schema_registry_url})


def test_schema_files_lint_clean():
    avsc = schemas.schema_files()
    assert {p.stem for p in avsc} >= {"OrderPlaced", "OrderShipped", "PaymentReceived"}
    assert {p.name: schemas.avro_problems(p) for p in avsc} == {p.name: [] for p in avsc}
    assert schemas.load_avro("OrderPlaced")["name"] == "OrderPlaced"
    assert [p.stem for p in schemas.schema_files(suffix=".proto")] == ["OrderPlaced"]


def test_avro_problems_say_what_is_wrong(tmp_path):
    bad = tmp_path / "Orders.avsc"
    bad.write_text('{"type": "record", "name": "PlaceOrder", "fields": [{"name": "id", "type": "string"}]}')
    problems = " | ".join(schemas.avro_problems(bad))
    for reason in ("past-tense", "file is 'Orders.avsc'", "no namespace", "no doc"):
        assert reason in problems
    broken = tmp_path / "OrderPlaced.avsc"
    broken.write_text('{"type": "record", "name": "OrderPlaced", "fields": [{"name": "id", "type": "strng"}]}')
    assert "not a valid Avro schema" in schemas.avro_problems(broken)[0]


def test_parse_proto_builds_the_descriptor_protoc_would():
    parsed = schemas.parse_proto('''
        syntax = "proto3";
        package demo.v1;   // a comment
        /* a block
           comment */
        enum Status { STATUS_UNSPECIFIED = 0; STATUS_OPEN = 1; }
        message Order {
          string id = 1;
          repeated Line lines = 2;
          Status status = 3;
          optional int64 discount = 4;
          reserved 7, 9 to 11;
          reserved "legacy";
          message Line { sint32 qty = 1; bytes blob = 2; }
        }''', name="demo.proto")
    expected = descriptor_pb2.FileDescriptorProto(name="demo.proto", package="demo.v1", syntax="proto3")
    enum = expected.enum_type.add(name="Status")
    enum.value.add(name="STATUS_UNSPECIFIED", number=0)
    enum.value.add(name="STATUS_OPEN", number=1)
    order = expected.message_type.add(name="Order")
    order.field.add(name="id", number=1, label=FDP.LABEL_OPTIONAL, type=FDP.TYPE_STRING)
    order.field.add(name="lines", number=2, label=FDP.LABEL_REPEATED, type=FDP.TYPE_MESSAGE,
                    type_name=".demo.v1.Order.Line")
    order.field.add(name="status", number=3, label=FDP.LABEL_OPTIONAL, type=FDP.TYPE_ENUM, type_name=".demo.v1.Status")
    order.field.add(name="discount", number=4, label=FDP.LABEL_OPTIONAL, type=FDP.TYPE_INT64, oneof_index=0,
                    proto3_optional=True)
    order.oneof_decl.add(name="_discount")
    order.reserved_range.add(start=7, end=8)
    order.reserved_range.add(start=9, end=12)
    order.reserved_name.append("legacy")
    line = order.nested_type.add(name="Line")
    line.field.add(name="qty", number=1, label=FDP.LABEL_OPTIONAL, type=FDP.TYPE_SINT32)
    line.field.add(name="blob", number=2, label=FDP.LABEL_OPTIONAL, type=FDP.TYPE_BYTES)
    assert parsed == expected


@pytest.mark.parametrize("text, reason", [
    ('message A { string a = 1; }', 'must start with syntax'),
    ('syntax = "proto2"; message A { string a = 1; }', "only proto3"),
    ('syntax = "proto3"; import "x.proto";', "not supported"),
    ('syntax = "proto3"; message A { map<string, string> m = 1; }', "'map' is not supported"),
    ('syntax = "proto3"; message A { Missing m = 1; }', "unknown type 'Missing'"),
    ('syntax = "proto3"; message A { string a = 1 [deprecated = true]; }', "field options"),
    ('syntax = "proto3"; enum E { ONE = 1; }', "first value must be 0"),
    ('syntax = "proto3"; message A { string a = 1; ', "unexpected end of file"),
    ('syntax = "proto3"; message A { string a = 1; } $', "unexpected character"),
])
def test_parse_proto_refuses_what_it_does_not_support(text, reason):
    with pytest.raises(schemas.ProtoSyntaxError, match=reason):
        schemas.parse_proto(text)


def test_proto_message_class_encodes_the_protobuf_wire_format():
    OrderPlaced = schemas.proto_message_class("OrderPlaced")
    assert schemas.proto_message_class("OrderPlaced") is OrderPlaced, "one class per file, not one per call"
    msg = OrderPlaced(order_id="o1", lines=[OrderPlaced.OrderLine(sku="a", quantity=2)])
    # field 2 (order_id), length 2, "o1"; field 4 (lines), length 5: field 1 "a", field 2 varint 2
    assert msg.SerializeToString() == bytes.fromhex("12026f31" "2205" "0a0161" "1002")
    assert OrderPlaced.FromString(msg.SerializeToString()) == msg


def test_register_all_registers_every_avsc_under_conventional_subjects(registry):
    domain = kc.unique_name("test-shop")
    registered = schemas.register_all(registry, domain)
    try:
        assert len(registered) == len(schemas.schema_files())
        assert all(topic_problems(t) == [] for t in registered.topic)
        assert set(registered.subject) <= set(registry.get_subjects())
        assert (registered.version == 1).all()
        again = schemas.register_all(registry, domain)  # idempotent: same ids, still version 1
        assert again.schema_id.tolist() == registered.schema_id.tolist() and (again.version == 1).all()
        topic = registered.set_index("event_type").topic["OrderShipped"]
        lookup_only = AvroSerializer(registry, json.dumps(schemas.load_avro("OrderShipped")),
                                     conf={"auto.register.schemas": False})
        value = lookup_only({"event_id": "e", "order_id": "o", "carrier": "ups", "tracking_number": None,
                             "shipped_at": 0}, SerializationContext(topic, MessageField.VALUE))
        assert int.from_bytes(value[1:5], "big") == registered.set_index("event_type").schema_id["OrderShipped"]
    finally:
        assert sorted(schemas.delete_subjects(registry, registered.subject)) == sorted(registered.subject)
    assert not set(registered.subject) & set(registry.get_subjects())
    assert schemas.delete_subjects(registry, registered.subject) == [], "deleting twice is a no-op"


def test_protobuf_schema_first_round_trip_through_the_broker(cluster, registry):
    OrderPlaced = schemas.proto_message_class("OrderPlaced")
    topic = cluster.create_topic(kc.unique_name("test-proto"))
    subject = f"{topic}-value"
    context = SerializationContext(topic, MessageField.VALUE)
    try:
        serialize = ProtobufSerializer(OrderPlaced, registry, {"auto.register.schemas": False})
        order = OrderPlaced(event_id="e1", order_id="o1", total_cents=500,
                            lines=[OrderPlaced.OrderLine(sku="sku-1", quantity=2, unit_price_cents=250)])
        with pytest.raises(SchemaRegistryError) as err:
            serialize(order, context)
        assert err.value.http_status_code == 404
        registered = schemas.register_proto(registry, subject, OrderPlaced)
        serialize = ProtobufSerializer(OrderPlaced, registry, {"auto.register.schemas": False})
        value = serialize(order, context)
        assert value[0] == 0 and int.from_bytes(value[1:5], "big") == registered.schema_id
        assert value[5] == 0, "message index [0]: the file's first message"
        assert value[6:] == order.SerializeToString()
        cluster.produce(topic, [(b"o1", value)])
        (raw,) = schemas.read_values(cluster, topic, n=1)
        assert raw == value
        assert ProtobufDeserializer(OrderPlaced, {}, registry)(raw, context) == order
    finally:
        schemas.delete_subjects(registry, [subject])
        cluster.delete_topic(topic)


def test_the_registry_own_protobuf_parser_accepts_every_proto_file(registry):
    """An independent check of the .proto files: Apicurio parses the text with a real protobuf parser
    (422 on invalid text) before it stores it."""
    from confluent_kafka.schema_registry import Schema

    subject = f"{kc.unique_name('test-proto-text')}-value"
    try:
        with pytest.raises(SchemaRegistryError) as err:
            registry.register_schema(subject, Schema('syntax = "proto3"; message A { string a = 1 }', "PROTOBUF"))
        assert err.value.http_status_code == 422
        for path in schemas.schema_files(suffix=".proto"):
            schemas.load_proto(path)  # our parser reads it ...
            assert registry.register_schema(subject, Schema(path.read_text(), "PROTOBUF")) > 0  # ... and so does theirs
    finally:
        schemas.delete_subjects(registry, [subject])
