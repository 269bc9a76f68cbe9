"""courseapps.day2.order_gateway: 201 once Kafka has the order, 503 with a clear body when it cannot confirm it."""

import json
import socket

import pytest
from fastapi.testclient import TestClient

import kafkacourse as kc
from courseapps.day2.order_gateway import Settings, create_app
from kafkacourse.instruments.faults import FaultProxy
from kafkacourse.instruments.producers import quiet_logger

ORDER = {"order_id": "o-1", "customer": "ada", "amount": 12.5}


def test_stored_order_gets_201_with_its_place_in_the_log(cluster, topic):
    with TestClient(create_app(Settings(cluster.bootstrap_servers, topic))) as client:
        response = client.post("/orders", json=ORDER)
        assert response.status_code == 201, response.text
        assert client.get("/stats").json() == {"stored": 1}
        assert client.get("/health").json()["topic"] == topic
    record = cluster.consume(topic, n=1, timeout=5).iloc[0]
    assert (record.partition, record.offset) == (response.json()["partition"], response.json()["offset"])
    assert record.key == "o-1" and json.loads(record.value) == ORDER


def test_network_down_gives_503_then_201_after_heal(cluster, topic):
    settings = Settings(cluster.proxied_bootstrap_servers, topic, delivery_timeout_ms=1500)
    with FaultProxy.for_cluster(cluster) as proxy, TestClient(create_app(settings)) as client:
        assert client.post("/orders", json=ORDER).status_code == 201
        proxy.drop()
        response = client.post("/orders", json={**ORDER, "order_id": "o-2"})
        assert response.status_code == 503, response.text
        detail = response.json()["detail"]
        assert detail["kafka_error"] == "_MSG_TIMED_OUT" and detail["order_id"] == "o-2", detail
        assert detail["retriable"] is True, "a 503 says: retry"
        assert "retry with the same order_id" in detail["message"]
        assert response.headers["retry-after"] == "1"
        proxy.heal()
        assert client.post("/orders", json={**ORDER, "order_id": "o-2"}).status_code == 201
        assert client.get("/stats").json() == {"stored": 2, "_MSG_TIMED_OUT": 1}


def test_no_broker_at_all_gives_503(topic):
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings = Settings(f"127.0.0.1:{port}", topic, delivery_timeout_ms=1000,
                        producer_config={"logger": quiet_logger("gateway-test")})  # no refused-connection lines
    with TestClient(create_app(settings)) as client:
        response = client.post("/orders", json=ORDER)
    assert response.status_code == 503 and response.json()["detail"]["kafka_error"] == "_MSG_TIMED_OUT"


def test_invalid_order_gets_422(cluster, topic):
    with TestClient(create_app(Settings(cluster.bootstrap_servers, topic))) as client:
        assert client.post("/orders", json={**ORDER, "amount": -1}).status_code == 422
    assert sum(cluster.end_offsets(topic).values()) == 0


def test_a_record_the_broker_refuses_for_good_gets_500_not_503(cluster):
    """MSG_SIZE_TOO_LARGE from the broker is not retriable: the same request can never succeed, so no 503."""
    tiny = cluster.create_topic(kc.unique_name("test-tiny"), config={"max.message.bytes": "60"})
    try:
        with TestClient(create_app(Settings(cluster.bootstrap_servers, tiny))) as client:
            response = client.post("/orders", json=ORDER)
        assert response.status_code == 500, response.text
        detail = response.json()["detail"]
        assert detail["kafka_error"] == "MSG_SIZE_TOO_LARGE" and detail["retriable"] is False, detail
        assert "retry-after" not in response.headers
        assert sum(cluster.end_offsets(tiny).values()) == 0
    finally:
        cluster.delete_topic(tiny)


def test_a_repeated_idempotency_key_gets_the_first_answer_and_produces_nothing(cluster, topic):
    with TestClient(create_app(Settings(cluster.bootstrap_servers, topic))) as client:
        first = client.post("/orders", json=ORDER, headers={"Idempotency-Key": "k-1"})
        again = client.post("/orders", json=ORDER, headers={"Idempotency-Key": "k-1"})
        other = client.post("/orders", json=ORDER, headers={"Idempotency-Key": "k-2"})
        assert [r.status_code for r in (first, again, other)] == [201, 201, 201]
        assert again.json() == first.json() and other.json()["offset"] != first.json()["offset"]
        assert client.get("/stats").json() == {"stored": 2, "replayed": 1}
    records = cluster.messages(topic)
    assert [dict(m.headers() or [])["idempotency-key"] for m in records] in (
        [b"k-1", b"k-2"], [b"k-2", b"k-1"]), "the key travels in the record's header"
