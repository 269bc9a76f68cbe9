"""Avro schema evolution: which changes a schema registry accepts under which compatibility mode, and why.

Each :class:`Change` is a small schema history (v1, sometimes v2) and a candidate next version. For every
compatibility mode, :func:`registry_verdicts` asks the **real registry**: register the history in a fresh
subject, set the subject's mode, register the candidate: accepted, or rejected with HTTP 409. The expected
verdicts (``Change.expected``) are written by hand from the Avro specification's schema resolution rules, and
:func:`resolution_verdict` checks them independently with fastavro, by actually writing data with one schema
and reading it with the other.

The modes, in reader/writer terms (Confluent's definitions, which Apicurio's ccompat API follows):

* BACKWARD: the candidate (new reader) reads data written with the latest version.
* FORWARD: the latest version (old reader) reads data written with the candidate.
* FULL: both. The ``_TRANSITIVE`` variants: the same against **every** earlier version, not only the latest.

>>> verdicts = registry_verdicts(registry)             # one row per (change, mode): accepted, status, ...
>>> table = pivot(verdicts)                            # change × mode, True = accepted
>>> assert table.equals(expected_matrix())
>>> from kafkacourse.plots.evolution import plot_matrix
>>> plot_matrix(table, expected_matrix())
>>> read_as({"order_id": "o-1", ...}, writer=BASE, reader=new_schema)   # schema resolution with fastavro
"""

from __future__ import annotations

import copy
import io
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import fastavro
import pandas as pd
from confluent_kafka.schema_registry import Schema, SchemaRegistryClient
from confluent_kafka.schema_registry.error import SchemaRegistryError
from fastavro.read import SchemaResolutionError
from fastavro.utils import generate_many

from ..cluster import unique_name
from .schemas import delete_subjects

MODES = ("BACKWARD", "FORWARD", "FULL", "BACKWARD_TRANSITIVE", "FORWARD_TRANSITIVE", "FULL_TRANSITIVE")

BASE: dict[str, Any] = {
    "type": "record", "name": "OrderPlaced", "namespace": "shop.orders",
    "fields": [
        {"name": "order_id", "type": "string"},
        {"name": "customer_id", "type": "string"},
        {"name": "quantity", "type": "int"},
        {"name": "coupon", "type": ["null", "string"], "default": None},
    ],
}
"""Version 1 of the small OrderPlaced record every change starts from."""


def with_fields(fields: list[dict[str, Any]], base: dict[str, Any] = BASE) -> dict[str, Any]:
    """A copy of `base` with another field list."""
    schema = copy.deepcopy(base)
    schema["fields"] = copy.deepcopy(fields)
    return schema


def added(*fields: dict[str, Any], base: dict[str, Any] = BASE) -> dict[str, Any]:
    """`base` plus `fields` at the end."""
    return with_fields(base["fields"] + list(fields), base)


def removed(name: str, base: dict[str, Any] = BASE) -> dict[str, Any]:
    """`base` without the field `name`."""
    return with_fields([f for f in base["fields"] if f["name"] != name], base)


def replaced(name: str, new: dict[str, Any], base: dict[str, Any] = BASE) -> dict[str, Any]:
    """`base` with the field `name` replaced by `new` (same position)."""
    return with_fields([new if f["name"] == name else f for f in base["fields"]], base)


def _verdicts(backward: bool, forward: bool, backward_all: bool | None = None,
              forward_all: bool | None = None) -> dict[str, bool]:
    """Every mode's verdict from the two directions, against the latest version and against all versions."""
    backward_all = backward if backward_all is None else backward_all
    forward_all = forward if forward_all is None else forward_all
    return {"BACKWARD": backward, "FORWARD": forward, "FULL": backward and forward,
            "BACKWARD_TRANSITIVE": backward_all, "FORWARD_TRANSITIVE": forward_all,
            "FULL_TRANSITIVE": backward_all and forward_all}


@dataclass(frozen=True)
class Change:
    """A schema change: the versions already registered (`history`, oldest first), the `candidate`, the
    verdict per mode the Avro resolution rules predict (`expected`), and `why`, in one sentence."""

    name: str
    history: tuple[dict[str, Any], ...]
    candidate: dict[str, Any]
    expected: dict[str, bool]
    why: str


