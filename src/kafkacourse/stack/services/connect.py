"""Kafka Connect for Day 4 (Debezium CDC) and Day 5 (MirrorMaker 2): one DISTRIBUTED worker, as a process.

The worker is Apache Kafka's own ``ConnectDistributed`` from the jars the pom resolves (connect-runtime,
-json, -transforms, -file, -mirror), with the Debezium PostgreSQL connector's plugin bundle on its
``plugin.path``. It keeps its connectors' configs, offsets and statuses in three compacted topics on the
``single`` broker (RF 1) — so connectors survive a worker restart — and serves its REST API on
http://localhost:8083 (driven from Python by :class:`kafkacourse.kafka_connect.KafkaConnect`).

``plugin.discovery=service_load`` finds plugins through their ServiceLoader manifests instead of scanning
every class of every jar: the worker starts in seconds, not after a ~10 s scan. Its JMX metrics are served by
the Prometheus exporter on :8085.
"""

from __future__ import annotations

import os
import shutil
import time

from .. import processes, runtime
from ..errors import NotReadyError
from ..local import ManagedProcess
from . import metrics
from .common import Finding, ServiceStatus, get_json, port, port_finding

REST_PORT = 8083
METRICS_PORT = 8085
BROKER_PORT = 9092  # the single profile's broker
GROUP_ID = "kafka-course-connect"
CONFIG_TOPIC, OFFSET_TOPIC, STATUS_TOPIC = "connect-configs", "connect-offsets", "connect-status"
DEBEZIUM_POSTGRES = "io.debezium.connector.postgresql.PostgresConnector"
START_TIMEOUT_S = 90.0
HEAP = "-Xms128m -Xmx512m"


