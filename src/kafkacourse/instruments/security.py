"""Day 5's security experiments: try a client as someone and keep the refusal as a row, manage SCRAM users
and ACLs, read certificates.

Every security claim of Day 5 is a pair of attempts, one let in and one refused, each the client's real
error (librdkafka's error name and message):

>>> from kafkacourse.instruments import security
>>> alice = secure.as_principal("alice").config()
>>> rows = [security.attempt("right password", lambda: security.connect(alice)),
...         security.attempt("wrong password", lambda: security.connect({**alice, "sasl.password": "x"}))]
>>> security.catalogue(rows)        # situation, outcome, error, message

Users and ACLs (the AdminClient of a super user):

>>> security.upsert_scram_user(secure.admin(), "dave-3f9a1c", "dave-secret")
>>> security.acl_table(secure.admin(), "User:dave-3f9a1c")
>>> security.delete_acls(secure.admin(), "User:dave-3f9a1c"); security.delete_scram_user(secure.admin(), "dave-3f9a1c")
"""

from __future__ import annotations

import datetime as dt
import re
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pandas as pd
from confluent_kafka import Consumer, KafkaError, KafkaException, Producer
from confluent_kafka.admin import (AclBinding, AclBindingFilter, AclOperation, AclPermissionType, AdminClient,
                                  ConfigResource, ResourcePatternType, ResourceType, ScramCredentialInfo,
                                  ScramMechanism, UserScramCredentialDeletion, UserScramCredentialUpsertion)
from cryptography import x509

from ..cluster import quiet_logger
from ..connection import refuse_keywords

ACCEPTED, REFUSED = "accepted", "refused"
_TIMING = re.compile(r"\(after \d+ms in state ([A-Z_]+)\)")
# librdkafka's summary error: it says that every connection failed, not why; its log line says why.
_SUMMARY = KafkaError._ALL_BROKERS_DOWN


def _clean(message: str) -> str:
    """A client message without the timing in its suffix ("(after 7ms in state SSL_HANDSHAKE)" → "(in state
    SSL_HANDSHAKE)"): the same text every run, to search for, still saying where the connection got to."""
    return _TIMING.sub(r"(in state \1)", message).strip()


# -- attempts ----------------------------------------------------------------------------------------------------
def attempt(situation: str, action: Callable[[], Any], until: str | None = None,
            within: float = 15.0) -> dict[str, str]:
    """Run `action` (a client doing one thing) and return a row: situation, outcome (accepted / refused), error
    (librdkafka's error name, e.g. ``TOPIC_AUTHORIZATION_FAILED``; empty when accepted), message.

    A refusal is a KafkaException from the action (every helper below raises one); other exceptions propagate.
    ``until="accepted"`` (or ``"refused"``) tries again for up to `within` seconds until the outcome is that:
    for the moment after a new ACL or credential, before the broker has applied it. The last row is returned
    either way, so the caller's assert still decides.

    >>> security.attempt("bob writes", lambda: security.produce_one(bob, topic), until="accepted")
    """
    if until not in (None, ACCEPTED, REFUSED):
        raise ValueError(f"until is 'accepted', 'refused' or None, not {until!r}")
    deadline = time.monotonic() + within
    while True:
        try:
            action()
            row = {"situation": situation, "outcome": ACCEPTED, "error": "", "message": ""}
        except KafkaException as exc:
            error = exc.args[0]
            row = {"situation": situation, "outcome": REFUSED, "error": error.name(), "message": _clean(error.str())}
        if until is None or row["outcome"] == until or time.monotonic() > deadline:
            return row
        time.sleep(0.3)


def catalogue(rows: list[dict[str, str]]) -> pd.DataFrame:
    """The rows of :func:`attempt` as a table (one column per field, in attempt order)."""
    return pd.DataFrame(rows, columns=["situation", "outcome", "error", "message"])


