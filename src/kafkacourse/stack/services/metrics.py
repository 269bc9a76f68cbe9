"""The Prometheus JMX exporter, run as a javaagent inside every broker and the Kafka Connect worker.

Each JVM serves its JMX metrics, renamed by the rules in ``jmx-exporter-kafka.yaml`` (brokers) or
``jmx-exporter-connect.yaml`` (the Connect worker), at ``http://localhost:PORT/metrics``; Prometheus scrapes
them (services/prometheus.py). Every rule has ``cache: true``: the exporter then matches each MBean name
against the rules once, not on every scrape (the exporter's CPU cost is otherwise a known issue).
"""

from __future__ import annotations

from pathlib import Path

from .. import runtime

RULES = {
    "kafka": runtime.RESOURCES / "jmx-exporter-kafka.yaml",
    "connect": runtime.RESOURCES / "jmx-exporter-connect.yaml",
}


def agent_jar() -> Path:
    """The exporter's jar in the jars cache (resolved by the pom)."""
    version = runtime.versions().jmx_exporter
    return runtime.home() / "jars" / f"jmx-exporter-{version}" / f"jmx_prometheus_javaagent-{version}.jar"


def javaagent_args(port: int, rules: str = "kafka") -> list[str]:
    """The JVM option that runs the exporter on localhost:`port` with the `rules` ("kafka" or "connect").

    >>> javaagent_args(9096)  # doctest: +ELLIPSIS
    ['-javaagent:.../jmx_prometheus_javaagent-1.0.1.jar=127.0.0.1:9096:.../jmx-exporter-kafka.yaml']
    """
    if rules not in RULES:
        raise ValueError(f"the exporter has rules for {sorted(RULES)}, not {rules!r}")
    return [f"-javaagent:{agent_jar()}=127.0.0.1:{port}:{RULES[rules]}"]


def broker_exporter(service) -> list[str]:
    """JVM_ARGS hook: every broker runs the exporter on its profile's JMX port (node base port + 4).
    Nothing when the exporter's jar is not resolved yet (the broker then starts without metrics)."""
    if getattr(service, "kind", None) != "broker" or not agent_jar().exists():
        return []
    return javaagent_args(service.jmx_port, "kafka")
