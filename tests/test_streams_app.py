"""The course's Kafka Streams app (stack/streams) through instruments.streams: built by Maven into the jars
cache, run as a real JVM child (ServiceProcess.java), cleaned up with delete_app."""

from __future__ import annotations

import json
import time

import pytest

import kafkacourse as kc
from courseapps.day4.order_feed import CUSTOMERS, OrderFeed, sample_orders
from kafkacourse.instruments.processes import ServiceProcess
from kafkacourse.instruments.streams import OUTPUT_SUFFIXES, delete_app, internal_topics, order_streams
from kafkacourse.stack import runtime


def test_bad_windows_are_refused(cluster, tmp_path):
    with pytest.raises(ValueError, match="advance_ms"):
        order_streams(cluster, application_id="x", orders="o", customers="c", output_prefix="p",
                      state_dir=tmp_path, size_ms=1000, advance_ms=2000)


def test_the_jvm_child_says_how_to_call_it():
    app = ServiceProcess.java(runtime.STREAMS_MAIN, "too", "few", classpath=runtime.streams_app_classpath())
    assert app.start().wait(timeout=60) == 2
    assert "usage: OrderStreams" in app.log()


@pytest.mark.slow
def test_counts_orders_per_customer_and_cleans_up(cluster, make_topic, tmp_path):
    run = kc.unique_name("t-streams")
    orders, customers = make_topic(1, prefix=f"{run}-orders"), make_topic(1, prefix=f"{run}-customers")
    outputs = {s: cluster.create_topic(f"{run}-{s}", partitions=1) for s in OUTPUT_SUFFIXES}
    t0 = int(time.time() * 1000) // 60_000 * 60_000 - 300_000
    cluster.produce(customers, [{"key": k, "value": json.dumps(v), "timestamp": t0 - 1} for k, v in CUSTOMERS.items()])
    batch = sample_orders(20, t0_ms=t0, seed=11)
    producer = cluster.producer()
    try:
        OrderFeed(producer, orders).publish_all(batch)
    finally:
        producer.flush(10)
    app = order_streams(cluster, application_id=f"{run}-app", orders=orders, customers=customers,
                        output_prefix=run, state_dir=tmp_path / "state").start()
    try:
        app.wait_for("STATE RUNNING", timeout=180)
        deadline = time.monotonic() + 90
        while len(totals := cluster.messages(outputs["totals"])) < len(batch):
            assert time.monotonic() < deadline, f"{len(totals)} totals"
            time.sleep(0.5)
        last = {m.key().decode(): int.from_bytes(m.value(), "big") for m in totals}
        expected = {}
        for order in batch:
            expected[order["customer"]] = expected.get(order["customer"], 0) + 1
        assert last == expected
        assert f"{run}-app-orders-by-customer-repartition" in internal_topics(cluster, f"{run}-app")
        # The JVM exits 143 (128 + SIGTERM) after its shutdown hook closed Streams and printed STOPPED.
        assert app.terminate() == 143 and "STOPPED" in app.log()
    finally:
        if app.alive:
            app.kill()
        deleted = delete_app(cluster, f"{run}-app", tmp_path / "state")
        for topic in outputs.values():
            cluster.delete_topic(topic)
    assert len(deleted) == 7 and not internal_topics(cluster, f"{run}-app") and not (tmp_path / "state").exists()
