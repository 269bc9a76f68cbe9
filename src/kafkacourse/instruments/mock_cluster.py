"""librdkafka's built-in mock cluster (``test.mock.num.brokers``) for unit tests, and one of its limits.

The mock cluster lives inside a librdkafka client: a client created with ``test.mock.num.brokers=N`` starts N
in-process mock brokers and connects to them. :class:`MockCluster` keeps one such client alive and hands out
its brokers' addresses, so several clients (a producer and a consumer) share one mock cluster. It speaks the
Kafka protocol to librdkafka clients only (Java clients cannot use it), needs no broker and no network, and
creates topics on first use.

>>> with MockCluster(num_brokers=3) as mock:
...     producer = Producer(mock.config())
...     consumer = Consumer(mock.config(settings={"group.id": "g", "auto.offset.reset": "earliest"}))

:func:`transaction_outcome` runs the same transactional scenario on any cluster (3 records in an aborted
transaction, then 2 in a committed one) and returns what a read_committed and a read_uncommitted consumer
read: on a real broker read_committed skips the aborted records; on the mock it does not.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

from confluent_kafka import Producer

__all__ = ["MockCluster", "transaction_outcome"]


def _quiet(name: str) -> logging.Logger:
    logger = logging.Logger(name)          # not registered: librdkafka's mock-cluster notices stay out of sight
    logger.addHandler(logging.NullHandler())
    return logger


class MockCluster:
    """`num_brokers` (default 1) librdkafka mock brokers, alive until close() (or the end of a ``with``)."""

    def __init__(self, num_brokers: int = 1) -> None:
        if num_brokers < 1:
            raise ValueError(f"num_brokers must be >= 1, got {num_brokers}")
        self._holder: Producer | None = Producer({"test.mock.num.brokers": num_brokers,
                                                  "logger": _quiet("mock-cluster")})
        brokers = self._holder.list_topics(timeout=10).brokers.values()
        self.bootstrap_servers = ",".join(f"{b.host}:{b.port}" for b in brokers)
        if len(brokers) != num_brokers:
            raise RuntimeError(f"the mock cluster reports {len(brokers)} brokers, expected {num_brokers}")

    def config(self, *, settings: dict[str, Any] | None = None, **keywords: Any) -> dict[str, Any]:
        """Client settings for this mock cluster: its bootstrap.servers, then `settings` (librdkafka's dotted
        names), as :meth:`kafkacourse.Cluster.config` takes them."""
        from ..connection import client_config, refuse_keywords

        refuse_keywords("MockCluster.config", keywords)
        if self._holder is None:
            raise RuntimeError("this MockCluster is closed")
        return client_config({"bootstrap.servers": self.bootstrap_servers}, settings)

    def cluster(self) -> Any:
        """A :class:`kafkacourse.Cluster` on these mock brokers (no registry), for the course's helpers."""
        from kafkacourse.cluster import Cluster

        return Cluster(self.config()["bootstrap.servers"], schema_registry_url="")

    def close(self) -> None:
        if self._holder is not None:
            self._holder.flush(1)
            self._holder = None   # the last reference: the mock brokers stop with their client

    def __enter__(self) -> "MockCluster":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def transaction_outcome(cluster: Any, topic: str, aborted: int = 3, committed: int = 2,
                        timeout: float = 20.0) -> dict[str, list[str]]:
    """Produce `aborted` records in a transaction that aborts, then `committed` in one that commits (partition
    0 of `topic`), and read the topic back with both isolation levels (``Cluster.messages``): ``{"read_committed":
    [values...], "read_uncommitted": [values...]}``. `cluster` is a Cluster (``kc.connect()``, ``mock.cluster()``)."""
    producer = cluster.producer(settings={"transactional.id": f"tx-{uuid.uuid4().hex[:8]}", "logger": _quiet("tx")})
    try:
        producer.init_transactions(timeout)
        for outcome, count in (("aborted", aborted), ("committed", committed)):
            producer.begin_transaction()
            for i in range(count):
                producer.produce(topic, key=b"k", value=f"{outcome}-{i}".encode(), partition=0)
            producer.flush(timeout)
            if outcome == "aborted":
                producer.abort_transaction(timeout)
            else:
                producer.commit_transaction(timeout)
    finally:
        producer.flush(5)
    return {isolation: [m.value().decode() for m in cluster.messages(topic, isolation_level=isolation, timeout=timeout,
                                                                     settings={"logger": _quiet("tx-reader")})]
            for isolation in ("read_committed", "read_uncommitted")}
