"""MirrorMaker 2 on the course's Connect worker, and a failover measured with the delivery ledger (Day 5).

A :class:`MirrorFlow` is one replication flow ``source → target`` made of Apache Kafka's three Mirror
connectors (``connect-mirror`` 4.3.1) on the course's distributed Connect worker:

* ``MirrorSourceConnector`` copies the topics' records (and partitions and topic configs) into the target, as
  ``<source alias>.<topic>`` with the default replication policy or under the same name with
  ``identity=True`` (``IdentityReplicationPolicy``); it writes *offset syncs* (upstream offset ↔ downstream
  offset pairs) to ``mm2-offset-syncs.<target alias>.internal``.
* ``MirrorCheckpointConnector`` reads the groups' committed offsets on the source, translates them with the
  offset syncs, writes them as checkpoints to ``<source alias>.checkpoints.internal`` on the target and, with
  ``sync.group.offsets.enabled``, commits them for the same group on the target (only while that group has
  no active member there).
* ``MirrorHeartbeatConnector`` writes a heartbeat a second to ``heartbeats`` on the target: a flow that is
  alive keeps that topic growing.

The worker keeps its own state on ``single``; every connector's producer is overridden to write into the
target, and the offset syncs live on the target too (``offset-syncs.topic.location=target``, in
``mm2-offset-syncs.<source alias>.internal``), so they outlive the source. Every interval is one second, so a lesson sees checkpoints within seconds (the defaults are 60 s).

>>> flow = MirrorFlow(connect, primary, dr, topics=[topic], groups=[group])
>>> flow.start()                                   # the three connectors RUNNING
>>> flow.wait_mirrored(topic)                      # the target has every record the source has now
>>> flow.offsets(group, topic)                     # committed on the source vs translated on the target
>>> flow.delete()                                  # connectors, then every topic the flow made on the target

:func:`scratch_primary` starts a throw-away one-node cluster on free ports (a primary a lesson may SIGKILL);
:func:`failover_report` turns a ledger of a failover into RPO, RTO and duplicates.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pandas as pd
from confluent_kafka import TopicPartition
from confluent_kafka.admin import OffsetSpec

if TYPE_CHECKING:
    from ..cluster import Cluster
    from ..kafka_connect import KafkaConnect
    from ..stack.local import LocalStack
    from .ledger import DeliveryLedger

MIRROR = "org.apache.kafka.connect.mirror."
SOURCE, CHECKPOINT, HEARTBEAT = (MIRROR + c for c in
                                 ("MirrorSourceConnector", "MirrorCheckpointConnector", "MirrorHeartbeatConnector"))
DEFAULT_POLICY = MIRROR + "DefaultReplicationPolicy"
IDENTITY_POLICY = MIRROR + "IdentityReplicationPolicy"
BYTES = "org.apache.kafka.connect.converters.ByteArrayConverter"


def scratch_primary(name: str = "dr-primary", offset: int | None = None) -> "LocalStack":
    """A one-node cluster configured like ``single`` but on free ports (a port offset, picked by
    :func:`kafkacourse.stack.profiles.free_offset` unless given) with its own data dir
    (``<KAFKA_COURSE_HOME>/stacks/<name>``): a primary that a lesson may SIGKILL without taking the shared
    ``single`` broker (and the Connect worker whose state lives there) down with it. Not started: call
    ``up()``; ``reset()`` stops it and deletes its data.

    >>> primary_stack = scratch_primary(); primary_stack.up(progress=lambda line: None)
    >>> primary = kc.Cluster(primary_stack.bootstrap_servers, "", 1, stack=primary_stack)
    """
    from ..stack import profiles
    from ..stack.local import LocalStack

    if not name or name in profiles.NAMES:
        raise ValueError(f"a scratch primary needs a name of its own, not {name!r} (a course profile's data dir)")
    chosen = profiles.free_offset() if offset is None else offset
    profile = dataclasses.replace(profiles.get("single", offset=chosen), name=name, services=(),
                                  description="a scratch primary cluster for the disaster-recovery lesson")
    return LocalStack(profile=profile)


def start_offsets(cluster: "Cluster", topic: str) -> dict[int, int]:
    """The first offset still in each partition of `topic` (the log start offset, moved by retention or
    ``delete_records``)."""
    partitions = sorted(cluster.end_offsets(topic))
    request = {TopicPartition(topic, p): OffsetSpec.earliest() for p in partitions}
    futures = cluster.admin().list_offsets(request, request_timeout=10)
    return {tp.partition: f.result().offset for tp, f in sorted(futures.items(), key=lambda i: i[0].partition)}


def committed_offsets(cluster: "Cluster", group: str, topic: str) -> dict[int, int | None]:
    """The group's committed offset per partition of `topic` on `cluster` (None where it committed none)."""
    partitions = [TopicPartition(topic, p) for p in sorted(cluster.end_offsets(topic))]
    return {p: offset for (_, p), offset in cluster.committed(group, partitions).items()}