# The expected verdicts, from the Avro specification's "Schema Resolution" rules:
#  - a reader field missing from the writer's data takes the reader's default; with no default → error;
#  - a writer field the reader does not have is ignored;
#  - a reader field matches a writer field by name, or by one of the reader field's aliases;
#  - int may be promoted to long, float or double (and long to float/double) — never the other way;
#  - string and int do not match at all.
# BACKWARD = the candidate reads the latest version's data, FORWARD = the latest version reads the candidate's.
CURRENCY_DEFAULT = {"name": "currency", "type": "string", "default": "EUR"}
CURRENCY_REQUIRED = {"name": "currency", "type": "string"}
CHANGES: tuple[Change, ...] = (
    Change("add field with default", (BASE,), added(CURRENCY_DEFAULT),
           _verdicts(backward=True, forward=True),
           "new readers fill 'currency' from the default; old readers ignore it"),
    Change("add required field (no default)", (BASE,), added(CURRENCY_REQUIRED),
           _verdicts(backward=False, forward=True),
           "new readers find no 'currency' in old data and have no default"),
    Change("remove field with default", (BASE,), removed("coupon"),
           _verdicts(backward=True, forward=True),
           "new readers ignore 'coupon'; old readers fill it from their default"),
    Change("remove field without default", (BASE,), removed("customer_id"),
           _verdicts(backward=True, forward=False),
           "old readers need 'customer_id' and have no default for it"),
    Change("rename with alias", (BASE,),
           replaced("customer_id", {"name": "client_id", "type": "string", "aliases": ["customer_id"]}),
           _verdicts(backward=True, forward=False),
           "the new reader's alias finds 'customer_id' in old data; an old reader knows no 'client_id'"),
    Change("widen int → long", (BASE,), replaced("quantity", {"name": "quantity", "type": "long"}),
           _verdicts(backward=True, forward=False),
           "a long reader promotes written ints; an int reader cannot read a long"),
    Change("change type string → int", (BASE,), replaced("customer_id", {"name": "customer_id", "type": "int"}),
           _verdicts(backward=False, forward=False),
           "string and int do not resolve in either direction"),
    # Two rows where the history has two versions, so that the transitive modes differ from the plain ones.
    Change("v3 drops the default v2 added", (BASE, added(CURRENCY_DEFAULT)), added(CURRENCY_REQUIRED),
           _verdicts(backward=True, forward=True, backward_all=False),
           "v3 reads v2 data (it has 'currency') but not v1 data (no 'currency', no default)"),
    Change("v3 removes a field v2 gave a default", (
        BASE, replaced("customer_id", {"name": "customer_id", "type": "string", "default": ""})),
           removed("customer_id"),
           _verdicts(backward=True, forward=True, forward_all=False),
           "v2 readers default 'customer_id'; v1 readers have no default for it"),
)


# Enums and unions, the other two places where Avro evolution bites. Their own small record (an order's status
# and a nullable note), and the plain modes only (a history of one version: the transitive ones would agree).
STATUS = {"type": "enum", "name": "OrderStatus", "symbols": ["PLACED", "PAID", "SHIPPED"]}
STATUS_V1: dict[str, Any] = {
    "type": "record", "name": "OrderStatusChanged", "namespace": "shop.orders",
    "fields": [{"name": "order_id", "type": "string"}, {"name": "status", "type": STATUS},
               {"name": "note", "type": ["null", "string"], "default": None}],
}
STATUS_V1_WITH_DEFAULT = replaced("status", {"name": "status", "type": dict(STATUS, default="PLACED")}, STATUS_V1)
ENUM_AND_UNION_CHANGES: tuple[Change, ...] = (
    Change("enum gains a symbol", (STATUS_V1,),
           replaced("status", {"name": "status", "type": dict(STATUS, symbols=[*STATUS["symbols"], "CANCELLED"])},
                    STATUS_V1),
           _verdicts(backward=True, forward=False),
           "new readers know every old symbol; an old reader meets CANCELLED and has no symbol for it"),
    Change("enum gains a symbol, enum has a default", (STATUS_V1_WITH_DEFAULT,),
           replaced("status", {"name": "status", "type": dict(STATUS, default="PLACED",
                                                              symbols=[*STATUS["symbols"], "CANCELLED"])},
                    STATUS_V1),
           _verdicts(backward=True, forward=True),
           "an old reader whose enum has a default reads an unknown symbol as that default (Avro 1.9+)"),
    Change("enum loses a symbol", (STATUS_V1,),
           replaced("status", {"name": "status", "type": dict(STATUS, symbols=["PLACED", "PAID"])}, STATUS_V1),
           _verdicts(backward=False, forward=True),
           "a new reader meets SHIPPED in old data and has no symbol for it"),
    Change("union gains a branch", (STATUS_V1,),
           replaced("note", {"name": "note", "type": ["null", "string", "long"], "default": None}, STATUS_V1),
           _verdicts(backward=True, forward=False),
           "new readers read every old branch; an old reader meets a long and has no branch for it"),
    Change("field becomes nullable", (STATUS_V1,),
           replaced("order_id", {"name": "order_id", "type": ["null", "string"], "default": None}, STATUS_V1),
           _verdicts(backward=True, forward=False),
           "a union reader takes a string writer's value; a string reader cannot take a null"),
)
PLAIN_MODES = ("BACKWARD", "FORWARD", "FULL")