def connect(config: Mapping[str, Any], timeout: float = 15.0) -> None:
    """Connect a client with `config` and ask for metadata (what every client does first): returns once the
    broker answered, else raises KafkaException with the most specific error the client reported.

    librdkafka reports a refused TLS handshake or SASL login through its error callback (``_SSL``,
    ``_AUTHENTICATION``, ``_TRANSPORT``); when all it says is ``_ALL_BROKERS_DOWN`` (a listener that just closes
    the connection), the message is its log line saying why (``Disconnected: connection closed by peer …``).
    """
    errors: list[KafkaError] = []
    lines: list[str] = []
    producer = Producer({**config, "error_cb": errors.append, "logger": quiet_logger("connect", lines),
                         "socket.connection.setup.timeout.ms": 5000})
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            try:
                producer.list_topics(timeout=1)
                return
            except KafkaException:
                producer.poll(0.2)  # serve error_cb
            if any(e.code() != _SUMMARY for e in errors):
                # A refused handshake is reported more than once, sometimes first as a bare _TRANSPORT: collect a
                # moment longer, then name the most specific error.
                settle = time.monotonic() + 0.5
                while time.monotonic() < settle:
                    producer.poll(0.1)
                specific = sorted((e for e in errors if e.code() != _SUMMARY),
                                  key=lambda e: e.code() == KafkaError._TRANSPORT)
                raise KafkaException(specific[0])
            if errors and any("Disconnected" in line or "failed" in line for line in lines):
                summary = errors[0]
                reason = next(line for line in reversed(lines) if "Disconnected" in line or "failed" in line)
                raise KafkaException(KafkaError(summary.code(), _clean(reason.split("]: ", 1)[-1])))
        raise KafkaException(errors[0] if errors else KafkaError(KafkaError._TIMED_OUT,
                                                                 f"no answer within {timeout:.0f} s"))
    finally:
        producer.flush(0)


def produce_one(config: Mapping[str, Any], topic: str, value: bytes | str = b"probe", timeout: float = 15.0, *,
                settings: Mapping[str, Any] | None = None, **keywords: Any) -> int:
    """Produce one record with a producer of `config` (plus librdkafka `settings`, dotted names) and return its
    offset; KafkaException with the delivery error (e.g. TOPIC_AUTHORIZATION_FAILED) when it is refused.

    >>> produce_one(client["writer"], topic, settings={"enable.idempotence": True})
    """
    refuse_keywords("produce_one", keywords)
    outcome: list[tuple[KafkaError | None, Any]] = []
    producer = Producer({**config, **(settings or {}), "message.timeout.ms": int(timeout * 1000),
                         "logger": quiet_logger("produce")})
    try:
        producer.produce(topic, value, on_delivery=lambda err, msg: outcome.append((err, msg)))
    finally:
        producer.flush(timeout + 5)
    if not outcome:
        raise KafkaException(KafkaError(KafkaError._TIMED_OUT, f"no delivery report for {topic!r}"))
    err, msg = outcome[0]
    if err is not None:
        raise KafkaException(err)
    return msg.offset()


def consume_one(config: Mapping[str, Any], topic: str, group: str, timeout: float = 20.0) -> bytes:
    """Subscribe a consumer of `config` in `group` to `topic` (from the earliest offset) and return the first
    record's value; KafkaException with the consumer's error (GROUP_AUTHORIZATION_FAILED,
    TOPIC_AUTHORIZATION_FAILED, …) when it is refused, or _TIMED_OUT when nothing came."""
    consumer = Consumer({**config, "group.id": group, "auto.offset.reset": "earliest", "enable.auto.commit": False,
                         "logger": quiet_logger("consume")})
    try:
        consumer.subscribe([topic])
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            msg = consumer.poll(0.5)
            if msg is None:
                continue
            if msg.error():
                raise KafkaException(msg.error())
            return msg.value()
        raise KafkaException(KafkaError(KafkaError._TIMED_OUT, f"no record from {topic!r} within {timeout:.0f} s"))
    finally:
        consumer.close()


def produce_in_transaction(config: Mapping[str, Any], topic: str, transactional_id: str, value: bytes = b"txn",
                           timeout: float = 20.0) -> None:
    """init_transactions, one record, commit, with a producer of `config` and `transactional_id`;
    KafkaException (e.g. TRANSACTIONAL_ID_AUTHORIZATION_FAILED from init_transactions) when it is refused."""
    producer = Producer({**config, "transactional.id": transactional_id, "logger": quiet_logger("txn")})
    try:
        producer.init_transactions(timeout)
        producer.begin_transaction()
        producer.produce(topic, value)
        producer.commit_transaction(timeout)
    finally:
        producer.flush(0)


