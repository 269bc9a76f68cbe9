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