# -- the registry's verdicts -------------------------------------------------------------------------------
def _schema(avro: dict[str, Any]) -> Schema:
    return Schema(json.dumps(avro), "AVRO")


def registry_verdict(registry: SchemaRegistryClient, change: Change, mode: str,
                     prefix: str = "evolution") -> dict[str, Any]:
    """Ask the registry about one cell: register `change.history` in a fresh subject, set `mode` on it, then
    register the candidate. The subject is deleted (soft, then permanent) afterwards, whatever happened.

    Returns change, mode, accepted (bool), status (200, or the HTTP error, 409 for incompatible), and the two
    dry runs asked first: ``dry_run``, what ``POST /compatibility/subjects/<s>/versions`` (test against the
    subject's versions "as register would") said, and ``test_latest``, what
    ``POST /compatibility/subjects/<s>/versions/latest`` (test against the latest version only) said.
    """
    subject = f"{unique_name(prefix)}-value"
    try:
        for version in change.history:
            registry.register_schema(subject, _schema(version))
        registry.set_compatibility(subject, mode)
        dry_run = registry.test_compatibility_all_versions(subject, _schema(change.candidate))
        test_latest = registry.test_compatibility(subject, _schema(change.candidate), version="latest")
        try:
            registry.register_schema(subject, _schema(change.candidate))
            accepted, status = True, 200
        except SchemaRegistryError as exc:
            if exc.http_status_code != 409:
                raise
            accepted, status = False, 409
    finally:
        delete_subjects(registry, [subject])
    return {"change": change.name, "mode": mode, "accepted": accepted, "status": status, "dry_run": dry_run,
            "test_latest": test_latest}


def registry_verdicts(registry: SchemaRegistryClient, changes: Sequence[Change] = CHANGES,
                      modes: Sequence[str] = MODES, prefix: str = "evolution") -> pd.DataFrame:
    """:func:`registry_verdict` for every change × mode (one fresh subject each); one row per cell."""
    rows = [registry_verdict(registry, change, mode, prefix) for change in changes for mode in modes]
    return pd.DataFrame(rows, columns=["change", "mode", "accepted", "status", "dry_run", "test_latest"])


def pivot(verdicts: pd.DataFrame, value: str = "accepted") -> pd.DataFrame:
    """The long verdict table as change × mode (rows and columns in the order they first appear)."""
    table = verdicts.pivot(index="change", columns="mode", values=value)
    return table.loc[list(dict.fromkeys(verdicts["change"])), list(dict.fromkeys(verdicts["mode"]))].astype(bool)


def expected_matrix(changes: Sequence[Change] = CHANGES, modes: Sequence[str] = MODES) -> pd.DataFrame:
    """The verdicts the Avro rules predict (each change's `expected`), change × mode."""
    table = pd.DataFrame([[c.expected[m] for m in modes] for c in changes],
                         index=[c.name for c in changes], columns=list(modes))
    table.index.name, table.columns.name = "change", "mode"
    return table


