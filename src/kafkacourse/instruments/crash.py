"""A consume-process-commit loop that crashes between processing and committing, and what that costs.

The processor reads an input topic in a consumer group, "processes" each record by producing a copy to an
output topic, and commits its input offsets once per batch, in one of three modes:

* ``"at-most-once"``  — commit the batch's offsets first, then process it. A crash loses the rest of the batch.
* ``"at-least-once"`` — process the batch, then commit. A crash makes the restarted processor redo the
  records processed since the last commit: duplicates downstream.
* ``"exactly-once"``  — a transaction per batch (consume-transform-produce): the output records and the input
  offsets (``send_offsets_to_transaction``) commit together or not at all; downstream reads with
  ``isolation.level=read_committed``. A crash leaves an open transaction that the restarted processor's
  producer (same ``transactional.id``) fences and aborts in ``init_transactions()``.

"Crashing" is raising :class:`Crash` inside the loop after `crash_after` records were processed (their output
records reached the broker, their offsets were not committed, in at-most-once the batch was committed before
processing). The consumer is then closed, which commits nothing because auto-commit is off, exactly what a
killed process commits; closing only saves the wait for ``session.timeout.ms`` before the group notices. The
transactional producer is abandoned mid-transaction, as a killed process leaves it.

>>> import kafkacourse as kc
>>> from kafkacourse.crash import run_crash_experiment
>>> result = run_crash_experiment(kc.connect(), "at-least-once", records=30, crash_after=12, batch_size=5)
>>> result.summary()      # {'mode': 'at-least-once', 'sent': 30, 'lost': 0, 'duplicates': 2, ...}
>>> result.ledger.duplicates()
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import pandas as pd
from confluent_kafka import KafkaError, KafkaException, TopicPartition

from ..cluster import READ_TO_END, quiet_logger, read_to_end, unique_name
from .ledger import DeliveryLedger, decode_value, encode_value, read_into

if TYPE_CHECKING:
    from ..cluster import Cluster

Mode = Literal["at-most-once", "at-least-once", "exactly-once"]
MODES: tuple[str, ...] = ("at-most-once", "at-least-once", "exactly-once")


class Crash(Exception):
    """Raised inside the processing loop to stand for the process dying at that instant."""


def _mode(mode: str) -> str:
    normal = mode.lower().replace("_", "-").replace(" ", "-")
    if normal not in MODES:
        raise ValueError(f"mode must be one of {MODES}, not {mode!r}")
    return normal


class CrashingProcessor:
    """One run of the consume-process-commit loop; see the module docstring for the three modes.

    `name` is written into every output record (``processed_by``), so the downstream ledger shows which run
    produced which copy. Two processors with the same `group_id` (and, for exactly-once, the same
    `transactional_id`) are the process before and after a restart.

    >>> first = CrashingProcessor(cluster, "at-least-once", "in", "out", group_id="g", name="first")
    >>> first.run(crash_after=12)          # processes 12 records, then "dies"; returns 12
    >>> CrashingProcessor(cluster, "at-least-once", "in", "out", group_id="g", name="restarted").run()
    """

    def __init__(self, cluster: "Cluster", mode: str, input_topic: str, output_topic: str, group_id: str,
                 transactional_id: str | None = None, batch_size: int = 5, name: str = "processor") -> None:
        self.cluster, self.mode = cluster, _mode(mode)
        self.input_topic, self.output_topic, self.group_id = input_topic, output_topic, group_id
        if self.mode == "exactly-once" and not transactional_id:
            raise ValueError("exactly-once needs a transactional_id (the same one after a restart)")
        self.transactional_id = transactional_id
        self.batch_size, self.name = batch_size, name
        self.processed = 0          # records whose output reached the broker (committed or not)
        self.crashed = False
        self.errors: list[str] = []  # errors librdkafka reported through error_cb
        self.log: list[str] = []     # librdkafka's log lines (e.g. "fenced by a newer instance"), kept off stderr
        self.producer: Any = None    # kept after a crash: the "zombie" a restart fences (exactly-once)

    # -- the loop --------------------------------------------------------------------------------------------
    def run(self, crash_after: int | None = None, timeout: float = 30.0) -> int:
        """Process the input until every partition is read to its end, or crash after `crash_after` (>= 1) records.

        Returns how many records this run processed. Raises TimeoutError if the end is not reached in
        `timeout` seconds. Never raises :class:`Crash`: a crash ends the run (``self.crashed`` is True).
        """
        if crash_after is not None and crash_after < 1:
            raise ValueError(f"crash_after counts records processed before the crash: >= 1, not {crash_after}")
        exactly_once = self.mode == "exactly-once"
        producer_settings: dict[str, Any] = {"error_cb": self._on_error, "linger.ms": 0,
                                             "logger": quiet_logger(f"processor-{self.name}", self.log)}
        if exactly_once:
            producer_settings["transactional.id"] = self.transactional_id
        else:
            # Idempotence removes duplicates caused by the producer's own retries; it cannot recognise a record
            # that the application sends a second time after a restart.
            producer_settings["enable.idempotence"] = True
        self.producer = self.cluster.producer(settings=producer_settings)
        consumer = self.cluster.consumer(self.group_id, settings={
            **READ_TO_END, "isolation.level": "read_committed", "error_cb": self._on_error,
            "logger": quiet_logger(f"processor-{self.name}", self.log)})
        partitions = [(self.input_topic, p) for p in self.cluster._partitions(self.input_topic)]
        try:
            if exactly_once:
                # Registers the transactional.id, fences an older producer with the same id and aborts the
                # transaction it left open.
                self.producer.init_transactions(timeout)
            consumer.subscribe([self.input_topic])
            batch: list[Any] = []
            for msg in read_to_end(consumer, partitions, timeout, what=f"{self.name}: input {self.input_topic!r}"):
                batch.append(msg)
                if len(batch) == self.batch_size:
                    self._handle(batch, consumer, crash_after)
                    batch = []
            if batch:
                self._handle(batch, consumer, crash_after)
            return self.processed
        except Crash:
            self.crashed = True
            return self.processed
        finally:
            # With enable.auto.commit=false, close() commits nothing; it leaves the group at once.
            consumer.close()
            if not self.crashed:
                self.producer.flush(timeout)

    def _handle(self, batch: list[Any], consumer: Any, crash_after: int | None) -> None:
        offsets = _next_offsets(batch)
        if self.mode == "at-most-once":
            consumer.commit(offsets=offsets, asynchronous=False)   # 1. commit ...
            for msg in batch:                                        # 2. ... then process
                self._process(msg, crash_after)
        elif self.mode == "at-least-once":
            for msg in batch:                                        # 1. process ...
                self._process(msg, crash_after)
            self.producer.flush(30)                                  #    (the output is on the broker)
            consumer.commit(offsets=offsets, asynchronous=False)   # 2. ... then commit
        else:                                                        # exactly-once: one transaction
            self.producer.begin_transaction()
            for msg in batch:
                self._process(msg, crash_after)
            # The input offsets join the transaction: they commit with the output records, or not at all.
            self.producer.send_offsets_to_transaction(offsets, consumer.consumer_group_metadata())
            self.producer.commit_transaction()

    def _process(self, msg: Any, crash_after: int | None) -> None:
        fields = decode_value(msg.value())
        fields["processed_by"] = self.name
        self.producer.produce(self.output_topic, key=msg.key(), value=encode_value(**_as_encode_args(fields)))
        self.producer.poll(0)
        self.processed += 1
        if crash_after is not None and self.processed >= crash_after:
            # The work done so far reached the broker (uncommitted, in a transaction); nothing else happens.
            self.producer.flush(30)
            raise Crash(f"{self.name} crashed after processing {self.processed} records")

    def _on_error(self, err: KafkaError) -> None:
        self.errors.append(str(err))


def _as_encode_args(fields: dict[str, Any]) -> dict[str, Any]:
    fields = dict(fields)
    return {"record_id": fields.pop("id"), "seq": fields.pop("seq", None), **fields}


def _next_offsets(batch: list[Any]) -> list[TopicPartition]:
    """The offsets to commit after `batch`: one past the last record of each partition in it."""
    last: dict[tuple[str, int], int] = {}
    for msg in batch:
        last[(msg.topic(), msg.partition())] = max(last.get((msg.topic(), msg.partition()), -1), msg.offset())
    return [TopicPartition(topic, partition, offset + 1) for (topic, partition), offset in sorted(last.items())]


# -- reading the result --------------------------------------------------------------------------------------
def committed_offsets(cluster: "Cluster", group_id: str, topic: str) -> dict[int, int | None]:
    """The offsets `group_id` has committed on each partition of `topic` (None where it committed none)."""
    offsets = cluster.group_offsets(group_id, topic)
    return dict(zip(offsets.partition, offsets.committed))


# -- the whole experiment ------------------------------------------------------------------------------------
@dataclass
class CrashResult:
    """What one crash experiment did: the ledger (input records sent, output records received) and counts."""

    mode: str
    ledger: DeliveryLedger
    input_topic: str
    output_topic: str
    group_id: str
    transactional_id: str | None
    processed_before_crash: int
    processed_after_restart: int
    committed_at_crash: dict[int, int | None]
    read_uncommitted: int              # output records a read_uncommitted reader sees (aborted ones too)
    zombie_error: str | None = None    # exactly-once: what the crashed producer got when it tried to commit late
    errors: list[str] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        """One flat dict: mode, sent, processed before/after the crash, received, lost, duplicates."""
        counts = self.ledger.summary()
        return {"mode": self.mode, "sent": counts["sent"], "processed_before_crash": self.processed_before_crash,
                "processed_after_restart": self.processed_after_restart,
                "output_records": self.read_uncommitted, "received": counts["received"],
                "lost": counts["lost"], "duplicates": counts["duplicates"]}


def run_crash_experiment(cluster: "Cluster", mode: str, records: int = 30, crash_after: int = 12,
                         batch_size: int = 5, partitions: int = 1, keys: int = 3, fence_zombie: bool = True,
                         keep_topics: bool = False, timeout: float = 30.0) -> CrashResult:
    """Produce `records` input records, run a processor that crashes after `crash_after`, restart it, read.

    Topics, group and transactional id get unique names (topics are deleted at the end unless `keep_topics`).
    The ledger's sent rows are the input records; its received rows are the output records a read_committed
    reader sees, with a ``processed_by`` column (``first`` or ``restarted``). In exactly-once mode with
    `fence_zombie`, the crashed producer finally tries to commit its transaction: the broker refuses
    (``zombie_error``), because the restarted producer bumped the epoch of the transactional id.
    """
    mode = _mode(mode)
    short = {"at-most-once": "amo", "at-least-once": "alo", "exactly-once": "eos"}[mode]
    input_topic = cluster.create_topic(unique_name(f"crash-{short}-in"), partitions=partitions)
    output_topic = cluster.create_topic(unique_name(f"crash-{short}-out"), partitions=partitions)
    group_id = unique_name(f"crash-{short}")
    transactional_id = unique_name(f"crash-{short}-tx") if mode == "exactly-once" else None
    ledger = DeliveryLedger()
    try:
        producer = cluster.producer(settings={"enable.idempotence": True, "linger.ms": 0})
        for i in range(records):
            key = f"key-{i % keys}"
            producer.produce(input_topic, key=key, value=ledger.stamp(key), on_delivery=ledger.on_delivery)
            producer.poll(0)
        if producer.flush(timeout):
            raise TimeoutError(f"input records to {input_topic!r} not delivered in {timeout:.0f} s")

        def processor(name: str) -> CrashingProcessor:
            return CrashingProcessor(cluster, mode, input_topic, output_topic, group_id,
                                     transactional_id=transactional_id, batch_size=batch_size, name=name)

        first = processor("first")
        before = first.run(crash_after=crash_after, timeout=timeout)
        if not first.crashed:
            raise ValueError(f"the processor never crashed: crash_after={crash_after} >= records={records}")
        committed = committed_offsets(cluster, group_id, input_topic)
        restarted = processor("restarted")
        after = restarted.run(timeout=timeout)
        zombie_error = None
        if mode == "exactly-once" and fence_zombie:
            try:
                first.producer.commit_transaction(10)
                zombie_error = "none: the zombie's commit succeeded"
            except KafkaException as exc:
                zombie_error = exc.args[0].name()
        first.producer = None   # drop the zombie
        read_uncommitted = len(read_into(DeliveryLedger(), cluster, output_topic, isolation_level="read_uncommitted",
                                         timeout=timeout).received)
        read_into(ledger, cluster, output_topic, timeout=timeout)
        return CrashResult(mode, ledger, input_topic, output_topic, group_id, transactional_id, before, after,
                           committed, read_uncommitted, zombie_error, first.errors + restarted.errors)
    finally:
        if not keep_topics:
            cluster.delete_topic(input_topic)
            cluster.delete_topic(output_topic)


def crash_table(results: list[CrashResult]) -> pd.DataFrame:
    """One row per experiment (see :meth:`CrashResult.summary`), indexed by mode."""
    return pd.DataFrame([result.summary() for result in results]).set_index("mode")
