"""The retry worker of lesson 05 as a real process against the live broker and the flaky downstream:
blocking retries keep per-key order, non-blocking retry topics do not, the poison record reaches the DLQ
once with its error headers, and the circuit breaker pauses the assignment while the downstream is down."""

from __future__ import annotations

import re
import time

import httpx
import pytest

import kafkacourse as kc
from courseapps.day3.flaky_downstream import create_app
from kafkacourse.instruments.ledger import DeliveryLedger
from kafkacourse.instruments.processes import ServiceProcess
from kafkacourse.instruments.retry import RetryRoute, dlq_records, wait_until_consumed


@pytest.fixture
def downstream():
    with kc.serve(create_app()) as server:
        yield server


def produce_numbered(cluster, topic, n, keys=3, poison_at=None):
    ledger = DeliveryLedger()
    producer = cluster.producer(settings={"acks": "all", "enable.idempotence": True})
    try:
        for i in range(n):
            if i == poison_at:
                producer.produce(topic, key="k0", value=b"\xff not json")
            key = f"k{i % keys}"
            producer.produce(topic, key=key, value=ledger.stamp(key), on_delivery=ledger.on_delivery)
        assert producer.flush(15) == 0
    finally:
        producer.flush(5)
    return ledger


def run_worker(cluster, downstream, route, mode, group, **extra):
    args = ["--bootstrap-servers", cluster.bootstrap_servers, "--topic", route.base, "--group", group,
            "--downstream", downstream.url, "--mode", mode, "--delays", ",".join(f"{d:g}" for d in route.delays)]
    for name, value in extra.items():
        args += [f"--{name.replace('_', '-')}", str(value)]
    return ServiceProcess("courseapps.day3.retry_worker", *args, name=f"retry-worker-{mode}")


def accepted_into(ledger, downstream):
    for row in httpx.get(downstream.url + "/accepted").json():
        ledger.record_received(row["id"], key=row["key"], seq=row["seq"])
    return ledger


@pytest.mark.parametrize("mode", ["blocking", "nonblocking"])
def test_transient_failures_are_retried_and_poison_reaches_the_dlq_once(cluster, downstream, mode):
    route = RetryRoute(kc.unique_name(f"test-retry-{mode}"), delays=(0.5, 1))
    route.create(cluster, partitions=1)
    group = kc.unique_name("test-retry-worker")
    try:
        httpx.put(downstream.url + "/control", json={"fail": {"3": 1, "7": 2, "9": 5}, "reject": [5]})
        ledger = produce_numbered(cluster, route.base, 12, poison_at=6)
        with run_worker(cluster, downstream, route, mode, group) as worker:
            worker.wait_for("assigned")
            wait_until_consumed(cluster, group, route.topics[:-1], timeout=60, check=lambda: worker.wait_for("assigned", timeout=1))
            dlq = dlq_records(cluster, route.dlq)
        accepted_into(ledger, downstream)

        assert set(ledger.losses().id) == {5, 9}, "rejected (422) and retries exhausted (5 failures > 3 attempts)"
        assert ledger.summary()["duplicates"] == 0
        assert sorted(dlq["error.reason"]) == ["malformed", "rejected", "retries-exhausted"]
        assert (dlq["error.original.topic"] == route.base).all()
        poison = dlq[dlq["error.reason"] == "malformed"].iloc[0]
        assert poison["error.original.offset"] == "6" and poison["error.attempt"] == "1"
        assert dlq[dlq["error.reason"] == "retries-exhausted"]["error.attempt"].tolist() == ["3"]
        out_of_order = ledger.summary()["out_of_order_by_key"]
        if mode == "blocking":
            assert out_of_order == 0, ledger.out_of_order()
            assert cluster.end_offsets(route.retry_topics[0]) == {0: 0}, "blocking retries write no retry topic"
        else:
            assert out_of_order >= 2, "ids 3 and 7 came back after later records of their keys"
            assert sum(cluster.end_offsets(route.retry_topics[0]).values()) == 3  # ids 3, 7, 9 once each
    finally:
        route.delete(cluster)


def test_the_breaker_opens_pauses_and_closes_again_without_losing_a_record(cluster, downstream):
    route = RetryRoute(kc.unique_name("test-breaker"), delays=(1,))
    route.create(cluster, partitions=3)
    group = kc.unique_name("test-breaker-worker")
    try:
        with run_worker(cluster, downstream, route, "breaker", group, fail_max=2, reset_timeout=0.5) as worker:
            worker.wait_for("assigned")
            ledger = produce_numbered(cluster, route.base, 10)
            wait_until_consumed(cluster, group, [route.base], timeout=30)
            httpx.put(downstream.url + "/control", json={"healthy": False})
            more = produce_numbered(cluster, route.base, 1)  # the record that meets the outage
            worker.wait_for("breaker closed -> open", timeout=20)
            worker.wait_for("breaker open -> half-open", timeout=20)
            worker.wait_for("breaker half-open -> open", timeout=20)
            httpx.put(downstream.url + "/control", json={"healthy": True})
            worker.wait_for("breaker half-open -> closed", timeout=20)
            wait_until_consumed(cluster, group, [route.base], timeout=30)
            log = worker.log()
        assert len(httpx.get(downstream.url + "/accepted").json()) == 11
        assert re.search(r"resumed at \S+ after [1-9]\d* polls", log), log
        assert log.count("assigned") == 1, "the member stayed in its group while paused"
        assert cluster.end_offsets(route.dlq) == {0: 0, 1: 0, 2: 0}
    finally:
        route.delete(cluster)
