"""courseapps.day2.produce_sync: both blocking endpoints deliver before answering; 422 produces nothing."""

import json

import httpx
import pytest
from fastapi.testclient import TestClient

import kafkacourse as kc
from courseapps.day2 import produce_sync

ORDER = {"order_id": "o-1", "customer": "ada", "amount": 12.5}


@pytest.fixture
def topic(make_topic):
    return make_topic(partitions=3, prefix="test-orders")


@pytest.mark.parametrize("path", ["/orders/threadpool", "/orders/event-loop"])
def test_the_record_is_on_the_topic_when_the_answer_comes(cluster, topic, path):
    with TestClient(produce_sync.create_app(cluster.config(), topic)) as client:
        response = client.post(path, json=ORDER)
        assert response.status_code == 201, response.text
        body = response.json()
        ends = cluster.end_offsets(topic)  # read while the app still runs: flush() already delivered it
    assert sum(ends.values()) == 1
    record = cluster.consume(topic, n=1, timeout=5).iloc[0]
    assert (record.partition, record.offset) == (body["partition"], body["offset"])
    assert record.key == "o-1" and json.loads(record.value) == ORDER


def test_invalid_order_gets_422_and_produces_nothing(cluster, topic):
    with TestClient(produce_sync.create_app(cluster.config(), topic)) as client:
        assert client.post("/orders/threadpool", json={**ORDER, "amount": -1}).status_code == 422
    assert sum(cluster.end_offsets(topic).values()) == 0


def test_kafka_refusing_the_record_gives_503(cluster):
    app = produce_sync.create_app(cluster.config(settings={"message.timeout.ms": 1500}), kc.unique_name("missing"),
                                  timeout_s=5)
    with TestClient(app) as client:
        response = client.post("/orders/threadpool", json=ORDER)
    assert response.status_code == 503 and "could not record" in response.json()["detail"]


def test_stats_show_the_event_loop_endpoint_handles_one_request_at_a_time(cluster, topic):
    from kafkacourse.instruments.load import fire

    server = kc.serve(produce_sync.create_app(cluster.config(), topic))
    try:
        orders = [{**ORDER, "order_id": f"o-{i}"} for i in range(30)]
        assert fire(server.url + "/orders/event-loop", orders, concurrency=10).ok.all()
        assert fire(server.url + "/orders/threadpool", orders, concurrency=10).ok.all()
        stats = httpx.get(server.url + "/stats").json()
    finally:
        server.stop()
    assert stats["event-loop"] == {"blocked_now": 0, "blocked_peak": 1}
    assert stats["threadpool"]["blocked_now"] == 0 and 1 <= stats["threadpool"]["blocked_peak"] <= 10
