"""Leaders and in-sync replicas (ISR) of a topic: snapshots, bounded waits, charts, and a steady producer.

The replication lesson (Day 1, 03) kills a broker while records keep flowing; these helpers do the watching:

>>> import kafkacourse as kc
>>> from kafkacourse.instruments import replication
>>> from kafkacourse.plots.replication import plot_roles, plot_timeline
>>> cluster = kc.connect(brokers=3)
>>> topic = cluster.create_topic(kc.unique_name("replicated"), partitions=6, replication_factor=3)
>>> replication.roles(cluster.describe_topic(topic))           # partitions × brokers: leader, in-sync…
>>> plot_roles({"now": cluster.describe_topic(topic)})
>>> with replication.SteadyProducer(cluster, topic) as producer, replication.Recorder(cluster, topic) as recorder:
...     try:
...         cluster.kill_broker(2)
...         replication.wait_for_isr(cluster, topic, without=2)    # until no ISR lists broker 2 (≈ 9 s)
...     finally:
...         cluster.start_broker(2)                                # always restart what you kill
...     replication.wait_for_isr(cluster, topic, size=3)           # every replica back in sync
>>> plot_timeline(recorder, producer)

Everything here reads metadata that any live broker serves (``Cluster.describe_topic``), so it keeps working
while a broker, even the active controller, is down.
"""

from __future__ import annotations

import shutil
import subprocess
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import pandas as pd
from confluent_kafka import ElectionType, KafkaException, TopicPartition

from ..cluster import Cluster, quiet_logger
from ..connection import refuse_keywords

LEADER = "leader"
IN_SYNC = "in-sync follower"
OUT_OF_SYNC = "out of sync"
NOT_A_REPLICA = ""
ROLE_ORDER = [NOT_A_REPLICA, OUT_OF_SYNC, IN_SYNC, LEADER]
ROLE_COLORS = ["#f2f2f2", "#e4572e", "#9ecae1", "#08519c"]


# -- snapshots -----------------------------------------------------------------------------------------------
def brokers_of(description: pd.DataFrame) -> list[int]:
    """Every broker id that holds a replica of some partition in `description` (``Cluster.describe_topic``)."""
    return sorted({b for replicas in description.replicas for b in replicas})


def roles(description: pd.DataFrame, brokers: Iterable[int] | None = None) -> pd.DataFrame:
    """A partitions × brokers table of each replica's role: leader, in-sync follower, out of sync, or "".

    >>> roles(cluster.describe_topic(topic))      # one row per partition, one column per broker id
    """
    columns = sorted(brokers) if brokers is not None else brokers_of(description)
    rows = {}
    for part in description.itertuples():
        row = {}
        for broker in columns:
            if broker == part.leader:
                row[broker] = LEADER
            elif broker in part.isr:
                row[broker] = IN_SYNC
            elif broker in part.replicas:
                row[broker] = OUT_OF_SYNC
            else:
                row[broker] = NOT_A_REPLICA
        rows[part.partition] = row
    table = pd.DataFrame.from_dict(rows, orient="index", columns=columns)
    table.index.name, table.columns.name = "partition", "broker"
    return table


def leader_counts(description: pd.DataFrame, brokers: Iterable[int] | None = None) -> dict[int, int]:
    """How many partitions each broker leads (0 for a broker that leads none).

    >>> leader_counts(cluster.describe_topic(topic))     # e.g. {1: 2, 2: 2, 3: 2}
    """
    ids = sorted(brokers) if brokers is not None else brokers_of(description)
    counts = description.leader.dropna().astype(int).value_counts().to_dict()
    return {broker: int(counts.get(broker, 0)) for broker in ids}


def quorum_status(cluster: Cluster, timeout: float = 60.0) -> dict[str, str]:
    """The KRaft metadata quorum as ``kafka-metadata-quorum.sh describe --status`` reports it, parsed.

    Keys as the tool prints them: ``LeaderId`` (the active controller), ``LeaderEpoch``, ``HighWatermark``,
    ``CurrentVoters``… (all values are strings). Needs the course's tool wrappers on PATH (``kc.connect()``).

    >>> int(quorum_status(cluster)["LeaderId"])    # e.g. 3
    """
    tool = shutil.which("kafka-metadata-quorum.sh")
    if tool is None:
        raise FileNotFoundError("kafka-metadata-quorum.sh is not on PATH; call kc.connect() first")
    out = subprocess.run([tool, "--bootstrap-server", cluster.bootstrap_servers, "describe", "--status"],
                         capture_output=True, text=True, timeout=timeout)
    if out.returncode != 0:
        raise RuntimeError(f"kafka-metadata-quorum.sh failed:\n{out.stderr[-2000:]}")
    pairs = (line.split(":", 1) for line in out.stdout.splitlines() if ":" in line)
    return {key.strip(): value.strip() for key, value in pairs}


