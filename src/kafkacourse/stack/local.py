"""The Docker-free stack: real Kafka brokers (KRaft) and Apicurio Registry as OS processes on this machine.

Two Kafka topologies can run side by side, each node a process with its own data dir and log:

* ``single``  — one combined broker+controller on localhost:9092 (the default),
* ``cluster`` — three combined nodes on localhost:9192, 9292, 9392 (RF 3, min.insync.replicas=2),

plus one schema registry on localhost:8081 (Confluent-compatible API under /apis/ccompat/v7).
Nothing here deletes data except :meth:`LocalStack.reset`.
"""

from __future__ import annotations

import base64
import logging
import os
import shutil
import signal
import subprocess
import time
import urllib.request
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from . import processes, runtime
from .errors import NotReadyError, ProcessDiedError, StackError

Progress = Callable[[str], None]
SILENT = logging.getLogger("kafkacourse.stack.probe")  # readiness probes expect refused connections
SILENT.addHandler(logging.NullHandler())
SILENT.propagate = False

REGISTRY_PORT = 8081
REGISTRY_API = "/apis/ccompat/v7"
START_TIMEOUT_S = 90.0
DEFAULT_HEAP = "-Xms256m -Xmx768m"  # per broker; KAFKA_HEAP_OPTS overrides it, as for upstream's scripts


@dataclass(frozen=True)
class NodeSpec:
    """One node's ports. Besides its PLAINTEXT listener, each broker has a PROXIED listener that binds
    `proxy_target_port` but advertises `proxy_port`: clients that bootstrap there reach the broker only
    through a fault-injection proxy listening on `proxy_port` (Day 2), never around it."""

    node_id: int
    broker_port: int
    controller_port: int

    @property
    def proxy_port(self) -> int:
        return self.broker_port + 2

    @property
    def proxy_target_port(self) -> int:
        return self.broker_port + 3


TOPOLOGIES: dict[str, tuple[NodeSpec, ...]] = {
    "single": (NodeSpec(1, 9092, 9093),),
    "cluster": (NodeSpec(1, 9192, 9193), NodeSpec(2, 9292, 9293), NodeSpec(3, 9392, 9393)),
}


def topology_for(brokers: int) -> str:
    if brokers == 1:
        return "single"
    if brokers == 3:
        return "cluster"
    raise ValueError(f"the local stack runs 1 or 3 brokers, not {brokers}")


@dataclass
class ManagedProcess:
    """A long-running JVM we start detached, find again through its pid file, and stop."""

    name: str
    workdir: Path
    ports: dict[int, str]

    @property
    def log_file(self) -> Path:
        return self.workdir / f"{self.name}.log"

    @property
    def pid_file(self) -> Path:
        return self.workdir / "pid"

    def pid(self) -> int | None:
        """The pid of our running process, or None (a stale pid file, or a pid reused by another program)."""
        try:
            pid = int(self.pid_file.read_text())
        except (OSError, ValueError):
            return None
        if processes.is_alive(pid) and str(self.workdir) in processes.command_line(pid):
            return pid
        return None

    def start(self, command: list[str]) -> int:
        processes.require_free_ports(self.ports)
        self.workdir.mkdir(parents=True, exist_ok=True)
        if self.log_file.exists():  # keep one previous log for post-mortems
            self.log_file.replace(self.log_file.with_suffix(".log.1"))
        with open(self.log_file, "wb") as log:
            proc = subprocess.Popen(
                command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                cwd=self.workdir, start_new_session=True,
            )
        self.pid_file.write_text(str(proc.pid))
        return proc.pid

    def check_alive_or_raise(self) -> None:
        if self.pid() is None:
            raise ProcessDiedError(f"{self.name} exited while starting. Last lines of {self.log_file}:\n{self.tail(25)}")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30.0) -> bool:
        pid = self.pid()
        if pid is None:
            return False
        processes.stop(pid, timeout=timeout, sig=sig)
        return True

    def tail(self, lines: int = 50) -> str:
        try:
            return "\n".join(self.log_file.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log yet)"


@dataclass(frozen=True)
class ProcessStatus:
    name: str
    pid: int | None
    port: int
    listening: bool
    log_file: Path

    @property
    def state(self) -> str:
        if self.pid and self.listening:
            return "running"
        return "starting" if self.pid else "stopped"


