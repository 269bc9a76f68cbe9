"""The capstone dashboard's backend on the live stack: Prometheus scraping a real prometheus-client exporter
that carries the capstone's metric names, consumer lag from the single broker, fault markers from a file."""

from __future__ import annotations

import json
import time

import httpx
import pytest
from confluent_kafka import TopicPartition

import kafkacourse as kc
from courseapps.capstone.dashboard import create_app, data
from kafkacourse.instruments.processes import free_port


def test_queries_fill_the_selector_and_refuse_braces():
    q = data.queries('job="capstone",run="r1"')
    assert q["throughput"] == ('sum by (service) (rate(capstone_events_total{job="capstone",run="r1",'
                               'outcome="ok"}[10s]))')
    assert 'capstone_order_e2e_seconds_bucket{job="capstone",run="r1"}[10s]' in q["latency_p95"]
    assert q["saga"] == 'sum by (outcome) (capstone_saga_outcomes_total{job="capstone",run="r1"})'
    with pytest.raises(ValueError, match="without braces"):
        data.queries('{job="capstone"}')


def test_faults_skip_a_line_being_written_and_name_a_bad_one(tmp_path):
    assert data.faults(tmp_path) == [] and data.faults(None) == []
    path = tmp_path / "faults.jsonl"
    path.write_text(json.dumps({"at": 20.0, "fault": "service-kill", "detail": "payments"}) + "\n"
                    + json.dumps({"at": 10.0, "fault": "broker-kill", "detail": {"node": 1}}) + "\n"
                    + '{"at": 30.0, "fau')
    assert [f["fault"] for f in data.faults(tmp_path)] == ["broker-kill", "service-kill"]
    assert [f["at"] for f in data.faults(tmp_path, since=15)] == [20.0]
    path.write_text('{"at": 1, "fault": "x"}\n[1, 2]\n')
    with pytest.raises(ValueError, match=r"faults.jsonl:2 is not a fault marker"):
        data.faults(tmp_path)


def test_breaker_rows_name_each_state_and_refuse_an_unknown_value():
    rows = data.breakers({"payments/provider": 1.0, "inventory/store": 0.0, "shipping/carrier": 2.0})
    assert [(r["service"], r["state"]) for r in rows] == [("inventory", "closed"), ("payments", "open"),
                                                          ("shipping", "half-open")]
    with pytest.raises(ValueError, match="not 0, 1 or 2"):
        data.breakers({"payments/provider": 3.0})


def test_group_lag_is_end_minus_committed_for_the_runs_groups_only(cluster):
    prefix = kc.unique_name("dash")
    topic = cluster.create_topic(f"{prefix}.orders.placed", partitions=2)
    try:
        cluster.produce(topic, [(f"o{i}", "x") for i in range(10)])
        ends = cluster.end_offsets(topic)
        for group, done in ((f"{prefix}.inventory", 1), (f"other-{prefix}", 0)):
            cluster.commit_offsets(group, [TopicPartition(topic, p, done) for p in ends])
        lag = data.group_lag(cluster, prefix)
        assert lag == {f"{prefix}.inventory": sum(ends.values()) - len(ends)}  # the other group is not the run's
        assert sum(ends.values()) == 10
    finally:
        cluster.delete_topic(topic)


def test_the_state_carries_every_panel_from_prometheus_the_cluster_and_the_faults(capstone_exporter, prometheus_server,
                                                                                  cluster, tmp_path):
    run, m = capstone_exporter
    (tmp_path / "faults.jsonl").write_text(json.dumps({"at": time.time(), "fault": "broker-kill", "detail": 1}) + "\n")
    m["breaker"].labels("payments", "provider").set(1)
    m["saga"].labels("completed").inc(3)
    m["dlq"].labels("shipping").inc()
    selector = f'job="capstone",run="{run}"'
    deadline = time.monotonic() + 40
    with kc.serve(create_app(run, tmp_path, cluster.bootstrap_servers, prometheus_server.url, selector)) as server:
        while True:  # events flow: a rate needs two scrapes that saw the counter move
            m["events"].labels("orders", f"{run}.orders.placed", "ok").inc(20)
            for seconds in (0.2, 0.3, 0.4):
                m["e2e"].observe(seconds)
            state = httpx.get(f"{server.url}/api/state", params={"minutes": 2}, timeout=30).json()
            rates = [v for v in state["throughput"]["series"].get("orders", []) if v]
            if rates and any(state["latency"]["series"]["p50"]) or time.monotonic() > deadline:
                break
            time.sleep(1)
        page = httpx.get(server.url, timeout=10)
        script = httpx.get(f"{server.url}/static/vendor/uplot/uPlot.iife.min.js", timeout=10)
    assert rates and max(rates) > 0, state["throughput"]
    p50 = [v for v in state["latency"]["series"]["p50"] if v is not None]
    p99 = [v for v in state["latency"]["series"]["p99"] if v is not None]
    assert p50 and 0.1 <= p50[-1] <= p99[-1] <= 0.5   # the histogram's quantiles lie among what was observed
    assert state["totals"]["saga"] == {"completed": 3.0} and state["totals"]["dlq"] == {"shipping": 1.0}
    assert [(b["service"], b["state"]) for b in state["breakers"]] == [("payments", "open")]
    assert [f["fault"] for f in state["faults"]] == ["broker-kill"]
    assert page.status_code == 200 and "uPlot.iife.min.js" in page.text and "uPlot" in script.text


def test_a_prometheus_that_does_not_answer_is_a_503_with_its_reason(cluster, tmp_path):
    app = create_app("dash-x", tmp_path, cluster.bootstrap_servers, f"http://127.0.0.1:{free_port()}")
    with kc.serve(app) as server:
        response = httpx.get(f"{server.url}/api/state", timeout=30)
    assert response.status_code == 503 and "does not answer" in response.json()["detail"]
