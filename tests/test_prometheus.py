"""The course's Prometheus server and the PromQL client, on the real server (localhost:9090)."""

from __future__ import annotations

import socket

import pytest
from prometheus_client import CollectorRegistry, Gauge, start_http_server

import kafkacourse as kc
from kafkacourse.prometheus import Prometheus, PrometheusError


@pytest.fixture
def exporter(prometheus_server: Prometheus):
    """A prometheus-client exporter of our own on a free port, scraped by the course's Prometheus as a new job."""
    registry = CollectorRegistry()
    lag = Gauge("course_test_lag", "a lag-like number the test sets", registry=registry)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        free = sock.getsockname()[1]
    server, thread = start_http_server(free, addr="127.0.0.1", registry=registry)
    job = kc.unique_name("test-exporter")
    prometheus_server.add_target(job, f"localhost:{free}")
    try:
        yield job, lag
    finally:
        prometheus_server.remove_target(job)
        server.shutdown()
        thread.join(5)


def test_a_new_target_is_scraped_and_queried_by_promql(prometheus_server, exporter):
    job, lag = exporter
    lag.set(42)
    frame = prometheus_server.wait_for(f'course_test_lag{{job="{job}"}} == 42', timeout=30)
    assert frame["value"].tolist() == [42.0]
    assert prometheus_server.value(f'up{{job="{job}"}}') == 1.0
    targets = prometheus_server.targets()
    assert targets[targets.job == job].health.tolist() == ["up"]


def test_an_alert_rule_on_lag_fires_and_resolves(prometheus_server, exporter):
    job, lag = exporter
    alert = "CourseTestLagHigh" + kc.unique_name("").strip("-")
    rules = {"groups": [{"name": alert, "rules": [{
        "alert": alert, "expr": f'course_test_lag{{job="{job}"}} > 100', "for": "2s",
        "labels": {"severity": "warning"}, "annotations": {"summary": "lag above 100"}}]}]}
    lag.set(0)
    prometheus_server.wait_for(f'course_test_lag{{job="{job}"}} == 0', timeout=30)
    prometheus_server.add_rules(alert, rules)
    try:
        assert prometheus_server.alert_state(alert) == "inactive"
        lag.set(500)
        prometheus_server.wait_alert(alert, "firing", timeout=40)
        firing = prometheus_server.alerts()
        assert firing[firing.alertname == alert].state.tolist() == ["firing"]
        lag.set(3)
        prometheus_server.wait_alert(alert, "inactive", timeout=40)
    finally:
        prometheus_server.remove_rules(alert)
    assert alert not in set(prometheus_server.rules().get("name", []))


def test_prometheus_errors_are_prometheus_own(prometheus_server):
    with pytest.raises(PrometheusError, match="parse error"):
        prometheus_server.query("rate(up[")
    with pytest.raises(PrometheusError, match="refused to reload"):
        prometheus_server.add_rules(kc.unique_name("broken"), "groups: [{name: x, rules: [{alert: A, expr: 'up >'}]}]")
    prometheus_server.reload()  # the broken file was taken out again: the server reloads fine
    with pytest.raises(ValueError, match="returned 0 series"):
        prometheus_server.value('up{job="no-such-job"}')
    with pytest.raises(ValueError, match="letters, digits"):
        prometheus_server.add_target("../etc", "localhost:1")


@pytest.fixture
def metered_stack(scratch_home, port_offset):
    """A scratch single broker (its JMX exporter on) and a scratch Prometheus, on ports moved by an offset."""
    from kafkacourse.stack.local import LocalStack
    from kafkacourse.stack.services.base import quiet

    stack = LocalStack(profile="single", with_services=["prometheus"])
    stack.up(registry=False, progress=quiet)
    try:
        yield stack
    finally:
        stack.down(progress=quiet)


def test_promql_returns_the_brokers_jmx_metrics(metered_stack):
    from confluent_kafka import Producer
    from confluent_kafka.admin import AdminClient, NewTopic

    from kafkacourse.stack.services.prometheus import PrometheusService

    bootstrap = metered_stack.bootstrap_servers
    topic = kc.unique_name("metered")
    admin = AdminClient({"bootstrap.servers": bootstrap})
    admin.create_topics([NewTopic(topic, 2)])[topic].result(30)
    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 5})
    try:
        for i in range(25):
            producer.produce(topic, key=str(i), value=b"x" * 100)
    finally:
        assert producer.flush(30) == 0
    prom = Prometheus(PrometheusService(metered_stack.context).url)
    node = metered_stack.nodes[0]
    messages = prom.wait_for(f'kafka_server_brokertopicmetrics_messagesin_total{{topic="{topic}"}} == 25', timeout=60)
    assert messages[["job", "profile", "node", "instance"]].values.tolist() == [
        ["kafka", "single", "1", f"localhost:{node.jmx_port}"]]
    assert prom.value(f'sum(kafka_log_log_logendoffset{{topic="{topic}"}})') == 25
    assert prom.value(f'kafka_server_brokertopicmetrics_bytesin_total{{topic="{topic}"}}') > 25 * 100
    assert prom.value('kafka_server_replicamanager_underreplicatedpartitions{profile="single"}') == 0
    assert prom.value('kafka_controller_kafkacontroller_activecontrollercount{profile="single"}') == 1
    latency = prom.query('kafka_network_requestmetrics_totaltimems{request="Produce"}')
    assert {"0.50", "0.99", "0.999"} <= set(latency["quantile"])
    targets = prom.targets()
    assert targets[(targets.profile == "single")].health.tolist() == ["up"]
