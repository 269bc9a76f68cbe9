"""A Kafka node of a profile: a combined broker+controller (KRaft) JVM with its own data dir, config and log.

The node's ``server.properties`` is written from the profile (listeners, security, extra settings) on every
start; its storage is formatted once, with the profile's cluster id (and, on the secure profile, the SCRAM
users, bootstrapped at format time).
"""

from __future__ import annotations

import base64
import os
import subprocess
import time
import uuid
from pathlib import Path

from .. import certificates, processes, runtime
from ..errors import StackError
from ..profiles import CONTROLLER, PROXIED, SCRAM, Node, Profile
from .base import START_TIMEOUT_S, Context, JvmService

DEFAULT_HEAP = "-Xms256m -Xmx768m"  # per broker; KAFKA_HEAP_OPTS overrides it, as for upstream's scripts


def stack_root(context: Context, profile: Profile | None = None) -> Path:
    """Where a profile's nodes keep their data: <home>/stacks/<profile>."""
    return context.home / "stacks" / (profile or context.profile).name


def certificates_dir(context: Context, profile: Profile | None = None) -> Path:
    return stack_root(context, profile) / "certs"


def new_cluster_id() -> str:
    """A cluster id as Kafka's ``Uuid.randomUuid()`` makes one: URL-safe base64 of a random UUID, never one
    that starts with '-' (a command line would read it as an option)."""
    while True:
        candidate = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not candidate.startswith("-"):
            return candidate


def cluster_id(root: Path, repair: bool = True) -> str:
    """The profile's cluster id, stored in <root>/cluster-id (created on first use).

    A stored id starting with '-' (written by older versions of the course; 1 in 64 ids) is replaced while no
    node has been formatted with it yet, when `repair` is true."""
    id_file = root / "cluster-id"
    if id_file.exists():
        stored = id_file.read_text().strip()
        formatted = any(root.glob("node-*/data/meta.properties"))
        if stored and not (repair and stored.startswith("-") and not formatted):
            return stored
    root.mkdir(parents=True, exist_ok=True)
    id_file.write_text(new_cluster_id())
    return id_file.read_text().strip()


def format_storage(properties: Path, cluster: str, log: Path, standalone: bool,
                   scram_users: dict[str, str] | None = None) -> None:
    """``kafka-storage.sh format`` for one node, with ``--cluster-id=<id>`` (an id may start with '-')."""
    command = [runtime.java_executable(), f"-Dlog4j2.configurationFile={runtime.RESOURCES / 'tools-log4j2.properties'}",
               "-cp", f"{runtime.kafka_libs()}/*", "kafka.tools.StorageTool", "format",
               f"--cluster-id={cluster}", f"--config={properties}"]
    if standalone:
        command.append("--standalone")
    for user, password in (scram_users or {}).items():
        command.append(f"--add-scram={SCRAM}=[name={user},password={password}]")
    out = subprocess.run(command, capture_output=True, text=True)
    log.write_text(out.stdout + out.stderr)
    if out.returncode != 0:
        raise StackError(f"Formatting the storage of {properties.parent} failed:\n{(out.stdout + out.stderr)[-2000:]}")


def brokers_answering(profile: Profile, certs: Path | None = None) -> set[int]:
    """Ids of the brokers the profile's metadata lists right now (asked as the profile's default principal)."""
    from confluent_kafka.admin import AdminClient

    listener = profile.principal().listener
    listening = [n for n in profile.nodes if processes.port_accepts(n.listener(listener).advertised)]
    if not listening:  # nothing to ask yet; spares the client's connection-refused log lines
        return set()
    settings = profile.client_settings(certificates=certs)
    settings["bootstrap.servers"] = ",".join(f"localhost:{n.listener(listener).advertised}" for n in listening)
    admin = AdminClient({**settings, "socket.connection.setup.timeout.ms": 2000, "logger": processes.SILENT})
    try:
        return set(admin.list_topics(timeout=2).brokers)
    except Exception:  # noqa: BLE001 - not ready yet, whatever the reason
        return set()


