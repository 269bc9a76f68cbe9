"""MirrorMaker 2 from `single` to `dr`: Apache Kafka's MirrorSourceConnector on the course's Connect worker.

The worker belongs to `single` (its state topics live there); the connector reads the source topic from
`single` and its producer is overridden to write into `dr` (the worker allows client overrides), so one
worker serves Day 4's CDC and Day 5's disaster recovery. With the default replication policy the copy of
topic T on dr is named ``single.T``."""

from __future__ import annotations

import time

import pytest

import kafkacourse as kc


@pytest.fixture(scope="module")
def dr() -> kc.Cluster:
    return kc.connect(profile="dr")


def wait_for_values(cluster: kc.Cluster, topic: str, n: int, timeout: float = 90.0) -> list[bytes]:
    deadline = time.monotonic() + timeout
    while True:
        if topic in cluster.topics(topic):
            values = [m.value() for m in cluster.messages(topic)]
            if len(values) >= n:
                return values
        if time.monotonic() > deadline:
            raise TimeoutError(f"{topic} on {cluster.bootstrap_servers} did not get {n} records in {timeout:.0f} s")
        time.sleep(1)


def test_mirror_source_connector_copies_a_topic_from_single_to_dr(connect_worker, cluster, dr):
    topic = cluster.create_topic(kc.unique_name("mm2"), partitions=2)
    name = kc.unique_name("mm2-single-to-dr")
    mirrored = f"single.{topic}"
    values = [f"order-{i}".encode() for i in range(50)]
    cluster.produce(topic, values)
    try:
        connect_worker.put_config(name, {
            "connector.class": "org.apache.kafka.connect.mirror.MirrorSourceConnector",
            "source.cluster.alias": "single", "target.cluster.alias": "dr",
            "source.cluster.bootstrap.servers": cluster.bootstrap_servers,
            "target.cluster.bootstrap.servers": dr.bootstrap_servers,
            "producer.override.bootstrap.servers": dr.bootstrap_servers,
            "topics": topic, "replication.factor": 1, "tasks.max": 1,
            "key.converter": "org.apache.kafka.connect.converters.ByteArrayConverter",
            "value.converter": "org.apache.kafka.connect.converters.ByteArrayConverter",
            "sync.topic.acls.enabled": False, "refresh.topics.interval.seconds": 5,
            "offset-syncs.topic.replication.factor": 1,
        })
        connect_worker.wait_running(name, timeout=90)
        copied = wait_for_values(dr, mirrored, len(values))
        assert sorted(copied) == sorted(values)
        assert mirrored not in cluster.topics(mirrored)  # the copy went to dr, not back into single
        assert dr.describe_topic(mirrored).partition.nunique() == 2  # partitions mirrored too
    finally:
        connect_worker.delete(name, missing_ok=True)
        cluster.delete_topic(topic)
        if mirrored in dr.topics(mirrored):
            dr.delete_topic(mirrored)
        # mm2-offset-syncs.dr.internal (on single) is shared by every connector mirroring into dr: it stays.
