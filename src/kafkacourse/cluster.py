"""Finding the cluster, and the admin / produce / consume helpers every lesson uses.

>>> import kafkacourse as kc
>>> cluster = kc.connect()                       # env var, else the running local stack, else start it
>>> topic = cluster.create_topic(kc.unique_name("orders"), partitions=3)
>>> cluster.produce(topic, [("k1", "hello"), ("k2", "world")])     # a DataFrame of delivery reports
>>> cluster.consume(topic, n=2)                                      # a DataFrame of records
"""

from __future__ import annotations

import logging
import os
import time
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
from confluent_kafka import (OFFSET_BEGINNING, Consumer, IsolationLevel, KafkaError,
                             KafkaException, Message, Producer, TopicPartition)
from confluent_kafka.admin import AdminClient, NewTopic, OffsetSpec

from .connection import (BOOTSTRAP_ENV, BIN_DIR, PYTHON_ONLY_KEYS, REGISTRY_ENV, client_config,  # noqa: F401
                         connect, refuse_keywords)
from .stack import LocalStack, StackError
from .stack.processes import SILENT
from .stack.profiles import proxy_ports

# A group coordinator moving or loading: the request may be sent again (Cluster.commit_offsets).
COORDINATOR_NOT_READY = {KafkaError.NOT_COORDINATOR, KafkaError.COORDINATOR_LOAD_IN_PROGRESS,
                         KafkaError.COORDINATOR_NOT_AVAILABLE}


class TopicNotFoundError(ValueError):
    """The topic a call names does not exist on the cluster (the message names both)."""


class _ListHandler(logging.Handler):
    def __init__(self, sink: list[str]) -> None:
        super().__init__()
        self.sink = sink

    def emit(self, record: logging.LogRecord) -> None:
        self.sink.append(record.getMessage())


def quiet_logger(name: str, sink: list[str] | None = None) -> logging.Logger:
    """A logger for a client's ``logger=`` setting that keeps its lines in `sink` instead of printing them.

    >>> lines = []; producer = cluster.producer(settings={"logger": quiet_logger("p", lines)})
    """
    logger = logging.Logger(name)  # not registered globally: gone with its client
    logger.addHandler(_ListHandler(sink if sink is not None else []))
    return logger


def unique_name(prefix: str) -> str:
    """`prefix` plus a short random suffix, so a notebook re-run never collides with its last run.

    >>> unique_name("orders")   # e.g. 'orders-3f9a1c'

    Inside a notebook the name is recorded for that lesson, so `kafkacourse reset --lesson` can delete it
    (`kafkacourse.course.lessons`).
    """
    from .course.lessons import remember

    name = f"{prefix}-{uuid.uuid4().hex[:6]}"
    remember(name)
    return name