class KafkaConnectService:
    """The course's Kafka Connect worker.

    >>> connect = KafkaConnectService()
    >>> connect.start(); connect.wait_ready()   # idempotent; needs the single broker running
    >>> connect.stop()                          # connectors stay (in their topics) until the broker's reset
    """

    name = "connect"

    def __init__(self) -> None:
        self.rest_port = port(REST_PORT)
        self.metrics_port = port(METRICS_PORT)
        self.bootstrap_servers = f"localhost:{port(BROKER_PORT)}"
        self.process = ManagedProcess("connect", runtime.home() / "connect",
                                      {self.rest_port: "Kafka Connect REST API",
                                       self.metrics_port: "Kafka Connect's JMX exporter"})

    @property
    def url(self) -> str:
        return f"http://localhost:{self.rest_port}"

    @property
    def log_file(self):
        return self.process.log_file

    # -- lifecycle -------------------------------------------------------------------------------------------
    def start(self, progress=print) -> None:
        """Start the worker (resolving its jars once), without waiting for it (see wait_ready)."""
        if self.process.pid() is not None:
            return
        runtime.resolve_jars(progress)
        if not processes.port_accepts(port(BROKER_PORT)):
            raise NotReadyError(f"Kafka Connect keeps its state on the single broker ({self.bootstrap_servers}), "
                                "which is not running: start it first (`kafkacourse up`).")
        progress(f"Starting Kafka Connect {runtime.versions().kafka} (Debezium {runtime.versions().debezium}) "
                 f"on :{self.rest_port}…")
        workdir = self.process.workdir
        workdir.mkdir(parents=True, exist_ok=True)
        properties = workdir / "connect-distributed.properties"
        properties.write_text(self._worker_properties())
        self.process.start([
            runtime.java_executable(), *os.environ.get("KAFKA_CONNECT_HEAP_OPTS", HEAP).split(),
            "-XX:+UseG1GC", "-XX:MaxGCPauseMillis=20", "-XX:TieredStopAtLevel=1", "-Djava.awt.headless=true",
            f"-Dlog4j2.configurationFile={runtime.RESOURCES / 'broker-log4j2.properties'}",
            *metrics.javaagent_args(self.metrics_port, "connect"),
            "-cp", f"{runtime.kafka_libs()}/*", "org.apache.kafka.connect.cli.ConnectDistributed", str(properties),
        ])

    def answers(self) -> bool:
        """True once the REST API lists the Debezium plugin and the worker has joined its group."""
        plugins = get_json(f"{self.url}/connector-plugins")
        if not plugins or DEBEZIUM_POSTGRES not in {p.get("class") for p in plugins}:
            return False
        return get_json(f"{self.url}/connectors") is not None

    def wait_ready(self, timeout: float = START_TIMEOUT_S) -> None:
        """Wait until the REST API answers with the Debezium plugin listed; clear errors with the log's end."""
        processes_ = [self.process] if self.process.pid() is not None else []
        from ..local import wait_until

        wait_until(self.answers, *processes_, what=f"Kafka Connect on :{self.rest_port}", timeout=timeout)

    def stop(self, progress=print) -> bool:
        if self.process.stop(timeout=30):
            progress("Stopped Kafka Connect.")
            return True
        return False

    def reset(self, progress=print) -> None:
        """Stop the worker and delete its folder (log, properties). Its connectors' configs and offsets live in
        topics on the single broker: they go with that broker's reset."""
        self.stop(progress)
        shutil.rmtree(self.process.workdir, ignore_errors=True)
        progress(f"Deleted Kafka Connect's folder ({self.process.workdir}).")

    # -- observing -------------------------------------------------------------------------------------------
    def status(self) -> ServiceStatus:
        return ServiceStatus(self.name, self.process.pid(), self.rest_port,
                             processes.port_accepts(self.rest_port), self.log_file)

    def logs(self, lines: int = 50) -> str:
        return self.process.tail(lines)

    def doctor(self) -> list[Finding]:
        jars = [p for p in runtime.day4_jars() if not p.exists()]
        findings = [Finding("Kafka Connect + Debezium jars", True,
                            "cached" if not jars else "not resolved yet; `up --with connect` resolves them once")]
        pid = self.process.pid()
        findings += [port_finding("Kafka Connect", self.rest_port, pid),
                     port_finding("Kafka Connect metrics", self.metrics_port, pid)]
        if pid is not None:
            ok = self.answers()
            findings.append(Finding("Kafka Connect answers", ok,
                                    "REST API up, Debezium PostgresConnector listed" if ok else "no answer yet",
                                    "" if ok else f"see {self.log_file}"))
        return findings

    def _worker_properties(self) -> str:
        return f"""# Written by kafkacourse on every start (kafkacourse/stack/services/connect.py).
bootstrap.servers={self.bootstrap_servers}
group.id={GROUP_ID}
listeners=http://localhost:{self.rest_port}
rest.advertised.host.name=localhost
rest.advertised.port={self.rest_port}
# The worker's state: three compacted topics on the single broker (RF 1: it has one node).
config.storage.topic={CONFIG_TOPIC}
offset.storage.topic={OFFSET_TOPIC}
status.storage.topic={STATUS_TOPIC}
config.storage.replication.factor=1
offset.storage.replication.factor=1
status.storage.replication.factor=1
offset.storage.partitions=5
status.storage.partitions=1
# Plain JSON by default (a connector may choose another converter, e.g. with the schema envelope or Avro).
key.converter=org.apache.kafka.connect.json.JsonConverter
value.converter=org.apache.kafka.connect.json.JsonConverter
key.converter.schemas.enable=false
value.converter.schemas.enable=false
# Source offsets are committed every second, so a lesson sees them move.
offset.flush.interval.ms=1000
plugin.path={runtime.connect_plugin_path()}
# Find plugins through their ServiceLoader manifests, not by scanning every class (starts in seconds).
plugin.discovery=service_load
# One worker: no need to wait for others before assigning connectors after it (re)joins.
scheduled.rebalance.max.delay.ms=0
"""
