"""Retry topics and dead letter queues, made by hand: the route, the error headers, the delay, the replay.

A consumer that cannot process a record has three choices: retry it in place (a *blocking* retry: the
partition waits), hand it to a retry topic that is read again after a delay (a *non-blocking* retry: the
partition moves on), or give up and write it to a dead letter queue (DLQ). This module is the machinery the
course's consumer services share; it knows nothing about what processing means.

>>> route = RetryRoute("shop.orders", delays=(1, 3))
>>> route.topics                      # ['shop.orders', 'shop.orders.retry.1s', 'shop.orders.retry.3s', 'shop.orders.dlq']
>>> route.create(cluster, partitions=3)
>>> router = RetryRouter(producer, route)
>>> router.send(msg, exc)             # a TransientError goes to the next retry topic, anything else to the DLQ
>>> gate = DelayGate(consumer)        # in the poll loop: a retry record not due yet pauses its partition
>>> dlq_records(cluster, route.dlq)   # the DLQ as a table, one column per error header
>>> replay(cluster, route.dlq, group="replayer")   # DLQ records back to their original topic, once

Every record the router writes carries the same value and key, plus error headers (all UTF-8 strings):
``error.reason``, ``error.exception`` (class name), ``error.message``, ``error.original.topic`` /
``.partition`` / ``.offset`` (where the record was first consumed: kept unchanged through every retry),
``error.attempt`` (failures so far), ``error.first.failure.ms``, ``error.failed.ms`` and, on a retry topic,
``retry.not.before.ms`` (when the record is due again).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Iterable

from confluent_kafka import KafkaException, TopicPartition

if TYPE_CHECKING:
    import pandas as pd

    from ..cluster import Cluster

ERROR = "error."
NOT_BEFORE = "retry.not.before.ms"
REPLAY_OF = "replay.of"
HEADER_NAMES = ("error.reason", "error.exception", "error.message", "error.original.topic",
                "error.original.partition", "error.original.offset", "error.attempt", "error.first.failure.ms",
                "error.failed.ms")


class TransientError(Exception):
    """A failure that may go away by itself (a timeout, a 503, a locked table): worth retrying later."""


class PermanentError(Exception):
    """A failure that retrying cannot fix (a malformed record, an unknown product, a 4xx): straight to the DLQ."""


def is_transient(exc: BaseException) -> bool:
    """True for TransientError and the OS-level transient failures (TimeoutError, ConnectionError)."""
    return isinstance(exc, (TransientError, TimeoutError, ConnectionError))


def _seconds(delay: float) -> str:
    return f"{delay:g}s" if delay < 60 or delay % 60 else f"{delay / 60:g}m"


@dataclass(frozen=True)
class RetryRoute:
    """A base topic, its retry topics (one per delay, in seconds) and its DLQ, named ``<base>.retry.<delay>``
    and ``<base>.dlq``. A record that failed `n` times goes to the n-th retry topic, and after the last one
    to the DLQ.

    >>> RetryRoute("orders", delays=(5, 30)).next_topic(attempt=2)
    'orders.retry.30s'
    """

    base: str
    delays: tuple[float, ...] = (5, 30)

    def __post_init__(self) -> None:
        if not self.base:
            raise ValueError("a RetryRoute needs a base topic name")
        if any(d <= 0 for d in self.delays) or list(self.delays) != sorted(self.delays):
            raise ValueError(f"delays must be positive and increasing, not {self.delays}")
        object.__setattr__(self, "delays", tuple(self.delays))

    @property
    def retry_topics(self) -> list[str]:
        return [f"{self.base}.retry.{_seconds(d)}" for d in self.delays]

    @property
    def dlq(self) -> str:
        return f"{self.base}.dlq"

    @property
    def topics(self) -> list[str]:
        """Every topic of the route: the base, the retry topics in order, the DLQ."""
        return [self.base, *self.retry_topics, self.dlq]

    @property
    def max_attempts(self) -> int:
        """Processing attempts before the DLQ: the first one plus one per retry topic."""
        return 1 + len(self.delays)

    def next_topic(self, attempt: int) -> str:
        """Where a record goes after its `attempt`-th failure (1 = the first)."""
        if attempt < 1:
            raise ValueError(f"attempt counts failures from 1, not {attempt}")
        return self.retry_topics[attempt - 1] if attempt <= len(self.delays) else self.dlq

    def delay_of(self, topic: str) -> float:
        """The delay of a retry topic; 0 for the base topic and the DLQ."""
        return dict(zip(self.retry_topics, self.delays)).get(topic, 0.0)

    def create(self, cluster: "Cluster", partitions: int = 3) -> list[str]:
        """Create every topic of the route (idempotent); returns their names."""
        return [cluster.create_topic(name, partitions=partitions) for name in self.topics]

    def delete(self, cluster: "Cluster") -> None:
        for name in self.topics:
            cluster.delete_topic(name)


# -- headers ---------------------------------------------------------------------------------------------------
def headers_of(msg_or_headers: Any) -> dict[str, str]:
    """A record's headers as a dict of str (the last value wins for a repeated name); {} without headers."""
    headers = msg_or_headers.headers() if hasattr(msg_or_headers, "headers") else msg_or_headers
    result: dict[str, str] = {}
    for name, value in headers or []:
        result[name] = value.decode(errors="replace") if isinstance(value, bytes) else ("" if value is None else str(value))
    return result


