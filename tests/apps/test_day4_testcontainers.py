"""One test body, two places to get a broker: Testcontainers' Kafka module where a Docker engine answers,
the course's local stack (kc.connect()) everywhere else. The fixture records which one ran, and why.

The Docker user's code is the `testcontainers` branch: ``KafkaContainer(IMAGE)`` starts a throw-away broker in a
container and ``get_bootstrap_server()`` says where it listens. Lesson 06 runs this file.
"""

from __future__ import annotations

import uuid

import pytest
from confluent_kafka import Consumer, Producer
from confluent_kafka.admin import AdminClient, NewTopic

import kafkacourse as kc

IMAGE = "confluentinc/cp-kafka:7.6.1"


def docker_answers() -> tuple[bool, str]:
    """(True, version) when a Docker engine answers its API, else (False, the reason)."""
    try:
        import docker

        client = docker.from_env(timeout=5)
        return bool(client.ping()), f"Docker {client.version().get('Version', '?')}"
    except Exception as exc:  # noqa: BLE001 - any failure means: no engine to run containers on
        return False, f"no Docker engine answers ({type(exc).__name__}: {str(exc)[:160]})"


@pytest.fixture(scope="module")
def kafka():
    """(bootstrap servers, which backend and why): a Testcontainers broker when Docker answers, else the local stack."""
    ok, why = docker_answers()
    if ok:
        from testcontainers.kafka import KafkaContainer

        with KafkaContainer(IMAGE) as container:
            yield container.get_bootstrap_server(), f"testcontainers {IMAGE} on {why}"
        return
    yield kc.connect().bootstrap_servers, f"local stack (testcontainers not run: {why})"


def test_round_trip(kafka, record_property):
    bootstrap_servers, backend = kafka
    record_property("backend", backend)
    topic = f"tc-{uuid.uuid4().hex[:8]}"
    admin = AdminClient({"bootstrap.servers": bootstrap_servers})
    admin.create_topics([NewTopic(topic, 1, 1)])[topic].result(30)
    producer = Producer({"bootstrap.servers": bootstrap_servers})
    try:
        for i in range(3):
            producer.produce(topic, key=b"k", value=f"v{i}".encode())
    finally:
        assert producer.flush(30) == 0
    consumer = Consumer({"bootstrap.servers": bootstrap_servers, "group.id": topic, "auto.offset.reset": "earliest"})
    values = []
    try:
        consumer.subscribe([topic])
        for _ in range(150):
            msg = consumer.poll(0.2)
            if msg is not None and not msg.error():
                values.append(msg.value())
            if len(values) == 3:
                break
    finally:
        consumer.close()
        admin.delete_topics([topic])[topic].result(30)
    assert values == [b"v0", b"v1", b"v2"]