@dataclass
class Cluster:
    """A reachable Kafka cluster (and its schema registry) with small helpers around confluent-kafka.

    `client_settings` are what every client of this cluster needs besides bootstrap.servers (security.protocol,
    sasl.*, ssl.* for a secured cluster); `principal` is who those settings connect as (``"anonymous"`` on a
    PLAINTEXT cluster). :func:`kafkacourse.connect` fills them in."""

    bootstrap_servers: str
    schema_registry_url: str
    expected_brokers: int = 1
    stack: LocalStack | None = None
    client_settings: dict[str, Any] = field(default_factory=dict, repr=False)
    registry_settings: dict[str, Any] = field(default_factory=dict, repr=False)
    principal: str = "anonymous"
    _admin: AdminClient | None = field(default=None, repr=False)
    admin_log: list[str] = field(default_factory=list, repr=False)

    @property
    def proxied_bootstrap_servers(self) -> str:
        """The same brokers through their PROXIED listeners (port + 2, on the local stack and in docker compose):
        reachable only while a fault-injection proxy forwards each of those ports (Day 2)."""
        if self.stack is not None:
            return self.stack.proxied_bootstrap_servers
        return ",".join(f"{host}:{proxy_ports(int(port))[0]}" for host, port in
                        (address.rsplit(":", 1) for address in self.bootstrap_servers.split(",")))

    # -- who connects ----------------------------------------------------------------------------------------
    def as_principal(self, name: str) -> "Cluster":
        """The same local cluster with clients that connect as `name` (a principal of its profile).

        On the secure profile: ``admin`` (super user), ``alice`` and ``bob`` (SCRAM-SHA-512 over SASL_SSL,
        port 9592), ``carol`` (a client certificate over SSL, port 9594).

        >>> secure = kc.connect(profile="secure")           # admin
        >>> bob = secure.as_principal("bob")
        >>> bob.produce(topic, ["hi"])                      # TOPIC_AUTHORIZATION_FAILED until an ACL allows it
        """
        if self.stack is None:
            raise StackError("as_principal works on the local stack; for another cluster set its credentials "
                             "in KAFKA_CLIENT_CONFIG or the KAFKA_CLIENT_* variables")
        settings = self.stack.client_settings(name)
        return Cluster(settings["bootstrap.servers"], self.schema_registry_url, self.expected_brokers, self.stack,
                       client_settings=settings, registry_settings=dict(self.registry_settings),
                       principal=self.stack.profile.principal(name).name)

    # -- clients ---------------------------------------------------------------------------------------------
    def config(self, *, settings: dict[str, Any] | None = None, **keywords: Any) -> dict[str, Any]:
        """The config of a client of this cluster: its bootstrap servers and security settings, then `settings`
        (one dict of librdkafka's dotted names, as confluent-kafka takes them; Python settings such as
        ``logger`` or ``stats_cb`` go in it too). Keyword settings (``linger_ms=5``) are refused with the
        dotted spelling. Every client method of this class takes `settings` the same way.

        >>> cluster.config(settings={"enable.idempotence": True, "linger.ms": 5})
        """
        refuse_keywords("Cluster.config", keywords)
        return client_config({**self.client_settings, "bootstrap.servers": self.bootstrap_servers}, settings)

    def registry_config(self) -> dict[str, Any]:
        """The config of a confluent_kafka SchemaRegistryClient for this cluster's registry."""
        return {"url": self.schema_registry_url, **self.registry_settings}

    def admin(self) -> AdminClient:
        """The cluster's AdminClient (one, cached). Its connection log lines (a killed broker's "Disconnected")
        go to ``admin_log`` instead of the notebook; failures still raise from the calls."""
        if self._admin is None:
            self._admin = AdminClient(self.config(settings={"logger": quiet_logger("admin", self.admin_log)}))
        return self._admin

    def producer(self, *, settings: dict[str, Any] | None = None, **keywords: Any) -> Producer:
        """A Producer of this cluster (as this cluster's principal) with `settings` (librdkafka's dotted
        names); flush and close it in ``finally``.

        >>> producer = cluster.producer(settings={"enable.idempotence": True})
        """
        refuse_keywords("Cluster.producer", keywords)
        return Producer(self.config(settings=settings))

    def consumer(self, group_id: str | None = None, *, settings: dict[str, Any] | None = None,
                 **keywords: Any) -> Consumer:
        """A consumer in `group_id` (a fresh unique group by default) that starts from the earliest offset,
        with `settings` (librdkafka's dotted names) on top; close it in ``finally``.

        >>> consumer = cluster.consumer("billing", settings={"enable.auto.commit": False})
        """
        refuse_keywords("Cluster.consumer", keywords)
        if group_id is not None and not isinstance(group_id, str):
            raise TypeError(f"Cluster.consumer(group_id, *, settings=…): group_id is a str, not a "
                            f"{type(group_id).__name__} ({group_id!r}); pass client settings as settings={{…}}")
        return Consumer(self.config(settings={"auto.offset.reset": "earliest",
                                              "group.id": group_id or unique_name("group"), **(settings or {})}))

    def wait_until_answering(self, timeout: float = 30.0) -> None:
        """Wait until metadata lists the expected number of brokers; a clear TimeoutError otherwise.

        A broker that refuses the client's credentials (librdkafka's ``_AUTHENTICATION``: a wrong password or API
        key, an unknown user) raises that KafkaException at once, with the client's own message: waiting longer
        would not change the answer."""
        deadline = time.monotonic() + timeout
        seen: set[int] = set()
        refused: list[KafkaError] = []
        probe = AdminClient(self.config(settings={
            "logger": SILENT, "socket.connection.setup.timeout.ms": 2000,
            "error_cb": lambda err: refused.append(err) if err.code() == KafkaError._AUTHENTICATION else None}))
        while time.monotonic() < deadline:
            try:
                seen = set(probe.list_topics(timeout=2).brokers)
                if len(seen) >= self.expected_brokers:
                    return
            except KafkaException:
                pass
            probe.poll(0)  # serves error_cb
            if refused:
                raise KafkaException(refused[0])
            time.sleep(0.3)
        raise TimeoutError(
            f"Kafka at {self.bootstrap_servers} did not answer within {timeout:.0f} s "
            f"(brokers seen: {sorted(seen) or 'none'}). Is it running? Try `kafkacourse status` / `kafkacourse doctor`."
        )

    def brokers(self) -> pd.DataFrame:
        """One row per live broker: id, host, port.

        (No "controller" column: under KRaft, brokers answer DescribeCluster with a random live broker as the
        controller, KAFKA-17404; `kafka-metadata-quorum.sh describe --status` names the real quorum leader.)"""
        meta = self.admin().describe_cluster(request_timeout=10).result()
        return pd.DataFrame(
            [{"broker": n.id, "host": n.host, "port": n.port} for n in meta.nodes]
        ).sort_values("broker", ignore_index=True)

    # -- topics ----------------------------------------------------------------------------------------------
    def _metadata(self):
        # Always the whole cluster's metadata: asking for one topic by name may auto-create it on some brokers.
        return self.admin().list_topics(timeout=10)

    def _partitions(self, name: str, settle_s: float = 5.0) -> dict:
        """The topic's partition metadata; TopicNotFoundError naming the topic when it does not exist. Brokers
        learn of a new topic a moment apart: one that does not know it yet is asked again for up to `settle_s` s."""
        deadline = time.monotonic() + settle_s
        while True:
            topic = self._metadata().topics.get(name)
            if topic is not None and topic.error is None:
                return topic.partitions
            if time.monotonic() > deadline:
                raise TopicNotFoundError(f"no topic {name!r} on {self.bootstrap_servers}"
                                         + (f": {topic.error.str()}" if topic is not None else ""))
            time.sleep(0.2)

    def create_topic(self, name: str, partitions: int = 1, replication_factor: int | None = None,
                     config: dict[str, str] | None = None, timeout: float = 30.0) -> str:
        """Create `name` unless it exists, wait until every partition has a leader, return the name.

        An existing topic with another partition count raises ValueError (delete it or pick a new name).
        `replication_factor` defaults to the cluster's default (1 on one broker, 3 on the cluster).
        """
        existing = self._metadata().topics.get(name)
        if existing is not None and existing.error is None:
            if len(existing.partitions) != partitions:
                raise ValueError(f"topic {name!r} exists with {len(existing.partitions)} partitions, not {partitions}")
        else:
            new = NewTopic(name, num_partitions=partitions, replication_factor=replication_factor or -1,
                           config=config or {})
            try:
                self.admin().create_topics([new], request_timeout=timeout)[name].result()
            except KafkaException as exc:
                if exc.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
                    raise
        self._wait_for_leaders(name, partitions, timeout)
        return name

    def _wait_for_leaders(self, name: str, partitions: int, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            topic = self._metadata().topics.get(name)
            if topic and topic.error is None and len(topic.partitions) == partitions \
                    and all(p.leader >= 0 for p in topic.partitions.values()):
                return
            time.sleep(0.2)
        raise TimeoutError(f"topic {name!r} did not get a leader for each of its {partitions} partitions in {timeout:.0f} s")

    def delete_topic(self, name: str, timeout: float = 30.0) -> None:
        """Delete `name` if it exists and wait until it is gone."""
        try:
            self.admin().delete_topics([name], request_timeout=timeout)[name].result()
        except KafkaException as exc:
            if exc.args[0].code() != KafkaError.UNKNOWN_TOPIC_OR_PART:
                raise
        # Each broker applies the deletion from the metadata log on its own, and each metadata request goes to
        # any one of them: gone means absent from two answers in a row per broker (one answer on one broker).
        deadline, absent, needed = time.monotonic() + timeout, 0, 1
        while absent < needed and time.monotonic() < deadline:
            metadata = self._metadata()
            absent = 0 if name in metadata.topics else absent + 1
            needed = 1 if len(metadata.brokers) <= 1 else 2 * len(metadata.brokers)
            if absent < needed:
                time.sleep(0.05 if absent else 0.2)

    def topics(self, prefix: str = "") -> list[str]:
        """Names of the topics (internal ones left out) that start with `prefix`, sorted."""
        return sorted(t for t in self._metadata().topics if t.startswith(prefix) and not t.startswith("__"))

    def describe_topic(self, name: str) -> pd.DataFrame:
        """One row per partition: leader, replicas and in-sync replicas (ISR), as the brokers report them now."""
        # Metadata answers from any live broker (DescribeTopics may wait for a controller that was just killed).
        return pd.DataFrame([
            {"partition": p.id, "leader": p.leader if p.leader >= 0 else None,
             "replicas": list(p.replicas), "isr": list(p.isrs)}
            for p in self._partitions(name).values()
        ]).sort_values("partition", ignore_index=True)

    def end_offsets(self, name: str, isolation_level: str = "read_uncommitted", timeout: float = 10.0) -> dict[int, int]:
        """The end offset of each partition: the high watermark (how many records it has ever received), or with
        ``isolation_level="read_committed"`` the last stable offset (LSO: where a read_committed reader must stop
        while a transaction is open). Asks again while a partition's leadership settles (within `timeout` s).

        >>> cluster.end_offsets(topic)                                   # {0: 120, 1: 98, 2: 131}
        >>> cluster.end_offsets(topic, isolation_level="read_committed")  # lower while a transaction is open
        """
        levels = {"read_uncommitted": IsolationLevel.READ_UNCOMMITTED, "read_committed": IsolationLevel.READ_COMMITTED}
        if isolation_level not in levels:
            raise ValueError(f"isolation_level is 'read_uncommitted' or 'read_committed', not {isolation_level!r}")
        request = {TopicPartition(name, p): OffsetSpec.latest() for p in sorted(self._partitions(name))}
        deadline = time.monotonic() + timeout
        while True:
            try:
                futures = self.admin().list_offsets(request, isolation_level=levels[isolation_level],
                                                    request_timeout=timeout)
                return {tp.partition: future.result().offset for tp, future in sorted(
                    futures.items(), key=lambda item: item[0].partition)}
            except KafkaException as exc:
                if exc.args[0].code() not in _LEADER_MOVING or time.monotonic() > deadline:
                    raise
                time.sleep(0.1)

    def wait_until_stable(self, name: str, timeout: float = 30.0) -> dict[int, int]:
        """Wait until no transaction is open on `name` (last stable offset = end offset); the end offsets."""
        deadline = time.monotonic() + timeout
        while True:
            stable, ends = self.end_offsets(name, isolation_level="read_committed"), self.end_offsets(name)
            if stable == ends:
                return ends
            if time.monotonic() > deadline:
                raise TimeoutError(f"{name!r} still has an open transaction after {timeout:.0f} s: "
                                   f"last stable offsets {stable}, end offsets {ends}")
            time.sleep(0.1)

    def group_offsets(self, group: str, topic: str) -> pd.DataFrame:
        """What ``kafka-consumer-groups.sh --describe --group <group>`` reports for `topic`, via the AdminClient.

        One row per partition: the group's committed offset (``None`` where it committed none), the partition's
        log-end offset, and the lag (end minus committed, a missing commit counting as 0). Empty when the topic
        does not exist.

        >>> cluster.group_offsets("billing", "orders")     # partition, committed, end, lag
        """
        columns = ["partition", "committed", "end", "lag"]
        if topic not in self.topics():
            return pd.DataFrame(columns=columns)
        ends = self.end_offsets(topic)
        committed = {p: offset for (_, p), offset in
                     self.committed(group, [TopicPartition(topic, p) for p in sorted(ends)]).items()}
        rows = [{"partition": p, "committed": committed.get(p), "end": end, "lag": end - (committed.get(p) or 0)}
                for p, end in sorted(ends.items())]
        frame = pd.DataFrame(rows, columns=columns)
        frame["committed"] = pd.Series([row["committed"] for row in rows], dtype=object)  # ints and None, not floats
        return frame

    def committed(self, group: str, partitions: list[TopicPartition],
                  timeout: float = 30.0) -> dict[tuple[str, int], int | None]:
        """The offset `group` committed on each of `partitions`, as {(topic, partition): offset} (None where it
        committed none). Read by a consumer of the group that joins nothing (``Consumer.committed()``), not by the
        AdminClient's ``list_consumer_group_offsets``: when that answer says the coordinator moved or is not
        ready, librdkafka's admin client dereferences a group handle it does not have and the whole process dies
        with SIGSEGV (librdkafka #5040; seen here beside two CPU burners). A consumer asks the new coordinator
        itself; a request that still fails is asked again until `timeout` s.

        >>> cluster.committed("billing", [TopicPartition("orders", 0)])     # {("orders", 0): 15}
        """
        consumer = self.consumer(group, settings={"enable.auto.commit": False})
        deadline = time.monotonic() + timeout
        try:
            while True:
                try:
                    answer = consumer.committed(partitions, timeout=10)
                    for tp in answer:
                        if tp.error is not None:
                            raise KafkaException(tp.error)
                    return {(tp.topic, tp.partition): tp.offset if tp.offset >= 0 else None  # -1001: none
                            for tp in answer}
                except KafkaException as exc:
                    if exc.args[0].code() not in COORDINATOR_NOT_READY | {KafkaError._TIMED_OUT} \
                            or time.monotonic() > deadline:
                        raise
                    time.sleep(0.2)
        finally:
            consumer.close()

    def commit_offsets(self, group: str, offsets: list[TopicPartition], timeout: float = 30.0) -> None:
        """Commit `offsets` for `group` without reading, as a member that had read that far would: a starting
        point for a lesson or a test. A coordinator that is moving or still loading (NOT_COORDINATOR,
        COORDINATOR_LOAD_IN_PROGRESS, COORDINATOR_NOT_AVAILABLE) is asked again until `timeout` s; librdkafka
        hands these to a synchronous commit instead of retrying it.

        >>> cluster.commit_offsets("billing", [TopicPartition("orders", 0, 15)])
        """
        consumer = self.consumer(group, settings={"enable.auto.commit": False})
        deadline = time.monotonic() + timeout
        try:
            while True:
                try:
                    consumer.commit(offsets=offsets, asynchronous=False)
                    return
                except KafkaException as exc:
                    if exc.args[0].code() not in COORDINATOR_NOT_READY or time.monotonic() > deadline:
                        raise
                    time.sleep(0.2)
        finally:
            consumer.close()

    # -- data ------------------------------------------------------------------------------------------------
    def produce(self, topic: str, records: Iterable[Any], *, settings: dict[str, Any] | None = None,
                **keywords: Any) -> pd.DataFrame:
        """Produce records and wait for every delivery report; one row per record.

        Each record is a value (str, bytes, number), a ``(key, value)`` pair, or a dict with ``key``, ``value``,
        ``partition``, ``headers``, ``timestamp``; anything else is refused before a record is sent. str values
        are UTF-8 encoded. `settings` (librdkafka's dotted names) configure the producer. Rows: key, value, partition, offset,
        error (the broker's or client's error per record, e.g. TOPIC_AUTHORIZATION_FAILED), latency_ms.
        """
        refuse_keywords("Cluster.produce", keywords)
        batch = [_record_fields(record) for record in records]  # a bad record fails before any is sent
        producer = self.producer(settings=settings)
        reports: list[dict[str, Any]] = []

        def on_delivery(err, msg, sent_at):  # called from flush()/poll() once the broker answered
            reports.append({
                "key": _decode(msg.key()), "value": _decode(msg.value()), "partition": msg.partition(),
                "offset": msg.offset() if err is None else None, "error": str(err) if err else None,
                "latency_ms": (time.perf_counter() - sent_at) * 1000,
            })

        try:
            for fields in batch:
                sent_at = time.perf_counter()
                producer.produce(topic, **fields, on_delivery=lambda e, m, t=sent_at: on_delivery(e, m, t))
                producer.poll(0)
        finally:
            remaining = producer.flush(30)
        if remaining:
            raise TimeoutError(f"{remaining} records to {topic!r} got no delivery report within 30 s")
        return pd.DataFrame(reports, columns=["key", "value", "partition", "offset", "error", "latency_ms"])

    def consume(self, topic: str, n: int | None = None, group_id: str | None = None,
                timeout: float = 10.0, *, settings: dict[str, Any] | None = None, **keywords: Any) -> pd.DataFrame:
        """Read `topic` from the earliest offset until `n` records arrived or none came for `timeout` s.

        Uses a fresh consumer group unless `group_id` is given, and commits nothing unless `settings` ask for
        it. Rows: partition, offset, key, value, timestamp (ms).
        """
        refuse_keywords("Cluster.consume", keywords)
        consumer = self.consumer(group_id, settings={"enable.auto.commit": False, **(settings or {})})
        rows: list[dict[str, Any]] = []
        try:
            consumer.subscribe([topic])
            idle_since = time.monotonic()
            while (n is None or len(rows) < n) and time.monotonic() - idle_since < timeout:
                msg = consumer.poll(0.2)
                if msg is None:
                    continue
                if msg.error():
                    if msg.error().code() == KafkaError._PARTITION_EOF:
                        continue
                    raise KafkaException(msg.error())
                idle_since = time.monotonic()
                rows.append({"partition": msg.partition(), "offset": msg.offset(), "key": _decode(msg.key()),
                             "value": _decode(msg.value()), "timestamp": msg.timestamp()[1]})
        finally:
            consumer.close()
        return pd.DataFrame(rows, columns=["partition", "offset", "key", "value", "timestamp"])

    def messages(self, topics: str | list[str], isolation_level: str = "read_committed", timeout: float = 30.0,
                 *, settings: dict[str, Any] | None = None, **keywords: Any) -> list[Message]:
        """Every record the topics hold now, as raw confluent-kafka Messages, in partition order.

        Reads each partition from its start to its end (the end-of-partition event) with partitions assigned
        directly: no consumer group, nothing committed, no group coordinator needed (one may live on a broker
        that just restarted). With read_committed a partition ends at its last stable offset, so records of
        an open or aborted transaction are not returned. A TimeoutError after `timeout` s.

        >>> [m.value() for m in cluster.messages(topic)]
        """
        refuse_keywords("Cluster.messages", keywords)
        names = [topics] if isinstance(topics, str) else list(topics)
        partitions = [TopicPartition(t, p, OFFSET_BEGINNING) for t in names for p in sorted(self._partitions(t))]
        consumer = self.consumer(settings={**READ_TO_END, "isolation.level": isolation_level, **(settings or {})})
        try:
            consumer.assign(partitions)
            return list(read_to_end(consumer, [(tp.topic, tp.partition) for tp in partitions], timeout))
        finally:
            consumer.close()

    # -- local stack only ------------------------------------------------------------------------------------
    def _local_stack(self) -> LocalStack:
        if self.stack is None:
            raise StackError("broker processes can only be killed and restarted on the local stack; "
                             "with docker compose use `docker compose kill kafka-2` / `docker compose start kafka-2`")
        return self.stack

    def kill_broker(self, node_id: int) -> None:
        """SIGKILL one broker of the local stack (a crash: no controlled shutdown)."""
        self._local_stack().kill_broker(node_id)

    def start_broker(self, node_id: int) -> None:
        """Start a killed broker of the local stack again and wait until it answers."""
        self._local_stack().start_broker(node_id, progress=print)


# The consumer settings read_to_end needs: an event at each partition's end, said quickly; nothing committed.
READ_TO_END = {"enable.auto.commit": False, "enable.partition.eof": True, "fetch.wait.max.ms": 50}


def read_to_end(consumer: Consumer, partitions: Iterable[tuple[str, int]], timeout: float = 30.0,
                what: str = "") -> Iterator[Message]:
    """Poll `consumer` and yield each record until every one of `partitions` ((topic, partition) pairs) is at its
    end at the same moment. The consumer is assigned or subscribed already, with the :data:`READ_TO_END`
    settings (``enable.partition.eof=true``); with read_committed a partition's end is its last stable offset.
    A record on a partition that was at its end (it grew meanwhile) reopens it. A consumer error raises
    KafkaException; TimeoutError after `timeout` s names the partitions not at their end (after `what`).

    >>> consumer.assign([TopicPartition(topic, 0, OFFSET_BEGINNING)])
    >>> values = [m.value() for m in read_to_end(consumer, [(topic, 0)])]

    The caller may stop early (``break``, or an exception of its own, as a simulated crash does).
    """
    expected = set(partitions)
    at_end: set[tuple[str, int]] = set()
    deadline = time.monotonic() + timeout
    while not expected <= at_end:
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what + ': ' if what else ''}partitions {sorted(expected - at_end)} not read to "
                               f"their end in {timeout:.0f} s")
        msg = consumer.poll(0.2)
        if msg is None:
            continue
        if msg.error():
            if msg.error().code() != KafkaError._PARTITION_EOF:
                raise KafkaException(msg.error())
            at_end.add((msg.topic(), msg.partition()))
            continue
        at_end.discard((msg.topic(), msg.partition()))
        yield msg