def restore_scram_users(profile: Profile, certs: Path, timeout: float = 30.0) -> list[str]:
    """Create again the profile's SCRAM principals that the broker's metadata lacks; the names restored.

    Why: Kafka 4.3.1's ``ScramDelta.apply`` removes a mechanism's whole user map as soon as the map is empty
    in the middle of its loop. A broker that starts from its metadata log (no KRaft snapshot yet) applies the
    log's changes to an empty image, so when it meets a deleted user before any live one (HashMap order of
    the names), every SCRAM user is gone from the broker and each login is refused, although the controller
    still lists them. The lessons and tests create and delete users, so a restarted secure broker hits this.
    Asked as the broker's own certificate (a super user) on the mTLS listener; the passwords are the
    profile's, as at format time. Raises KafkaException while the broker does not answer yet."""
    from confluent_kafka.admin import (AdminClient, ScramCredentialInfo, ScramMechanism,
                                       UserScramCredentialUpsertion)

    wanted = {p.name: p.password or "" for p in profile.principals if p.mechanism == SCRAM}
    mtls = next((l for l in profile.nodes[0].listeners if l.client_auth and l.name != CONTROLLER), None)
    if not wanted or mtls is None:
        return []
    admin = AdminClient({"bootstrap.servers": f"localhost:{mtls.advertised}", "security.protocol": "SSL",
                         "ssl.ca.location": str(certs / "ca.pem"),
                         "ssl.certificate.location": str(certs / "broker-keystore.pem"),
                         "ssl.key.location": str(certs / "broker-keystore.pem"),
                         "socket.connection.setup.timeout.ms": 2000, "logger": processes.SILENT})
    known = set(admin.describe_user_scram_credentials(request_timeout=timeout).result())
    missing = sorted(set(wanted) - known)
    if missing:
        upserts = [UserScramCredentialUpsertion(name, ScramCredentialInfo(ScramMechanism.SCRAM_SHA_512, 4096),
                                                wanted[name].encode()) for name in missing]
        for future in admin.alter_user_scram_credentials(upserts, request_timeout=timeout).values():
            future.result()
    return missing


class BrokerNode(JvmService):
    """One node of a profile; ``kind = "broker"``. Name: ``<profile>/broker-<id>``."""

    kind = "broker"
    process_name = "broker"

    def __init__(self, context: Context, node: Node) -> None:
        super().__init__(context)
        self.node = node
        self.profile = context.profile
        self.name = f"{self.profile.name}/broker-{node.node_id}"
        self.title = f"broker {node.node_id} of the {self.profile.name} stack"

    @property
    def port(self) -> int:
        return self.node.broker_port

    @property
    def root(self) -> Path:
        return stack_root(self.context)

    @property
    def data_dir(self) -> Path:
        return self.root / f"node-{self.node.node_id}"

    @property
    def jmx_port(self) -> int:
        """Where a JMX exporter javaagent serves this broker's metrics (the hooks in JVM_ARGS decide)."""
        return self.node.jmx_port

    def ports(self) -> dict[int, str]:
        """The node's listeners and, when a JVM_ARGS hook runs the JMX exporter in it, the exporter's port."""
        if any("-javaagent:" in arg for arg in self.extra_jvm_args()):
            return {**self.node.ports, self.jmx_port: f"JMX exporter of broker {self.node.node_id}"}
        return self.node.ports

    def starting_message(self) -> str:
        return f"Starting Kafka broker {self.node.node_id} ({self.profile.name}) on :{self.port}…"

    def answering(self) -> bool:
        return self.node.node_id in brokers_answering(self.profile, self.certificates())

    def wait_ready(self, timeout: float = START_TIMEOUT_S) -> None:
        """Answering as the profile's default principal; on a SCRAM profile, its users restored first when the
        broker lost them on start-up (see restore_scram_users)."""
        certs = self.certificates()
        if certs is not None and any(p.mechanism == SCRAM for p in self.profile.principals):
            from confluent_kafka import KafkaException

            deadline = time.monotonic() + timeout

            def restored() -> bool:
                try:
                    if restore_scram_users(self.profile, certs, timeout=5):
                        print(f"{self.title}: Kafka 4.3.1 dropped its SCRAM users on start-up; restored them")
                    return True
                except KafkaException:  # not answering yet
                    return False

            processes.wait_until(restored, self.process, what=self.title, timeout=timeout)
            timeout = max(deadline - time.monotonic(), 1.0)
        super().wait_ready(timeout)

    def certificates(self) -> Path | None:
        return certificates_dir(self.context) if self.profile.secured else None

    # -- start -----------------------------------------------------------------------------------------------
    def prepare(self, progress) -> None:
        certs = self.certificates()
        if certs is not None:
            certificates.ensure(certs, clients=[p.name for p in self.profile.principals if p.mechanism == "mTLS"])
        properties = self.data_dir / "server.properties"
        properties.write_text(self.server_properties(self.data_dir / "data"))
        if not (self.data_dir / "data" / "meta.properties").exists():
            scram = {p.name: p.password or "" for p in self.profile.principals if p.mechanism == SCRAM}
            format_storage(properties, cluster_id(self.root), self.data_dir / "format.log",
                           standalone=len(self.profile.nodes) == 1, scram_users=scram)

    def command(self) -> list[str]:
        return [
            self.java(), *os.environ.get("KAFKA_HEAP_OPTS", DEFAULT_HEAP).split(), "-XX:+UseG1GC",
            "-XX:MaxGCPauseMillis=20", "-Djava.awt.headless=true",
            f"-Dlog4j2.configurationFile={runtime.RESOURCES / 'broker-log4j2.properties'}",
            *self.extra_jvm_args(),
            "-cp", f"{runtime.kafka_libs()}/*", "kafka.Kafka", str(self.data_dir / "server.properties"),
        ]

    # -- configuration ---------------------------------------------------------------------------------------
    def server_properties(self, data_dir: Path, certs: Path | None = None, in_container: bool = False) -> str:
        """The node's server.properties. `in_container`: for docker compose (clients' listeners bound on every
        interface, a static quorum as the image formats without --standalone), with `certs` where the
        container sees the TLS files."""
        profile, node = self.profile, self.node
        replicas, min_isr = profile.replication_factor, profile.min_isr
        if len(profile.nodes) == 1 and not in_container:
            quorum = f"controller.quorum.bootstrap.servers=localhost:{node.controller_port}"
        else:
            quorum = "controller.quorum.voters=" + ",".join(
                f"{n.node_id}@localhost:{n.controller_port}" for n in profile.nodes)
        host = "" if in_container else "localhost"
        listeners = ",".join(f"{l.name}://{'localhost' if l.name == CONTROLLER else host}:{l.port}"
                             for l in node.listeners)
        advertised = ",".join(f"{l.name}://localhost:{l.advertised}" for l in node.listeners if l.name != CONTROLLER)
        protocols = ",".join(f"{l.name}:{l.protocol}" for l in node.listeners)
        lines = [
            f"# Written by kafkacourse from the {profile.name!r} profile (kafkacourse/stack/profiles.py); "
            "edit that instead.",
            "process.roles=broker,controller",
            f"node.id={node.node_id}",
            quorum,
            f"listeners={listeners}",
        ]
        if node.has(PROXIED):
            lines.append("# PROXIED is advertised at the port a fault-injection proxy listens on (kafkacourse.faults).")
        lines += [
            f"advertised.listeners={advertised}",
            f"controller.listener.names={CONTROLLER}",
            f"inter.broker.listener.name={profile.inter_broker_listener}",
            f"listener.security.protocol.map={protocols}",
            f"log.dirs={data_dir}",
            "num.partitions=1",
            "# Topics are created on purpose (kafka-topics.sh, Cluster.create_topic), never by a typo in a producer.",
            "auto.create.topics.enable=false",
            f"default.replication.factor={replicas}",
            f"min.insync.replicas={min_isr}",
            f"offsets.topic.replication.factor={replicas}",
            f"transaction.state.log.replication.factor={replicas}",
            f"transaction.state.log.min.isr={min_isr}",
            f"share.coordinator.state.topic.replication.factor={replicas}",
            f"share.coordinator.state.topic.min.isr={min_isr}",
            "group.initial.rebalance.delay.ms=0",
            "# Small segments and quick checks so retention and compaction lessons show results in seconds.",
            "log.segment.bytes=16777216",
            "log.retention.check.interval.ms=5000",
        ]
        certs = certs or self.certificates()
        if certs is not None:
            lines += [
                "# TLS: the course CA (stack/certificates.py) signed this node's certificate (CN=broker, SAN localhost).",
                "ssl.keystore.type=PEM",
                f"ssl.keystore.location={certs / 'broker-keystore.pem'}",
                "ssl.truststore.type=PEM",
                f"ssl.truststore.location={certs / 'ca.pem'}",
            ]
            lines += [f"listener.name.{l.name.lower()}.ssl.client.auth={l.client_auth}"
                      for l in node.listeners if l.client_auth]
        if profile.broker_settings:
            lines.append(f"# The {profile.name} profile's own settings.")
            lines += [f"{key}={value}" for key, value in profile.broker_settings.items()]
        if node.settings:
            lines.append(f"# Node {node.node_id}'s own settings (a later line wins over an earlier one).")
            lines += [f"{key}={value}" for key, value in node.settings.items()]
        return "\n".join(lines) + "\n"


