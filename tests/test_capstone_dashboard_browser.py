"""The capstone dashboard in headless Chromium: the page loads its vendored charting library (nothing from the
network), draws its six charts and four tiles, and its charts move between two reads while events flow.

Events flow for real: a prometheus-client exporter with the capstone's metric names, scraped by the course's
Prometheus, and a consumer group of the run that falls behind on a real topic (its lag comes from the
cluster). Screenshots go to tests/artifacts/ (git-ignored).

Needs Debian's chromium (/usr/bin/chromium) and Playwright for Python (no browser download: `executable_path`).
"""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path

import pytest
from confluent_kafka import TopicPartition

import kafkacourse as kc
from courseapps.capstone.dashboard import create_app
from kafkacourse.course.cli import REPO



CHROMIUM = Path("/usr/bin/chromium")  # Debian's, as tests/test_browser.py finds it
ARTIFACTS = REPO / "tests" / "artifacts"
CHARTS = ("throughput", "latency", "lag", "saga", "dlq", "breaker_history")

pytestmark = [pytest.mark.slow, pytest.mark.skipif(
    not CHROMIUM.exists() and not os.environ.get("CI"),
    reason="Debian's chromium is not installed (`./course test` installs it when run as root)")]


@pytest.fixture
def flowing(capstone_exporter, cluster, tmp_path):
    """Events flowing for ~the test's length: counters and latencies move every 0.5 s, records are produced to
    the run's topic faster than its group commits, and a fault marker is written after the first second."""
    run, m = capstone_exporter
    topic = cluster.create_topic(f"{run}.orders.placed", partitions=1)
    group = f"{run}.inventory"
    stop = threading.Event()

    def feed():
        producer = cluster.producer()
        consumer = cluster.consumer(group, settings={"enable.auto.commit": False})
        committed, tick = 0, 0
        try:
            while not stop.is_set():
                tick += 1
                for i in range(10):
                    producer.produce(topic, key=f"o{tick}-{i}", value=b"x")
                producer.flush(10)
                committed += 4  # the group keeps up with less than half: its lag grows
                consumer.commit(offsets=[TopicPartition(topic, 0, committed)], asynchronous=False)
                m["events"].labels("orders", topic, "ok").inc(10)
                m["events"].labels("inventory", topic, "ok").inc(4)
                m["e2e"].observe(0.05 * (1 + tick % 5))
                m["saga"].labels("completed" if tick % 4 else "cancelled_payment_failed").inc()
                m["breaker"].labels("payments", "provider").set(1 if tick % 10 > 6 else 0)
                if tick % 6 == 0:
                    m["dlq"].labels("shipping").inc()
                if tick == 2:
                    with open(tmp_path / "faults.jsonl", "a") as f:
                        f.write(json.dumps({"at": time.time(), "fault": "broker-kill", "detail": {"node": 1}}) + "\n")
                stop.wait(0.5)
        finally:
            consumer.close()
            producer.flush(10)

    thread = threading.Thread(target=feed, daemon=True)
    thread.start()
    try:
        yield run, tmp_path
    finally:
        stop.set()
        thread.join(20)
        cluster.delete_topic(topic)


def chart_values(page) -> dict:
    """What each chart holds now: its non-null points and their sum, read from uPlot's own data."""
    return page.evaluate("""names => Object.fromEntries(names.map(n => {
        const u = window.dashboard.charts[n];
        const values = u ? u.data.slice(1).flat().filter(v => v !== null && v !== undefined) : [];
        return [n, {points: values.length, sum: values.reduce((a, b) => a + b, 0), series: u ? u.series.length - 1 : 0}];
    }))""", list(CHARTS))


def test_the_dashboard_draws_every_chart_and_updates_while_events_flow(flowing, cluster, prometheus_server):
    from playwright.sync_api import sync_playwright

    run, run_dir = flowing
    app = create_app(run, run_dir, cluster.bootstrap_servers, prometheus_server.url,
                      lag_interval_s=1.0)
    ARTIFACTS.mkdir(exist_ok=True)
    with kc.serve(app) as server, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM),
                                    args=["--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"])
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.set_default_timeout(60_000)
            errors: list[str] = []
            outside: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.on("request", lambda r: None if r.url.startswith(server.url) else outside.append(r.url))
            page.goto(server.url)
            # every chart has data: Prometheus has scraped the moving counters at least twice
            page.wait_for_function("""names => window.dashboard && names.every(n => {
                const u = window.dashboard.charts[n];
                return u && u.data.slice(1).flat().some(v => v !== null && v !== undefined); })""",
                                   arg=list(CHARTS), timeout=60_000, polling=500)
            first = chart_values(page)
            updates = page.evaluate("window.dashboard.updates")
            page.wait_for_function("n => window.dashboard.updates >= n + 2", arg=updates, polling=250)
            page.wait_for_function(
                """([n, before]) => { const u = window.dashboard.charts[n];
                    return u.data.slice(1).flat().filter(v => v !== null).reduce((a, b) => a + b, 0) > before; }""",
                arg=["saga", first["saga"]["sum"]], polling=500, timeout=30_000)
            second = chart_values(page)
            canvases = page.eval_on_selector_all(".panel canvas", "cs => cs.map(c => [c.width, c.height])")
            tiles = {t: page.inner_text(f"#tile-{t} .body") for t in ("saga", "dlq", "breakers", "faults")}
            page.screenshot(path=str(ARTIFACTS / "capstone-dashboard.png"), full_page=True)
        finally:
            browser.close()
    assert not errors, errors
    assert not outside, f"the page asked for something outside the dashboard: {outside}"
    assert len(canvases) == len(CHARTS) and all(w > 100 and h > 100 for w, h in canvases), canvases
    assert second["saga"]["sum"] > first["saga"]["sum"]  # cumulative outcomes went up between the two reads
    assert second["lag"]["points"] > first["lag"]["points"]  # the lag sampler added samples from the cluster
    assert first["throughput"]["series"] == 2  # orders and inventory, one line each
    assert "completed" in tiles["saga"] and "shipping" in tiles["dlq"] and "broker-kill" in tiles["faults"]
    assert "payments · provider" in tiles["breakers"]
