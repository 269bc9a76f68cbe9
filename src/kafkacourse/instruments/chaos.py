"""Chaos experiments as code: a steady-state hypothesis written as asserts, a fault, the observation, a verdict.

An :class:`Experiment` runs its steady-state probe (a function of asserts) before the fault, injects the fault,
heals it in ``finally`` — always —, runs the probe again once healed, and keeps every check as a row; its
:meth:`~Experiment.verdict` says whether the hypothesis held. :func:`table` puts several experiments side by
side, :func:`kafkacourse.plots.chaos.plot_timeline` draws their fault windows and checks on one time axis.

>>> import kafkacourse as kc
>>> from kafkacourse.instruments import chaos
>>> cluster = kc.connect(brokers=3)
>>> experiment = chaos.Experiment("leader killed", "acks=all + idempotence: nothing lost, nothing doubled",
...                               steady_state=lambda: chaos.assert_healthy(cluster))
>>> with experiment.fault("SIGKILL broker 2", heal=lambda: cluster.start_broker(2)):
...     cluster.kill_broker(2)
...     experiment.check("partitions re-led", lambda: ...)      # an assert inside: passed or failed, never raised
>>> experiment.check("0 lost", lambda: chaos.expect(summary["lost"] == 0, f"lost {summary['lost']}"))
>>> experiment.verdict()        # 'held' or 'refuted: 0 lost'
>>> chaos.table([experiment])   # one row per experiment

The module also builds the scratch cluster of the network-split experiment (:func:`split_profile`,
:class:`NetworkSplit`): one node whose traffic with the other nodes runs through a fault proxy, while clients
reach every node directly.
"""

from __future__ import annotations

import contextlib
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import pandas as pd

from .faults import FaultProxy, Route

if TYPE_CHECKING:
    from ..cluster import Cluster
    from ..stack.profiles import Profile

CHECK_COLUMNS = ["experiment", "phase", "check", "passed", "observed", "t"]


class ClusterUnhealthy(AssertionError, TimeoutError):
    """The cluster did not become healthy in time (an AssertionError, so a steady-state probe records it)."""


class SteadyStateViolated(AssertionError):
    """The steady state did not hold before the fault: the experiment was not run (never break a sick system)."""


def expect(condition: bool, observed: Any) -> Any:
    """``assert condition, observed`` that also returns `observed`: a probe's one-liner.

    >>> experiment.check("0 lost", lambda: expect(lost == 0, f"{lost} lost"))
    """
    if not condition:
        raise AssertionError(observed)
    return observed


