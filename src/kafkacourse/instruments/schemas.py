"""Schema-first: the repo's ``schemas/`` folder is the source of truth, registered before any producer runs.

``schemas/<EventType>.avsc`` holds one Avro record per event type (file named after the record), and
``schemas/<EventType>.proto`` the same event for Protobuf. This module loads and lints them, registers them
under the subjects of the course's topics (``<topic>-value``, the serializers' default TopicNameStrategy), and
cleans subjects up again.

There is no ``protoc`` in the course environment: :func:`parse_proto` reads the small proto3 subset the
course's files use (messages, nested messages, enums, scalar / message / enum fields, ``repeated``,
``optional``, ``reserved``) into a ``FileDescriptorProto``, and :func:`proto_message_class` builds the message
class at run time from it, as a generated ``_pb2`` module would.

>>> registry = SchemaRegistryClient({"url": cluster.schema_registry_url})
>>> registered = register_all(registry, domain="shop")     # every .avsc, under shop.<entity>.<event>.v1-value
>>> OrderPlaced = proto_message_class("OrderPlaced")       # a protobuf Message class from schemas/OrderPlaced.proto
>>> delete_subjects(registry, registered.subject)
"""

from __future__ import annotations

import base64
import functools
import json
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import fastavro
import httpx
import pandas as pd
from confluent_kafka.schema_registry import RegisteredSchema, Schema, SchemaRegistryClient
from confluent_kafka.schema_registry.error import SchemaRegistryError
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from google.protobuf.message import Message

from .naming import event_type_problems, topic_for

SCHEMA_DIR = Path(__file__).resolve().parents[3] / "schemas"  # the repo checkout's schemas/ folder


def registry_flavour(url: str, timeout: float = 5.0) -> str:
    """Which schema registry answers at `url` (the URL the serializers use): ``"apicurio"`` or ``"confluent"``.

    The local stack runs Apicurio Registry behind its Confluent-compatible API (``.../apis/ccompat/v7``);
    docker compose runs Confluent's Schema Registry. Lessons ask this where the two behave differently, and
    show the difference instead of stating one registry's behaviour as the rule. Apicurio is recognised by
    its own API (``/apis/registry/v3/system/info``) on the same server; anything else counts as Confluent.

    >>> registry_flavour(cluster.schema_registry_url)
    'apicurio'
    """
    root = url.split("/apis/", 1)[0].rstrip("/")
    try:
        info = httpx.get(f"{root}/apis/registry/v3/system/info", timeout=timeout)
    except httpx.HTTPError as exc:
        raise ConnectionError(f"no schema registry answers at {url}: {exc}") from exc
    return "apicurio" if info.status_code == 200 and "apicurio" in info.text.lower() else "confluent"


def _path(event_type_or_path: str | Path, suffix: str, directory: Path | None) -> Path:
    path = Path(event_type_or_path)
    if path.suffix != suffix:
        path = (directory or SCHEMA_DIR) / f"{event_type_or_path}{suffix}"
    if not path.is_file():
        raise FileNotFoundError(f"no schema file {path}")
    return path


def schema_files(directory: Path | None = None, suffix: str = ".avsc") -> list[Path]:
    """The schema files with that suffix (``.avsc`` or ``.proto``) in `directory` (the repo's schemas/), sorted."""
    return sorted((directory or SCHEMA_DIR).glob(f"*{suffix}"))


# -- Avro ------------------------------------------------------------------------------------------------------
def load_avro(event_type_or_path: str | Path, directory: Path | None = None) -> dict[str, Any]:
    """The Avro schema of an event type (``"OrderPlaced"`` → schemas/OrderPlaced.avsc) as a dict.

    fastavro parses it first, so an invalid schema (an unknown type, a default of the wrong type) raises here.
    """
    schema = json.loads(_path(event_type_or_path, ".avsc", directory).read_text())
    fastavro.parse_schema(schema)
    return schema


def avro_problems(path: Path) -> list[str]:
    """What breaks the course's rules in one .avsc file: a record named after the file, a valid event-type
    name, a namespace and a doc string. Empty when the file is fine."""
    try:
        schema = load_avro(path)
    except (ValueError, fastavro.schema.SchemaParseException) as exc:
        return [f"is not a valid Avro schema: {exc}"]
    if not isinstance(schema, dict) or schema.get("type") != "record":
        return ["is not an Avro record"]
    problems = [f"record name {schema.get('name')!r}: {p}" for p in event_type_problems(schema.get("name", ""))]
    if schema.get("name") != path.stem:
        problems.append(f"record is named {schema.get('name')!r} but the file is {path.name!r}")
    if not schema.get("namespace"):
        problems.append("has no namespace")
    if not schema.get("doc"):
        problems.append("has no doc: say what happened, in one sentence")
    return problems