@dataclass
class MirrorFlow:
    """One MirrorMaker 2 flow from `source` to `target` (see the module docstring) for `topics` and `groups`.

    `source_alias` / `target_alias` name the clusters (the remote topic is ``<source_alias>.<topic>``; with
    `identity` it keeps its name); `name` prefixes the three connectors' names (default
    ``"<source_alias>-to-<target_alias>"``); `interval_s` is every refresh, sync, checkpoint and heartbeat
    interval; `settings` are extra settings for every connector (e.g. ``{"offset.lag.max": 10}``)."""

    connect: "KafkaConnect"
    source: "Cluster"
    target: "Cluster"
    topics: list[str]
    groups: list[str] = field(default_factory=list)
    source_alias: str = "primary"
    target_alias: str = "dr"
    identity: bool = False
    name: str | None = None
    interval_s: int = 1
    settings: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if isinstance(self.topics, str) or not self.topics:
            raise ValueError(f"topics is a non-empty list of topic names, not {self.topics!r}")
        if isinstance(self.groups, str):
            raise ValueError(f"groups is a list of group ids, not the string {self.groups!r}")
        if self.source_alias == self.target_alias or "." in self.source_alias + self.target_alias:
            raise ValueError("the two aliases must differ and contain no '.' (the replication policy's separator)")
        self.name = self.name or f"{self.source_alias}-to-{self.target_alias}"

    # -- names -----------------------------------------------------------------------------------------------
    def remote_topic(self, topic: str) -> str:
        """The name of `topic`'s copy on the target: ``<source_alias>.<topic>``, or `topic` with `identity`."""
        return topic if self.identity else f"{self.source_alias}.{topic}"

    @property
    def connector_names(self) -> dict[str, str]:
        """Role (source, checkpoint, heartbeat) → connector name."""
        return {role: f"{self.name}-{role}" for role in ("source", "checkpoint", "heartbeat")}

    @property
    def internal_topics(self) -> list[str]:
        """The topics the flow's connectors create on the target besides the remote topics."""
        # Offset syncs kept on the target are named after the source (on the source: after the target).
        return [f"mm2-offset-syncs.{self.source_alias}.internal", f"{self.source_alias}.checkpoints.internal",
                "heartbeats"]

    # -- configuration ---------------------------------------------------------------------------------------
    def configs(self) -> dict[str, dict[str, Any]]:
        """Connector name → its config, as sent to Connect's REST API."""
        every = {
            "source.cluster.alias": self.source_alias, "target.cluster.alias": self.target_alias,
            "source.cluster.bootstrap.servers": self.source.bootstrap_servers,
            "target.cluster.bootstrap.servers": self.target.bootstrap_servers,
            # The worker's own clients talk to `single`: the connectors' producers write into the target.
            "producer.override.bootstrap.servers": self.target.bootstrap_servers,
            "replication.policy.class": IDENTITY_POLICY if self.identity else DEFAULT_POLICY,
            "key.converter": BYTES, "value.converter": BYTES, "header.converter": BYTES,
            "tasks.max": 1, "replication.factor": 1,
            "offset-syncs.topic.location": "target", "offset-syncs.topic.replication.factor": 1,
            "checkpoints.topic.replication.factor": 1, "heartbeats.topic.replication.factor": 1,
            "topics": ",".join(self.topics), "groups": ",".join(self.groups) or "^$",
            **self.settings,
        }
        every_s = self.interval_s
        names = self.connector_names
        return {
            names["source"]: {**every, "connector.class": SOURCE, "refresh.topics.interval.seconds": every_s,
                              "sync.topic.configs.interval.seconds": every_s, "sync.topic.acls.enabled": False},
            names["checkpoint"]: {**every, "connector.class": CHECKPOINT,
                                  "emit.checkpoints.interval.seconds": every_s,
                                  "sync.group.offsets.enabled": True,
                                  "sync.group.offsets.interval.seconds": every_s,
                                  "refresh.groups.interval.seconds": every_s},
            names["heartbeat"]: {**every, "connector.class": HEARTBEAT,
                                 "emit.heartbeats.interval.seconds": every_s},
        }

    # -- lifecycle -------------------------------------------------------------------------------------------
    def start(self, roles: Iterable[str] = ("source", "checkpoint", "heartbeat"),
              timeout: float = 180.0) -> dict[str, str]:
        """Create (or update) the connectors of `roles` and wait until each runs its tasks; role → state.

        The checkpoint connector has no task until one of `groups` has committed offsets on the source for a
        mirrored topic: commit before starting it (it is left out when `groups` is empty)."""
        chosen = list(roles)
        unknown = set(chosen) - set(self.connector_names)
        if unknown:
            raise ValueError(f"the roles are {sorted(self.connector_names)}, not {sorted(unknown)}")
        if not self.groups and "checkpoint" in chosen:
            chosen.remove("checkpoint")
        configs = self.configs()
        for role in chosen:
            self.connect.put_config(self.connector_names[role], configs[self.connector_names[role]])
        return {role: self.connect.wait_running(self.connector_names[role], timeout=timeout)["connector"]["state"]
                for role in chosen}

    def delete(self, topics: bool = True, timeout: float = 30.0) -> list[str]:
        """Delete the connectors, then (with `topics`) the remote topics and the flow's internal topics on the
        target; returns the topics deleted. The source's topics are the caller's."""
        for name in self.connector_names.values():
            self.connect.delete(name, missing_ok=True)
        deleted = []
        if topics:
            present = set(self.target.topics())
            for topic in [*map(self.remote_topic, self.topics), *self.internal_topics]:
                if topic in present:
                    self.target.delete_topic(topic, timeout=timeout)
                    deleted.append(topic)
        return deleted

    # -- observations ----------------------------------------------------------------------------------------
    def record_counts(self, topic: str, cluster: "Cluster | None" = None) -> dict[int, int]:
        """Records in each partition of `topic` on `cluster` (default the source; end minus start offset)."""
        cluster = cluster or self.source
        ends, starts = cluster.end_offsets(topic), start_offsets(cluster, topic)
        return {p: ends[p] - starts[p] for p in ends}

    def wait_mirrored(self, topic: str, counts: dict[int, int] | None = None, timeout: float = 60.0) -> dict[int, int]:
        """Wait until the remote copy of `topic` holds `counts` records per partition (default: as many as the
        source holds now); the target's counts. TimeoutError with both sides' counts after `timeout` s."""
        wanted = self.record_counts(topic) if counts is None else counts
        remote = self.remote_topic(topic)
        deadline = time.monotonic() + timeout
        copied: dict[int, int] = {}
        while True:
            if remote in self.target.topics(remote):
                copied = self.record_counts(remote, self.target)
                if all(copied.get(p, 0) >= n for p, n in wanted.items()):
                    return copied
            if time.monotonic() > deadline:
                raise TimeoutError(f"{remote} on {self.target.bootstrap_servers} holds {copied or 'no records'}, "
                                   f"not {wanted}, after {timeout:.0f} s: is the source connector RUNNING?")
            time.sleep(0.25)

    def topic_config(self, topic: str, names: Iterable[str]) -> pd.DataFrame:
        """The topic configs `names` of `topic` on the source beside those of its remote copy on the target."""
        from confluent_kafka.admin import ConfigResource

        wanted = list(names)
        rows: dict[str, dict[str, Any]] = {n: {"config": n} for n in wanted}
        for side, cluster, name in (("source", self.source, topic), ("target", self.target, self.remote_topic(topic))):
            resource = ConfigResource(ConfigResource.Type.TOPIC, name)
            entries = cluster.admin().describe_configs([resource], request_timeout=10)[resource].result()
            for n in wanted:
                rows[n][side] = entries[n].value if n in entries else None
        return pd.DataFrame(list(rows.values()), columns=["config", "source", "target"])

    def wait_config(self, topic: str, config: str, value: str, timeout: float = 30.0) -> float:
        """Wait until the remote copy of `topic` has `config` = `value`; the seconds it took."""
        started = time.monotonic()
        while True:
            if self.topic_config(topic, [config])["target"].iloc[0] == value:
                return time.monotonic() - started
            if time.monotonic() - started > timeout:
                raise TimeoutError(f"{config} of {self.remote_topic(topic)} was not synced to {value!r} in "
                                   f"{timeout:.0f} s (sync.topic.configs.interval.seconds={self.interval_s})")
            time.sleep(0.25)

    def offsets(self, group: str, topic: str) -> pd.DataFrame:
        """Per partition: the group's committed offset on the source (`source_committed`) and the offset MM2
        committed for it on the target's remote topic (`target_committed`), with both topics' start offsets."""
        remote = self.remote_topic(topic)
        source = committed_offsets(self.source, group, topic)
        on_target = remote in self.target.topics(remote)
        target = committed_offsets(self.target, group, remote) if on_target else {}
        src_start = start_offsets(self.source, topic)
        dst_start = start_offsets(self.target, remote) if on_target else {}
        return pd.DataFrame([{"partition": p, "source_start": src_start.get(p), "source_committed": source[p],
                              "target_start": dst_start.get(p), "target_committed": target.get(p)}
                             for p in sorted(source)])

    def wait_group_synced(self, group: str, topic: str, timeout: float = 60.0) -> pd.DataFrame:
        """Wait until MM2 has committed offsets for `group` on the target's remote topic for every partition
        the group committed on the source; the :meth:`offsets` table. TimeoutError after `timeout` s."""
        deadline = time.monotonic() + timeout
        while True:
            table = self.offsets(group, topic)
            committed = table.dropna(subset=["source_committed"])
            if not committed.empty and committed["target_committed"].notna().all():
                return table
            if time.monotonic() > deadline:
                raise TimeoutError(f"MM2 committed no offsets for group {group!r} on {self.remote_topic(topic)} "
                                   f"within {timeout:.0f} s:\n{table}")
            time.sleep(0.25)

    def heartbeats(self) -> int:
        """How many heartbeats the flow has written to the target's ``heartbeats`` topic (0 before the first)."""
        if "heartbeats" not in self.target.topics("heartbeats"):
            return 0
        return sum(self.record_counts("heartbeats", self.target).values())


