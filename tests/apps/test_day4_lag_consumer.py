"""The slow consumer exports librdkafka's consumer_lag with prometheus-client, on the live single broker."""

from __future__ import annotations

import socket
import time

import httpx
from prometheus_client.parser import text_string_to_metric_families

import kafkacourse as kc
from kafkacourse.instruments.processes import ServiceProcess


def scrape(port: int) -> dict[tuple, float]:
    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def test_lag_rises_then_falls_to_zero_on_its_metrics(cluster):
    topic = cluster.create_topic(kc.unique_name("lagapp"), partitions=2)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    cluster.produce(topic, [(str(i), "x") for i in range(600)])
    app = ServiceProcess("courseapps.day4.lag_consumer", "--bootstrap-servers", cluster.bootstrap_servers,
                         "--topic", topic, "--group", kc.unique_name("lagapp"), "--delay-ms", "5",
                         "--metrics-port", port)
    try:
        app.start()
        app.wait_for("assigned", timeout=60)
        lags, deadline = [], time.monotonic() + 60
        while time.monotonic() < deadline:
            metrics = scrape(port)
            per_partition = [v for (name, _), v in metrics.items() if name == "course_consumer_lag"]
            if len(per_partition) == 2:
                lags.append(sum(per_partition))
            done = metrics.get(("course_consumer_records_total", (("topic", topic),)), 0)
            if done == 600 and lags and lags[-1] == 0:
                break
            time.sleep(0.3)
        assert max(lags) > 100 and lags[-1] == 0, lags     # fell behind (5 ms a record), then caught up
        app.terminate()
        assert "stopped" in app.log()
    finally:
        if app.alive:
            app.kill()
        cluster.delete_topic(topic)