# -- experiments ---------------------------------------------------------------------------------------------
class Experiment:
    """One chaos experiment: `name`, the `hypothesis` in words, a `steady_state` probe (asserts; optional).

    * :meth:`check` runs a probe — a function that asserts and may return what it observed — and keeps a row
      (``passed`` and ``observed``: the return value, or the assertion's message). A probe's AssertionError is
      recorded, never raised; any other exception is raised (a broken probe is not a verdict).
    * :meth:`fault` (a context manager) checks the steady state first and raises :class:`SteadyStateViolated`
      without injecting anything when it does not hold; it marks the fault window, calls `heal` in ``finally``
      and checks the steady state again once healed.
    * :meth:`mark` notes an event on the timeline. Times are seconds since `t0` (``time.monotonic()``;
      share one `t0` between experiments to draw them on one axis).

    >>> e = Experiment("slow broker", "only the partitions it leads slow down", t0=t0)
    >>> e.check("ratio ≥ 3", lambda: expect(ratio >= 3, f"{ratio:.1f}×"))
    """

    def __init__(self, name: str, hypothesis: str, steady_state: Callable[[], Any] | None = None,
                 t0: float | None = None, verbose: bool = True) -> None:
        if not name:
            raise ValueError("an experiment needs a name")
        self.name, self.hypothesis, self.steady_state = name, hypothesis, steady_state
        self.t0 = time.monotonic() if t0 is None else t0
        self.checks: list[dict[str, Any]] = []
        self.marks: list[tuple[float, str]] = []
        self.windows: list[dict[str, Any]] = []
        self.phase = "before"
        self.verbose = verbose  # print each mark and check as it happens (a long cell's progress)

    def now(self) -> float:
        return time.monotonic() - self.t0

    def mark(self, label: str) -> None:
        """Note an event (a kill, a restart) at the current time."""
        self.marks.append((self.now(), label))
        if self.verbose:
            print(f"{self.now():6.1f} s  {label}")

    def check(self, what: str, probe: Callable[[], Any], phase: str | None = None) -> bool:
        """Run `probe` now; keep a row (phase, check, passed, observed, t); return whether it passed."""
        try:
            observed, passed = probe(), True
        except AssertionError as exc:
            observed, passed = (str(exc) or traceback.format_exception_only(exc)[-1].strip()), False
        self.checks.append({"experiment": self.name, "phase": phase or self.phase, "check": what,
                            "passed": passed, "observed": _short(observed), "t": self.now()})
        if self.verbose:
            print(f"{self.now():6.1f} s  {'✓' if passed else '✗'} {what}: {_short(observed, 100)}")
        return passed

    @contextlib.contextmanager
    def fault(self, description: str, heal: Callable[[], Any]) -> Iterator["Experiment"]:
        """Steady state checked → the fault's block runs (inject it there) → `heal()` always → steady state again.

        `heal` must undo the fault whatever happened in the block (restart what was killed, heal the proxy);
        an exception from the block is raised after healing. The steady state before the fault must hold, or
        :class:`SteadyStateViolated` is raised and neither the block nor `heal` runs."""
        self.phase = "before"
        if self.steady_state is not None and not self.check("steady state", self.steady_state):
            raise SteadyStateViolated(f"{self.name}: the steady state does not hold before the fault "
                                      f"({self.checks[-1]['observed']}); nothing injected")
        window = {"experiment": self.name, "fault": description, "start": self.now(), "end": None,
                  "healed": None}
        self.windows.append(window)
        self.phase = "during"
        if self.verbose:
            print(f"{self.now():6.1f} s  fault: {description}")
        try:
            yield self
        finally:
            window["end"] = self.now()
            self.phase = "after"
            if self.verbose:
                print(f"{self.now():6.1f} s  healing")
            heal()
            window["healed"] = self.now()
            if self.steady_state is not None:
                self.check("steady state again", self.steady_state)

    def frame(self) -> pd.DataFrame:
        """Every check: experiment, phase (before/during/after), check, passed, observed, t (s)."""
        return pd.DataFrame(self.checks, columns=CHECK_COLUMNS)

    @property
    def held(self) -> bool:
        return bool(self.checks) and all(c["passed"] for c in self.checks)

    def verdict(self) -> str:
        """``"held"`` when every check passed, else ``"refuted: <failed checks>"`` (``"not run"`` without checks)."""
        if not self.checks:
            return "not run"
        failed = [c["check"] for c in self.checks if not c["passed"]]
        return "held" if not failed else "refuted: " + ", ".join(failed)

    def __repr__(self) -> str:
        return f"<Experiment {self.name!r}: {self.verdict()}>"


def table(experiments: list[Experiment]) -> pd.DataFrame:
    """One row per experiment: experiment, hypothesis, fault, fault_s (how long it was on), heal_s (how long
    healing took until the cluster answered), checks (passed/total), verdict."""
    rows = []
    for e in experiments:
        faults = "; ".join(w["fault"] for w in e.windows)
        on = sum((w["end"] or e.now()) - w["start"] for w in e.windows)
        healing = sum((w["healed"] or w["end"] or e.now()) - (w["end"] or e.now()) for w in e.windows)
        passed = sum(c["passed"] for c in e.checks)
        rows.append({"experiment": e.name, "hypothesis": e.hypothesis, "fault": faults,
                     "fault_s": round(on, 1), "heal_s": round(healing, 1),
                     "checks": f"{passed}/{len(e.checks)}", "verdict": e.verdict()})
    return pd.DataFrame(rows, columns=["experiment", "hypothesis", "fault", "fault_s", "heal_s", "checks",
                                       "verdict"]).set_index("experiment")


