"""courseapps.day1.job_events: 202 once the job event is stored; 422 and nothing produced otherwise."""

import json

import pytest
from fastapi.testclient import TestClient

import kafkacourse as kc
from courseapps.day1 import job_events


@pytest.fixture
def topic(make_topic):
    return make_topic(partitions=3, prefix="test-jobs")


def test_job_is_accepted_once_on_the_topic(cluster, topic):
    with TestClient(job_events.create_app(cluster.config(), topic)) as client:
        response = client.post("/jobs", json={"job_id": "j-1", "seconds": 0.5})
    assert response.status_code == 202, response.text
    body = response.json()
    records = cluster.consume(topic, n=1, timeout=5)
    assert len(records) == 1
    record = records.iloc[0]
    assert record.key == "j-1" and json.loads(record.value) == {"job_id": "j-1", "seconds": 0.5}
    assert (record.partition, record.offset) == (body["partition"], body["offset"])


def test_invalid_job_gets_422_and_produces_nothing(cluster, topic):
    with TestClient(job_events.create_app(cluster.config(), topic)) as client:
        for payload in ({"seconds": 1}, {"job_id": "j", "seconds": "slow"}, {"job_id": "a/b", "seconds": 1}):
            assert client.post("/jobs", json=payload).status_code == 422, payload
    assert sum(cluster.end_offsets(topic).values()) == 0


def test_kafka_refusing_the_job_gives_503(cluster):
    app = job_events.create_app(cluster.config(settings={"message.timeout.ms": 1500}), kc.unique_name("no-such-topic"))
    with TestClient(app) as client:
        assert client.post("/jobs", json={"job_id": "j-1", "seconds": 0}).status_code == 503
