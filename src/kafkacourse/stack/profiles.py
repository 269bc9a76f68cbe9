"""The local stack's profiles, as data: which nodes a cluster has, their listeners and ports, extra broker
settings, which services start with it, and who may connect (principals and their client settings).

Every profile runs side by side with the others, on its own ports:

==========  ================================================================  ========================
profile     what                                                              client port(s)
==========  ================================================================  ========================
single      one combined broker+controller (the default)                      9092 (proxied 9094)
cluster     three combined nodes, RF 3, min.insync.replicas=2                 9192, 9292, 9392
secure      one node: SASL_SSL (SCRAM-SHA-512) and SSL with client            9592 (SCRAM), 9594 (mTLS)
            certificates, StandardAuthorizer, the admin as super user;
            its controller listener (9593) is mTLS too, for the broker only
dr          a second, independent single node (MirrorMaker 2 target)          9692 (proxied 9694)
==========  ================================================================  ========================

Per node the ports follow one pattern from its base port B: B clients, B+1 controller, B+2 the PROXIED
listener's advertised port (where a fault proxy listens, Day 2), B+3 the port it binds, B+4 the JMX exporter.

A whole set of stacks can run on other ports: ``KAFKA_COURSE_PORT_OFFSET=10000`` (or ``get(name, offset=…)``)
adds the offset to every port of every profile and service, so tests start scratch stacks beside the shared one.

>>> from kafkacourse.stack import profiles
>>> profiles.get("cluster").bootstrap_servers
'localhost:9192,localhost:9292,localhost:9392'
>>> profiles.get("single", offset=10000).nodes[0].broker_port
19092
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

PORT_OFFSET_ENV = "KAFKA_COURSE_PORT_OFFSET"
CONTROLLER = "CONTROLLER"
PROXIED = "PROXIED"
# The PROXIED listener of a node whose clients use port P: advertised at P + 2, bound at P + 3 (everywhere:
# the local stack, docker compose, and clusters reached through KAFKA_BOOTSTRAP_SERVERS).
PROXY_ADVERTISED_STEP = 2
PROXY_BOUND_STEP = 3
JMX_STEP = 4


def proxy_ports(client_port: int) -> tuple[int, int]:
    """(advertised, bound) ports of the PROXIED listener of the broker whose client port is `client_port`."""
    return client_port + PROXY_ADVERTISED_STEP, client_port + PROXY_BOUND_STEP


@dataclass(frozen=True)
class Listener:
    """One listener of a node: `name` (as in listener.security.protocol.map), its security `protocol`, the
    port it binds, and the port it advertises (the same unless a proxy sits in front of it)."""

    name: str
    protocol: str
    port: int
    advertised_port: int | None = None
    client_auth: str | None = None  # ssl.client.auth for this listener ("required": mTLS)

    @property
    def advertised(self) -> int:
        return self.port if self.advertised_port is None else self.advertised_port

    def shifted(self, offset: int) -> Listener:
        return dataclasses.replace(self, port=self.port + offset,
                                   advertised_port=None if self.advertised_port is None else self.advertised_port + offset)


@dataclass(frozen=True)
class Node:
    """One combined broker+controller: its id, its listeners (the first one is where clients connect unless a
    principal says otherwise), the port of its JMX exporter, and settings of its own (usually none)."""

    node_id: int
    listeners: tuple[Listener, ...]
    jmx_port: int
    # This node's own server.properties lines, written after the profile's (a later line wins): e.g. another
    # inter.broker.listener.name or controller.quorum.voters for one node (Day 5's network split).
    settings: Mapping[str, str] = field(default_factory=dict, hash=False)

    def listener(self, name: str) -> Listener:
        for listener in self.listeners:
            if listener.name == name:
                return listener
        raise ValueError(f"node {self.node_id} has listeners {[l.name for l in self.listeners]}, not {name!r}")

    def has(self, name: str) -> bool:
        return any(listener.name == name for listener in self.listeners)

    @property
    def broker_port(self) -> int:
        """The port clients bootstrap through (the first non-controller listener)."""
        return next(l.advertised for l in self.listeners if l.name not in (CONTROLLER, PROXIED))

    @property
    def controller_port(self) -> int:
        return self.listener(CONTROLLER).port

    @property
    def proxy_port(self) -> int | None:
        """Where a fault proxy listens for this node (the PROXIED listener's advertised port); None without one."""
        return self.listener(PROXIED).advertised if self.has(PROXIED) else None

    @property
    def proxy_target_port(self) -> int | None:
        """The port the PROXIED listener binds (the proxy forwards there); None without one."""
        return self.listener(PROXIED).port if self.has(PROXIED) else None

    @property
    def ports(self) -> dict[int, str]:
        """Every port the node's process binds, with what it is for (for clear 'port in use' errors)."""
        return {l.port: f"{l.name.lower()} listener of broker {self.node_id}" for l in self.listeners}

    def shifted(self, offset: int) -> Node:
        return dataclasses.replace(self, listeners=tuple(l.shifted(offset) for l in self.listeners),
                                   jmx_port=self.jmx_port + offset)


@dataclass(frozen=True)
class Principal:
    """Someone who connects to a profile: through which listener, with which credentials.

    `mechanism` is ``"SCRAM-SHA-512"`` (username + `password`, created at format time) or ``"mTLS"`` (a client
    certificate signed by the course CA, its CN the user name). A PLAINTEXT profile has one principal,
    ``"anonymous"``, with no credentials."""

    name: str
    listener: str
    mechanism: str | None = None
    password: str | None = None


@dataclass(frozen=True)
class Profile:
    """A named local cluster, described by data; see the module docstring for the four profiles."""

    name: str
    description: str
    nodes: tuple[Node, ...]
    broker_settings: Mapping[str, str] = field(default_factory=dict)
    inter_broker_listener: str = "PLAINTEXT"
    principals: tuple[Principal, ...] = (Principal("anonymous", "PLAINTEXT"),)
    default_principal: str = "anonymous"
    services: tuple[str, ...] = ()  # started with the brokers by `up` (names in stack.services.SERVICES)
    offset: int = 0

    # -- sizes -----------------------------------------------------------------------------------------------
    @property
    def replication_factor(self) -> int:
        return len(self.nodes)

    @property
    def min_isr(self) -> int:
        return 2 if len(self.nodes) >= 3 else 1

    @property
    def secured(self) -> bool:
        return any(p.mechanism for p in self.principals)

    # -- addresses -------------------------------------------------------------------------------------------
    def principal(self, name: str | None = None) -> Principal:
        name = name or self.default_principal
        for principal in self.principals:
            if principal.name == name:
                return principal
        raise ValueError(f"the {self.name} profile knows the principals "
                         f"{[p.name for p in self.principals]}, not {name!r}")

    def bootstrap(self, listener: str | None = None) -> str:
        """bootstrap.servers through one listener (by default the default principal's)."""
        name = listener or self.principal().listener
        return ",".join(f"localhost:{node.listener(name).advertised}" for node in self.nodes)

    @property
    def bootstrap_servers(self) -> str:
        return self.bootstrap()

    @property
    def proxied_bootstrap_servers(self) -> str:
        if not all(node.has(PROXIED) for node in self.nodes):
            raise ValueError(f"the {self.name} profile has no PROXIED listeners (fault injection runs on single, "
                             "cluster and dr)")
        return self.bootstrap(PROXIED)

    def client_settings(self, principal: str | None = None, certificates: Path | None = None) -> dict[str, str]:
        """The librdkafka settings (dotted names) a client of `principal` needs, bootstrap.servers included.

        `certificates` is the folder of the course CA and client certificates (stack.certificates), needed for
        SSL listeners."""
        who = self.principal(principal)
        listener = self.nodes[0].listener(who.listener)
        settings = {"bootstrap.servers": self.bootstrap(who.listener)}
        if listener.protocol != "PLAINTEXT":
            settings["security.protocol"] = listener.protocol
        if "SSL" in listener.protocol:
            if certificates is None:
                raise ValueError(f"the {listener.name} listener uses TLS: pass the certificates folder")
            settings["ssl.ca.location"] = str(certificates / "ca.pem")
        if who.mechanism and who.mechanism.startswith("SCRAM"):
            settings.update({"sasl.mechanism": who.mechanism, "sasl.username": who.name,
                             "sasl.password": who.password or ""})
        elif who.mechanism == "mTLS":
            settings.update({"ssl.certificate.location": str(certificates / f"{who.name}.pem"),
                             "ssl.key.location": str(certificates / f"{who.name}-key.pem")})
        return settings

    # -- ports -----------------------------------------------------------------------------------------------
    def shifted(self, offset: int) -> Profile:
        """The same profile with every port moved by `offset`."""
        if offset == 0:
            return self
        return dataclasses.replace(self, nodes=tuple(n.shifted(offset) for n in self.nodes), offset=self.offset + offset)


def plaintext_node(node_id: int, base: int) -> Node:
    """A node of a PLAINTEXT profile: clients on `base`, controller `base+1`, PROXIED advertised at `base+2`
    (a fault proxy listens there) and bound at `base+3`, JMX exporter `base+4`."""
    advertised, bound = proxy_ports(base)
    return Node(node_id, (
        Listener("PLAINTEXT", "PLAINTEXT", base),
        Listener(CONTROLLER, "PLAINTEXT", base + 1),
        Listener(PROXIED, "PLAINTEXT", bound, advertised_port=advertised),
    ), jmx_port=base + JMX_STEP)


SCRAM = "SCRAM-SHA-512"
# Course credentials: demo values for a cluster on loopback, never for anything real.
SECURE_PRINCIPALS = (
    Principal("admin", "SASL_SSL", SCRAM, "admin-secret"),      # super user: creates topics and ACLs
    Principal("alice", "SASL_SSL", SCRAM, "alice-secret"),      # gets ACLs in the lessons
    Principal("bob", "SASL_SSL", SCRAM, "bob-secret"),          # has no ACL: refused until granted one
    Principal("carol", "SSL", "mTLS"),                          # a client certificate (CN=carol) instead of a password
)

SECURE_SETTINGS = {
    "sasl.enabled.mechanisms": SCRAM,
    "listener.name.sasl_ssl.sasl.enabled.mechanisms": SCRAM,
    f"listener.name.sasl_ssl.{SCRAM.lower()}.sasl.jaas.config":
        "org.apache.kafka.common.security.scram.ScramLoginModule required;",
    "authorizer.class.name": "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
    # admin: the course's operator. broker: the node itself (its certificate, CN=broker), over the SSL
    # inter-broker listener and the controller listener, which is SSL with client certificates required (SCRAM
    # is not supported there): a client without the broker's certificate cannot reach the controller at all.
    "super.users": "User:admin;User:broker",
    "allow.everyone.if.no.acl.found": "false",
    # A certificate's principal is its CN (User:carol), not the whole distinguished name.
    "ssl.principal.mapping.rules": "RULE:^CN=([^,]+).*$/$1/,DEFAULT",
}

_PROFILES = {
    "single": Profile("single", "one combined broker+controller", (plaintext_node(1, 9092),),
                      services=("registry",)),
    "cluster": Profile("cluster", "three combined nodes, RF 3, min.insync.replicas=2",
                       tuple(plaintext_node(i, base) for i, base in ((1, 9192), (2, 9292), (3, 9392))),
                       services=("registry",)),
    "secure": Profile(
        "secure", "SASL_SSL (SCRAM-SHA-512) on 9592, SSL with client certificates on 9594, ACLs",
        (Node(1, (Listener("SASL_SSL", "SASL_SSL", 9592),
                  Listener(CONTROLLER, "SSL", 9593, client_auth="required"),
                  Listener("SSL", "SSL", 9594, client_auth="required")), jmx_port=9596),),
        broker_settings=MappingProxyType(SECURE_SETTINGS), inter_broker_listener="SSL",
        principals=SECURE_PRINCIPALS, default_principal="admin"),
    "dr": Profile("dr", "a second, independent single node (the MirrorMaker 2 target)", (plaintext_node(1, 9692),)),
}
NAMES = tuple(_PROFILES)
DEFAULT = "single"


def port_offset() -> int:
    """The port offset from $KAFKA_COURSE_PORT_OFFSET (0 when unset)."""
    raw = os.environ.get(PORT_OFFSET_ENV, "").strip()
    try:
        return int(raw) if raw else 0
    except ValueError:
        raise ValueError(f"{PORT_OFFSET_ENV} must be an integer number of ports, not {raw!r}") from None


def get(name: str = DEFAULT, offset: int | None = None) -> Profile:
    """The profile `name`, its ports moved by `offset` (default: $KAFKA_COURSE_PORT_OFFSET)."""
    if name not in _PROFILES:
        raise ValueError(f"no stack profile {name!r}; the profiles are {', '.join(NAMES)}")
    return _PROFILES[name].shifted(port_offset() if offset is None else offset)


def for_brokers(brokers: int) -> str:
    """The profile name for a broker count (1 → single, 3 → cluster): the `--brokers 3` shorthand."""
    if brokers == 1:
        return "single"
    if brokers == 3:
        return "cluster"
    raise ValueError(f"the local stack runs 1 or 3 brokers (profiles single and cluster), not {brokers}")


def all_profiles(offset: int | None = None) -> list[Profile]:
    return [get(name, offset) for name in NAMES]


# Whole thousands: the stacks of two such offsets never share a port (profiles span 9092–9696, services
# 8081–9090 and 55432), and every shifted port stays within 1024–65535.
SCRATCH_OFFSETS = tuple(range(1000, 10001, 1000)) + tuple(range(-1000, -7001, -1000))


def free_offset(extra_ports: tuple[int, ...] = (8081, 8083, 8085, 9090, 55432),
                candidates: tuple[int, ...] = SCRATCH_OFFSETS) -> int:
    """A port offset at which every profile's ports (and the services' `extra_ports`) are free right now, picked
    at random among the candidates (test runs in parallel rarely pick the same one): for scratch stacks in tests
    and benchmarks, beside the course's own. ValueError when none is free."""
    import random

    from .processes import port_is_free

    for offset in random.sample(candidates, len(candidates)):
        ports = [port + offset for port in extra_ports]
        ports += [port for profile in all_profiles(offset) for node in profile.nodes
                  for port in [*node.ports, node.jmx_port]]
        if all(0 < port < 65536 and port_is_free(port) for port in ports):
            return offset
    raise ValueError(f"no free port offset among {candidates}: stop the scratch stacks that hold them")
