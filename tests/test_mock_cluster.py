"""instruments.mock_cluster: a shared librdkafka mock cluster, and its aborted-transaction gap vs the real broker."""

import pytest
from confluent_kafka import Consumer, Producer

import kafkacourse as kc
from kafkacourse.instruments.mock_cluster import MockCluster, transaction_outcome


def test_a_producer_and_a_consumer_share_one_mock_cluster():
    with MockCluster(num_brokers=3) as mock:
        assert len(mock.bootstrap_servers.split(",")) == 3
        producer = Producer(mock.config())
        producer.produce("t", key=b"k", value=b"v", partition=0)
        assert producer.flush(10) == 0
        consumer = Consumer(mock.config(settings={"group.id": kc.unique_name("g"), "auto.offset.reset": "earliest"}))
        try:
            consumer.subscribe(["t"])
            msg = None
            for _ in range(100):
                msg = consumer.poll(0.2)
                if msg is not None and not msg.error():
                    break
            assert msg is not None and msg.value() == b"v"
        finally:
            consumer.close()


def test_bad_broker_count_is_refused():
    with pytest.raises(ValueError, match="num_brokers"):
        MockCluster(0)


def test_the_mock_hands_aborted_records_to_read_committed_the_broker_does_not(cluster, make_topic):
    with MockCluster() as mock:
        on_mock = transaction_outcome(mock.cluster(), "tx")
    on_broker = transaction_outcome(cluster, make_topic(1))
    everything = ["aborted-0", "aborted-1", "aborted-2", "committed-0", "committed-1"]
    assert on_broker == {"read_committed": everything[3:], "read_uncommitted": everything}
    assert on_mock == {"read_committed": everything, "read_uncommitted": everything}
