"""kafkacourse.instruments.mirror: a MirrorMaker 2 flow (source, checkpoint and heartbeat connectors) on the
course's Connect worker, the consumer group resumed on dr from MM2's translated offsets, and the failover
arithmetic (RPO, duplicates) on a ledger. The lesson (Day 5 · 04) SIGKILLs a scratch primary; here the
source is `single`, which must stay up."""

from __future__ import annotations

import pandas as pd
import pytest
from confluent_kafka import TopicPartition

import kafkacourse as kc
from kafkacourse.instruments.ledger import DeliveryLedger
from kafkacourse.instruments.mirror import (IDENTITY_POLICY, MirrorFlow, SiteConsumer, committed_offsets,
                                            failover_report, scratch_primary, settled, start_offsets)


@pytest.fixture(scope="module")
def dr() -> kc.Cluster:
    return kc.connect(profile="dr")


def test_flow_names_and_configs_without_a_cluster(cluster):
    flow = MirrorFlow(None, cluster, cluster, topics=["orders"], groups=["billing"])  # type: ignore[arg-type]
    assert flow.remote_topic("orders") == "primary.orders"
    assert flow.connector_names == {"source": "primary-to-dr-source", "checkpoint": "primary-to-dr-checkpoint",
                                    "heartbeat": "primary-to-dr-heartbeat"}
    checkpoint = flow.configs()["primary-to-dr-checkpoint"]
    assert checkpoint["sync.group.offsets.enabled"] is True and checkpoint["groups"] == "billing"
    assert all(c["producer.override.bootstrap.servers"] == cluster.bootstrap_servers for c in flow.configs().values())
    identity = MirrorFlow(None, cluster, cluster, topics=["orders"], identity=True)  # type: ignore[arg-type]
    assert identity.remote_topic("orders") == "orders"
    assert identity.configs()["primary-to-dr-source"]["replication.policy.class"] == IDENTITY_POLICY
    assert identity.configs()["primary-to-dr-source"]["groups"] == "^$"  # no group: the checkpoint matches none


@pytest.mark.parametrize("bad, message", [
    ({"topics": "orders"}, "list of topic names"),
    ({"topics": []}, "list of topic names"),
    ({"groups": "billing"}, "list of group ids"),
    ({"source_alias": "dr"}, "aliases must differ"),
    ({"source_alias": "eu.west"}, "no '.'"),
])
def test_flow_refuses_bad_input(cluster, bad, message):
    with pytest.raises(ValueError, match=message):
        MirrorFlow(None, cluster, cluster, **{"topics": ["orders"], **bad})  # type: ignore[arg-type]


def test_scratch_primary_never_takes_a_course_profile_dir():
    with pytest.raises(ValueError, match="name of its own"):
        scratch_primary("single", offset=1000)
    stack = scratch_primary("dr-primary-test", offset=3000)
    assert stack.bootstrap_servers == "localhost:12092" and stack.root.name == "dr-primary-test"


def test_settled_waits_for_a_value_that_stops_changing():
    values = iter([1, 2, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3])
    assert settled(lambda: next(values), quiet_s=0.5) == 3
    counter = iter(range(1000))
    with pytest.raises(TimeoutError, match="still changing"):
        settled(lambda: next(counter), quiet_s=1.0, timeout=0.6)


def test_a_site_consumer_is_closed_by_the_thread_that_polls_it(cluster, make_topic):
    topic, ledger = make_topic(partitions=1), DeliveryLedger()
    cluster.produce(topic, [("k", ledger.stamp("k")) for _ in range(5)])
    reader = SiteConsumer(cluster, topic, kc.unique_name("site"), ledger, "primary").start()
    reader.wait_caught_up({0: 5})
    reader.stop()
    reader.stop()                                      # idempotent
    assert not reader._thread.is_alive()
    with pytest.raises(RuntimeError, match="closed"):  # closed once its thread had finished, by that thread
        reader.consumer.assignment()
    unstarted = SiteConsumer(cluster, topic, kc.unique_name("site"), DeliveryLedger(), "primary")
    unstarted.stop()
    with pytest.raises(RuntimeError, match="closed"):
        unstarted.consumer.assignment()