def describe_topic_configs(config: Mapping[str, Any], topic: str, timeout: float = 15.0) -> dict[str, str]:
    """The topic's configuration as an AdminClient of `config` sees it (needs DESCRIBE_CONFIGS on the topic);
    KafkaException (TOPIC_AUTHORIZATION_FAILED) when it is refused."""
    resource = ConfigResource("TOPIC", topic)
    admin = AdminClient({**config, "logger": quiet_logger("describe")})  # kept until the answer is in
    answer = admin.describe_configs([resource], request_timeout=timeout)[resource].result()
    return {name: entry.value for name, entry in answer.items()}


# -- SCRAM users -------------------------------------------------------------------------------------------------
def scram_config(config: Mapping[str, Any], user: str, password: str) -> dict[str, Any]:
    """`config` (a SASL_SSL client's settings) logging in as `user` / `password` instead."""
    if config.get("security.protocol") not in ("SASL_SSL", "SASL_PLAINTEXT"):
        raise ValueError("scram_config takes the settings of a SASL client (security.protocol SASL_SSL), "
                         f"not {config.get('security.protocol', 'PLAINTEXT')}")
    return {**config, "sasl.username": user, "sasl.password": password}


def upsert_scram_user(admin: AdminClient, user: str, password: str, iterations: int = 8192,
                      mechanism: ScramMechanism = ScramMechanism.SCRAM_SHA_512) -> None:
    """Create `user` or set a new password (AdminClient.alter_user_scram_credentials); the brokers store only
    the salted SCRAM credential, never the password. No broker restarts."""
    upsertion = UserScramCredentialUpsertion(user, ScramCredentialInfo(mechanism, iterations), password.encode())
    for future in admin.alter_user_scram_credentials([upsertion]).values():
        future.result()


def delete_scram_user(admin: AdminClient, user: str,
                      mechanism: ScramMechanism = ScramMechanism.SCRAM_SHA_512) -> None:
    """Delete `user`'s SCRAM credential (nothing happens when it has none)."""
    try:
        for future in admin.alter_user_scram_credentials([UserScramCredentialDeletion(user, mechanism)]).values():
            future.result()
    except KafkaException as exc:
        if exc.args[0].code() != KafkaError.RESOURCE_NOT_FOUND:
            raise


def scram_users(admin: AdminClient) -> pd.DataFrame:
    """Every SCRAM user the cluster knows: user, mechanism, iterations (describe_user_scram_credentials)."""
    answer = admin.describe_user_scram_credentials().result()
    rows = [{"user": user, "mechanism": info.mechanism.name, "iterations": info.iterations}
            for user, description in sorted(answer.items()) for info in description.scram_credential_infos]
    return pd.DataFrame(rows, columns=["user", "mechanism", "iterations"])


def wait_for_login(config: Mapping[str, Any], timeout: float = 20.0) -> float:
    """Wait until a client of `config` is let in (a new credential reaches the broker's metadata a moment after
    the AdminClient call returns); the seconds it took. The last refusal when it never is."""
    started = time.monotonic()
    while True:
        try:
            connect(config, timeout=5)
            return time.monotonic() - started
        except KafkaException:
            if time.monotonic() - started > timeout:
                raise
            time.sleep(0.3)


# -- ACLs --------------------------------------------------------------------------------------------------------
def acl(principal: str, resource: str, name: str, operation: str, *, pattern: str = "LITERAL",
        permission: str = "ALLOW", host: str = "*") -> AclBinding:
    """An AclBinding from plain names: ``acl("User:alice", "TOPIC", "orders-", "WRITE", pattern="PREFIXED")``.
    Names are those of confluent_kafka.admin's ResourceType, AclOperation, ResourcePatternType and
    AclPermissionType (the same words kafka-acls.sh prints)."""
    try:
        return AclBinding(ResourceType[resource.upper()], name, ResourcePatternType[pattern.upper()], principal,
                          host, AclOperation[operation.upper()], AclPermissionType[permission.upper()])
    except KeyError as exc:
        raise ValueError(f"unknown ACL word {exc.args[0]!r}: resources {[r.name for r in ResourceType]}, "
                         f"operations {[o.name for o in AclOperation]}, patterns "
                         f"{[p.name for p in ResourcePatternType]}, permissions ALLOW/DENY") from None


