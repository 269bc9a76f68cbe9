"""Kafka Connect for Day 4 (Debezium CDC) and Day 5 (MirrorMaker 2): one DISTRIBUTED worker, as a process.

The worker is Apache Kafka's own ``ConnectDistributed`` from the jars the pom resolves (connect-runtime,
-json, -transforms, -file, -mirror), with the Debezium PostgreSQL connector's plugin bundle on its
``plugin.path``. It keeps its connectors' configs, offsets and statuses in three compacted topics on the
profile it serves (``single`` by default; the brokers' default replication factor) — so connectors survive a
worker restart — and serves its REST API on http://localhost:8083 (driven from Python by
:class:`kafkacourse.kafka_connect.KafkaConnect`).

``plugin.discovery=service_load`` finds plugins through their ServiceLoader manifests instead of scanning
every class of every jar: the worker is ready in seconds, not after a ~10 s scan. Its JMX metrics are served
by the Prometheus exporter on :8085 (rules: stack/jmx-exporter-connect.yaml).
"""

from __future__ import annotations

import os
from pathlib import Path

from .. import runtime
from ..errors import StackError
from . import metrics
from .base import Finding, JvmService
from .common import get_json

REST_PORT = 8083
METRICS_PORT = 8085
GROUP_ID = "kafka-course-connect"
CONFIG_TOPIC, OFFSET_TOPIC, STATUS_TOPIC = "connect-configs", "connect-offsets", "connect-status"
DEBEZIUM_POSTGRES = "io.debezium.connector.postgresql.PostgresConnector"
HEAP = "-Xms128m -Xmx512m"


class KafkaConnectService(JvmService):
    """The course's Kafka Connect worker (``kafkacourse up --with connect``)."""

    name = "connect"
    title = "Kafka Connect"
    process_name = "connect"
    default_port = REST_PORT
    needs_brokers = True

    @property
    def metrics_port(self) -> int:
        return self.context.port(METRICS_PORT)

    @property
    def url(self) -> str:
        return f"http://localhost:{self.port}"

    @property
    def bootstrap_servers(self) -> str:
        return self.context.profile.bootstrap_servers

    def ports(self) -> dict[int, str]:
        return {self.port: "Kafka Connect REST API", self.metrics_port: "Kafka Connect's JMX exporter"}

    def _where(self) -> str:
        return f" at {self.url}"

    def starting_message(self) -> str:
        v = runtime.versions()
        return f"Starting Kafka Connect {v.kafka} (Debezium {v.debezium}) on :{self.port}…"

    def answering(self) -> bool:
        """True once the REST API lists the Debezium plugin and the worker has joined its group."""
        plugins = get_json(f"{self.url}/connector-plugins")
        if not plugins or DEBEZIUM_POSTGRES not in {p.get("class") for p in plugins}:
            return False
        return get_json(f"{self.url}/connectors") is not None

    def installed(self) -> Finding | None:
        missing = [p.name for p in runtime.day4_jars() if not p.exists()]
        if missing:
            return Finding("Kafka Connect + Debezium jars", True,
                           f"not resolved yet ({', '.join(missing)}); `kafkacourse up` resolves them once")
        return None

    def prepare(self, progress) -> None:
        if self.context.profile.secured:
            raise StackError("the course's Kafka Connect worker runs against a PLAINTEXT profile (single, cluster, "
                             f"dr), not {self.context.profile.name!r}")
        runtime.resolve_jars(progress)
        (self.data_dir / "connect-distributed.properties").write_text(self.worker_properties())

    def command(self) -> list[str]:
        return [
            self.java(), *os.environ.get("KAFKA_CONNECT_HEAP_OPTS", HEAP).split(),
            # C1 only: the worker starts faster; its own load is light (connectors do the work in tasks).
            "-XX:+UseG1GC", "-XX:MaxGCPauseMillis=20", "-XX:TieredStopAtLevel=1", "-Djava.awt.headless=true",
            f"-Dlog4j2.configurationFile={runtime.RESOURCES / 'broker-log4j2.properties'}",
            *metrics.javaagent_args(self.metrics_port, "connect"),
            "-cp", f"{runtime.kafka_libs()}/*", "org.apache.kafka.connect.cli.ConnectDistributed",
            str(self.data_dir / "connect-distributed.properties"),
        ]

    def worker_properties(self) -> str:
        return f"""# Written by kafkacourse on every start (kafkacourse/stack/services/connect.py).
bootstrap.servers={self.bootstrap_servers}
group.id={GROUP_ID}
listeners=http://localhost:{self.port}
rest.advertised.host.name=localhost
rest.advertised.port={self.port}
# The worker's state: three compacted topics on the brokers (-1: the brokers' default replication factor).
config.storage.topic={CONFIG_TOPIC}
offset.storage.topic={OFFSET_TOPIC}
status.storage.topic={STATUS_TOPIC}
config.storage.replication.factor=-1
offset.storage.replication.factor=-1
status.storage.replication.factor=-1
offset.storage.partitions=5
status.storage.partitions=1
# Plain JSON by default (a connector may choose another converter: the schema envelope, Avro, …).
key.converter=org.apache.kafka.connect.json.JsonConverter
value.converter=org.apache.kafka.connect.json.JsonConverter
key.converter.schemas.enable=false
value.converter.schemas.enable=false
# Source offsets are committed every second, so a lesson sees them move.
offset.flush.interval.ms=1000
plugin.path={runtime.connect_plugin_path()}
# Find plugins through their ServiceLoader manifests, not by scanning every class (ready in seconds).
plugin.discovery=service_load
# Connectors may override their clients' settings (MirrorMaker 2's producer writes to the dr cluster).
connector.client.config.override.policy=All
# One worker: no need to wait for others before assigning connectors after it (re)joins.
scheduled.rebalance.max.delay.ms=0
"""