def attempt_of(msg: Any) -> int:
    """How many times the record already failed (its ``error.attempt`` header), 0 for a fresh record."""
    value = headers_of(msg).get("error.attempt")
    return int(value) if value else 0


def error_headers(msg: Any, exc: BaseException, attempt: int, reason: str | None = None,
                  not_before_ms: int | None = None, now_ms: int | None = None) -> list[tuple[str, bytes]]:
    """The headers for a record that failed for the `attempt`-th time with `exc`.

    The record's own headers are kept, except the error headers, which are written anew; the original
    coordinates and the first failure's time come from the record's earlier error headers when it was
    already a retry, else from the record itself. `reason` defaults to ``transient`` / ``permanent``.
    """
    now = int(time.time() * 1000) if now_ms is None else now_ms
    old = headers_of(msg)
    original = {
        "error.original.topic": old.get("error.original.topic", msg.topic()),
        "error.original.partition": old.get("error.original.partition", str(msg.partition())),
        "error.original.offset": old.get("error.original.offset", str(msg.offset())),
    }
    fields = {
        "error.reason": reason or ("transient" if is_transient(exc) else "permanent"),
        "error.exception": type(exc).__name__,
        "error.message": str(exc)[:500],
        **original,
        "error.attempt": str(attempt),
        "error.first.failure.ms": old.get("error.first.failure.ms", str(now)),
        "error.failed.ms": str(now),
    }
    if not_before_ms is not None:
        fields[NOT_BEFORE] = str(not_before_ms)
    kept = [(k, v) for k, v in (msg.headers() or []) if not k.startswith(ERROR) and k != NOT_BEFORE]
    return kept + [(k, v.encode()) for k, v in fields.items()]


