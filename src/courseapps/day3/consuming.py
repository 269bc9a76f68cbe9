"""What every Day 3 consumer service does around its own logic: batches, end-of-partition, progress lines.

The services read in batches (``consume()``), and tell the lesson when they have read every assigned partition
to its end (``enable.partition.eof=true`` must be set). Kept free of the course library's imports, so that a
service starts fast (see :mod:`courseapps.day3.ledger_values`).

>>> reader = BatchReader(consumer)
>>> consumer.subscribe([topic], on_assign=lambda c, ps: reader.assigned(ps), on_revoke=lambda c, ps: reader.revoked(ps))
>>> while not stop.is_set():
...     batch = reader.next_batch(10, stop)
...     ...                                          # process and commit the batch
...     if reader.newly_caught_up(batch):
...         say("caught up")
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable
from typing import Any

from confluent_kafka import KafkaError, KafkaException, Message


def say(line: str) -> None:
    """Print a progress line at once (a lesson waits for these lines in the service's log)."""
    print(line, flush=True)


class BatchReader:
    """Batches of records from `consumer`, and whether every assigned partition has been read to its end."""

    def __init__(self, consumer: Any) -> None:
        self.consumer = consumer
        self.partitions: set[int] = set()   # assigned now
        self.at_end: set[int] = set()       # assigned partitions whose end (EOF event) was reached
        self._reported = False

    def assigned(self, partitions: Iterable[Any]) -> None:
        """Call from ``on_assign`` (or after ``assign()``) with the TopicPartitions."""
        self.partitions.update(tp.partition for tp in partitions)

    def revoked(self, partitions: Iterable[Any]) -> None:
        """Call from ``on_revoke`` with the TopicPartitions."""
        self.partitions.difference_update(tp.partition for tp in partitions)

    @property
    def at_end_of_all(self) -> bool:
        """True when every assigned partition has been read to its end (False before any assignment)."""
        return bool(self.partitions) and self.at_end >= self.partitions

    def next_batch(self, size: int, stop: threading.Event | None = None, idle: float = 0.2) -> list[Message]:
        """Up to `size` records: fewer when every partition is at its end, `idle` s pass, or `stop` is set.

        End-of-partition events are taken in here; any other error raises KafkaException.
        """
        batch: list[Message] = []
        until = time.monotonic() + idle
        while len(batch) < size and time.monotonic() < until and not (stop and stop.is_set()):
            for msg in self.consumer.consume(num_messages=size - len(batch), timeout=0.1):
                if msg.error():
                    if msg.error().code() != KafkaError._PARTITION_EOF:
                        raise KafkaException(msg.error())
                    self.at_end.add(msg.partition())
                else:
                    self.at_end.discard(msg.partition())
                    batch.append(msg)
            if self.at_end_of_all:
                break
        return batch

    def newly_caught_up(self, batch: list[Message]) -> bool:
        """True once each time the end of every partition is reached (again) after records were read."""
        if batch:
            self._reported = False
        if not self._reported and self.at_end_of_all:
            self._reported = True
            return True
        return False
