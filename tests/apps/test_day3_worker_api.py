"""courseapps.day3.worker_api: the consumer in the lifespan (thread or task), its probes, and uvicorn's shutdown."""

from __future__ import annotations

import socket
import time

import httpx
import pytest

import kafkacourse as kc
from courseapps.day3.worker_api import Settings, create_app
from kafkacourse.instruments.ledger import DeliveryLedger
from kafkacourse.instruments.processes import ServiceProcess


@pytest.fixture
def numbered(cluster, make_topic):
    topic = make_topic(partitions=2, prefix="test-api")
    ledger, producer = DeliveryLedger(), cluster.producer()
    try:
        for i in range(40):
            producer.produce(topic, key=f"k{i % 5}", value=ledger.stamp(f"k{i % 5}"))
    finally:
        producer.flush(30)
    return topic


def wait_ready(url: str, timeout: float = 60) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        answer = httpx.get(url + "/ready", timeout=30)
        if answer.status_code == 200:
            return answer.json()
        assert time.monotonic() < deadline, answer.json()
        time.sleep(0.1)


@pytest.mark.parametrize("mode", ["thread", "task"])
def test_the_lifespan_runs_the_consumer_and_the_probes_see_it(cluster, numbered, mode):
    settings = Settings(topic=numbered, group=kc.unique_name(f"test-api-{mode}"), mode=mode,
                        bootstrap_servers=cluster.bootstrap_servers, work_ms=1, work="cpu")
    with kc.serve(create_app(settings)) as server:
        assert httpx.get(server.url + "/ping", timeout=30).json() == {"pong": True}
        body = wait_ready(server.url)
        assert body["assigned"] == [0, 1] and body["running"], body
        assert httpx.get(server.url + "/health", timeout=30).status_code == 200
    group = cluster.admin().describe_consumer_groups([settings.group], request_timeout=10)[settings.group].result()
    assert not group.members, "the lifespan's exit closed the consumer, which left the group"


def test_without_a_consumer_the_probes_say_so(cluster):
    with kc.serve(create_app(Settings(mode="none"))) as server:
        assert httpx.get(server.url + "/ping", timeout=30).status_code == 200
        assert httpx.get(server.url + "/health", timeout=30).status_code == 503
        assert httpx.get(server.url + "/ready", timeout=30).status_code == 503


def test_sigterm_to_uvicorn_closes_the_consumer_through_the_lifespan(cluster, numbered, tmp_path):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    group = kc.unique_name("test-api-sigterm")
    env = {"WORKER_API_MODE": "thread", "WORKER_API_TOPIC": numbered, "WORKER_API_GROUP": group,
           "KAFKA_BOOTSTRAP_SERVERS": cluster.bootstrap_servers}
    api = ServiceProcess("uvicorn", "courseapps.day3.worker_api:app", "--port", port, env=env, log_dir=tmp_path)
    with api:
        api.wait_for('"event": "assigned"', timeout=60)
        wait_ready(f"http://127.0.0.1:{port}")
        assert api.terminate() == -15, api.tail()   # uvicorn re-raises SIGTERM once its shutdown is complete
    log = api.log()
    order = ["Waiting for application shutdown", '"event": "closed"', '"event": "lifespan-exit"',
             "Application shutdown complete"]
    assert [log.index(marker) for marker in order] == sorted(log.index(marker) for marker in order), log
    group_now = cluster.admin().describe_consumer_groups([group], request_timeout=10)[group].result()
    assert not group_now.members


def test_a_bad_mode_fails_the_startup():
    with pytest.raises(RuntimeError, match="failed to start"):
        kc.serve(create_app(Settings(mode="fork", topic="t", group="g")))