# -- waiting -------------------------------------------------------------------------------------------------
def wait_for(cluster: Cluster, topic: str, condition: Callable[[pd.DataFrame], bool], what: str,
             timeout: float = 30.0, interval: float = 0.25) -> pd.DataFrame:
    """Poll ``cluster.describe_topic(topic)`` until `condition` holds; return that description.

    Raises TimeoutError naming `what` and showing the last description when `timeout` s pass first.

    >>> wait_for(cluster, topic, lambda d: d.leader.notna().all(), "a leader for every partition")
    """
    deadline = time.monotonic() + timeout
    last: pd.DataFrame | None = None
    while True:
        try:
            last = cluster.describe_topic(topic)
            if condition(last):
                return last
        except (KafkaException, ValueError):  # a metadata request that hit a dying broker: ask again
            pass
        if time.monotonic() >= deadline:
            raise TimeoutError(f"{topic}: no {what} within {timeout:.0f} s; last seen:\n{last}")
        time.sleep(interval)


def wait_for_isr(cluster: Cluster, topic: str, *, size: int | None = None, without: int | None = None,
                 timeout: float = 30.0) -> pd.DataFrame:
    """Wait until every partition's ISR has `size` members and/or leaves out broker `without`.

    >>> wait_for_isr(cluster, topic, without=2)    # the controller dropped broker 2 from every ISR
    >>> wait_for_isr(cluster, topic, size=3)       # all three replicas in sync again
    """
    if size is None and without is None:
        raise ValueError("give size= and/or without=")

    def ok(description: pd.DataFrame) -> bool:
        return all((size is None or len(isr) == size) and (without is None or without not in isr)
                   for isr in description.isr)

    what = " and ".join(filter(None, [f"ISR of {size}" if size is not None else "",
                                      f"ISR without broker {without}" if without is not None else ""]))
    return wait_for(cluster, topic, ok, what, timeout)


def wait_for_leaders(cluster: Cluster, topic: str, *, not_on: int | None = None,
                     timeout: float = 30.0) -> pd.DataFrame:
    """Wait until every partition has a leader, none of them broker `not_on` (when given).

    >>> wait_for_leaders(cluster, topic, not_on=2)   # the partitions broker 2 led have moved away
    """
    def ok(description: pd.DataFrame) -> bool:
        return description.leader.notna().all() and (not_on is None or not (description.leader == not_on).any())

    return wait_for(cluster, topic, ok, "leader on every partition" + (f" off broker {not_on}" if not_on else ""),
                    timeout)


def elect_preferred_leaders(cluster: Cluster, topic: str, timeout: float = 30.0) -> pd.DataFrame:
    """Move each partition's leadership back to its preferred replica (the first in its replica list).

    Kafka does this by itself every ``leader.imbalance.check.interval.seconds`` (300 s); this asks now, waits
    until every partition is led by its preferred replica and returns that description.
    """
    partitions = [TopicPartition(topic, p) for p in cluster.describe_topic(topic).partition]
    # No request_timeout= here: confluent-kafka 2.16.1's elect_leaders raises SystemError on keyword arguments.
    results = cluster.admin().elect_leaders(ElectionType.PREFERRED, partitions).result(timeout)
    for tp, error in results.items():
        # ELECTION_NOT_NEEDED: that partition was already led by its preferred replica.
        if error is not None and "ELECTION_NOT_NEEDED" not in str(error):
            raise KafkaException(error)
    return wait_for(cluster, topic, lambda d: all(row.leader == row.replicas[0] for row in d.itertuples()),
                    "preferred leader on every partition", timeout)


