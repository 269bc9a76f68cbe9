"""The Docker-free stack: a profile's Kafka nodes (KRaft) and the services that come with it, as OS
processes on this machine. Profiles are data (stack/profiles.py), services one module each (stack/services/).

>>> stack = LocalStack(profile="cluster")     # or LocalStack(brokers=3)
>>> stack.up()                                # idempotent; waits until every broker answers metadata requests
>>> stack.kill_broker(2)                      # SIGKILL one node, for chaos lessons
>>> stack.start_broker(2)
>>> stack.down()                              # stops the processes; data stays until reset()

Nothing here deletes data except :meth:`LocalStack.reset` (and a service's own ``reset``).
"""

from __future__ import annotations

import os
import shutil
import signal
import time
from concurrent.futures import ThreadPoolExecutor
from collections.abc import Iterable
from pathlib import Path

from . import certificates, processes, profiles, runtime
from .errors import StackError
from .processes import SILENT, ManagedProcess  # noqa: F401 - SILENT is imported from here by older code
from .profiles import Node, Profile
from .services import SERVICES, BrokerNode, Context, Finding, SchemaRegistry, Service, StatusRow, quiet, service
from .services.base import Progress
from .services.broker import brokers_answering, certificates_dir, cluster_id, stack_root

ProcessStatus = StatusRow  # the name older notebooks know