def settled(read: Callable[[], Any], quiet_s: float = 1.0, timeout: float = 30.0) -> Any:
    """Call `read` until it returns the same value for `quiet_s` seconds in a row; that value. For what
    still moves for a moment after a cluster died (the last records MM2 had fetched, its last offset sync).

    >>> settled(lambda: dr.end_offsets(remote))"""
    deadline = time.monotonic() + timeout
    value, since = read(), time.monotonic()
    while time.monotonic() - since < quiet_s:
        if time.monotonic() > deadline:
            raise TimeoutError(f"still changing after {timeout:.0f} s (last value {value!r})")
        time.sleep(0.2)
        now = read()
        if now != value:
            value, since = now, time.monotonic()
    return value


class SiteConsumer:
    """A consumer group member on one site (``"primary"`` or ``"dr"``) that reads `topic` on a background
    thread, writes every record into `ledger` (columns ``site`` and ``at``: ``time.perf_counter()`` minus
    `t0`), spends `work_s` seconds on each (the application's processing, so it can fall behind the
    producer), and commits the batch's offsets asynchronously after each batch.

    :meth:`stop` stops it *without* a last commit, as a site that dies takes its consumers with it; what was
    processed since the last commit is processed again wherever the group resumes. The client's log lines
    go to :attr:`log`. `settings` (librdkafka's dotted names) add consumer settings or override the above.

    >>> reader = SiteConsumer(primary, topic, group, ledger, "primary", work_s=0.004).start()
    >>> reader.wait_committed(); ...; reader.stop()
    """

    def __init__(self, cluster: "Cluster", topic: str, group: str, ledger: "DeliveryLedger", site: str, *,
                 work_s: float = 0.0, t0: float | None = None, batch: int = 50,
                 settings: Mapping[str, Any] | None = None, **keywords: Any) -> None:
        from ..cluster import quiet_logger
        from ..connection import refuse_keywords

        refuse_keywords("SiteConsumer", keywords)
        self.topic, self.group, self.ledger, self.site = topic, group, ledger, site
        self.work_s, self.batch = work_s, batch
        self.t0 = time.perf_counter() if t0 is None else t0
        self.log: list[str] = []
        self.consumer = cluster.consumer(group, settings={"enable.auto.commit": False, "on_commit": self._on_commit,
                                                          "logger": quiet_logger(f"{site}-{group}", self.log),
                                                          **(settings or {})})
        self.first_at: float | None = None          # when the first record arrived (seconds after t0)
        self.first_offsets: dict[int, int] = {}     # the first offset read in each partition
        self.positions: dict[int, int] = {}         # the next offset to read in each partition
        self.commits = 0                            # commits the broker confirmed
        self.errors: list[str] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"{site}-{group}", daemon=True)
        self._closed = False

    def now(self) -> float:
        return time.perf_counter() - self.t0

    def start(self) -> "SiteConsumer":
        self.consumer.subscribe([self.topic])
        self._thread.start()
        return self

    def _on_commit(self, err: Any, partitions: Any) -> None:
        if err is None:
            self.commits += 1
        else:
            self.errors.append(str(err))

    def _run(self) -> None:
        try:
            self._read_until_stopped()
        finally:  # the thread that polls closes: a consumer closed while another thread polls it can crash
            self.consumer.close()

    def _read_until_stopped(self) -> None:
        while not self._stop.is_set():
            messages = self.consumer.consume(self.batch, timeout=0.2)
            done = 0
            for msg in messages:
                if self._stop.is_set():
                    break
                if msg.error():
                    self.errors.append(msg.error().str())
                    continue
                with self._lock:
                    self.first_at = self.first_at if self.first_at is not None else self.now()
                    self.first_offsets.setdefault(msg.partition(), msg.offset())
                    self.positions[msg.partition()] = msg.offset() + 1
                    self.ledger.record_received_message(msg, site=self.site, at=self.now())
                done += 1
                if self.work_s:
                    time.sleep(self.work_s)
            if done and not self._stop.is_set():
                offsets = [TopicPartition(self.topic, p, o) for p, o in self.positions.items()]
                try:
                    self.consumer.commit(offsets=offsets, asynchronous=True)
                except Exception as exc:  # noqa: BLE001 - kept, as a dying site's errors are part of the story
                    self.errors.append(str(exc))
            self.consumer.poll(0) if not messages else None

    def wait_committed(self, commits: int = 1, timeout: float = 60.0) -> None:
        """Wait until the broker confirmed `commits` commits of this member."""
        deadline = time.monotonic() + timeout
        while self.commits < commits:
            if time.monotonic() > deadline:
                raise TimeoutError(f"the {self.site} consumer of {self.group} committed {self.commits} times in "
                                   f"{timeout:.0f} s, not {commits}; errors: {self.errors[-3:]}")
            time.sleep(0.1)

    def wait_caught_up(self, ends: dict[int, int], timeout: float = 60.0) -> None:
        """Wait until this member has read every partition up to `ends` (partition → end offset)."""
        deadline = time.monotonic() + timeout
        while True:
            with self._lock:
                behind = {p: e for p, e in ends.items() if e > 0 and self.positions.get(p, 0) < e}
            if not behind:
                return
            if time.monotonic() > deadline:
                raise TimeoutError(f"the {self.site} consumer of {self.group} is still behind on {behind} "
                                   f"(read up to {self.positions}) after {timeout:.0f} s")
            time.sleep(0.1)

    def stop(self, timeout: float = 60.0) -> None:
        """Stop reading (no last commit) and close the consumer (its own thread does); idempotent.
        TimeoutError if the thread has not finished within `timeout` s."""
        self._stop.set()
        if self._thread.ident is None:  # never started: nobody else uses the consumer
            if not self._closed:
                self._closed = True
                self.consumer.close()
            return
        self._thread.join(timeout)
        if self._thread.is_alive():
            raise TimeoutError(f"the {self.site} consumer of {self.group} did not stop within {timeout:.0f} s")