def checks(experiments: list[Experiment]) -> pd.DataFrame:
    """Every check of every experiment, in order."""
    frames = [e.frame() for e in experiments if e.checks]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=CHECK_COLUMNS)


# -- cluster health ------------------------------------------------------------------------------------------
def health(cluster: "Cluster", topics: list[str] | None = None) -> dict[str, Any]:
    """The cluster's health now, from metadata: live brokers, and over `topics` (default: every topic,
    internal ones included) the partitions without a leader (offline) and those whose ISR is smaller than
    their replica set (under-replicated).

    >>> health(cluster)   # {'brokers': [1, 2, 3], 'partitions': 150, 'offline': 0, 'under_replicated': 0, ...}
    """
    metadata = cluster.admin().list_topics(timeout=10)
    names = list(metadata.topics) if topics is None else topics
    offline, under, missing = [], [], []
    total = 0
    for name in names:
        topic = metadata.topics.get(name)
        if topic is None or topic.error is not None:
            missing.append(name)   # a broker that has not learnt of a new topic yet, or no such topic
            continue
        for p in topic.partitions.values():
            total += 1
            if p.leader < 0:
                offline.append(f"{name}[{p.id}]")
            elif len(p.isrs) < len(p.replicas):
                under.append(f"{name}[{p.id}]")
    return {"brokers": sorted(metadata.brokers), "partitions": total, "offline": len(offline),
            "under_replicated": len(under), "missing": len(missing) if topics is not None else 0,
            "examples": (missing + offline + under)[:5]}


def assert_healthy(cluster: "Cluster", topics: list[str] | None = None, brokers: int | None = None) -> str:
    """Assert every broker is up (`brokers`, default the cluster's expected count), no partition offline, every
    ISR full; returns a one-line description. The steady state every experiment here starts and ends in."""
    expected = cluster.expected_brokers if brokers is None else brokers
    now = health(cluster, topics)
    assert len(now["brokers"]) == expected, f"brokers up {now['brokers']}, expected {expected}"
    assert now["missing"] == 0, f"topics not in the metadata: {now['examples']}"
    assert now["offline"] == 0, f"{now['offline']} partitions without a leader, e.g. {now['examples']}"
    assert now["under_replicated"] == 0, (f"{now['under_replicated']} of {now['partitions']} partitions "
                                          f"under-replicated, e.g. {now['examples']}")
    return f"{len(now['brokers'])} brokers, {now['partitions']} partitions, all ISRs full"


