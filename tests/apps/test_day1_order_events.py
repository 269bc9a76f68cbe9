"""courseapps.day1.order_events: 202 + an "order placed" event on the topic; 422 and nothing produced otherwise."""

import json

import pytest
from fastapi.testclient import TestClient

import kafkacourse as kc
from courseapps.day1 import order_events

ORDER = {"order_id": "o-1", "customer": "ada", "amount": 12.5}


@pytest.fixture
def topic(make_topic):
    return make_topic(partitions=3, prefix="test-orders")


def test_valid_order_is_accepted_and_on_the_topic(cluster, topic):
    with TestClient(order_events.create_app(cluster.config(), topic)) as client:
        response = client.post("/orders", json=ORDER)
    assert response.status_code == 202, response.text
    body = response.json()
    assert body["status"] == "accepted" and body["order_id"] == "o-1"
    records = cluster.consume(topic, n=1, timeout=5)
    assert len(records) == 1
    record = records.iloc[0]
    assert record.key == "o-1", "the order id is the record key (one order's events stay in order)"
    assert (record.partition, record.offset) == (body["partition"], body["offset"])
    event = json.loads(record.value)
    assert event["event"] == "order_placed"
    assert {k: event[k] for k in ORDER} == ORDER


@pytest.mark.parametrize("payload", [
    {"customer": "ada", "amount": 1},
    {**ORDER, "amount": -3},
    {**ORDER, "order_id": ""},
    {**ORDER, "extra": True},
])
def test_invalid_order_gets_422_and_produces_nothing(cluster, topic, payload):
    with TestClient(order_events.create_app(cluster.config(), topic)) as client:
        assert client.post("/orders", json=payload).status_code == 422
    assert sum(cluster.end_offsets(topic).values()) == 0


def test_kafka_refusing_the_event_gives_503(cluster):
    missing = kc.unique_name("no-such-topic")  # the brokers do not auto-create topics
    app = order_events.create_app(cluster.config(settings={"message.timeout.ms": 1500}), missing)
    with TestClient(app) as client:
        response = client.post("/orders", json=ORDER)
    assert response.status_code == 503, response.text
    assert "could not record the order" in response.json()["detail"]