def failover_report(ledger: "DeliveryLedger", produced: pd.DataFrame, killed_at: float,
                    resumed_at: float | None) -> dict[str, Any]:
    """RPO, RTO and duplicates of a failover. `ledger`'s received rows carry ``site`` (``"primary"`` or
    ``"dr"``, as :class:`SiteConsumer` writes them); `produced` has one row per record sent with ``id``,
    ``acked_s`` and ``error`` (:meth:`NumberedStream.frame`). Times are seconds on the stream's clock.

    * ``acked``: records the primary acknowledged; ``not_acked``: records whose delivery failed (the
      producer knows about those and can send them again, to dr).
    * ``rpo_records``: acknowledged records that no consumer ever got (the mirror had not copied them when
      the primary died); ``rpo_s``: how long before the kill the oldest of them was acknowledged (0 if none).
    * ``rto_s``: from `killed_at` to `resumed_at` (the first record processed on dr).
    * ``duplicates``: records processed on dr that had already been processed on the primary.

    >>> failover_report(ledger, stream.frame(), killed_at, reader.first_at)   # {'rpo_records': 12, ...}
    """
    received = ledger.received
    if received.empty or "site" not in received.columns:
        raise ValueError("the ledger's received rows carry no 'site' (primary or dr): read with SiteConsumer")
    missing = {"id", "acked_s", "error"} - set(produced.columns)
    if missing:
        raise ValueError(f"`produced` needs the columns id, acked_s and error (NumberedStream.frame()); "
                         f"missing {sorted(missing)}")
    acked = produced[produced["error"].isna() & produced["acked_s"].notna()]
    lost = acked[~acked["id"].isin(set(received["id"]))]
    on_dr = received[received["site"] == "dr"]
    before = set(received.loc[received["site"] == "primary", "id"])
    return {
        "acked": len(acked),
        "not_acked": len(produced) - len(acked),
        "processed_on_primary": len(before),
        "processed_on_dr": len(on_dr),
        "rpo_records": len(lost),
        "rpo_s": round(float(killed_at - lost["acked_s"].min()), 3) if len(lost) else 0.0,
        "rto_s": None if resumed_at is None else round(float(resumed_at - killed_at), 3),
        "duplicates": int(on_dr["id"].isin(before).sum()),
    }