def avro_schemas(directory: Path | None = None) -> dict[str, dict[str, Any]]:
    """Every .avsc in `directory`, by event type (the file name), loaded with :func:`load_avro`."""
    return {path.stem: load_avro(path) for path in schema_files(directory)}


def register_all(registry: SchemaRegistryClient, domain: str, directory: Path | None = None,
                 version: int = 1) -> pd.DataFrame:
    """Register every .avsc under the value subject of its topic, ``<domain>.<entity>.<event>.v<version>-value``.

    Registering a schema that is already the subject's latest is a no-op that returns the same id. One row per
    schema: event_type, topic, subject, schema_id, version. A schema the subject's compatibility rule rejects
    raises SchemaRegistryError (HTTP 409).
    """
    rows = []
    for event_type, schema in avro_schemas(directory).items():
        topic = topic_for(domain, event_type, version)
        subject = f"{topic}-value"
        schema_id = registry.register_schema(subject, Schema(json.dumps(schema), "AVRO"))
        registered = registry.lookup_schema(subject, Schema(json.dumps(schema), "AVRO"))
        rows.append({"event_type": event_type, "topic": topic, "subject": subject, "schema_id": schema_id,
                     "version": registered.version})
    return pd.DataFrame(rows, columns=["event_type", "topic", "subject", "schema_id", "version"])


def delete_subjects(registry: SchemaRegistryClient, subjects: Iterable[str]) -> list[str]:
    """Delete each subject (soft, then ``permanent=True``), skipping those that do not exist; the deleted ones."""
    deleted = []
    for subject in subjects:
        try:
            registry.delete_subject(subject)
        except SchemaRegistryError as exc:
            if exc.http_status_code != 404:
                raise
        try:
            registry.delete_subject(subject, permanent=True)
            deleted.append(subject)
        except SchemaRegistryError as exc:
            if exc.http_status_code != 404:
                raise
    return deleted


def read_values(cluster: Any, topic: str, n: int | None = None, timeout: float = 10.0) -> list[bytes]:
    """The raw value bytes of `topic`'s records (the first `n` if given), read to the topic's end with
    ``Cluster.messages``. Unlike ``Cluster.consume`` nothing is decoded: serialized payloads stay bytes,
    ready for a deserializer (``AvroDeserializer(registry)(value, ctx)``)."""
    return [msg.value() for msg in cluster.messages(topic, timeout=timeout)][:n]


# -- Protobuf --------------------------------------------------------------------------------------------------
_SCALARS = {name: getattr(descriptor_pb2.FieldDescriptorProto, f"TYPE_{name.upper()}") for name in (
    "double", "float", "int64", "uint64", "int32", "fixed64", "fixed32", "bool", "string", "bytes",
    "uint32", "sfixed32", "sfixed64", "sint32", "sint64")}
_TOKEN = re.compile(r'\s+|//[^\n]*|/\*.*?\*/|(?P<tok>"[^"]*"|\'[^\']*\'|[A-Za-z_][\w.]*|-?\d+|[{}\[\]=;,<>()])', re.S)
FDP = descriptor_pb2.FieldDescriptorProto


class ProtoSyntaxError(ValueError):
    """A .proto text this small parser does not read (invalid, or outside the subset it supports)."""


class _Tokens:
    def __init__(self, text: str):
        self.items: list[str] = []
        position = 0
        while position < len(text):
            match = _TOKEN.match(text, position)
            if match is None:
                raise ProtoSyntaxError(f"unexpected character {text[position]!r} at offset {position}")
            if match.group("tok"):
                self.items.append(match.group("tok"))
            position = match.end()
        self.index = 0

    def peek(self) -> str | None:
        return self.items[self.index] if self.index < len(self.items) else None

    def next(self) -> str:
        token = self.peek()
        if token is None:
            raise ProtoSyntaxError("unexpected end of file")
        self.index += 1
        return token

    def expect(self, token: str) -> None:
        found = self.next()
        if found != token:
            raise ProtoSyntaxError(f"expected {token!r}, found {found!r}")


