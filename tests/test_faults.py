"""kafkacourse.instruments.faults: the fault-injection proxy, against the live single broker (nothing mocked)."""

from __future__ import annotations

import socket
import time

import pandas as pd
import pytest
from confluent_kafka import KafkaError

import kafkacourse as kc
from kafkacourse.instruments.faults import FaultProxy, Route
from kafkacourse.instruments.producers import quiet_logger


@pytest.fixture
def proxy(cluster):
    with FaultProxy.for_cluster(cluster) as running:
        yield running


def proxied_producer(cluster, **overrides):
    settings = {"bootstrap.servers": cluster.proxied_bootstrap_servers, "linger.ms": 0,
                "logger": quiet_logger("test-faults"), **overrides}
    return cluster.producer(settings=settings)


def send_one(producer, topic, value=b"x", timeout=30.0):
    """Produce one record, wait for its report: (error or None, seconds from produce to report)."""
    result = {}
    started = time.perf_counter()
    producer.produce(topic, value, on_delivery=lambda err, msg: result.update(err=err, t=time.perf_counter()))
    producer.flush(timeout)
    assert "t" in result, f"no delivery report within {timeout} s"
    return result["err"], result["t"] - started


def test_routes_follow_the_stack(cluster):
    assert [(r.listen_port, r.target_port) for r in FaultProxy.for_cluster(cluster).routes] == [(9094, 9095)]
    three = kc.Cluster("localhost:9192,localhost:9292,localhost:9392", "", 3, stack=kc.LocalStack(3))  # not started
    assert [(r.listen_port, r.target_port) for r in FaultProxy.for_cluster(three).routes] == \
        [(9194, 9195), (9294, 9295), (9394, 9395)]
    from_env = kc.Cluster("kafka:9092", "http://registry:8081", stack=None)  # docker compose: ports +2 / +3
    assert FaultProxy.for_cluster(from_env).routes == [Route(9094, 9095, "127.0.0.1", "kafka")]


def test_produce_through_the_proxy(cluster, topic, proxy):
    reports = cluster.produce(topic, [f"v{i}" for i in range(20)],
                              settings={"bootstrap.servers": cluster.proxied_bootstrap_servers, "logger": quiet_logger("t")})
    assert reports.error.isna().all(), reports[reports.error.notna()]
    stats = proxy.stats()
    assert stats["connections"] >= 1 and stats["bytes_to_broker"] > 0 and stats["bytes_to_client"] > 0, stats
    assert cluster.end_offsets(topic) and sum(cluster.end_offsets(topic).values()) == 20


def test_delay_adds_latency(cluster, topic, proxy):
    producer = proxied_producer(cluster)
    send_one(producer, topic)  # connect and fetch metadata first
    baseline = min(send_one(producer, topic)[1] for _ in range(3))
    proxy.delay(150)
    delayed = [send_one(producer, topic) for _ in range(3)]
    assert all(err is None for err, _ in delayed)
    # 150 ms on the request and 150 ms on the response: at least the delay, in fact about twice it.
    assert min(t for _, t in delayed) >= baseline + 0.150, (baseline, delayed)
    proxy.heal()
    assert send_one(producer, topic)[1] < min(t for _, t in delayed), "healed: faster than any delayed send"


def test_drop_makes_delivery_time_out(cluster, topic, proxy):
    producer = proxied_producer(cluster, **{"delivery.timeout.ms": 1500})
    assert send_one(producer, topic)[0] is None
    proxy.drop()
    reports = []
    started = time.perf_counter()
    producer.produce(topic, b"y", on_delivery=lambda err, msg: reports.append((err, time.perf_counter())))
    time.sleep(0.5)
    assert proxy.stats()["active"] >= 1, "a drop keeps connections open (the client's timeout closes them)"
    producer.flush(10)
    [(err, done)] = reports
    assert err is not None and err.code() == KafkaError._MSG_TIMED_OUT, err
    assert done - started >= 1.4, "the record waited for delivery.timeout.ms"
    assert proxy.stats()["dropped_to_broker"] > 0


def test_heal_lets_waiting_records_through(cluster, topic, proxy):
    producer = proxied_producer(cluster, **{"delivery.timeout.ms": 20000, "socket.timeout.ms": 1000})
    assert send_one(producer, topic)[0] is None
    proxy.drop(duration=2.0)  # heals itself after 2 s
    err, took = send_one(producer, topic, timeout=20)
    assert err is None, err
    assert took >= 1.9, f"the record should have waited for the heal, got through after {took:.2f} s"
    assert proxy.state() == {"delay_ms": {}, "dropping": [], "refusing_s": 0.0}


def test_cut_forces_reconnects(cluster, topic, proxy):
    producer = proxied_producer(cluster)
    assert send_one(producer, topic)[0] is None
    before = proxy.stats()["connections"]
    assert proxy.cut(refuse_for=1.0) >= 1
    err, took = send_one(producer, topic, timeout=20)
    assert err is None, err
    stats = proxy.stats()
    assert stats["connections"] > before, "the client had to open a new connection"
    assert stats["refused"] >= 1 and stats["cut"] >= 1, stats
    assert took >= 0.9, "new connections were refused for 1 s"


def test_fault_windows(cluster, proxy):
    t0 = time.perf_counter()
    proxy.drop("to_client")
    time.sleep(0.2)
    proxy.heal()
    proxy.cut(refuse_for=0.5)
    proxy.delay(10, "to_broker")
    windows = proxy.fault_windows(t0)
    assert list(windows.fault) == ["drop to_client", "cut", "delay 10 ms to_broker"]
    assert windows.end[0] - windows.start[0] >= 0.2
    assert windows.end[1] - windows.start[1] == pytest.approx(0.5)
    assert pd.isna(windows.end[2]), "a fault still on has no end yet"
    with pytest.raises(ValueError):
        proxy.drop("sideways")


def test_stop_frees_the_ports_and_reruns_replace(cluster):
    first = FaultProxy.for_cluster(cluster).start()
    second = FaultProxy.for_cluster(cluster).start()  # a re-run cell: the first one is stopped for it
    assert not first.running and second.running
    second.stop()
    assert not second.running
    probe = socket.socket()
    probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        probe.bind(("127.0.0.1", 9094))  # free again
    finally:
        probe.close()


def test_a_port_another_process_holds_is_refused_naming_that_process():
    """Two lessons cannot proxy one broker at once (its advertised port is fixed): the second is told who holds it."""
    import subprocess
    import sys

    from kafkacourse.instruments.faults import ProxyPortBusyError

    holder = subprocess.Popen([sys.executable, "-c", "import socket, sys, time\n"
                               "s = socket.socket(); s.bind(('127.0.0.1', 0)); s.listen()\n"
                               "print(s.getsockname()[1], flush=True); time.sleep(60)"],
                              stdout=subprocess.PIPE, text=True)
    try:
        port = int(holder.stdout.readline())
        with pytest.raises(ProxyPortBusyError, match=rf"port {port} .* held by pid {holder.pid} \(.*python"):
            FaultProxy([(port, port + 1)]).start(timeout=1)
    finally:
        holder.kill()
        holder.wait()
    with FaultProxy([(port, port + 1)]).start(timeout=10) as proxy:  # free again: the same port is taken
        assert proxy.running