class LocalStack:
    """One profile of the local stack: its broker nodes and its services (the registry for single and cluster),
    plus any named in `with_services` (``("connect", "postgres")``).

    `brokers=3` is the shorthand for ``profile="cluster"``; ports follow $KAFKA_COURSE_PORT_OFFSET."""

    def __init__(self, brokers: int | None = None, *, profile: str | Profile | None = None,
                 with_services: Iterable[str] = ()) -> None:
        if isinstance(profile, Profile):
            self.profile = profile
        else:
            self.profile = profiles.get(profile or (profiles.for_brokers(brokers) if brokers else profiles.DEFAULT))
        self.name = self.profile.name
        self.context = Context(runtime.home(), self.profile)
        self.root: Path = stack_root(self.context)
        self.brokers = [BrokerNode(self.context, node) for node in self.profile.nodes]
        names = list(dict.fromkeys([*self.profile.services, *with_services]))
        self.extras: list[Service] = [service(name, self.context) for name in names]

    # -- addresses -------------------------------------------------------------------------------------------
    @property
    def nodes(self) -> tuple[Node, ...]:
        return self.profile.nodes

    @property
    def bootstrap_servers(self) -> str:
        return self.profile.bootstrap_servers

    @property
    def proxied_bootstrap_servers(self) -> str:
        """Bootstrap through the PROXIED listeners: only reachable while a fault proxy runs on each proxy_port."""
        return self.profile.proxied_bootstrap_servers

    @property
    def registry(self) -> SchemaRegistry:
        """The course's schema registry (shared by the profiles; started with single and cluster)."""
        for extra in self.extras:
            if isinstance(extra, SchemaRegistry):
                return extra
        return SchemaRegistry(self.context)

    @property
    def schema_registry_url(self) -> str:
        return self.registry.url

    @property
    def certificates(self) -> Path | None:
        """The folder of the course CA and client certificates (secured profiles only)."""
        return certificates_dir(self.context) if self.profile.secured else None

    def client_settings(self, principal: str | None = None) -> dict[str, str]:
        """librdkafka settings for `principal` (default: the profile's), bootstrap.servers included."""
        return self.profile.client_settings(principal, self.certificates)

    def tool_config(self, principal: str | None = None) -> Path:
        """A properties file for the Java tools (``kafka-acls.sh --command-config FILE``) connecting as
        `principal`, written next to the certificates; the same settings as the Python clients get.

        >>> !kafka-acls.sh --bootstrap-server {cluster.bootstrap_servers} --command-config {stack.tool_config()} --list
        """
        who = self.profile.principal(principal)
        settings = self.client_settings(who.name)
        from ..connection import java_client_properties

        lines = java_client_properties(settings)
        if "ssl.certificate.location" in settings:
            certificates.ensure(self.certificates, clients=[who.name])
            lines += ["ssl.keystore.type=PEM", f"ssl.keystore.location={self.certificates / f'{who.name}-keystore.pem'}"]
        folder = self.certificates or self.root
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{who.name}-tools.properties"
        path.write_text("# Written by kafkacourse (LocalStack.tool_config) for the Java tools.\n" + "\n".join(lines) + "\n")
        return path

    def services(self) -> list[Service]:
        """The brokers, then the other services, in start order."""
        return [*self.brokers, *self.extras]

    def broker(self, node_id: int) -> BrokerNode:
        for broker in self.brokers:
            if broker.node.node_id == node_id:
                return broker
        raise ValueError(f"the {self.name} stack has nodes {[n.node_id for n in self.nodes]}, not {node_id}")

    def node(self, node_id: int) -> Node:
        return self.broker(node_id).node

    def process(self, node_id: int) -> ManagedProcess:
        return self.broker(node_id).process

    # -- lifecycle -------------------------------------------------------------------------------------------
    def up(self, progress: Progress = print, registry: bool = True, timeout: float = 90.0) -> None:
        """Start whatever is not running yet and wait until the brokers (and the services) answer."""
        started = time.monotonic()
        runtime.resolve_jars(progress)
        extras = [s for s in self.extras if registry or not isinstance(s, SchemaRegistry)]
        # Every start formats storage on a first run (a JVM each): side by side, a cold 3-node start saves ~6 s.
        for root in {broker.root for broker in self.brokers}:
            cluster_id(root)    # created once, before the nodes read it side by side
        with ThreadPoolExecutor(max_workers=4) as pool:
            for future in [pool.submit(svc.start, progress)
                           for svc in [*self.brokers, *(s for s in extras if not s.needs_brokers)]]:
                future.result()
        for broker in self.brokers:
            broker.wait_ready(timeout)
        for svc in (s for s in extras if s.needs_brokers):
            svc.start(progress)
        for svc in extras:
            svc.wait_ready(timeout)
        count = len(self.nodes)
        progress(f"Kafka {runtime.versions().kafka} ({self.name}, {count} broker{'s' if count > 1 else ''}) ready at "
                 f"{self.bootstrap_servers}" + "".join(f", {s.name}" for s in extras)
                 + f" in {time.monotonic() - started:.1f} s.")

    def down(self, registry: bool = True, progress: Progress = print) -> None:
        """Stop the services (last started first), then the brokers (all at once, SIGTERM then SIGKILL).
        Data stays."""
        for svc in reversed(self.extras):
            if registry or not isinstance(svc, SchemaRegistry):
                svc.stop(progress)
        stop_brokers(self.brokers, progress)

    def reset(self, progress: Progress = print, services: bool = False) -> None:
        """Stop the brokers and delete this profile's data (topics, offsets, cluster id, certificates);
        with `services`, also reset each of its services (the registry's schemas …). The only call that deletes."""
        stop_brokers(self.brokers, progress)
        if services:
            for svc in reversed(self.extras):
                svc.reset(progress)
        shutil.rmtree(self.root, ignore_errors=True)
        progress(f"Deleted all data of the {self.name} stack ({self.root}).")

    def kill_broker(self, node_id: int, sig: int = signal.SIGKILL) -> None:
        """Kill one broker process (SIGKILL by default: no controlled shutdown, as in a crash)."""
        if not self.broker(node_id).stop(sig=sig, timeout=30):
            raise StackError(f"broker {node_id} of the {self.name} stack is not running")

    def start_broker(self, node_id: int, wait: bool = True, progress: Progress = print) -> None:
        """Start one broker again (after kill_broker) and, by default, wait until the stack answers."""
        self.broker(node_id).start(progress)
        if wait:
            self.wait_ready()

    def running(self) -> bool:
        return all(broker.running() for broker in self.brokers)

    def status(self) -> list[StatusRow]:
        """One row per broker node (``[*stack.status(), *stack.registry.status()]`` adds the registry)."""
        return [row for broker in self.brokers for row in broker.status()]

    def logs(self, node_id: int | None = None, lines: int = 50) -> str:
        chosen = [self.broker(node_id)] if node_id is not None else self.brokers
        return "\n".join(broker.logs(lines) for broker in chosen)

    def doctor(self) -> list[Finding]:
        """One finding for the profile's brokers, then each service's own."""
        return [stack_finding(self), *(f for svc in self.extras for f in svc.doctor())]

    # -- readiness -------------------------------------------------------------------------------------------
    def brokers_answering(self) -> set[int]:
        """Ids of the brokers that the cluster's metadata lists right now."""
        return brokers_answering(self.profile, self.certificates)

    def wait_ready(self, timeout: float = 90.0) -> None:
        """Wait until every broker process that runs is listed in the cluster's metadata."""
        expected = [b for b in self.brokers if b.running()]
        ids = {b.node.node_id for b in expected}
        processes.wait_until(lambda: ids <= self.brokers_answering(), *(b.process for b in expected),
                             what=f"brokers {sorted(ids)} of the {self.name} stack", timeout=timeout)