class SchemaRegistry:
    """Apicurio Registry 3 with its schemas in an H2 file under home()/registry (kept across restarts)."""

    def __init__(self) -> None:
        self.process = ManagedProcess("registry", runtime.home() / "registry", {REGISTRY_PORT: "schema registry"})

    @property
    def url(self) -> str:
        return f"http://localhost:{REGISTRY_PORT}{REGISTRY_API}"

    def answers(self) -> bool:
        try:
            with urllib.request.urlopen(self.url + "/subjects", timeout=2) as resp:
                return resp.status == 200
        except OSError:
            return False

    def start(self, progress: Progress = print) -> None:
        if self.process.pid() is None:
            progress(f"Starting Apicurio Registry {runtime.versions().apicurio} on :{REGISTRY_PORT}…")
            db = self.process.workdir / "db" / "registry"
            self.process.start([
                # C1 only and the serial GC: the registry starts faster and its load is light.
                runtime.java_executable(), "-Xms64m", "-Xmx512m", "-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC",
                f"-Dquarkus.http.port={REGISTRY_PORT}", "-Dquarkus.http.host=127.0.0.1",
                "-Dapicurio.storage.sql.kind=h2",
                f"-Dapicurio.datasource.url=jdbc:h2:file:{db};DB_CLOSE_ON_EXIT=FALSE",
                "-Dapicurio.rest.deletion.artifact.enabled=true",
                "-Dapicurio.rest.deletion.artifact-version.enabled=true",
                "-Dapicurio.rest.deletion.group.enabled=true",
                "-jar", str(runtime.registry_jar()),
            ])
        wait_until(self.answers, self.process, what="the schema registry")

    def status(self) -> ProcessStatus:
        return ProcessStatus("registry", self.process.pid(), REGISTRY_PORT,
                             processes.port_accepts(REGISTRY_PORT), self.process.log_file)


