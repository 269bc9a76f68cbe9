"""courseapps.day3.dedup_consumer: a durable store of processed ids applies each id once, a set forgets in a crash."""

from __future__ import annotations

import sqlite3

import pytest

import kafkacourse as kc
from courseapps.day3 import dedup_consumer
from kafkacourse.instruments.ledger import encode_value
from kafkacourse.instruments.processes import ServiceProcess


@pytest.fixture
def topic(make_topic, cluster):
    """30 records, ids 0-24 plus ids 0-4 again (as a producer retry would store them)."""
    name = make_topic(partitions=1, prefix="test-dedup")
    cluster.produce(name, [encode_value(i) for i in [*range(25), *range(5)]])
    return name


def crash_and_restart(cluster, topic, tmp_path, store, state_topic=None):
    """Run the consumer, SIGKILL it while it hangs on offset 15 (batch 10-19), restart it; the effects' ids."""
    group = kc.unique_name(f"test-dedup-{store}")
    args = ["--bootstrap-servers", cluster.bootstrap_servers, "--topic", topic, "--group", group,
            "--db", tmp_path / f"{store}.db", "--store", store, "--batch", 10, "--instance-id", "d"]
    if state_topic:
        args += ["--state-topic", state_topic]
    first = ServiceProcess("courseapps.day3.dedup_consumer", *args, "--stall-at", 15, log_dir=tmp_path,
                           name=f"{store}-1").start()
    try:
        first.wait_for("processing 15 at offset 15", timeout=60)
    finally:
        first.kill()
    with ServiceProcess("courseapps.day3.dedup_consumer", *args, "--run", 2, log_dir=tmp_path,
                        name=f"{store}-2") as again:
        again.wait_for("caught up", timeout=60)
        assert again.terminate() == 0
    with sqlite3.connect(tmp_path / f"{store}.db") as db:
        return sorted(row[0] for row in db.execute("SELECT id FROM effects"))


def test_sqlite_store_applies_each_id_once(cluster, topic, tmp_path):
    assert crash_and_restart(cluster, topic, tmp_path, "sqlite") == list(range(25))


def test_compacted_topic_store_survives_the_restart(cluster, topic, tmp_path, make_topic):
    state = make_topic(partitions=1, prefix="test-dedup-state")
    assert crash_and_restart(cluster, topic, tmp_path, "compacted", state) == list(range(25))


def test_memory_store_forgets_in_a_crash(cluster, topic, tmp_path):
    ids = crash_and_restart(cluster, topic, tmp_path, "memory")
    # after the restart the set is empty: the redelivered 10-14 and the late copies of 0-4 are applied again
    assert ids == sorted([*range(25), *range(10, 15), *range(5)])


def test_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match="store must be one of"):
        dedup_consumer.run("b:9092", "t", "g", tmp_path / "x.db", "redis")
    with pytest.raises(ValueError, match="state-topic"):
        dedup_consumer.run("b:9092", "t", "g", tmp_path / "x.db", "compacted")