def stop_brokers(brokers: list[BrokerNode], progress: Progress = quiet) -> None:
    """SIGTERM every running broker at once (a controlled shutdown each), SIGKILL what is left after 20 s."""
    pids = [pid for pid in (b.process.pid() for b in brokers) if pid]
    for pid in pids:
        try:
            os.killpg(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    for pid in pids:
        processes.stop(pid, timeout=20)
    if pids:
        progress(f"Stopped {len(pids)} broker{'s' if len(pids) > 1 else ''} of the {brokers[0].profile.name} stack.")


def stack_finding(stack: LocalStack) -> Finding:
    """The doctor's line for a profile's brokers: answering, not running with ports free, or ports busy."""
    nodes = len(stack.nodes)
    up_command = "kafkacourse up" + ("" if stack.name == profiles.DEFAULT else f" --profile {stack.name}")
    if any(b.running() for b in stack.brokers):
        answering = stack.brokers_answering()
        ok = len(answering) == nodes
        return Finding(f"{stack.name} stack", ok, f"brokers answering: {sorted(answering)} of {nodes}",
                       "" if ok else f"see `kafkacourse logs --profile {stack.name}`; restart with `{up_command}`")
    busy = {port: processes.port_owner(port) or "unknown process"
            for b in stack.brokers for port in b.ports() if not processes.port_is_free(port)}
    detail = "not running" + (f"; ports busy: {busy}" if busy else ", ports free")
    fix = f"free the ports: stop {', '.join(sorted(set(busy.values())))}" if busy else ""
    return Finding(f"{stack.name} stack", not busy, detail, fix)


def all_stacks() -> list[LocalStack]:
    """Every profile's stack, each with every known service (for status, down and the doctor)."""
    return [LocalStack(profile=p) for p in profiles.NAMES]


def all_services() -> list[Service]:
    """Every service the stack knows that is not a broker, in start order (one instance each)."""
    context = Context(runtime.home(), profiles.get(profiles.DEFAULT))
    return [service(name, context) for name in SERVICES]


def running_stacks() -> list[LocalStack]:
    """The local profiles with at least one broker process alive."""
    return [stack for stack in all_stacks() if any(b.running() for b in stack.brokers)]


def running_services() -> list[Service]:
    """The services (brokers of every profile included) whose process runs now."""
    brokers = [b for stack in all_stacks() for b in stack.brokers]
    return [svc for svc in [*brokers, *all_services()] if svc.running()]


def down_everything(progress: Progress = print) -> int:
    """Stop every service of every profile (services first, then brokers). Returns how many were running."""
    stopped = 0
    for svc in reversed(all_services()):
        stopped += bool(svc.stop(progress))
    for stack in all_stacks():
        running = [b for b in stack.brokers if b.running()]
        stop_brokers(running, progress)
        stopped += len(running)
    return stopped