def write_compose_config(stack_context: Context, profile: Profile, folder: Path) -> Path:
    """The file input of docker compose's broker for a secured profile: server.properties, the course CA and
    certificates (the local stack's own, so the same client settings work), and broker-client.properties
    (the broker's certificate as a client: the compose file's healthcheck and SCRAM-user setup use it)."""
    import shutil

    node = BrokerNode(Context(stack_context.home, profile), profile.nodes[0])
    source = certificates.ensure(certificates_dir(node.context),
                                 clients=[p.name for p in profile.principals if p.mechanism == "mTLS"])
    folder.mkdir(parents=True, exist_ok=True)
    for pem in (p for p in source.glob("*.pem") if p.name != "ca-key.pem"):  # the CA key stays home
        shutil.copy2(pem, folder / pem.name)
    inside = Path("/mnt/shared/config")
    (folder / "server.properties").write_text(
        node.server_properties(Path("/var/lib/kafka/data"), certs=inside, in_container=True))
    (folder / "broker-client.properties").write_text(
        "security.protocol=SSL\nssl.keystore.type=PEM\n"
        f"ssl.keystore.location={inside / 'broker-keystore.pem'}\n"
        f"ssl.truststore.type=PEM\nssl.truststore.location={inside / 'ca.pem'}\n")
    return folder