class LocalStack:
    """One local Kafka topology (1 or 3 brokers) and the schema registry.

    >>> stack = LocalStack(brokers=3)
    >>> stack.up()                      # idempotent; waits until every broker answers metadata requests
    >>> stack.kill_broker(2)            # SIGKILL one node, for chaos lessons
    >>> stack.start_broker(2)
    >>> stack.down()                    # stops the processes; data stays until reset()
    """

    def __init__(self, brokers: int = 1) -> None:
        self.name = topology_for(brokers)
        self.nodes = TOPOLOGIES[self.name]
        self.root = runtime.home() / "stacks" / self.name
        self.registry = SchemaRegistry()

    # -- addresses -------------------------------------------------------------------------------------------
    @property
    def bootstrap_servers(self) -> str:
        return ",".join(f"localhost:{n.broker_port}" for n in self.nodes)

    @property
    def schema_registry_url(self) -> str:
        return self.registry.url

    @property
    def proxied_bootstrap_servers(self) -> str:
        """Bootstrap through the PROXIED listeners: only reachable while a fault proxy runs on each proxy_port."""
        return ",".join(f"localhost:{n.proxy_port}" for n in self.nodes)

    def node(self, node_id: int) -> NodeSpec:
        for spec in self.nodes:
            if spec.node_id == node_id:
                return spec
        raise ValueError(f"the {self.name} stack has nodes {[n.node_id for n in self.nodes]}, not {node_id}")

    def process(self, node_id: int) -> ManagedProcess:
        spec = self.node(node_id)
        return ManagedProcess(
            "broker", self.root / f"node-{node_id}",
            {spec.broker_port: f"broker {node_id}", spec.controller_port: f"controller {node_id}",
             spec.proxy_target_port: f"proxied listener of broker {node_id}"},
        )

    # -- lifecycle -------------------------------------------------------------------------------------------
    def up(self, progress: Progress = print, registry: bool = True) -> None:
        """Start whatever is not running yet and wait until the cluster (and registry) answer."""
        started = time.monotonic()
        runtime.resolve_jars(progress)
        for spec in self.nodes:
            self._start_node(spec, progress)
        if registry:
            self.registry.start(progress)
        self.wait_ready()
        progress(f"Kafka {runtime.versions().kafka} ({self.name}, {len(self.nodes)} broker"
                 f"{'s' if len(self.nodes) > 1 else ''}) ready at {self.bootstrap_servers}"
                 f" in {time.monotonic() - started:.1f} s.")

    def down(self, registry: bool = True, progress: Progress = print) -> None:
        """Stop the brokers (all at once, SIGTERM then SIGKILL) and the registry. Data stays."""
        pids = [pid for pid in (self.process(n.node_id).pid() for n in self.nodes) if pid]
        for pid in pids:
            os.killpg(pid, signal.SIGTERM)
        for pid in pids:
            processes.stop(pid, timeout=20)
        if pids:
            progress(f"Stopped {len(pids)} broker{'s' if len(pids) > 1 else ''} of the {self.name} stack.")
        if registry and self.registry.process.stop():
            progress("Stopped the schema registry.")

    def reset(self, progress: Progress = print) -> None:
        """Stop and delete this topology's data (topics, offsets, cluster id). The only call that deletes."""
        self.down(registry=False, progress=progress)
        shutil.rmtree(self.root, ignore_errors=True)
        progress(f"Deleted all data of the {self.name} stack ({self.root}).")

    def kill_broker(self, node_id: int, sig: int = signal.SIGKILL) -> None:
        """Kill one broker process (SIGKILL by default: no controlled shutdown, as in a crash)."""
        proc = self.process(node_id)
        if not proc.stop(sig=sig, timeout=30):
            raise StackError(f"broker {node_id} of the {self.name} stack is not running")

    def start_broker(self, node_id: int, wait: bool = True, progress: Progress = print) -> None:
        """Start one broker again (after kill_broker) and, by default, wait until it answers."""
        self._start_node(self.node(node_id), progress)
        if wait:
            self.wait_ready()

    def running(self) -> bool:
        return all(self.process(n.node_id).pid() for n in self.nodes)

    def status(self) -> list[ProcessStatus]:
        rows = []
        for spec in self.nodes:
            proc = self.process(spec.node_id)
            rows.append(ProcessStatus(f"{self.name}/broker-{spec.node_id}", proc.pid(), spec.broker_port,
                                      processes.port_accepts(spec.broker_port), proc.log_file))
        return rows

    def logs(self, node_id: int | None = None, lines: int = 50) -> str:
        ids = [node_id] if node_id is not None else [n.node_id for n in self.nodes]
        return "\n".join(f"==> broker {i} ({self.process(i).log_file}) <==\n{self.process(i).tail(lines)}" for i in ids)

    # -- readiness -------------------------------------------------------------------------------------------
    def brokers_answering(self) -> set[int]:
        """Ids of the brokers that the cluster's metadata lists right now."""
        from confluent_kafka.admin import AdminClient

        listening = [n for n in self.nodes if processes.port_accepts(n.broker_port)]
        if not listening:  # nothing to ask yet; spares the client's connection-refused log lines
            return set()
        admin = AdminClient({"bootstrap.servers": ",".join(f"localhost:{n.broker_port}" for n in listening),
                             "socket.connection.setup.timeout.ms": 2000, "logger": SILENT})
        try:
            return set(admin.list_topics(timeout=2).brokers)
        except Exception:
            return set()

    def wait_ready(self, timeout: float = START_TIMEOUT_S) -> None:
        expected = {n.node_id for n in self.nodes if self.process(n.node_id).pid()}
        procs = [self.process(i) for i in expected]
        wait_until(lambda: expected <= self.brokers_answering(), *procs,
                   what=f"brokers {sorted(expected)} of the {self.name} stack", timeout=timeout)

    # -- node configuration ----------------------------------------------------------------------------------
    def _start_node(self, spec: NodeSpec, progress: Progress) -> None:
        proc = self.process(spec.node_id)
        if proc.pid() is not None:
            return
        progress(f"Starting Kafka broker {spec.node_id} ({self.name}) on :{spec.broker_port}…")
        props = proc.workdir / "server.properties"
        proc.workdir.mkdir(parents=True, exist_ok=True)
        props.write_text(self._server_properties(spec, proc.workdir / "data"))
        if not (proc.workdir / "data" / "meta.properties").exists():
            self._format(props, proc.workdir / "format.log")
        java = runtime.java_executable()
        proc.start([
            java, *os.environ.get("KAFKA_HEAP_OPTS", DEFAULT_HEAP).split(), "-XX:+UseG1GC", "-XX:MaxGCPauseMillis=20",
            "-Djava.awt.headless=true", f"-Dlog4j2.configurationFile={runtime.RESOURCES / 'broker-log4j2.properties'}",
            "-cp", f"{runtime.kafka_libs()}/*", "kafka.Kafka", str(props),
        ])

    def _cluster_id(self) -> str:
        id_file = self.root / "cluster-id"
        if not id_file.exists():
            self.root.mkdir(parents=True, exist_ok=True)
            # A Kafka cluster id is a URL-safe base64 UUID (what StorageTool random-uuid prints).
            id_file.write_text(base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("="))
        return id_file.read_text().strip()

    def _format(self, props: Path, log: Path) -> None:
        command = [runtime.java_executable(), f"-Dlog4j2.configurationFile={runtime.RESOURCES / 'tools-log4j2.properties'}",
                   "-cp", f"{runtime.kafka_libs()}/*", "kafka.tools.StorageTool", "format",
                   "-t", self._cluster_id(), "-c", str(props)]
        if len(self.nodes) == 1:
            command.append("--standalone")
        out = subprocess.run(command, capture_output=True, text=True)
        log.write_text(out.stdout + out.stderr)
        if out.returncode != 0:
            raise StackError(f"Formatting the storage of {props.parent} failed:\n{(out.stdout + out.stderr)[-2000:]}")

    def _server_properties(self, spec: NodeSpec, data_dir: Path) -> str:
        replicas = len(self.nodes)
        min_isr = 2 if replicas == 3 else 1
        if replicas == 1:
            quorum = f"controller.quorum.bootstrap.servers=localhost:{spec.controller_port}"
        else:
            quorum = "controller.quorum.voters=" + ",".join(
                f"{n.node_id}@localhost:{n.controller_port}" for n in self.nodes)
        return f"""# Written by kafkacourse on every start; edit the generator in kafkacourse/stack/local.py instead.
process.roles=broker,controller
node.id={spec.node_id}
{quorum}
listeners=PLAINTEXT://localhost:{spec.broker_port},CONTROLLER://localhost:{spec.controller_port},PROXIED://localhost:{spec.proxy_target_port}
# PROXIED is advertised at the port a fault-injection proxy listens on (kafkacourse.faults).
advertised.listeners=PLAINTEXT://localhost:{spec.broker_port},PROXIED://localhost:{spec.proxy_port}
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT,PROXIED:PLAINTEXT
log.dirs={data_dir}
num.partitions=1
# Topics are created on purpose (kafka-topics.sh, Cluster.create_topic), never by a typo in a producer.
auto.create.topics.enable=false
default.replication.factor={replicas}
min.insync.replicas={min_isr}
offsets.topic.replication.factor={replicas}
transaction.state.log.replication.factor={replicas}
transaction.state.log.min.isr={min_isr}
share.coordinator.state.topic.replication.factor={replicas}
share.coordinator.state.topic.min.isr={min_isr}
group.initial.rebalance.delay.ms=0
# Small segments and quick checks so retention and compaction lessons show results in seconds.
log.segment.bytes=16777216
log.retention.check.interval.ms=5000
"""


def wait_until(ready: Callable[[], bool], *watched: ManagedProcess, what: str, timeout: float = START_TIMEOUT_S) -> None:
    """Poll `ready` until it is true; raise ProcessDiedError as soon as a watched process exits."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if ready():
            return
        for proc in watched:
            proc.check_alive_or_raise()
        time.sleep(0.2)
    logs = "\n".join(f"--- {p.log_file}\n{p.tail(15)}" for p in watched)
    raise NotReadyError(f"{what} did not answer within {timeout:.0f} s.\n{logs}")


def running_stacks() -> list[LocalStack]:
    """The local topologies with at least one broker process alive."""
    stacks = [LocalStack(1), LocalStack(3)]
    return [s for s in stacks if any(s.process(n.node_id).pid() for n in s.nodes)]
