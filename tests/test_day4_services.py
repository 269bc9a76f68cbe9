"""The Day 4 services' failure paths, on real processes in a scratch home with moved ports: a missing
binary names its install command, a server that dies at start reports its log, a busy port names its holder."""

from __future__ import annotations

import socket

import pytest

from kafkacourse.stack.errors import PortInUseError, ProcessDiedError
from kafkacourse.stack.services import SERVICES
from kafkacourse.stack.services import prometheus as prometheus_service
from kafkacourse.stack.services.common import default_context


def test_the_day4_services_are_registered_in_start_order():
    names = list(SERVICES)
    assert {"postgres", "connect", "prometheus"} <= set(names)
    assert names.index("postgres") < names.index("connect")  # Debezium's database first, stopped last
    assert SERVICES["connect"].needs_brokers and not SERVICES["postgres"].needs_brokers


def test_missing_prometheus_names_the_install_command(monkeypatch, tmp_path):
    monkeypatch.delenv(prometheus_service.BIN_ENV, raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(prometheus_service.PrometheusNotFoundError, match="apt-get install --no-install-recommends"):
        prometheus_service.executable()
    finding = prometheus_service.PrometheusService(default_context()).installed()
    assert finding is not None and not finding.ok and "environment.yml" in finding.fix


def test_prometheus_refusing_its_rules_at_start_reports_its_log(scratch_home, port_offset):
    server = prometheus_service.PrometheusService(default_context())
    server.rules_dir.mkdir(parents=True)
    (server.rules_dir / "broken.yml").write_text("groups: [{name: g, rules: [{alert: A, expr: 'up >'}]}]\n")
    try:
        server.start()
        with pytest.raises(ProcessDiedError, match="exited while starting") as died:
            server.wait_ready(timeout=60)
        assert "broken.yml" in str(died.value)  # Prometheus's own complaint, from the end of its log
    finally:
        server.stop()


def test_postgres_on_a_busy_port_names_who_holds_it(scratch_home, port_offset):
    from kafkacourse.stack.services.postgres import Postgres

    server = Postgres(default_context())
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", server.port))
        holder.listen()
        with pytest.raises(PortInUseError, match=f"port {server.port} \\(PostgreSQL\\) is in use by pid"):
            server.start()
        assert not server.running()
        findings = server.doctor()
        assert not findings[-1].ok and "busy" in findings[-1].detail
