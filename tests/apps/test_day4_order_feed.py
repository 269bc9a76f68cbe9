"""courseapps.day4.order_feed at three levels: a test double through its seam, librdkafka's mock cluster, and
the live broker (the `cluster` / `topic` fixtures of tests/conftest.py). Lesson 06 runs this file."""

from __future__ import annotations

import json

import pytest
from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, Producer, TopicPartition

from courseapps.day4.order_feed import DeliveryFailed, OrderFeed, sample_orders
from kafkacourse.instruments.mock_cluster import MockCluster

ORDERS = sample_orders(5, t0_ms=1_700_000_000_000, seed=3)


class FakeMessage:
    def __init__(self, key: bytes) -> None:
        self._key = key

    def key(self) -> bytes:
        return self._key


class FakeProducer:
    """A test double with confluent_kafka.Producer's produce/poll/flush: it records what it was asked to send
    and answers each record's delivery callback at flush(), with `fail_keys` failing."""

    def __init__(self, fail_keys: set[bytes] = frozenset()) -> None:
        self.sent: list[dict] = []
        self.fail_keys = fail_keys
        self._pending: list = []

    def produce(self, topic, value=None, key=None, timestamp=0, on_delivery=None, **kwargs):
        self.sent.append({"topic": topic, "key": key, "value": value, "timestamp": timestamp})
        self._pending.append((on_delivery, key))

    def poll(self, timeout=0):
        return 0

    def flush(self, timeout=None):
        for callback, key in self._pending:
            callback("_MSG_TIMED_OUT" if key in self.fail_keys else None, FakeMessage(key))
        self._pending.clear()
        return 0


def test_double_sees_key_value_and_event_timestamp():
    fake = FakeProducer()
    assert OrderFeed(fake, "orders").publish_all(ORDERS) == 5
    first = fake.sent[0]
    assert first["key"] == ORDERS[0]["order_id"].encode()
    assert first["timestamp"] == ORDERS[0]["ts"]                 # event time, not the producer's clock
    assert "ts" not in json.loads(first["value"])


def test_double_makes_a_failed_delivery_raise():
    fake = FakeProducer(fail_keys={ORDERS[2]["order_id"].encode()})
    with pytest.raises(DeliveryFailed) as failed:
        OrderFeed(fake, "orders").publish_all(ORDERS)
    assert failed.value.failures == [(ORDERS[2]["order_id"], "_MSG_TIMED_OUT")]


def test_an_order_without_its_fields_is_refused_before_sending():
    fake = FakeProducer()
    with pytest.raises(ValueError, match="customer"):
        OrderFeed(fake, "orders").publish({"order_id": "o-1", "ts": 1})
    assert fake.sent == []


def read_back(config: dict, topic: str, n: int) -> list:
    """Up to `n` records of `topic` from its beginning, within 60 s. The consumer assigns itself every partition
    (no group to join: a group's first rebalance is not what these tests are about)."""
    consumer = Consumer({**config, "group.id": f"read-{topic}", "enable.auto.commit": False})
    got = []
    try:
        partitions = consumer.list_topics(topic, timeout=30).topics[topic].partitions
        consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in partitions])
        for _ in range(300):
            msg = consumer.poll(0.2)
            if msg is not None and not (msg.error() and msg.error().code() == KafkaError._PARTITION_EOF):
                assert not msg.error(), msg.error()
                got.append(msg)
            if len(got) >= n:
                break
    finally:
        consumer.close()
    return got


def check_round_trip(config: dict, topic: str) -> None:
    producer = Producer(config)
    try:
        assert OrderFeed(producer, topic).publish_all(ORDERS) == len(ORDERS)
    finally:
        producer.flush(10)
    got = read_back(config, topic, len(ORDERS))
    assert sorted((m.key().decode(), m.timestamp()[1]) for m in got) == sorted((o["order_id"], o["ts"]) for o in ORDERS)


def test_on_librdkafkas_mock_cluster():
    with MockCluster(num_brokers=3) as mock:
        check_round_trip(mock.config(), "orders")


def test_on_the_live_broker(cluster, topic):
    check_round_trip(cluster.config(), topic)