def create_acls(admin: AdminClient, bindings: list[AclBinding]) -> None:
    """Create `bindings` and wait for each to be stored."""
    for future in admin.create_acls(bindings, request_timeout=30).values():
        future.result()


def delete_acl(admin: AdminClient, binding: AclBinding) -> int:
    """Delete exactly `binding` (same resource, pattern, principal, host, operation and permission); how many
    bindings that removed (0 or 1)."""
    exact = AclBindingFilter(binding.restype, binding.name, binding.resource_pattern_type, binding.principal,
                             binding.host, binding.operation, binding.permission_type)
    return sum(len(future.result()) for future in admin.delete_acls([exact], request_timeout=30).values())


def role_acls(role: list[tuple[str, str, str, str]], principal: str) -> list[AclBinding]:
    """The ACLs that give `principal` a role: `role` is a list of (resource, name, pattern, operation), e.g.
    ``[("TOPIC", "orders-", "PREFIXED", "WRITE"), ("GROUP", "billing", "LITERAL", "READ")]`` (all ALLOW).
    RBAC on plain Kafka is this: a role is a named ACL set, granted by creating its ACLs for each member."""
    return [acl(principal, resource, name, operation, pattern=pattern) for resource, name, pattern, operation in role]


def _principal_filter(principal: str | None) -> AclBindingFilter:
    return AclBindingFilter(ResourceType.ANY, None, ResourcePatternType.ANY, principal, None, AclOperation.ANY,
                            AclPermissionType.ANY)


def acl_table(admin: AdminClient, principal: str | None = None) -> pd.DataFrame:
    """The ACLs the cluster holds (of `principal`, e.g. ``"User:alice"``, or everyone's): one row per binding,
    as describe_acls returns them, sorted."""
    bindings = admin.describe_acls(_principal_filter(principal), request_timeout=30).result()
    rows = [{"principal": b.principal, "permission": b.permission_type.name, "operation": b.operation.name,
             "resource": b.restype.name, "pattern": b.resource_pattern_type.name, "name": b.name, "host": b.host}
            for b in bindings]
    columns = ["principal", "permission", "operation", "resource", "pattern", "name", "host"]
    return pd.DataFrame(rows, columns=columns).sort_values(columns, ignore_index=True)


def delete_acls(admin: AdminClient, principal: str) -> int:
    """Delete every ACL of `principal` (``"User:…"``; a principal is required: this never deletes everyone's);
    how many were deleted."""
    if not principal or not principal.startswith("User:"):
        raise ValueError(f"delete_acls takes a principal such as 'User:alice', not {principal!r}")
    deleted = 0
    for future in admin.delete_acls([_principal_filter(principal)], request_timeout=30).values():
        deleted += len(future.result())
    return deleted


# -- certificates ------------------------------------------------------------------------------------------------
def certificate_row(path: str | Path) -> dict[str, Any]:
    """What a PEM certificate file says: subject, issuer, SANs, validity, whether it is a CA, and whether it is
    valid now (the first certificate in the file)."""
    cert = x509.load_pem_x509_certificate(Path(path).read_bytes())
    try:
        sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value.get_values_for_type(x509.DNSName)
    except x509.ExtensionNotFound:
        sans = []
    try:
        is_ca = cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    except x509.ExtensionNotFound:
        is_ca = False
    now = dt.datetime.now(dt.timezone.utc)
    return {"file": Path(path).name, "subject": cert.subject.rfc4514_string(), "issuer": cert.issuer.rfc4514_string(),
            "SAN": ", ".join(sans), "CA": is_ca, "not before": cert.not_valid_before_utc.strftime("%Y-%m-%d %H:%M"),
            "not after": cert.not_valid_after_utc.strftime("%Y-%m-%d %H:%M"),
            "valid now": cert.not_valid_before_utc <= now <= cert.not_valid_after_utc}


def certificate_table(paths: list[str | Path]) -> pd.DataFrame:
    """:func:`certificate_row` for each file, as a table."""
    return pd.DataFrame([certificate_row(p) for p in paths])
