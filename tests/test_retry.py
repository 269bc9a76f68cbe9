"""Retry routes, error headers, the delay gate and the DLQ replay tool (kafkacourse.instruments.retry)."""

from __future__ import annotations

import time

import pytest
from confluent_kafka import TopicPartition

import kafkacourse as kc
from kafkacourse.instruments.retry import (DelayGate, PermanentError, RetryRoute, RetryRouter, TransientError,
                                           attempt_of, dlq_records, error_headers, headers_of, is_transient,
                                           replay, wait_until_consumed)


def test_a_route_names_its_retry_topics_by_delay_and_ends_in_the_dlq():
    route = RetryRoute("shop.orders", delays=(5, 30))
    assert route.topics == ["shop.orders", "shop.orders.retry.5s", "shop.orders.retry.30s", "shop.orders.dlq"]
    assert [route.next_topic(n) for n in (1, 2, 3, 4)] == route.topics[1:3] + [route.dlq, route.dlq]
    assert route.max_attempts == 3 and route.delay_of("shop.orders.retry.30s") == 30 and route.delay_of("x") == 0
    assert RetryRoute("o", delays=(0.5, 120)).retry_topics == ["o.retry.0.5s", "o.retry.2m"]


@pytest.mark.parametrize("delays", [(), (3, 1), (0, 1), (-1,)])
def test_a_route_rejects_delays_that_are_not_positive_and_increasing(delays):
    if not delays:
        assert RetryRoute("o", delays=()).next_topic(1) == "o.dlq"  # no retry topics: straight to the DLQ
        return
    with pytest.raises(ValueError, match="positive and increasing"):
        RetryRoute("o", delays=delays)


def test_transient_and_permanent_errors():
    assert is_transient(TransientError()) and is_transient(TimeoutError()) and is_transient(ConnectionError())
    assert not is_transient(PermanentError()) and not is_transient(ValueError())


class FakeMessage:
    """Only the Message accessors error_headers reads (a plain record, not a stand-in for Kafka)."""

    def __init__(self, topic, partition, offset, headers=None):
        self._t, self._p, self._o, self._h = topic, partition, offset, headers

    def topic(self): return self._t
    def partition(self): return self._p
    def offset(self): return self._o
    def headers(self): return self._h


def test_error_headers_keep_the_original_coordinates_through_every_retry():
    first = FakeMessage("orders", 2, 41, [("trace", b"abc")])
    headers = error_headers(first, TransientError("503"), attempt=1, not_before_ms=5, now_ms=1000)
    fields = headers_of(headers)
    assert fields["trace"] == "abc" and fields["error.reason"] == "transient"
    assert (fields["error.original.topic"], fields["error.original.partition"], fields["error.original.offset"]) == \
        ("orders", "2", "41")
    assert fields["retry.not.before.ms"] == "5" and fields["error.first.failure.ms"] == "1000"

    retried = FakeMessage("orders.retry.5s", 0, 3, headers)
    again = headers_of(error_headers(retried, PermanentError("422"), attempt=2, now_ms=2000))
    assert attempt_of(retried) == 1
    assert again["error.original.topic"] == "orders" and again["error.original.offset"] == "41"
    assert again["error.first.failure.ms"] == "1000" and again["error.failed.ms"] == "2000"
    assert again["error.exception"] == "PermanentError" and "retry.not.before.ms" not in again
    assert [k for k, _ in error_headers(retried, PermanentError(), 2)].count("error.attempt") == 1


def test_router_gate_and_replay_on_the_live_broker(cluster):
    route = RetryRoute(kc.unique_name("test-route"), delays=(3,))
    route.create(cluster, partitions=1)
    try:
        cluster.produce(route.base, [("a", "one"), ("b", "two")])
        first, second = cluster.messages(route.base)
        router = RetryRouter(cluster.producer(), route)
        assert router.send(first, TransientError("busy")) == route.retry_topics[0]
        assert router.send(second, PermanentError("bad")) == route.dlq
        (retry,) = cluster.messages(route.retry_topics[0])
        assert router.send(retry, TransientError("still busy")) == route.dlq, "one retry topic, then the DLQ"

        dlq = dlq_records(cluster, route.dlq)
        assert dlq["error.reason"].tolist() == ["permanent", "retries-exhausted"]
        assert dlq["error.original.offset"].tolist() == ["1", "0"] and dlq["error.attempt"].tolist() == ["1", "2"]

        # the gate: a retry record not due yet pauses its partition and is polled again once due
        consumer = cluster.consumer(settings={"enable.auto.commit": False})
        try:
            consumer.assign([TopicPartition(route.retry_topics[0], 0, 0)])
            gate, seen = DelayGate(consumer), []
            due_at = int(headers_of(retry)["retry.not.before.ms"]) / 1000
            deadline = time.monotonic() + 20
            while not seen and time.monotonic() < deadline:
                gate.resume_due()
                msg = consumer.poll(0.1)
                if msg is not None and not msg.error():
                    if gate.due(msg):
                        seen.append(time.time())
            assert seen and seen[0] >= due_at, "processed only once due"
            assert gate.pauses >= 1, "polled before it was due: held back (paused), not processed"
        finally:
            consumer.close()

        group = kc.unique_name("test-replayer")
        done = replay(cluster, route.dlq, group, where=lambda h: h["error.reason"] != "permanent")
        assert done.replayed.tolist() == [False, True]
        replayed = cluster.messages(route.base)[2:]
        assert [(m.key(), m.value()) for m in replayed] == [(b"a", b"one")]
        assert headers_of(replayed[0])["replay.of"] == f"{route.dlq}/0/1"
        assert not any(k.startswith("error.") for k in headers_of(replayed[0]))
        assert replay(cluster, route.dlq, group).empty, "a second run replays nothing"
        assert wait_until_consumed(cluster, group, [route.dlq], timeout=5) >= 0
    finally:
        route.delete(cluster)


def test_a_consumer_service_importing_this_module_does_not_pay_for_pandas_or_matplotlib():
    import subprocess
    import sys

    probe = "import sys, kafkacourse.instruments.retry; print('pandas' in sys.modules, 'matplotlib' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    assert out.stdout.split() == ["False", "False"], out