# -- watching over time --------------------------------------------------------------------------------------
class Recorder:
    """Samples a topic's leaders and ISR every `interval` s on a background thread (a context manager).

    ``mark(label)`` notes an event (a kill, a restart) at the current time; ``frame()`` holds the samples,
    ``leader_counts()`` the partitions each broker leads over time. Times are seconds since `t0`
    (``time.monotonic()`` when the recorder was made, unless given).

    >>> with Recorder(cluster, topic) as recorder:
    ...     recorder.mark("kill broker 2"); cluster.kill_broker(2); ...
    >>> recorder.leader_counts()
    """

    def __init__(self, cluster: Cluster, topic: str, interval: float = 0.5, t0: float | None = None) -> None:
        self.cluster, self.topic, self.interval = cluster, topic, interval
        self.t0 = time.monotonic() if t0 is None else t0
        self.samples: list[dict[str, Any]] = []
        self.marks: list[tuple[float, str]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"recorder-{topic}", daemon=True)
        self.brokers: list[int] = []

    def __enter__(self) -> "Recorder":
        self.brokers = brokers_of(self.cluster.describe_topic(self.topic))
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def now(self) -> float:
        return time.monotonic() - self.t0

    def mark(self, label: str) -> None:
        """Note an event at the current time; the timeline chart draws it as a vertical line."""
        self.marks.append((self.now(), label))

    def sample(self) -> None:
        """Take one sample now (the thread calls this every `interval` s)."""
        try:
            description = self.cluster.describe_topic(self.topic)
        except (KafkaException, ValueError):
            return
        t = self.now()
        for row in description.itertuples():
            self.samples.append({"t": t, "partition": row.partition, "leader": row.leader,
                                 "isr": list(row.isr), "isr_size": len(row.isr)})

    def _run(self) -> None:
        while not self._stop.is_set():
            self.sample()
            self._stop.wait(self.interval)

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=15)

    def frame(self) -> pd.DataFrame:
        """One row per partition per sample: t, partition, leader, isr, isr_size."""
        return pd.DataFrame(self.samples, columns=["t", "partition", "leader", "isr", "isr_size"])

    def leader_counts(self) -> pd.DataFrame:
        """Partitions led by each broker (columns), per sample time (index)."""
        data = self.frame()
        counts = (data.dropna(subset=["leader"]).assign(leader=lambda d: d.leader.astype(int))
                  .groupby(["t", "leader"]).size().unstack(fill_value=0))
        counts = counts.reindex(columns=self.brokers, fill_value=0).reindex(sorted(data.t.unique()), fill_value=0)
        counts.columns = [f"broker {b}" for b in counts.columns]
        return counts

    def min_isr_size(self) -> pd.Series:
        """The smallest ISR of any partition, per sample time."""
        return self.frame().groupby("t").isr_size.min()


class SteadyProducer:
    """Produces numbered records (value = "0", "1", …) at a steady pace on a background thread.

    Every record goes out with ``acks=all``, idempotence on and ``linger.ms=5`` (`settings`, librdkafka's
    dotted names, may change that or add more); each delivery report is kept: ``acked()`` lists what the
    brokers confirmed, ``failed()`` what they refused; the client's log lines (disconnects, retries) go to
    ``log`` instead of the notebook's stderr. Use it as a context manager: leaving it stops producing and
    flushes. Times are seconds since `t0`.

    >>> with SteadyProducer(cluster, topic, per_second=200) as producer:
    ...     time.sleep(3)
    >>> producer.acked().id.max()
    """

    def __init__(self, cluster: Cluster, topic: str, per_second: int = 200, batch: int = 20,
                 t0: float | None = None, *, settings: Mapping[str, Any] | None = None, **keywords: Any) -> None:
        refuse_keywords("SteadyProducer", keywords)
        self.log: list[str] = []  # the client's own log lines (disconnects, retries), kept instead of printed
        config = {"acks": "all", "enable.idempotence": True, "linger.ms": 5,
                  "logger": quiet_logger(f"steady-producer-{topic}", self.log), **(settings or {})}
        self.producer = cluster.producer(settings=config)
        self.topic, self.batch = topic, batch
        self.pause = batch / per_second
        self.t0 = time.monotonic() if t0 is None else t0
        self.sent = 0
        self.reports: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"producer-{topic}", daemon=True)
        self.unflushed = 0

    def __enter__(self) -> "SteadyProducer":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _on_delivery(self, err, msg) -> None:
        report = {"id": int(msg.value()), "t": time.monotonic() - self.t0, "partition": msg.partition(),
                  "offset": msg.offset() if err is None else None, "error": str(err) if err else None}
        with self._lock:
            self.reports.append(report)

    def _run(self) -> None:
        while not self._stop.is_set():
            for _ in range(self.batch):
                try:
                    self.producer.produce(self.topic, key=str(self.sent % 60), value=str(self.sent),
                                          on_delivery=self._on_delivery)
                except BufferError:  # the client's queue is full (brokers unreachable for long): wait a bit
                    self.producer.poll(0.5)
                    break
                self.sent += 1
            self.producer.poll(0)
            self._stop.wait(self.pause)

    def stop(self, flush_timeout: float = 60.0) -> None:
        """Stop producing, wait up to `flush_timeout` s for the outstanding delivery reports."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=15)
        self.unflushed = self.producer.flush(flush_timeout)

    def frame(self) -> pd.DataFrame:
        """Every delivery report so far: id, t (s), partition, offset, error."""
        with self._lock:
            return pd.DataFrame(list(self.reports), columns=["id", "t", "partition", "offset", "error"])

    def acked(self) -> pd.DataFrame:
        reports = self.frame()
        return reports[reports.error.isna()]

    def failed(self) -> pd.DataFrame:
        reports = self.frame()
        return reports[reports.error.notna()]
