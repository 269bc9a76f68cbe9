"""Fixtures on the live stack: `kafkacourse test` (and CI) start the single-broker stack before pytest;
the three-broker cluster starts on first use. Nothing here mocks Kafka."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import kafkacourse as kc
from kafkacourse.stack import runtime

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def cluster() -> kc.Cluster:
    return kc.connect()


@pytest.fixture(scope="session")
def cluster3() -> kc.Cluster:
    return kc.connect(brokers=3)


@pytest.fixture
def make_topic(cluster: kc.Cluster):
    """Create fresh topics on the single broker (``make_topic(partitions=1)``), all deleted afterwards."""
    created: list[str] = []

    def make(partitions: int = 3, prefix: str = "test") -> str:
        created.append(cluster.create_topic(kc.unique_name(prefix), partitions=partitions))
        return created[-1]

    yield make
    for name in created:
        cluster.delete_topic(name)


@pytest.fixture
def topic(make_topic) -> str:
    """A fresh 3-partition topic on the single broker, deleted afterwards."""
    return make_topic(3)


@pytest.fixture
def scratch_home(tmp_path, monkeypatch) -> Path:
    """A private KAFKA_COURSE_HOME that shares the (read-only) jars cache, for stacks that tests break or reset."""
    jars = runtime.home() / "jars"
    home = tmp_path / "home"
    home.mkdir()
    (home / "jars").symlink_to(jars)
    monkeypatch.setenv("KAFKA_COURSE_HOME", str(home))
    return home


@pytest.fixture
def port_offset(monkeypatch) -> int:
    """Move every profile and service to ports no other stack uses (KAFKA_COURSE_PORT_OFFSET), so a scratch
    stack can really start beside the shared one; returns the offset."""
    from kafkacourse.stack import profiles

    offset = profiles.free_offset()
    monkeypatch.setenv(profiles.PORT_OFFSET_ENV, str(offset))
    return offset


@pytest.fixture
def spare_ports(port_offset) -> int:
    """The single broker's port under `port_offset` (for scratch stacks: use with scratch_home)."""
    from kafkacourse.stack import profiles

    return profiles.get("single").nodes[0].broker_port


def pytest_report_header(config):
    return f"kafka bootstrap: {os.environ.get('KAFKA_BOOTSTRAP_SERVERS', 'local stack')}"


# -- Day 4 services (started on first use, like the brokers; `kafkacourse down` stops them) ----------------------
def _started(service_class):
    from kafkacourse.stack.services.common import default_context

    server = service_class(default_context())
    server.start()
    server.wait_ready()
    return server


@pytest.fixture(scope="session")
def postgres_server():
    """The course's PostgreSQL (localhost:55432), started if it is not running."""
    from kafkacourse.stack.services.postgres import Postgres

    return _started(Postgres)


@pytest.fixture(scope="session")
def connect_worker(cluster, postgres_server):
    """A client of the course's Kafka Connect worker (localhost:8083, Debezium on its plugin path), which is
    started if need be."""
    from kafkacourse.kafka_connect import KafkaConnect
    from kafkacourse.stack.services.connect import KafkaConnectService

    return KafkaConnect(_started(KafkaConnectService).url)


@pytest.fixture(scope="session")
def prometheus_server():
    """A client of the course's Prometheus (localhost:9090), which is started if it is not running."""
    from kafkacourse.prometheus import Prometheus
    from kafkacourse.stack.services.prometheus import PrometheusService

    return Prometheus(_started(PrometheusService).url)


@pytest.fixture
def cdc(connect_worker, cluster):
    """A fresh table and a Debezium connector on it (no snapshot); connector, slot, table and topic removed after."""
    from kafkacourse import postgres

    name = kc.unique_name("cdc").replace("-", "_")
    postgres.execute(f"CREATE TABLE {name} (id serial PRIMARY KEY, name text NOT NULL)")
    config = postgres.debezium_settings({"topic.prefix": name, "table.include.list": f"public.{name}",
                                         "slot.name": name, "snapshot.mode": "no_data"})
    connect_worker.put_config(name, config)
    try:
        connect_worker.wait_running(name)
        yield name, f"{name}.public.{name}"
    finally:
        connect_worker.delete(name, missing_ok=True)
        postgres.drop_replication_slot(name)
        postgres.execute(f"DROP TABLE IF EXISTS {name}")
        if f"{name}.public.{name}" in cluster.topics(name):
            cluster.delete_topic(f"{name}.public.{name}")


# -- the capstone dashboard (tests/apps/test_capstone_dashboard.py, tests/test_capstone_dashboard_browser.py) ----------
@pytest.fixture
def capstone_exporter(prometheus_server):
    """The capstone's metric names (CAPSTONE.md's contract) on a real prometheus-client exporter, scraped by the
    course's Prometheus as job="capstone", run=<a unique name>; yields (run, {name: metric}) for a test to move."""
    from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

    from kafkacourse.instruments.processes import free_port

    run = kc.unique_name("dash")
    registry = CollectorRegistry()
    metrics = {
        "events": Counter("capstone_events", "events", ["service", "topic", "outcome"], registry=registry),
        "dlq": Counter("capstone_dlq", "dead-lettered", ["service"], registry=registry),
        "saga": Counter("capstone_saga_outcomes", "outcomes", ["outcome"], registry=registry),
        "e2e": Histogram("capstone_order_e2e_seconds", "placed to terminal", registry=registry),
        "breaker": Gauge("capstone_circuit_breaker_state", "0 closed 1 open 2 half-open", ["service", "breaker"],
                         registry=registry),
    }
    port = free_port()
    server, thread = start_http_server(port, addr="127.0.0.1", registry=registry)
    prometheus_server.add_target(run, f"localhost:{port}", {"job": "capstone", "run": run})
    try:
        yield run, metrics
    finally:
        prometheus_server.remove_target(run)
        server.shutdown()
        thread.join(5)