def wait_healthy(cluster: "Cluster", topics: list[str] | None = None, timeout: float = 120.0,
                 interval: float = 0.5) -> str:
    """Poll :func:`assert_healthy` until it holds (another lesson may have a broker down for a moment), return
    its description; :class:`ClusterUnhealthy` (an AssertionError and a TimeoutError) with the last finding
    after `timeout` s."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return assert_healthy(cluster, topics)
        except AssertionError as exc:
            if time.monotonic() > deadline:
                raise ClusterUnhealthy(f"not healthy after {timeout:.0f} s: {exc}") from None
        except Exception as exc:  # noqa: BLE001 - a metadata request that hit a broker going down: ask again
            if time.monotonic() > deadline:
                raise ClusterUnhealthy(f"not healthy after {timeout:.0f} s: {exc}") from exc
        time.sleep(interval)


def create_topic_with_leaders(cluster: "Cluster", name: str, leaders: list[int],
                              config: dict[str, str] | None = None, timeout: float = 30.0) -> str:
    """Create `name` with one partition per entry of `leaders`, each replicated on every broker with that
    broker first (its preferred leader), and wait until each partition is led by it.

    >>> create_topic_with_leaders(cluster, kc.unique_name("slow"), leaders=[1, 2, 3])   # p0 on 1, p1 on 2, …
    """
    from confluent_kafka.admin import NewTopic

    from .replication import wait_for

    brokers = sorted(int(b) for b in cluster.brokers().broker)
    unknown = sorted(set(leaders) - set(brokers))
    if not leaders or unknown:
        raise ValueError(f"leaders must be live brokers {brokers}; got {leaders}")
    assignment = [[leader, *(b for b in brokers if b != leader)] for leader in leaders]
    topic = NewTopic(name, num_partitions=len(leaders), replica_assignment=assignment, config=config or {})
    cluster.admin().create_topics([topic], request_timeout=timeout)[name].result()
    wait_for(cluster, name, lambda d: len(d) == len(leaders) and d.leader.tolist() == list(leaders),
             f"leaders {leaders}", timeout)
    return name


# -- a network split on a scratch cluster --------------------------------------------------------------------
# Per node of base port B (the cluster profile's pattern B..B+4, and these):
REPLICATION_STEP = 5    # REPLICATION listener (binds B+5): what the majority nodes fetch from each other over
REPLICATION_PROXY = 6   # the isolated node's REPLICATION listener advertised here: a proxy forwards to B+5
ISOLATED_STEP = 7       # ISOLATED listener (binds B+7): what the isolated node fetches from the others over
ISOLATED_PROXY = 8      # the majority nodes' ISOLATED listeners advertised here: a proxy forwards to B+7
CONTROLLER_PROXY = 9    # the controller listener the other side uses, advertised here: a proxy forwards to B+12/B+13
ZONE_B_PROXY = 10       # ZONE_B listener advertised here (a proxy listens only for the isolated node) …
ZONE_B_STEP = 11        # … and bound here: clients of the isolated node's side reach it, and nothing else
QUORUM_STEP = 12        # QUORUM controller listener (binds B+12): the majority nodes' first controller listener
QUORUM_ISOLATED_STEP = 13  # QUORUM_ISOLATED controller listener (binds B+13): the isolated node's first one
SPLIT_SETTINGS = {
    # Fast failure detection, so the lesson sees fencing and ISR shrink in seconds rather than half a minute.
    "broker.heartbeat.interval.ms": "500",
    "broker.session.timeout.ms": "3000",
    "replica.lag.time.max.ms": "3000",
    "replica.socket.timeout.ms": "3000",
    "replica.fetch.backoff.ms": "200",
    "controller.quorum.fetch.timeout.ms": "2000",
    "controller.quorum.election.timeout.ms": "1000",
    "controller.quorum.request.timeout.ms": "2000",
    "leader.imbalance.check.interval.seconds": "5",
    # Three JVMs formatting and starting at once on a loaded 2-core machine can take minutes (default 60 s).
    "initial.broker.registration.timeout.ms": "300000",
}


def split_profile(offset: int, isolated: int = 3, name: str = "chaos-split") -> "Profile":
    """The cluster profile at `offset`, rewired so that every byte between node `isolated` and the others —
    replication fetches both ways, KRaft votes and fetches, broker heartbeats — crosses a proxy port, while
    clients reach every node on its own port as usual. :class:`NetworkSplit` owns those proxies.

    How: the majority nodes replicate over a REPLICATION listener, the isolated node over an ISOLATED one
    (``inter.broker.listener.name`` may differ per broker: a follower fetches from the leader's endpoint of
    its own inter-broker listener); the endpoints that cross the split are advertised at proxy ports; and each
    side lists the other side's controllers at proxy ports in its own ``controller.quorum.voters``. KRaft has
    the same rule as replication: once a follower knows the quorum leader, it fetches from the endpoint the
    leader advertises for the follower's *own* first controller listener (KIP-853), not from the voters list.
    So the majority nodes put a QUORUM listener first, the isolated node a QUORUM_ISOLATED one, and each
    side's listener of that name is advertised, on the far side's nodes, at a proxy port.
    Failure detection is tuned fast (:data:`SPLIT_SETTINGS`).
    """
    from ..stack import profiles
    from ..stack.profiles import CONTROLLER, Listener

    base = profiles.get("cluster", offset=offset)
    if isolated not in [n.node_id for n in base.nodes]:
        raise ValueError(f"node {isolated} is not a node of the cluster profile {[n.node_id for n in base.nodes]}")
    nodes = []
    for node in base.nodes:
        b = node.broker_port
        cut_off = node.node_id == isolated
        listeners = (*node.listeners,
                     Listener("REPLICATION", "PLAINTEXT", b + REPLICATION_STEP,
                              advertised_port=b + REPLICATION_PROXY if cut_off else None),
                     Listener("ISOLATED", "PLAINTEXT", b + ISOLATED_STEP,
                              advertised_port=None if cut_off else b + ISOLATED_PROXY),
                     Listener("ZONE_B", "PLAINTEXT", b + ZONE_B_STEP, advertised_port=b + ZONE_B_PROXY),
                     Listener("QUORUM", "PLAINTEXT", b + QUORUM_STEP,
                              advertised_port=b + CONTROLLER_PROXY if cut_off else None),
                     Listener("QUORUM_ISOLATED", "PLAINTEXT", b + QUORUM_ISOLATED_STEP,
                              advertised_port=None if cut_off else b + CONTROLLER_PROXY))
        nodes.append(replace(node, listeners=listeners))
    for i, node in enumerate(nodes):
        cut_off = node.node_id == isolated
        own_side = "QUORUM_ISOLATED" if cut_off else "QUORUM"
        # Every voter where this node's side reaches it: the voter's listener of this side's name, as advertised
        # (directly on the same side, at a proxy port across the split).
        voters = ",".join(f"{n.node_id}@localhost:{n.listener(own_side).advertised}" for n in nodes)
        nodes[i] = replace(node, settings={
            "inter.broker.listener.name": "ISOLATED" if cut_off else "REPLICATION",
            "controller.quorum.voters": voters,
            "controller.listener.names": ",".join(dict.fromkeys([own_side, "QUORUM", "QUORUM_ISOLATED", CONTROLLER]))})
    assert all(n.listener(CONTROLLER) for n in nodes)
    return replace(base, name=name, description=f"three nodes; node {isolated} can be cut off from the others",
                   nodes=tuple(nodes), broker_settings={**base.broker_settings, **SPLIT_SETTINGS}, services=())


SPLIT_LISTENERS = ("REPLICATION", "ISOLATED", "QUORUM", "QUORUM_ISOLATED")  # what a split cuts (ZONE_B: zones())


def split_routes(profile: "Profile") -> list[Route]:
    """The proxy routes of a :func:`split_profile`: every connection between the isolated node and the others,
    one per listener that crosses the split (advertised at a proxy port, bound at another)."""
    return [Route(listener.advertised, listener.port) for node in profile.nodes for listener in node.listeners
            if listener.name in SPLIT_LISTENERS and listener.advertised != listener.port]


def free_split_offset() -> int:
    """A port offset at which a :func:`split_profile` (with its extra listener and proxy ports) is free."""
    from ..stack import profiles
    from ..stack.processes import port_is_free

    for _ in range(20):
        offset = profiles.free_offset()
        extra = [n.broker_port + step for n in profiles.get("cluster", offset=offset).nodes
                 for step in (REPLICATION_STEP, REPLICATION_PROXY, ISOLATED_STEP, ISOLATED_PROXY, CONTROLLER_PROXY,
                              ZONE_B_PROXY, ZONE_B_STEP, QUORUM_STEP, QUORUM_ISOLATED_STEP)]
        if all(port_is_free(p) for p in extra):
            return offset
    raise ValueError("no free port offset for the network-split cluster")


@dataclass
class NetworkSplit:
    """A scratch 3-node cluster (:func:`split_profile`) and the proxy between node `isolated` and the others.

    :meth:`start` starts the nodes and the proxy, :meth:`split` cuts every connection across the split and
    refuses new ones (as an ``iptables -j REJECT --reject-with tcp-reset`` would), :meth:`heal` forwards again,
    :meth:`stop` stops both. Clients reach every node directly throughout (``cluster.bootstrap_servers``).

    >>> with NetworkSplit(offset=chaos.free_split_offset()) as net:
    ...     net.split(); ...; net.heal()
    """

    offset: int
    isolated: int = 3
    name: str = "chaos-split"
    profile: Any = field(init=False)
    proxy: FaultProxy = field(init=False)
    cluster: Any = field(init=False, default=None)

    def __post_init__(self) -> None:
        self.profile = split_profile(self.offset, self.isolated, self.name)
        self.proxy = FaultProxy(split_routes(self.profile))

    def start(self, progress: Callable[[str], Any] = print, timeout: float = 300.0) -> "Cluster":
        """Start the proxy (forwarding) and the three nodes, from empty data dirs (a run that died half-way
        may have left nodes running, on other ports: they are stopped first); wait until all answer; return
        their Cluster."""
        from ..cluster import Cluster
        from ..stack.local import LocalStack

        stack = LocalStack(profile=self.profile)
        stack.reset(progress=lambda _msg: None)
        self.proxy.start()
        stack.up(progress=progress, registry=False, timeout=timeout)
        self.cluster = Cluster(stack.bootstrap_servers, "", expected_brokers=3, stack=stack)
        return self.cluster

    def zones(self) -> dict[str, dict[str, Any]]:
        """Two client zones, one on each side of the split: zone ``"A"`` with the majority nodes, zone ``"B"``
        with the isolated one. Each zone reaches every node through proxies of its own — zone A through the
        nodes' PROXIED listeners, zone B through their ZONE_B listeners (a client is told the other brokers'
        endpoints on the listener it connected to) — and :meth:`split` (given the zones) cuts each zone's
        path to the other side too. Per zone: ``near`` and ``far`` (proxies, to start) and ``bootstrap``.

        >>> zones = net.zones(); [p.start() for z in zones.values() for p in (z["near"], z["far"])]
        """
        def route(node: Any, listener: str) -> Route:
            return Route(node.listener(listener).advertised, node.listener(listener).port)

        majority = [n for n in self.profile.nodes if n.node_id != self.isolated]
        alone = [n for n in self.profile.nodes if n.node_id == self.isolated]
        zones = {}
        for zone, listener, near, far in (("A", "PROXIED", majority, alone), ("B", "ZONE_B", alone, majority)):
            zones[zone] = {"near": FaultProxy(route(n, listener) for n in near),
                           "far": FaultProxy(route(n, listener) for n in far),
                           "bootstrap": ",".join(f"localhost:{n.listener(listener).advertised}"
                                                 for n in [*near, *far])}
        return zones

    def split(self, zones: dict[str, dict[str, Any]] | None = None, refuse_for: float = 600.0) -> int:
        """Cut node `isolated` off from the others now (and, given :meth:`zones`, each zone from the far
        side); returns how many connections were reset."""
        proxies = [self.proxy, *(z["far"] for z in (zones or {}).values())]
        return sum(p.cut(refuse_for=refuse_for) for p in proxies)

    def heal(self, zones: dict[str, dict[str, Any]] | None = None) -> None:
        """Forward across the split again (and from each zone to the far side)."""
        for proxy in [self.proxy, *(z["far"] for z in (zones or {}).values())]:
            proxy.heal()

    def stop(self, progress: Callable[[str], Any] = print, delete_data: bool = True) -> None:
        """Stop the nodes (and delete their data, by default) and the proxy."""
        from ..stack.local import LocalStack

        stack = LocalStack(profile=self.profile)
        if delete_data:
            stack.reset(progress=progress)
        else:
            stack.down(registry=False, progress=progress)
        self.proxy.stop()

    def __enter__(self) -> "NetworkSplit":
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _short(value: Any, limit: int = 160) -> Any:
    if isinstance(value, (bool, int, float)) or value is None:
        return value
    text = str(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"