def parse_proto(text: str, name: str = "schema.proto") -> descriptor_pb2.FileDescriptorProto:
    """Parse a proto3 file (the subset the course uses) into a FileDescriptorProto named `name`.

    Supported: ``syntax = "proto3"``, ``package``, messages (nested too), enums, scalar / message / enum
    fields, ``repeated``, proto3 ``optional``, ``reserved`` numbers and names, comments. Anything else
    (imports, maps, oneofs, options, proto2) raises ProtoSyntaxError saying what is not supported.
    """
    tokens = _Tokens(text)
    file = descriptor_pb2.FileDescriptorProto(name=name)
    if tokens.peek() == "syntax":
        tokens.next(), tokens.expect("=")
        syntax = tokens.next().strip("\"'")
        tokens.expect(";")
        if syntax != "proto3":
            raise ProtoSyntaxError(f"only proto3 is supported, not {syntax!r}")
    else:
        raise ProtoSyntaxError('the file must start with syntax = "proto3";')
    file.syntax = "proto3"
    while (token := tokens.peek()) is not None:
        if token == "package":
            tokens.next()
            file.package = tokens.next()
            tokens.expect(";")
        elif token == "message":
            _parse_message(tokens, file.message_type.add())
        elif token == "enum":
            _parse_enum(tokens, file.enum_type.add())
        else:
            raise ProtoSyntaxError(f"{token!r} at the top level is not supported (only package, message, enum)")
    _resolve_types(file)
    return file


def _parse_enum(tokens: _Tokens, enum: descriptor_pb2.EnumDescriptorProto) -> None:
    tokens.expect("enum")
    enum.name = tokens.next()
    tokens.expect("{")
    while (token := tokens.next()) != "}":
        tokens.expect("=")
        enum.value.add(name=token, number=int(tokens.next()))
        tokens.expect(";")
    if not enum.value or enum.value[0].number != 0:
        raise ProtoSyntaxError(f"enum {enum.name}: the first value must be 0 in proto3")


def _parse_message(tokens: _Tokens, message: descriptor_pb2.DescriptorProto) -> None:
    tokens.expect("message")
    message.name = tokens.next()
    tokens.expect("{")
    while (token := tokens.peek()) != "}":
        if token == "message":
            _parse_message(tokens, message.nested_type.add())
        elif token == "enum":
            _parse_enum(tokens, message.enum_type.add())
        elif token == "reserved":
            tokens.next()
            while True:
                item = tokens.next()
                if item.startswith(("'", '"')):
                    message.reserved_name.append(item.strip("\"'"))
                else:
                    end = int(item)
                    if tokens.peek() == "to":
                        tokens.next()
                        end = int(tokens.next())
                    message.reserved_range.add(start=int(item), end=end + 1)
                if tokens.next() == ";":
                    break
        elif token is None:
            raise ProtoSyntaxError(f"message {message.name}: unexpected end of file (a missing '}}'?)")
        elif token in ("map", "oneof", "option", "extensions", "extend", "required"):
            raise ProtoSyntaxError(f"message {message.name}: {token!r} is not supported by this small parser")
        else:
            _parse_field(tokens, message)
    tokens.expect("}")


def _parse_field(tokens: _Tokens, message: descriptor_pb2.DescriptorProto) -> None:
    label, optional = FDP.LABEL_OPTIONAL, False
    if tokens.peek() == "repeated":
        tokens.next()
        label = FDP.LABEL_REPEATED
    elif tokens.peek() == "optional":
        tokens.next()
        optional = True
    type_name, field_name = tokens.next(), tokens.next()
    tokens.expect("=")
    field = message.field.add(name=field_name, number=int(tokens.next()), label=label)
    if type_name in _SCALARS:
        field.type = _SCALARS[type_name]
    else:
        field.type_name = type_name  # resolved to a full name (and message or enum) by _resolve_types
    if optional:  # proto3 `optional` is a synthetic one-field oneof, as protoc writes it
        field.proto3_optional = True
        field.oneof_index = len(message.oneof_decl)
        message.oneof_decl.add(name=f"_{field_name}")
    if tokens.peek() == "[":
        raise ProtoSyntaxError(f"field {message.name}.{field_name}: field options are not supported")
    tokens.expect(";")


