"""courseapps.day1.forwarder: commit after the service accepted; stop on failure; a restart catches up."""

import json

import httpx
import pytest
from confluent_kafka import TopicPartition

import kafkacourse as kc
from courseapps.day1 import downstream
from courseapps.day1.forwarder import Forwarder


@pytest.fixture
def topic(make_topic):
    return make_topic(partitions=1, prefix="test-forward")


@pytest.fixture
def service():
    server = kc.serve(downstream.create_app("payment"))
    yield server
    server.stop()


def committed(cluster, group: str, topic: str) -> int:
    consumer = cluster.consumer(group_id=group)
    try:
        return consumer.committed([TopicPartition(topic, 0)], timeout=10)[0].offset
    finally:
        consumer.close()


def produce_orders(cluster, topic, ids):
    cluster.produce(topic, [(i, json.dumps({"event": "order_placed", "order_id": i})) for i in ids])


def test_forwards_every_event_and_commits(cluster, topic, service):
    ids = [f"o-{i}" for i in range(5)]
    produce_orders(cluster, topic, ids)
    group = kc.unique_name("payment")
    with Forwarder(cluster.config(), topic, group, service.url) as forwarder:
        assert forwarder.wait_for(5, timeout=20), forwarder
    assert forwarder.processed == ids and forwarder.error is None
    assert httpx.get(service.url + "/stats").json()["order_ids"] == ids
    assert committed(cluster, group, topic) == 5


def test_stops_on_failure_without_committing_and_a_restart_catches_up(cluster, topic, service):
    httpx.put(service.url + "/control", json={"failing": True}).raise_for_status()
    produce_orders(cluster, topic, ["o-0", "o-1", "o-2"])
    group = kc.unique_name("payment")
    crashed = Forwarder(cluster.config(), topic, group, service.url).start()
    assert crashed.join(20), "the forwarder stops on the first failure"
    assert "503" in crashed.error and crashed.processed == []
    assert committed(cluster, group, topic) < 0, "nothing committed: the group has no offset yet"

    httpx.put(service.url + "/control", json={"failing": False}).raise_for_status()
    with Forwarder(cluster.config(), topic, group, service.url) as recovered:
        assert recovered.wait_for(3, timeout=20), recovered
    assert recovered.processed == ["o-0", "o-1", "o-2"]
    assert committed(cluster, group, topic) == 3