def test_failover_report_counts_rpo_rto_and_duplicates():
    ledger = DeliveryLedger()
    for _ in range(6):
        ledger.stamp("k")
    produced = pd.DataFrame({"id": range(6), "acked_s": [1.0, 1.1, 1.2, 1.3, 1.4, None],
                             "error": [None] * 5 + ["_PURGE_INFLIGHT"]})
    for i in (0, 1, 2):
        ledger.record_received(i, site="primary")
    for i in (1, 2, 3):                      # 1 and 2 again: duplicates; 4 acked, never copied: lost
        ledger.record_received(i, site="dr")
    report = failover_report(ledger, produced, killed_at=2.0, resumed_at=5.5)
    assert report == {"acked": 5, "not_acked": 1, "processed_on_primary": 3, "processed_on_dr": 3,
                      "rpo_records": 1, "rpo_s": 0.6, "rto_s": 3.5, "duplicates": 2}
    with pytest.raises(ValueError, match="acked_s"):
        failover_report(ledger, produced.drop(columns="acked_s"), 2.0, 5.5)
    with pytest.raises(ValueError, match="site"):
        failover_report(DeliveryLedger(), produced, 2.0, 5.5)


@pytest.mark.slow
def test_a_group_resumes_on_dr_from_the_offsets_mm2_translated(connect_worker, cluster, dr):
    topic = cluster.create_topic(kc.unique_name("mm2-orders"), partitions=2)
    group = kc.unique_name("mm2-billing")
    ledger = DeliveryLedger()
    cluster.produce(topic, [{"key": f"k{i % 2}", "value": ledger.stamp(f"k{i % 2}"), "partition": i % 2}
                            for i in range(40)])
    futures = cluster.admin().delete_records([TopicPartition(topic, p, 5) for p in (0, 1)])
    for future in futures.values():
        future.result()                                  # offsets 0-4 gone, as retention would have it
    cluster.commit_offsets(group, [TopicPartition(topic, p, 15) for p in (0, 1)])  # the group read up to 15
    flow = MirrorFlow(connect_worker, cluster, dr, topics=[topic], groups=[group], source_alias="single",
                      name=kc.unique_name("mm2-test"), settings={"offset.lag.max": 5})
    try:
        states = flow.start()
        assert states == {"source": "RUNNING", "checkpoint": "RUNNING", "heartbeat": "RUNNING"}
        remote = flow.remote_topic(topic)
        assert flow.wait_mirrored(topic) == {0: 15, 1: 15}
        assert start_offsets(cluster, topic) == {0: 5, 1: 5} and start_offsets(dr, remote) == {0: 0, 1: 0}
        flow.wait_group_synced(group, topic)
        synced = settled(lambda: committed_offsets(dr, group, remote))
        # Upstream 15 is downstream 10: translation lands at or before it (re-reads, never skips), and at
        # least one past the first offset sync (upstream 5 = downstream 0).
        assert all(1 <= synced[p] <= 10 for p in (0, 1)), synced
        resumed = SiteConsumer(dr, remote, group, ledger, "dr").start()
        try:
            resumed.wait_caught_up({0: 15, 1: 15})
        finally:
            resumed.stop()
        assert resumed.first_offsets == synced
        assert flow.heartbeats() > 0
        summary = ledger.summary()
        assert summary["received"] == 30 - sum(synced.values()) and summary["duplicates"] == 0
        assert summary["unexpected"] == 0 and summary["out_of_order_by_key"] == 0
    finally:
        deleted = flow.delete()
        cluster.delete_topic(topic)
    assert {f"single.{topic}", "mm2-offset-syncs.single.internal", "single.checkpoints.internal"} <= set(deleted)
    assert f"single.{topic}" not in dr.topics("single.")
    assert not set(flow.connector_names.values()) & set(connect_worker.connectors())
