"""courseapps.day2.produce_polled: a def endpoint waits for its own record's report; a full queue is a 503."""

import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from fastapi.testclient import TestClient

from courseapps.day2.produce_polled import create_app
from kafkacourse.instruments.faults import FaultProxy
from kafkacourse.instruments.producers import quiet_logger

ORDER = {"order_id": "o-1", "customer": "ada", "amount": 12.5}


def test_each_order_gets_201_with_its_own_place_in_the_log(cluster, topic):
    orders = [{**ORDER, "order_id": f"o-{i}"} for i in range(20)]
    with TestClient(create_app(cluster.config(), topic)) as client, ThreadPoolExecutor(8) as pool:
        replies = list(pool.map(lambda order: client.post("/orders", json=order), orders))
        assert [r.status_code for r in replies] == [201] * 20, [r.text for r in replies if r.status_code != 201]
        assert client.get("/stats").json() == {"stored": 20}
    placed = {(r.json()["partition"], r.json()["offset"]): r.json()["order_id"] for r in replies}
    assert len(placed) == 20, "every request reported a place of its own"
    stored = cluster.messages(topic)
    assert {(m.partition(), m.offset()): m.key().decode() for m in stored} == placed
    assert all(json.loads(m.value())["order_id"] == m.key().decode() for m in stored)


def test_a_full_queue_gets_503_and_the_queued_order_still_its_201(cluster, topic):
    """queue.buffering.max.messages=1 and a slow network: the second order finds the queue full."""
    config = cluster.config(settings={"bootstrap.servers": cluster.proxied_bootstrap_servers,
                                      "queue.buffering.max.messages": 1, "logger": quiet_logger("polled-test")})
    with FaultProxy.for_cluster(cluster) as proxy, TestClient(create_app(config, topic)) as client:
        assert client.post("/orders", json=ORDER).status_code == 201  # connected, metadata known
        proxy.delay(1000)  # each chunk held 1 s: the next record stays in the queue a while
        first = {}
        slow = threading.Thread(target=lambda: first.update(r=client.post("/orders", json={**ORDER, "order_id": "o-2"})))
        slow.start()
        time.sleep(0.3)  # o-2 is queued
        full = client.post("/orders", json={**ORDER, "order_id": "o-3"})
        slow.join()
        proxy.heal()
        assert full.status_code == 503, full.text
        assert full.json()["detail"]["cause"] == "queue_full" and full.headers["retry-after"] == "1"
        assert first["r"].status_code == 201, first["r"].text
        assert client.get("/stats").json() == {"stored": 2, "queue_full": 1}
    assert sorted(m.key().decode() for m in cluster.messages(topic)) == ["o-1", "o-2"], "o-3 was never produced"