def _resolve_types(file: descriptor_pb2.FileDescriptorProto) -> None:
    """Turn each field's type name into a fully qualified one (``.pkg.Outer.Inner``), searching the innermost
    scope first, as protoc does; mark the field a message or an enum."""
    kinds: dict[str, int] = {}

    def collect(scope: str, messages: Iterable[Any], enums: Iterable[Any]) -> None:
        for enum in enums:
            kinds[f"{scope}.{enum.name}"] = FDP.TYPE_ENUM
        for msg in messages:
            kinds[f"{scope}.{msg.name}"] = FDP.TYPE_MESSAGE
            collect(f"{scope}.{msg.name}", msg.nested_type, msg.enum_type)

    root = f".{file.package}" if file.package else ""
    collect(root, file.message_type, file.enum_type)

    def resolve(scope: str, messages: Iterable[Any]) -> None:
        for msg in messages:
            inner = f"{scope}.{msg.name}"
            for field in msg.field:
                if field.type_name and not field.type_name.startswith("."):
                    candidates = [f"{s}.{field.type_name}" for s in _scopes(inner)]
                    found = next((c for c in candidates if c in kinds), None)
                    if found is None:
                        raise ProtoSyntaxError(f"field {msg.name}.{field.name}: unknown type {field.type_name!r}")
                    field.type_name, field.type = found, kinds[found]
            resolve(inner, msg.nested_type)

    resolve(root, file.message_type)


def _scopes(scope: str) -> list[str]:
    parts = scope.split(".")  # ".pkg.Outer" → [".pkg.Outer", ".pkg", ""]
    return [".".join(parts[:i]) for i in range(len(parts), 0, -1)]


def load_proto(event_type_or_path: str | Path, directory: Path | None = None) -> descriptor_pb2.FileDescriptorProto:
    """The FileDescriptorProto of ``schemas/<EventType>.proto`` (its file name is the descriptor's name)."""
    path = _path(event_type_or_path, ".proto", directory)
    return parse_proto(path.read_text(), name=path.name)


@functools.lru_cache(maxsize=None)
def _message_class(path: Path, mtime: float, message: str) -> type[Message]:
    return _class_in(load_proto(path), message)


def proto_class_from_text(text: str, message: str) -> type[Message]:
    """The Message class of `message` in the proto3 source `text` (parsed by :func:`parse_proto`), e.g. for
    trying a schema change without writing a file.

    >>> Order = proto_class_from_text('syntax = "proto3"; package shop; message Order { string id = 1; }', "Order")
    """
    return _class_in(parse_proto(text), message)


def _class_in(file: descriptor_pb2.FileDescriptorProto, message: str) -> type[Message]:
    pool = descriptor_pool.DescriptorPool()
    pool.Add(file)
    full_name = f"{file.package}.{message}" if file.package else message
    return message_factory.GetMessageClass(pool.FindMessageTypeByName(full_name))


def proto_message_class(event_type_or_path: str | Path, message: str | None = None,
                        directory: Path | None = None) -> type[Message]:
    """The protobuf Message class of `message` (default: the file's event type) in ``schemas/<EventType>.proto``.

    Built at run time (descriptor pool + message factory) instead of generated by protoc; the same file gives
    the same class on every call, so messages built by a serializer and a deserializer compare equal.

    >>> OrderPlaced = proto_message_class("OrderPlaced")
    >>> OrderPlaced(order_id="o-1").SerializeToString()
    """
    path = _path(event_type_or_path, ".proto", directory).resolve()
    return _message_class(path, path.stat().st_mtime, message or path.stem)


def proto_schema(message_class: type[Message]) -> Schema:
    """The schema a ProtobufSerializer registers or looks up for `message_class`: its file descriptor,
    serialized and base64-encoded (the Confluent clients' "serialized" schema format)."""
    file = message_class.DESCRIPTOR.file
    return Schema(base64.standard_b64encode(file.serialized_pb).decode("ascii"), "PROTOBUF")


def register_proto(registry: SchemaRegistryClient, subject: str, message_class: type[Message]) -> RegisteredSchema:
    """Register `message_class`'s file under `subject` in the form ProtobufSerializer looks up (see
    :func:`proto_schema`), so a serializer with ``auto.register.schemas=False`` finds it."""
    schema = proto_schema(message_class)
    registry.register_schema(subject, schema)
    return registry.lookup_schema(subject, schema)