# Answers of a partition whose leadership is not settled yet (a topic created a moment ago, a leader that moved).
_LEADER_MOVING = {KafkaError.NOT_LEADER_FOR_PARTITION, KafkaError.LEADER_NOT_AVAILABLE, KafkaError.UNKNOWN_TOPIC_OR_PART}


def _decode(data: bytes | None) -> Any:
    if data is None:
        return None
    try:
        return data.decode()
    except UnicodeDecodeError:
        return data


def _encode(data: Any) -> bytes | None:
    if data is None or isinstance(data, bytes):
        return data
    return str(data).encode()


RECORD_KEYS = {"key", "value", "partition", "headers", "timestamp"}
SCALARS = (str, bytes, int, float, bool, type(None))


def _record_fields(record: Any) -> dict[str, Any]:
    """produce()'s arguments for one record: a value, a (key, value) pair, or a dict of RECORD_KEYS."""
    if isinstance(record, dict):
        unknown = set(record) - RECORD_KEYS
        if unknown:
            raise ValueError(f"a record dict has the keys {sorted(RECORD_KEYS)}, not {sorted(unknown)} "
                             f"(to send a dict as the value, serialize it: {{'value': json.dumps(...)}})")
        fields = {"key": _encode(record.get("key")), "value": _encode(record.get("value"))}
        for name in ("partition", "headers", "timestamp"):
            if record.get(name) is not None:
                fields[name] = record[name]
        return fields
    if isinstance(record, tuple):
        if len(record) != 2:
            raise ValueError(f"a record tuple is (key, value); got {len(record)} items: {record!r}")
        return {"key": _encode(record[0]), "value": _encode(record[1])}
    if not isinstance(record, SCALARS):
        raise TypeError(f"a record is a value (str, bytes, number), a (key, value) tuple or a dict with "
                        f"{sorted(RECORD_KEYS)}; got a {type(record).__name__}: {record!r}")
    return {"value": _encode(record)}