# A known Apicurio 3.0.9 deviation, checked live (tests/test_evolution.py and lesson 02): the "dry run"
# POST /compatibility/subjects/<subject>/versions (confluent-kafka: test_compatibility_all_versions) is documented
# by Confluent to "perform the same compatibility check as register", i.e. against the latest version only in
# BACKWARD / FORWARD / FULL. Apicurio checks the candidate against EVERY version in those modes too, so its dry
# run answers like the transitive mode. Registration itself (the real gate) follows the rules above.
APICURIO_DRY_RUN_IS_TRANSITIVE = True


def expected_dry_run_matrix(changes: Sequence[Change] = CHANGES, modes: Sequence[str] = MODES,
                            apicurio: bool = APICURIO_DRY_RUN_IS_TRANSITIVE) -> pd.DataFrame:
    """What the dry-run endpoint should answer per cell: the registration verdict (Confluent's documented
    behaviour), or with `apicurio` the verdict of the mode's transitive variant (Apicurio 3.0.9)."""
    expected = expected_matrix(changes, modes)
    if apicurio:
        for mode in modes:
            if not mode.endswith("_TRANSITIVE"):
                expected[mode] = [c.expected[f"{mode}_TRANSITIVE"] for c in changes]
    return expected


def disagreements(actual: pd.DataFrame, expected: pd.DataFrame) -> list[tuple[str, str, bool, bool]]:
    """The cells where two change × mode tables differ: (change, mode, actual, expected)."""
    return [(change, mode, bool(actual.loc[change, mode]), bool(expected.loc[change, mode]))
            for change in expected.index for mode in expected.columns
            if bool(actual.loc[change, mode]) != bool(expected.loc[change, mode])]


# -- schema resolution with fastavro -------------------------------------------------------------------------
def read_as(record: dict[str, Any], writer: dict[str, Any], reader: dict[str, Any]) -> dict[str, Any]:
    """Write `record` with the `writer` schema and read the bytes back with the `reader` schema (fastavro):
    missing fields take the reader's defaults, unknown ones are dropped. SchemaResolutionError when the
    reader cannot read that writer's data.

    >>> read_as({"a": 1}, writer=v1, reader=v2)
    """
    buffer = io.BytesIO()
    fastavro.schemaless_writer(buffer, fastavro.parse_schema(writer), record)
    buffer.seek(0)
    return fastavro.schemaless_reader(buffer, fastavro.parse_schema(writer), fastavro.parse_schema(reader))


def can_read(reader: dict[str, Any], writer: dict[str, Any], samples: int = 50) -> bool:
    """Whether fastavro resolves data written with `writer` into `reader` (tried on random sample records)."""
    try:
        for record in generate_many(fastavro.parse_schema(writer), samples):
            read_as(record, writer, reader)
    except SchemaResolutionError:
        return False
    return True


def resolution_verdict(change: Change, mode: str) -> bool:
    """The verdict fastavro's schema resolution gives for one cell, per the mode's reader/writer definition."""
    candidate, history = change.candidate, list(change.history)
    against = history if mode.endswith("_TRANSITIVE") else history[-1:]
    backward = all(can_read(reader=candidate, writer=old) for old in against)
    forward = all(can_read(reader=old, writer=candidate) for old in against)
    return {"BACKWARD": backward, "FORWARD": forward, "FULL": backward and forward}[mode.removesuffix("_TRANSITIVE")]


def resolution_matrix(changes: Sequence[Change] = CHANGES, modes: Sequence[str] = MODES) -> pd.DataFrame:
    """:func:`resolution_verdict` for every change × mode (no registry involved)."""
    table = pd.DataFrame([[resolution_verdict(c, m) for m in modes] for c in changes],
                         index=[c.name for c in changes], columns=list(modes))
    table.index.name, table.columns.name = "change", "mode"
    return table




def describe(changes: Iterable[Change] = CHANGES) -> pd.DataFrame:
    """One row per change: its name, how many versions precede the candidate, and why the rules decide as they do."""
    return pd.DataFrame([{"change": c.name, "history": len(c.history), "why": c.why} for c in changes])