# -- routing ---------------------------------------------------------------------------------------------------
class RetryRouter:
    """Writes failed records to the next retry topic or the DLQ of `route`, and waits for the broker's ack.

    `send` flushes before it returns, so a consumer can commit the failed record's offset right after it:
    the record is then in the retry topic or the DLQ, never nowhere (a crash in between writes it twice).
    `counts` tallies what went where.
    """

    def __init__(self, producer: Any, route: RetryRoute, flush_timeout: float = 15.0) -> None:
        self.producer, self.route, self.flush_timeout = producer, route, flush_timeout
        self.counts: dict[str, int] = {}

    def destination(self, msg: Any, exc: BaseException) -> tuple[str, int]:
        """(topic, attempt) for a record that just failed with `exc`: permanent → DLQ, transient → next tier."""
        attempt = attempt_of(msg) + 1
        return (self.route.next_topic(attempt) if is_transient(exc) else self.route.dlq), attempt

    def send(self, msg: Any, exc: BaseException, reason: str | None = None) -> str:
        """Route `msg` after a failure with `exc` (non-blocking retry); returns the topic it was written to."""
        topic, attempt = self.destination(msg, exc)
        if topic == self.route.dlq:
            return self.dead_letter(msg, exc, reason=reason or ("retries-exhausted" if is_transient(exc) else None),
                                    attempt=attempt)
        not_before = int((time.time() + self.route.delay_of(topic)) * 1000)
        return self._write(topic, msg, error_headers(msg, exc, attempt, reason=reason, not_before_ms=not_before))

    def dead_letter(self, msg: Any, exc: BaseException, reason: str | None = None, attempt: int | None = None) -> str:
        """Write `msg` to the DLQ (after `attempt` failures, default: one more than its header says)."""
        attempt = attempt_of(msg) + 1 if attempt is None else attempt
        return self._write(self.route.dlq, msg, error_headers(msg, exc, attempt, reason=reason))

    def _write(self, topic: str, msg: Any, headers: list[tuple[str, bytes]]) -> str:
        self.producer.produce(topic, key=msg.key(), value=msg.value(), headers=headers)
        if self.producer.flush(self.flush_timeout):
            raise TimeoutError(f"the broker did not acknowledge the record for {topic} within {self.flush_timeout} s")
        self.counts[topic] = self.counts.get(topic, 0) + 1
        return topic


class DelayGate:
    """Holds back records of a retry topic until they are due (``retry.not.before.ms``), without blocking.

    ``due(msg)`` is True for a record that may be processed now. For one that is not due yet it seeks its
    partition back to the record and pauses the partition, so poll() keeps running (and the consumer stays in
    its group) while other partitions and topics go on; ``resume_due()``, called every loop turn, resumes the
    partitions whose time has come. Records of one retry topic become due in the order they were written,
    so waiting for the first one of a partition holds back nothing that is due earlier.
    """

    def __init__(self, consumer: Any, clock: Callable[[], float] = time.time) -> None:
        self.consumer, self.clock = consumer, clock
        self.paused: dict[tuple[str, int], float] = {}  # (topic, partition) -> due time (s)
        self.pauses = 0

    def due(self, msg: Any) -> bool:
        not_before = headers_of(msg).get(NOT_BEFORE)
        if not not_before or int(not_before) / 1000 <= self.clock():
            return True
        tp = TopicPartition(msg.topic(), msg.partition(), msg.offset())
        self.consumer.pause([tp])
        self.consumer.seek(tp)
        self.paused[(msg.topic(), msg.partition())] = int(not_before) / 1000
        self.pauses += 1
        return False

    def resume_due(self) -> list[tuple[str, int]]:
        """Resume every paused partition whose first record is due now; returns them."""
        now = self.clock()
        ready = [tp for tp, due in self.paused.items() if due <= now]
        if ready:
            self.consumer.resume([TopicPartition(t, p) for t, p in ready])
            for tp in ready:
                del self.paused[tp]
        return ready

    def forget(self, partitions: Iterable[Any]) -> None:
        """Drop pauses of partitions taken away by a rebalance (call from on_revoke / on_lost)."""
        for tp in partitions:
            self.paused.pop((tp.topic, tp.partition), None)


# -- reading and replaying the DLQ -------------------------------------------------------------------------------
def dlq_records(cluster: "Cluster", dlq: str, timeout: float = 30.0) -> "pd.DataFrame":
    """Every record the DLQ holds: partition, offset, key, value, then one column per header (``error.*``)."""
    import pandas as pd  # here, not at import: consumer services import this module and never need pandas

    rows = []
    for msg in cluster.messages(dlq, timeout=timeout):
        rows.append({"partition": msg.partition(), "offset": msg.offset(), "key": _text(msg.key()),
                     "value": msg.value(), **headers_of(msg)})
    columns = ["partition", "offset", "key", "value", *HEADER_NAMES]
    frame = pd.DataFrame(rows)
    return frame.reindex(columns=columns + [c for c in frame.columns if c not in columns])


