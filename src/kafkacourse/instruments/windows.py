"""Windowed counts by event time, written out in Python: the rules Kafka Streams applies, one record at a time.

A window ``[start, start + size)`` holds the records whose *event* timestamp falls in it. Stream time is the
largest timestamp seen so far; a window *closes* once stream time reaches ``end + grace``. A record for a closed
window is *late* and dropped; a window's final count is emitted when it closes (Kafka Streams'
``suppress(untilWindowCloses(...))``). Tumbling windows are hopping windows whose advance equals their size.

>>> counter = WindowedCount(size_ms=10_000, advance_ms=5_000, grace_ms=5_000)
>>> counter.add("alice", 12_000)     # counts in [5000, 15000) and [10000, 20000); nothing closed yet: []
>>> counter.add("bob", 40_000)       # stream time 40 s: both of alice's windows close and are emitted
[WindowResult(key='alice', start=5000, end=15000, count=1), WindowResult(key='alice', start=10000, end=20000, count=1)]
>>> counter.add("alice", 14_000)     # stream time 40 s: too late for both windows, dropped
[]
>>> counter.dropped                  # (key, timestamp, stream time when it arrived)
[('alice', 14000, 40000)]
>>> count_topic(cluster, topic, counter)   # the same, fed by a confluent-kafka consumer from a topic

Only one partition's stream time is modelled (Kafka Streams keeps one per task): feed it one partition.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["WindowResult", "WindowedCount", "window_starts", "count_topic"]


@dataclass(frozen=True, order=True)
class WindowResult:
    """A window's final count: `key`, `start` and `end` (ms, end exclusive), `count`."""

    key: str
    start: int
    end: int
    count: int


def window_starts(timestamp_ms: int, size_ms: int, advance_ms: int) -> list[int]:
    """The start of every window ``[s, s + size)`` (s a multiple of `advance_ms`, s >= 0) holding `timestamp_ms`.

    >>> window_starts(12_000, 10_000, 5_000)
    [5000, 10000]
    """
    if size_ms <= 0 or advance_ms <= 0 or advance_ms > size_ms:
        raise ValueError(f"need 0 < advance_ms <= size_ms, got size_ms={size_ms}, advance_ms={advance_ms}")
    last = timestamp_ms - timestamp_ms % advance_ms
    first = max(0, last - size_ms + advance_ms)
    return list(range(first, last + 1, advance_ms))


@dataclass
class WindowedCount:
    """Count records per key and window by event time, emitting each window's final count when it closes.

    `size_ms` the window length, `advance_ms` the hop (default: `size_ms`, tumbling), `grace_ms` how long after
    its end a window still accepts records (default 0).
    """

    size_ms: int
    advance_ms: int | None = None
    grace_ms: int = 0
    stream_time: int = -1
    open: dict[tuple[str, int], int] = field(default_factory=dict)
    dropped: list[tuple[str, int, int]] = field(default_factory=list)   # (key, timestamp, stream time then)
    expired: list[tuple[str, int, int]] = field(default_factory=list)   # (key, timestamp, window start) skipped

    def __post_init__(self) -> None:
        self.advance_ms = self.advance_ms or self.size_ms
        if self.grace_ms < 0:
            raise ValueError(f"grace_ms must be >= 0, got {self.grace_ms}")
        window_starts(0, self.size_ms, self.advance_ms)  # validates size/advance

    def add(self, key: str, timestamp_ms: int) -> list[WindowResult]:
        """Count one record; returns the windows this record's stream time closed (final counts, oldest first)."""
        self.stream_time = max(self.stream_time, timestamp_ms)
        counted = False
        for start in window_starts(timestamp_ms, self.size_ms, self.advance_ms):
            if start + self.size_ms + self.grace_ms > self.stream_time:   # window still open
                self.open[(key, start)] = self.open.get((key, start), 0) + 1
                counted = True
            else:
                self.expired.append((key, timestamp_ms, start))
        if not counted:
            self.dropped.append((key, timestamp_ms, self.stream_time))
        return self._close()

    def _close(self) -> list[WindowResult]:
        closed = sorted((start, key) for (key, start) in self.open
                        if start + self.size_ms + self.grace_ms <= self.stream_time)
        return [WindowResult(key, start, start + self.size_ms, self.open.pop((key, start))) for start, key in closed]


def count_topic(cluster: Any, topic: str, counter: WindowedCount, key_of=None, timeout: float = 30.0) -> list[WindowResult]:
    """Feed `counter` every record of one-partition `topic` (its record timestamps), read with confluent-kafka.

    `key_of(message)` picks the grouping key (default: the record key as text). Returns every final count
    emitted, in emission order.
    """
    partitions = cluster.end_offsets(topic)
    if len(partitions) != 1:
        raise ValueError(f"{topic} has {len(partitions)} partitions; count_topic models one partition's stream time")
    results: list[WindowResult] = []
    for message in cluster.messages(topic, timeout=timeout):
        key = key_of(message) if key_of else message.key().decode()
        results.extend(counter.add(key, message.timestamp()[1]))
    return results
