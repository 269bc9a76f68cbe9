"""courseapps.day2.produce_async: awaited delivery (bridge and AIOProducer), fire-and-forget flushed on shutdown."""

import json

import httpx
import pytest
from fastapi.testclient import TestClient

import kafkacourse as kc
from courseapps.day2 import produce_async

ORDER = {"order_id": "o-1", "customer": "ada", "amount": 12.5}


@pytest.fixture
def topic(make_topic):
    return make_topic(partitions=3, prefix="test-orders")


@pytest.mark.parametrize("engine, options", [("bridge", None), ("aio", {"buffer_timeout": 0.05})])
def test_the_answer_says_where_the_record_landed(cluster, topic, engine, options):
    with TestClient(produce_async.create_app(cluster.config(), topic, engine=engine, aio_options=options)) as client:
        response = client.post("/orders", json=ORDER)
        assert response.status_code == 201, response.text
        assert client.get("/health").json()["engine"] == engine
    body = response.json()
    record = cluster.consume(topic, n=1, timeout=5).iloc[0]
    assert (record.partition, record.offset) == (body["partition"], body["offset"])
    assert record.key == "o-1" and json.loads(record.value) == ORDER


def test_fire_and_forget_records_wait_in_memory_until_the_shutdown_flush(cluster, topic):
    server = kc.serve(produce_async.create_app(cluster.config(settings={"linger.ms": 10_000}), topic))
    try:
        for i in range(5):
            response = httpx.post(server.url + "/orders/fire-and-forget", json={**ORDER, "order_id": f"o-{i}"})
            assert response.status_code == 202, response.text
        assert httpx.get(server.url + "/stats").json() == {"queued": 5, "failed": 0}
        assert sum(cluster.end_offsets(topic).values()) == 0, "linger.ms=10000 holds them in the producer"
    finally:
        server.stop()  # lifespan shutdown: flush
    assert sorted(cluster.consume(topic, n=5, timeout=5).key) == [f"o-{i}" for i in range(5)]


def test_invalid_order_gets_422_and_produces_nothing(cluster, topic):
    with TestClient(produce_async.create_app(cluster.config(), topic)) as client:
        assert client.post("/orders", json={**ORDER, "customer": ""}).status_code == 422
        assert client.post("/orders/fire-and-forget", json={"order_id": "x"}).status_code == 422
    assert sum(cluster.end_offsets(topic).values()) == 0


def test_kafka_refusing_the_record_gives_503(cluster):
    app = produce_async.create_app(cluster.config(settings={"message.timeout.ms": 1500}), kc.unique_name("missing"))
    with TestClient(app) as client:
        response = client.post("/orders", json=ORDER)
    assert response.status_code == 503 and "could not record" in response.json()["detail"]


def test_unknown_engine_is_refused():
    with pytest.raises(ValueError, match="engine"):
        produce_async.create_app({}, "t", engine="threads")