def replay(cluster: "Cluster", dlq: str, group: str, where: Callable[[dict[str, str]], bool] | None = None,
           timeout: float = 30.0) -> "pd.DataFrame":
    """Write the DLQ's records back to their original topic, each once: the replay tool.

    Reads `dlq` in consumer group `group` from its committed offsets to the end, produces every record
    whose headers pass `where` (default: all) to its ``error.original.topic`` with the same key and value,
    its error headers dropped and ``replay.of`` = ``<dlq>/<partition>/<offset>`` added, waits for the acks,
    then commits. Running it again replays only records that reached the DLQ since. Rows: the DLQ record's
    partition, offset, original topic, reason, and whether it was replayed.

    >>> replay(cluster, route.dlq, "replayer", where=lambda h: h["error.reason"] != "malformed")
    """
    import pandas as pd

    ends = cluster.end_offsets(dlq)
    consumer = cluster.consumer(group, settings={"enable.auto.commit": False})
    producer = cluster.producer(settings={"acks": "all", "enable.idempotence": True})
    rows: list[dict[str, Any]] = []
    last: dict[int, int] = {}
    try:
        committed = consumer.committed([TopicPartition(dlq, p) for p in ends], timeout=10)
        start = {tp.partition: max(tp.offset, 0) for tp in committed}
        todo = {p for p, end in ends.items() if start[p] < end}
        consumer.assign([TopicPartition(dlq, p, start[p]) for p in todo])
        deadline = time.monotonic() + timeout
        while todo:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{dlq}: partitions {sorted(todo)} not read to their end in {timeout:.0f} s")
            msg = consumer.poll(0.2)
            if msg is None:
                continue
            if msg.error():
                raise KafkaException(msg.error())
            headers = headers_of(msg)
            chosen = "error.original.topic" in headers and (where is None or where(headers))
            if chosen:
                kept = [(k, v) for k, v in (msg.headers() or []) if not k.startswith(ERROR) and k != NOT_BEFORE]
                kept.append((REPLAY_OF, f"{dlq}/{msg.partition()}/{msg.offset()}".encode()))
                producer.produce(headers["error.original.topic"], key=msg.key(), value=msg.value(), headers=kept)
            rows.append({"partition": msg.partition(), "offset": msg.offset(),
                         "original_topic": headers.get("error.original.topic"),
                         "reason": headers.get("error.reason"), "replayed": chosen})
            last[msg.partition()] = msg.offset()
            if msg.offset() + 1 >= ends[msg.partition()]:
                todo.discard(msg.partition())
        if producer.flush(timeout):
            raise TimeoutError(f"replayed records not acknowledged within {timeout:.0f} s: nothing committed")
        if last:
            consumer.commit(offsets=[TopicPartition(dlq, p, o + 1) for p, o in last.items()], asynchronous=False)
    finally:
        producer.flush(5)
        consumer.close()
    return pd.DataFrame(rows, columns=["partition", "offset", "original_topic", "reason", "replayed"])


def _text(data: bytes | None) -> str | None:
    return None if data is None else data.decode(errors="replace")




def wait_until_consumed(cluster: "Cluster", group: str, topics: Iterable[str], timeout: float = 60.0,
                        settle: float = 0.0, check: Callable[[], None] | None = None) -> float:
    """Wait until `group` has committed the end offset of every partition of `topics` (lag 0 everywhere),
    and it stayed so for `settle` s; returns the seconds waited. `check` (e.g. a ServiceProcess's
    ``wait_for`` guard) is called every turn and may raise; a TimeoutError shows the lag left."""
    names = list(topics)
    started = time.monotonic()
    zero_since: float | None = None
    while True:
        if check is not None:
            check()
        lag = {t: int(cluster.group_offsets(group, t).lag.sum()) for t in names}
        now = time.monotonic()
        if not any(lag.values()):
            zero_since = zero_since or now
            if now - zero_since >= settle:
                return now - started
        else:
            zero_since = None
        if now - started > timeout:
            raise TimeoutError(f"group {group} still lags after {timeout:.0f} s: {lag}")
        time.sleep(0.2)


__all__ = ["RetryRoute", "RetryRouter", "DelayGate", "TransientError", "PermanentError", "is_transient",
           "error_headers", "headers_of", "attempt_of", "dlq_records", "replay", "wait_until_consumed", "HEADER_NAMES"]