# -- Protobuf: fields are numbers ----------------------------------------------------------------------------------
def proto_order(fields: str) -> str:
    """A proto3 file with one message, shop.Order, whose body is `fields`."""
    return f'syntax = "proto3";\npackage shop;\nmessage Order {{\n{fields}\n}}\n'


PROTO_V1 = proto_order("  string order_id = 1;\n  int64 total_cents = 2;\n  string coupon = 3;")
PROTO_SAMPLE = {"order_id": "o-1", "total_cents": 2**33 + 7, "coupon": "SPRING10"}  # a total beyond int32
PROTO_CHANGES: dict[str, str] = {
    "add field 4": proto_order("  string order_id = 1;\n  int64 total_cents = 2;\n  string coupon = 3;\n"
                               "  string currency = 4;"),
    "remove field 3, reserve it": proto_order('  reserved 3;\n  reserved "coupon";\n  string order_id = 1;\n'
                                              "  int64 total_cents = 2;"),
    "rename field 3 (same number)": proto_order("  string order_id = 1;\n  int64 total_cents = 2;\n"
                                                "  string voucher = 3;"),
    "renumber coupon 3 -> 5": proto_order("  string order_id = 1;\n  int64 total_cents = 2;\n  string coupon = 5;"),
    "int64 -> string (wire type changes)": proto_order("  string order_id = 1;\n  string total_cents = 2;\n"
                                                       "  string coupon = 3;"),
    "int64 -> int32 (same wire type)": proto_order("  string order_id = 1;\n  int32 total_cents = 2;\n"
                                                   "  string coupon = 3;"),
    "reuse number 3 for an int64": proto_order("  string order_id = 1;\n  int64 total_cents = 2;\n"
                                               "  int64 coupon_count = 3;"),
}


def proto_wire_read(writer: str, reader: str, values: dict[str, Any] = PROTO_SAMPLE) -> dict[str, Any]:
    """Write `values` with the `writer` .proto's Order, parse the bytes with the `reader`'s: what each of the
    writer's fields became in the reader (matched by number, else by name): ``{field: (written, read)}``;
    a writer field the reader has neither by number nor by name is left out (the reader skips it)."""
    from .schemas import proto_class_from_text

    Writer, Reader = proto_class_from_text(writer, "Order"), proto_class_from_text(reader, "Order")
    parsed = Reader.FromString(Writer(**values).SerializeToString())
    by_number = {f.number: f.name for f in Reader.DESCRIPTOR.fields}
    names = {f.name for f in Reader.DESCRIPTOR.fields}
    out = {}
    for field in Writer.DESCRIPTOR.fields:
        target = by_number.get(field.number) or (field.name if field.name in names else None)
        if target is not None:
            out[field.name] = (values[field.name], getattr(parsed, target))
    return out


def proto_wire_verdict(writer: str, reader: str) -> bool:
    """True when a `reader` gets every value the `writer` wrote that it has a field for, unchanged."""
    return all(written == read for written, read in proto_wire_read(writer, reader).values())


def proto_registry_verdicts(registry: SchemaRegistryClient, mode: str = "BACKWARD", prefix: str = "proto-evolution",
                            changes: dict[str, str] | None = None) -> pd.DataFrame:
    """For each Protobuf change: register :data:`PROTO_V1` (as .proto text) in a fresh subject in `mode`, then
    the candidate; accepted or refused (409). Rows: change, accepted, wire (:func:`proto_wire_verdict`: does a
    reader of the new schema get every old value it has a field for?). Subjects are deleted afterwards."""
    rows = []
    for name, candidate in (changes or PROTO_CHANGES).items():
        subject = f"{unique_name(prefix)}-value"
        try:
            registry.register_schema(subject, Schema(PROTO_V1, "PROTOBUF"))
            registry.set_compatibility(subject, mode)
            try:
                registry.register_schema(subject, Schema(candidate, "PROTOBUF"))
                accepted = True
            except SchemaRegistryError as exc:
                if exc.http_status_code != 409:
                    raise
                accepted = False
        finally:
            delete_subjects(registry, [subject])
        rows.append({"change": name, "accepted": accepted, "wire": proto_wire_verdict(PROTO_V1, candidate)})
    return pd.DataFrame(rows).set_index("change")
