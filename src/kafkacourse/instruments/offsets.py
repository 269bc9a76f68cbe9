"""Where a partition ends, depending on who asks: the high watermark, the last stable offset, and lag to each.

* the **high watermark** (HW): one past the last record written — where a ``read_uncommitted`` reader stops;
* the **last stable offset** (LSO): the first offset of the oldest transaction still open on the partition
  (the HW when none is open) — a ``read_committed`` reader (librdkafka's default) never reads past it.

Lag measured against the HW counts records (and transaction markers) a ``read_committed`` consumer cannot read
yet; measured against the LSO it counts only what it could read now.

>>> from kafkacourse.instruments import offsets
>>> offsets.watermarks(cluster, topic)               # partition, last_stable, high_watermark
>>> offsets.lag(cluster, group, topic)               # + committed, lag_to_lso, lag_to_hw
>>> with offsets.OffsetTimeline(cluster, topic, interval=0.2) as timeline:
...     timeline.mark("producer killed")
>>> timeline.frame()                                 # t, partition, last_stable, high_watermark
"""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING, Any

import pandas as pd
from confluent_kafka import TopicPartition

from ..cluster import READ_TO_END, read_to_end

if TYPE_CHECKING:
    from ..cluster import Cluster


def watermarks(cluster: "Cluster", topic: str) -> pd.DataFrame:
    """One row per partition: ``last_stable`` (LSO, where read_committed stops) and ``high_watermark``."""
    stable = cluster.end_offsets(topic, isolation_level="read_committed")
    high = cluster.end_offsets(topic)
    return pd.DataFrame([{"partition": p, "last_stable": stable[p], "high_watermark": high[p]} for p in sorted(high)],
                        columns=["partition", "last_stable", "high_watermark"])


def lag(cluster: "Cluster", group: str, topic: str) -> pd.DataFrame:
    """Per partition: the group's committed offset and its lag to the LSO and to the high watermark.

    A missing commit counts as offset 0. ``kafka-consumer-groups.sh --describe`` reports the lag to the HW.
    """
    marks = watermarks(cluster, topic)
    committed = dict(zip(*[cluster.group_offsets(group, topic)[c] for c in ("partition", "committed")]))
    marks.insert(1, "committed", [committed.get(p) for p in marks.partition])
    position = marks["committed"].map(lambda c: c or 0)
    marks["lag_to_lso"] = marks["last_stable"] - position
    marks["lag_to_hw"] = marks["high_watermark"] - position
    return marks


class OffsetTimeline:
    """Samples :func:`watermarks` of `topic` every `interval` s on a background thread (a context manager).

    `t0` (``time.perf_counter()``) is the zero of the time axis; :meth:`mark` notes an event to draw.
    """

    def __init__(self, cluster: "Cluster", topic: str, interval: float = 0.25, t0: float | None = None) -> None:
        if interval <= 0:
            raise ValueError(f"interval must be > 0 seconds, not {interval}")
        self.cluster, self.topic, self.interval = cluster, topic, interval
        self.t0 = time.perf_counter() if t0 is None else t0
        self.samples: list[dict[str, Any]] = []
        self.marks: list[tuple[float, str]] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def now(self) -> float:
        return time.perf_counter() - self.t0

    def mark(self, label: str) -> float:
        """Note an event at the current time; returns that time (s after t0)."""
        t = self.now()
        self.marks.append((t, label))
        return t

    def sample(self) -> pd.DataFrame:
        """Take one sample now (also what the thread does); returns it."""
        t = self.now()
        frame = watermarks(self.cluster, self.topic)
        self.samples.extend({"t": t, **row} for row in frame.to_dict("records"))
        return frame

    def _run(self) -> None:
        while not self._stop.is_set():
            self.sample()
            self._stop.wait(self.interval)

    def start(self) -> "OffsetTimeline":
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name=f"offsets-{self.topic}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(10)
            self._thread = None

    def __enter__(self) -> "OffsetTimeline":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def frame(self) -> pd.DataFrame:
        """Every sample: t (s after t0), partition, last_stable, high_watermark."""
        return pd.DataFrame(self.samples, columns=["t", "partition", "last_stable", "high_watermark"])



def read_as_group(cluster: "Cluster", group: str, topic: str, isolation_level: str = "read_committed",
                  timeout: float = 30.0) -> int:
    """Read `topic` as a member of `group`, from its committed offsets (the earliest where it has none) to the
    end a reader with `isolation_level` can reach, then commit the positions reached; returns records read.

    The end is the high watermark for ``read_uncommitted`` and the LSO for ``read_committed``; the committed
    position is the consumer's next fetch offset (past any transaction markers it has read over).
    """
    consumer = cluster.consumer(group, settings={**READ_TO_END, "isolation.level": isolation_level})
    try:
        partitions = [(topic, p) for p in cluster._partitions(topic)]
        consumer.subscribe([topic])
        read = sum(1 for _ in read_to_end(consumer, partitions, timeout, what=f"group {group!r}"))
        consumer.commit(offsets=consumer.position(consumer.assignment()), asynchronous=False)
    finally:
        consumer.close()
    return read
