"""Record how a consumer group hands out partitions, rebalance by rebalance.

An :class:`AssignmentRecorder` runs a group of real confluent-kafka consumers (one thread each, polling all
the time, as real applications do) that a script adds and removes one at a time. Every rebalance callback
(``on_assign`` / ``on_revoke`` / ``on_lost``) is recorded with the member, the group generation and the
partitions, so a lesson can compare assignment strategies side by side.

>>> import kafkacourse as kc
>>> from kafkacourse.rebalance import AssignmentRecorder
>>> cluster = kc.connect()
>>> topic = cluster.create_topic(kc.unique_name("rebalance"), partitions=6)
>>> with AssignmentRecorder(cluster, [topic], strategy="cooperative-sticky") as rec:
...     for _ in range(3):
...         rec.add_member()         # m1, m2, m3; each call waits until the group is stable again
...     rec.remove_member()          # the oldest member (m1) leaves
>>> rec.rebalances()     # one row per member and generation: assigned, revoked, owned_after
>>> rec.summary()        # one row per step: rebalances, partitions revoked and moved, seconds
>>> rec.timeline()       # a matplotlib Figure: which member owned which partition when

How the callbacks treat the two rebalance protocols (``partition.assignment.strategy``):

* **eager** (``range``, ``roundrobin``): at each rebalance every member first gets ``on_revoke`` with *all*
  its partitions (it calls ``unassign()``), rejoins, then gets ``on_assign`` with its complete new
  assignment (it calls ``assign()``).
* **cooperative** (``cooperative-sticky``): the callbacks receive *deltas*: ``on_revoke`` only the
  partitions that move away (``incremental_unassign``), ``on_assign`` only the new ones, possibly none
  (``incremental_assign``). Calling ``assign()`` there would fail. A partition that moves takes two
  rebalances: its owner gives it up in the first, the new owner receives it in the second.

The group generation of each callback comes from the client's own ``JoinGroup response: GenerationId N``
debug line (``debug=cgrp``, read through a Python logger). A revocation that happens *before* the member
rejoins (every eager revocation, and the one a leaving member makes) belongs to the next generation.

Consumers use the classic group protocol with a short session (6 s, heartbeat 1 s): a member that joins
triggers a rebalance within about a heartbeat; one that closes leaves the group at once.

With ``protocol="consumer"`` the members use KIP-848's consumer group protocol (``group.protocol=consumer``):
the coordinator computes the assignment with a server-side assignor (``strategy``: "uniform" or "range",
sent as ``group.remote.assignor``), the callbacks receive deltas as under cooperative-sticky, and the
generation is the member epoch of the client's ``ConsumerGroupHeartbeat response ... with epoch N`` debug
line. The session and heartbeat settings belong to the broker then (librdkafka refuses them).

Records flowing: members poll all the time and count every record they receive (:meth:`processed`), so
with a producer running (e.g. ``producers.NumberedStream``) :meth:`gaps` measures how long each member
stopped processing around each step, and :func:`kafkacourse.plots.rebalance.plot_processing` draws records per member over time.
:meth:`stall` makes a member stop polling for a while (longer than ``max.poll.interval.ms``: it is removed
from the group); the error its next ``poll()`` returns and the results of the commits it then tries are
recorded as events of kind ``error``, ``commit`` and ``commit_offsets``.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd
from confluent_kafka import Consumer, ConsumerGroupState, KafkaException, TopicPartition
from matplotlib.figure import Figure

from ..cluster import Cluster, unique_name

STRATEGIES = ("range", "roundrobin", "cooperative-sticky")
REMOTE_ASSIGNORS = ("uniform", "range")   # KIP-848: the broker's assignors (group.remote.assignor)
PROTOCOLS = ("classic", "consumer")
COOPERATIVE = frozenset({"cooperative-sticky"})
_JOIN_RESPONSE = re.compile(r"JoinGroup response: GenerationId (-?\d+)")
_HEARTBEAT_EPOCH = re.compile(r"ConsumerGroupHeartbeat response received for member id \"[^\"]*\" with epoch (-?\d+)")

TP = tuple[str, int]  # (topic, partition)


@dataclass(frozen=True)
class _Event:
    t: float                      # seconds since the recorder was created
    member: str
    kind: str                     # "assign", "revoke", "lost" (callbacks), "joined" (JoinGroup response or
                                  # a new member epoch), "error" (poll() error), "commit" / "commit_offsets"
                                  # (the commits tried after a stall's error)
    partitions: frozenset[TP]     # the partitions the callback received (the delta under cooperative)
    owned_after: frozenset[TP]    # what the member owns once the callback is done
    generation: int | None        # the generation the member had joined when this happened
    before_rejoin: bool = False   # a revocation made before rejoining: it belongs to the next generation
    detail: str | None = None     # error / commit: the librdkafka error name ("ok" for a commit that worked)


_CALLBACKS = ("assign", "revoke", "lost")


@dataclass
class Step:
    """One scripted change of the group (a member joins or leaves) and the stable states around it.

    ``before`` / ``after`` map each member to the partitions it owns (sorted labels: partition numbers for
    one topic, ``"topic:partition"`` for several); ``after`` is None until the group was seen stable.
    """

    label: str
    started: float                                  # seconds since the recorder was created
    before: dict[str, list[Any]]
    stable: float | None = None
    after: dict[str, list[Any]] | None = None

    @property
    def seconds(self) -> float | None:
        """How long the group took to become stable again."""
        return None if self.stable is None else self.stable - self.started


class _Member:
    def __init__(self, name: str) -> None:
        self.name = name
        self.consumer: Consumer | None = None
        self.thread: threading.Thread | None = None
        self.stop = threading.Event()
        self.owned: frozenset[TP] = frozenset()
        self.generation: int | None = None
        self.member_id: str | None = None
        self.assigned_once = False
        self.leaving = False
        self.error: BaseException | None = None
        self.log: deque[str] = deque(maxlen=20)   # the client's last warnings/errors, for diagnostics
        self.processed: list[tuple[float, str, int, int]] = []   # (t, topic, partition, offset) per record
        self.stall_s: float | None = None          # set by stall(): stop polling this long


class _JoinLogHandler(logging.Handler):
    """Reads the client's debug log (served by poll() in the member's thread) for JoinGroup responses."""

    def __init__(self, recorder: AssignmentRecorder, member: _Member) -> None:
        super().__init__(logging.DEBUG)
        self.recorder, self.member = recorder, member

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        found = _JOIN_RESPONSE.search(message) or _HEARTBEAT_EPOCH.search(message)
        if found and int(found.group(1)) > 0 and int(found.group(1)) != self.member.generation:
            self.recorder._joined(self.member, int(found.group(1)))
        elif record.levelno >= logging.WARNING:
            self.member.log.append(message)


class AssignmentRecorder:
    """A consumer group whose members a script adds and removes, recording every assignment change.

    Args:
        cluster: from ``kc.connect()``.
        topics: the topics every member subscribes to (they must exist).
        strategy: classic protocol: ``partition.assignment.strategy``, "range" (default), "roundrobin" or
            "cooperative-sticky"; consumer protocol: ``group.remote.assignor``, "uniform" (default) or "range".
        protocol: ``group.protocol``: "classic" (default) or "consumer" (KIP-848).
        group_id: defaults to a fresh unique name.
        session_timeout_ms, heartbeat_interval_ms: short, so rebalances finish in a few seconds (classic only).
        consumer_config: extra client settings (dotted librdkafka names) for every member.

    Members are named m1, m2, … (also their ``client.id``, as ``kafka-consumer-groups.sh`` shows it).
    Use it as a context manager, or call :meth:`close`; the recorded data stays readable after closing.
    """

    def __init__(self, cluster: Cluster, topics: Sequence[str], strategy: str | None = None, *,
                 protocol: str = "classic", group_id: str | None = None, session_timeout_ms: int = 6000,
                 heartbeat_interval_ms: int = 1000, poll_s: float = 0.1,
                 consumer_config: dict[str, Any] | None = None) -> None:
        if protocol not in PROTOCOLS:
            raise ValueError(f"protocol must be one of {PROTOCOLS}, not {protocol!r}")
        allowed = STRATEGIES if protocol == "classic" else REMOTE_ASSIGNORS
        strategy = strategy or allowed[0]
        if strategy not in allowed:
            what = "strategy" if protocol == "classic" else "strategy (the remote assignor) under protocol='consumer'"
            raise ValueError(f"{what} must be one of {allowed}, not {strategy!r}")
        if isinstance(topics, str):
            topics = [topics]
        self.cluster = cluster
        self.topics = list(topics)
        self.protocol = protocol
        self.strategy = strategy if protocol == "classic" else f"consumer/{strategy}"  # the label in tables
        self.cooperative = strategy in COOPERATIVE or protocol == "consumer"
        self.group_id = group_id or unique_name(f"group-{self.strategy.replace('/', '-')}")
        self.poll_s = poll_s
        if protocol == "classic":
            group_settings: dict[str, Any] = {
                "group.protocol": "classic",
                "partition.assignment.strategy": strategy,
                "session.timeout.ms": session_timeout_ms,
                "heartbeat.interval.ms": heartbeat_interval_ms,
            }
        else:
            group_settings = {"group.protocol": "consumer", "group.remote.assignor": strategy}
        self._settings: dict[str, Any] = {
            "group.id": self.group_id,
            **group_settings,
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest",
            **(consumer_config or {}),
            "debug": "cgrp",  # the JoinGroup / heartbeat responses carry the generation / member epoch
        }
        self.partitions: frozenset[TP] = frozenset(
            (topic, int(p)) for topic in self.topics for p in cluster.describe_topic(topic).partition)
        self._t0 = time.monotonic()
        self._lock = threading.RLock()
        self._events: list[_Event] = []
        self._members: dict[str, _Member] = {}    # every member ever started, in joining order
        self._active: dict[str, _Member] = {}     # the members still in the group
        self._steps: list[Step] = []
        self._next_number = 1
        self._closed_at: float | None = None

    # -- the script: members join and leave -----------------------------------------------------------------
    def add_member(self, name: str | None = None, *, wait: bool = True, timeout: float = 30.0) -> str:
        """Start one more consumer in the group (named m1, m2, … unless `name` is given); return its name.

        With ``wait`` (the default) return once the group is stable again (see :meth:`wait_stable`).
        """
        self._check_open()
        if name is None:
            name = f"m{self._next_number}"
        if name in self._members:
            raise ValueError(f"a member named {name!r} was already started; pick another name")
        self._next_number += 1
        member = _Member(name)
        logger = logging.Logger(f"kafkacourse.rebalance.{self.group_id}.{name}", logging.DEBUG)
        logger.addHandler(_JoinLogHandler(self, member))
        member.consumer = Consumer({**self.cluster.config(), **self._settings, "client.id": name, "logger": logger})
        self._begin_step(f"{name} joins")
        with self._lock:
            self._members[name] = member
            self._active[name] = member
        member.thread = threading.Thread(target=self._run, args=(member,), name=f"{self.group_id}-{name}", daemon=True)
        member.thread.start()
        if wait:
            self.wait_stable(timeout)
        return name

    def remove_member(self, name: str | None = None, *, wait: bool = True, timeout: float = 30.0) -> str:
        """Close one member (the oldest one by default): it revokes its partitions and leaves the group at once.

        With ``wait`` (the default) return once the remaining members are stable again.
        """
        self._check_open()
        if not self._active:
            raise ValueError("the group has no member left to remove")
        name = name or next(iter(self._active))
        if name not in self._active:
            raise ValueError(f"{name!r} is not in the group; members: {list(self._active)}")
        self._begin_step(f"{name} leaves")
        self._stop_member(self._active[name], timeout)
        with self._lock:
            del self._active[name]
        if wait:
            self.wait_stable(timeout)
        return name

    def stall(self, name: str, seconds: float) -> None:
        """Make member `name` stop calling ``poll()`` for `seconds` (as a slow record would), without waiting.

        Longer than ``max.poll.interval.ms`` (pass it in `consumer_config`), librdkafka takes the member out
        of the group; its next ``poll()`` returns an error, recorded as an ``error`` event, and the member
        then tries to commit what it consumed, twice: ``commit()`` (the offsets stored for its assignment),
        recorded as a ``commit`` event, and ``commit(offsets=[the record it processed last + 1])``, recorded
        as ``commit_offsets`` (see :meth:`events`).
        """
        self._check_open()
        if name not in self._active:
            raise ValueError(f"{name!r} is not in the group; members: {list(self._active)}")
        self._active[name].stall_s = float(seconds)

    def close(self, timeout: float = 15.0) -> None:
        """Close every member still in the group (each in its own thread, in `finally`)."""
        if self._closed_at is not None:
            return
        self._closed_at = self._now()
        for member in list(self._active.values()):
            member.leaving = True
            member.stop.set()
        deadline = time.monotonic() + timeout
        for member in list(self._active.values()):
            assert member.thread is not None
            member.thread.join(max(0.0, deadline - time.monotonic()))
        stuck = [m.name for m in self._active.values() if m.thread is not None and m.thread.is_alive()]
        self._active.clear()
        if stuck:
            raise TimeoutError(f"members {stuck} of group {self.group_id!r} did not close within {timeout:.0f} s")

    def __enter__(self) -> AssignmentRecorder:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return (f"AssignmentRecorder(group={self.group_id!r}, strategy={self.strategy!r}, "
                f"members={list(self._active)}, closed={self._closed_at is not None})")

    # -- waiting for a stable group ------------------------------------------------------------------------
    def wait_stable(self, timeout: float = 30.0) -> dict[str, list[Any]]:
        """Wait until the group is stable; return who owns what (member → sorted partitions).

        Stable means: every member has joined and received its assignment; every partition is owned by
        exactly one member; and the group coordinator agrees (state Stable, the same members, the same
        assignment), so no rebalance is pending. Both checks look at one snapshot of who owns what, and it
        counts only if no callback changed it while the coordinator was asked: under cooperative-sticky a
        member revokes between the two rebalances of a move, and a busy machine makes that window wide.
        Raises TimeoutError saying what is still missing.
        """
        deadline = time.monotonic() + timeout
        while True:
            self._raise_member_errors()
            with self._lock:
                snapshot = self._owned_now()
                problem = self._local_problem()
            problem = problem or self._coordinator_problem(snapshot)
            if problem is None:
                with self._lock:
                    if self._owned_now() == snapshot:
                        owners = self.assignment()
                        if self._steps and self._steps[-1].after is None:
                            self._steps[-1].stable, self._steps[-1].after = self._now(), owners
                        return owners
                problem = "the assignment changed while the coordinator was being asked"
            if time.monotonic() >= deadline:
                raise TimeoutError(
                    f"group {self.group_id!r} ({self.strategy}) is not stable after {timeout:.0f} s: {problem}")
            time.sleep(0.1)

    def _local_problem(self) -> str | None:
        with self._lock:
            active = list(self._active.values())
            if not active:
                return None
            waiting = [m.name for m in active if not (m.assigned_once and m.member_id)]
            if waiting:
                return f"waiting for {waiting} to join and get a first assignment"
            counts: dict[TP, int] = {}
            for member in active:
                for tp in member.owned:
                    counts[tp] = counts.get(tp, 0) + 1
        unowned = sorted(self.partitions - set(counts))
        twice = sorted(tp for tp, n in counts.items() if n > 1)
        if unowned or twice:
            return (f"partitions owned by no member: {self._labels(unowned)}; "
                    f"owned more than once: {self._labels(twice)}")
        return None

    def _owned_now(self) -> dict[str, frozenset[TP]]:
        return {name: member.owned for name, member in self._active.items()}

    def _coordinator_problem(self, owned: dict[str, frozenset[TP]]) -> str | None:
        """What the coordinator disagrees with in `owned` (member name → partitions), or None."""
        try:
            group = self.cluster.admin().describe_consumer_groups(
                [self.group_id], request_timeout=5)[self.group_id].result()
        except KafkaException as exc:
            return f"the coordinator could not describe the group: {exc}"
        with self._lock:
            expected = {m.member_id: m for m in self._active.values()}
        if not expected:
            if group.members:
                return f"the coordinator still lists {len(group.members)} member(s)"
            return None
        if group.state != ConsumerGroupState.STABLE:
            return f"the coordinator reports the group as {group.state.name}"
        listed = {m.member_id: m for m in group.members}
        if set(listed) != set(expected):
            return (f"the coordinator lists members {sorted(m.client_id for m in group.members)}, "
                    f"expected {sorted(m.name for m in expected.values())}")
        for member_id, description in listed.items():
            given = {(tp.topic, tp.partition) for tp in description.assignment.topic_partitions}
            name = expected[member_id].name
            if given != set(owned.get(name, ())):
                return (f"{name} owns {self._labels(owned.get(name, frozenset()))} but the coordinator assigned "
                        f"{self._labels(given)}")
        return None

    def _raise_member_errors(self) -> None:
        for member in self._members.values():
            if member.error is not None:
                raise RuntimeError(f"member {member.name} of group {self.group_id!r} failed: {member.error!r}; "
                                   f"its last client messages: {list(member.log)}") from member.error
        for member in self._active.values():
            if member.thread is not None and not member.thread.is_alive():
                raise RuntimeError(f"member {member.name} of group {self.group_id!r} stopped unexpectedly")

    # -- the member threads and their callbacks -------------------------------------------------------------
    def _run(self, member: _Member) -> None:
        consumer = member.consumer
        assert consumer is not None
        try:
            consumer.subscribe(self.topics,
                               on_assign=lambda c, parts: self._on_assign(member, c, parts),
                               on_revoke=lambda c, parts: self._on_revoke(member, c, parts, "revoke"),
                               on_lost=lambda c, parts: self._on_revoke(member, c, parts, "lost"))
            while not member.stop.is_set():
                if member.stall_s is not None:
                    member.stop.wait(member.stall_s)   # no poll() meanwhile: max.poll.interval.ms runs out
                    member.stall_s = None
                    self._after_stall(member, consumer)
                    continue
                msg = consumer.poll(self.poll_s)  # serves the rebalance callbacks and the log lines
                if msg is None:
                    continue
                if msg.error() is not None:
                    if msg.error().fatal():
                        raise KafkaException(msg.error())
                    member.log.append(str(msg.error()))   # transient: the client retries by itself
                    with self._lock:
                        self._record(member, "error", frozenset(), detail=msg.error().name())
                else:
                    member.processed.append((self._now(), msg.topic(), msg.partition(), msg.offset()))
        except BaseException as exc:  # surfaced by wait_stable() in the caller's thread
            member.error = exc
        finally:
            member.leaving = True
            try:
                consumer.close()  # revokes its partitions (callback) and leaves the group at once
            except BaseException as exc:
                member.error = member.error or exc

    def _on_assign(self, member: _Member, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        received = frozenset((p.topic, p.partition) for p in partitions)
        if self.cooperative:
            consumer.incremental_assign(partitions)   # a delta: add these to what the member keeps
            owned = member.owned | received
        else:
            consumer.assign(partitions)               # the whole new assignment
            owned = received
        with self._lock:
            member.owned, member.assigned_once = owned, True
            member.member_id = consumer.memberid()
            self._record(member, "assign", received)

    def _on_revoke(self, member: _Member, consumer: Consumer, partitions: list[TopicPartition], kind: str) -> None:
        taken = frozenset((p.topic, p.partition) for p in partitions)
        if self.cooperative:
            consumer.incremental_unassign(partitions)  # a delta: only these go away
            owned = member.owned - taken
        else:
            consumer.unassign()                        # eager: everything goes
            owned = frozenset()
        with self._lock:
            member.owned = owned
            self._record(member, kind, taken, before_rejoin=not self.cooperative or member.leaving)

    def _after_stall(self, member: _Member, consumer: Consumer) -> None:
        """The first poll() result after a stall; after an error, the commit the member then tries."""
        deadline = time.monotonic() + 5
        msg = None
        while msg is None and time.monotonic() < deadline:
            msg = consumer.poll(self.poll_s)
        if msg is None or msg.error() is None:
            if msg is not None:
                member.processed.append((self._now(), msg.topic(), msg.partition(), msg.offset()))
            return
        with self._lock:
            self._record(member, "error", frozenset(), detail=msg.error().name())
        last = member.processed[-1] if member.processed else None
        attempts = {"commit": {}}   # commit(): the offsets the client stored for its (lost) assignment
        if last is not None:        # commit(offsets=...): the record it processed last, explicitly
            attempts["commit_offsets"] = {"offsets": [TopicPartition(last[1], last[2], last[3] + 1)]}
        for kind, kwargs in attempts.items():
            try:
                consumer.commit(asynchronous=False, **kwargs)
                detail = "ok"
            except KafkaException as exc:
                detail = exc.args[0].name()
            with self._lock:
                self._record(member, kind, frozenset(), detail=detail)

    def _joined(self, member: _Member, generation: int) -> None:
        with self._lock:
            member.generation = generation
            self._record(member, "joined", frozenset())

    def _record(self, member: _Member, kind: str, partitions: frozenset[TP], before_rejoin: bool = False,
                detail: str | None = None) -> None:
        self._events.append(_Event(self._now(), member.name, kind, partitions, member.owned,
                                   member.generation, before_rejoin, detail))

    def _stop_member(self, member: _Member, timeout: float) -> None:
        member.leaving = True
        member.stop.set()
        assert member.thread is not None
        member.thread.join(timeout)
        if member.thread.is_alive():
            raise TimeoutError(f"member {member.name} of group {self.group_id!r} did not close within {timeout:.0f} s")
        if member.error is not None:
            raise RuntimeError(f"member {member.name} of group {self.group_id!r} failed while leaving: "
                               f"{member.error!r}") from member.error

    # -- what was recorded ----------------------------------------------------------------------------------
    @property
    def members(self) -> list[str]:
        """The members in the group now, oldest first."""
        return list(self._active)

    @property
    def steps(self) -> list[Step]:
        """Every join/leave so far, with the stable states before and after it."""
        with self._lock:
            return list(self._steps)

    def assignment(self) -> dict[str, list[Any]]:
        """Who owns what now, by the members' own callbacks: member → sorted partitions."""
        with self._lock:
            return {name: self._labels(m.owned) for name, m in self._active.items()}

    def owners(self) -> pd.DataFrame:
        """Who owns what now, one row per partition: topic, partition, member (None when unowned)."""
        with self._lock:
            owner = {tp: name for name, m in self._active.items() for tp in m.owned}
        return pd.DataFrame([{"topic": t, "partition": p, "member": owner.get((t, p))}
                             for t, p in sorted(self.partitions)])

    def events(self) -> pd.DataFrame:
        """Every callback and JoinGroup response in order (those of close() too).

        Columns: t (seconds since the recorder started), member, kind (joined / assign / revoke / lost /
        error / commit / commit_offsets), generation, partitions (what the callback received), owned_after,
        detail (the librdkafka error name of an ``error`` or commit event; "ok" for a commit that worked).
        """
        return pd.DataFrame(
            [{"t": round(e.t, 3), "member": e.member, "kind": e.kind, "generation": gen,
              "partitions": self._labels(e.partitions), "owned_after": self._labels(e.owned_after),
              "detail": e.detail}
             for e, gen in self._resolved(include_close=True)],
            columns=["t", "member", "kind", "generation", "partitions", "owned_after", "detail"],
        ).astype({"generation": "Int64"})

    def rebalances(self) -> pd.DataFrame:
        """One row per member and rebalance generation: the partitions assigned, revoked, and owned after.

        Under an eager strategy ``revoked`` is everything the member had; under cooperative-sticky only
        what moves away. ``lost`` counts as revoked (a member that missed its session timeout). What the
        members revoke when :meth:`close` ends the experiment is left out (see :meth:`events`).
        """
        rows: dict[tuple[int | None, str], dict[str, Any]] = {}
        for event, generation in self._resolved():
            if event.kind not in _CALLBACKS:
                continue
            row = rows.setdefault((generation, event.member), {
                "strategy": self.strategy, "generation": generation, "member": event.member,
                "t": round(event.t, 3), "assigned": set(), "revoked": set(), "owned_after": None})
            (row["assigned"] if event.kind == "assign" else row["revoked"]).update(event.partitions)
            row["owned_after"] = event.owned_after
        table = pd.DataFrame(
            [{**row, "assigned": self._labels(row["assigned"]), "revoked": self._labels(row["revoked"]),
              "owned_after": self._labels(row["owned_after"])} for row in rows.values()],
            columns=["strategy", "generation", "member", "t", "assigned", "revoked", "owned_after"])
        table = table.astype({"generation": "Int64"})
        return table.sort_values(["generation", "t"], na_position="last", ignore_index=True)

    def summary(self) -> pd.DataFrame:
        """One row per step (a member joins or leaves): members after it, rebalances (generations) it took,
        partitions revoked (summed over members), partitions moved (owner changed), seconds until stable."""
        resolved = self._resolved()
        rows = []
        steps = self.steps
        for i, step in enumerate(steps):
            end = steps[i + 1].started if i + 1 < len(steps) else float("inf")
            window = [(e, g) for e, g in resolved if step.started <= e.t < end]
            moved = None
            if step.after is not None:
                before = {p: m for m, parts in step.before.items() for p in parts}
                after = {p: m for m, parts in step.after.items() for p in parts}
                moved = sum(before.get(p) != after.get(p) for p in set(before) | set(after))
            rows.append({
                "strategy": self.strategy, "step": step.label,
                "members": None if step.after is None else len(step.after),
                "rebalances": len({g for e, g in window if e.kind == "joined"}),
                "revoked": sum(len(e.partitions) for e, _ in window if e.kind in ("revoke", "lost")),
                "moved": moved,
                "seconds": None if step.seconds is None else round(step.seconds, 1),
            })
        return pd.DataFrame(rows, columns=["strategy", "step", "members", "rebalances", "revoked", "moved",
                                           "seconds"]).astype({"members": "Int64", "moved": "Int64"})

    def timeline(self) -> Figure:
        """A chart of who owned which partition when (see :func:`plot_timelines`)."""
        from ..plots.rebalance import plot_timelines

        return plot_timelines([self])

    def processed(self) -> pd.DataFrame:
        """Every record the members received, in order: t (seconds since the recorder started), member,
        topic, partition, offset."""
        rows = [(t, member.name, topic, partition, offset)
                for member in list(self._members.values()) for t, topic, partition, offset in list(member.processed)]
        frame = pd.DataFrame(rows, columns=["t", "member", "topic", "partition", "offset"])
        return frame.sort_values("t", ignore_index=True)

    def gaps(self, by: str = "member", settle_s: float = 1.0) -> pd.DataFrame:
        """The longest pause in processing around each step: one row per step and member (or partition).

        The window of a step runs from its start until `settle_s` after the group was stable again (or the
        next step). ``gap_s`` is the longest time between two consecutive records processed by the member
        (``by="member"``; only members in the group before *and* after the step) or from the partition, by
        any member (``by="partition"``), counting from the window's start and up to its end when nothing came
        after. Needs records flowing all the time (a producer running).
        """
        if by not in ("member", "partition"):
            raise ValueError(f"by must be 'member' or 'partition', not {by!r}")
        processed = self.processed()
        steps = self.steps
        rows = []
        for i, step in enumerate(steps):
            end = (step.stable if step.stable is not None else self._now()) + settle_s
            if i + 1 < len(steps):
                end = min(end, steps[i + 1].started)
            if by == "member":
                keys = sorted(set(step.before) & set(step.after or {}))
                column = "member"
            else:
                keys = sorted({p for _, p in self.partitions})
                column = "partition"
            for key in keys:
                times = processed.loc[processed[column] == key, "t"].to_numpy()
                inside = times[(times >= step.started) & (times <= end)]
                points = [step.started, *inside, end]
                gap = max(b - a for a, b in zip(points, points[1:]))
                rows.append({"strategy": self.strategy, "step": step.label, column: key,
                             "gap_s": round(float(gap), 3), "records": len(inside)})
        return pd.DataFrame(rows, columns=["strategy", "step", by, "gap_s", "records"])

    # -- helpers --------------------------------------------------------------------------------------------
    def _resolved(self, include_close: bool = False) -> list[tuple[_Event, int | None]]:
        """Events with the generation each belongs to (a revocation before rejoining: the next one).

        The revocations made by :meth:`close` are left out unless `include_close`: closing is not a step.
        """
        with self._lock:
            events = list(self._events)
        if not include_close and self._closed_at is not None:
            events = [e for e in events if e.t < self._closed_at]
        joins = [(e.t, e.generation) for e in events if e.kind == "joined"]
        resolved = []
        for event in events:
            generation = event.generation
            if event.before_rejoin:
                later = [g for t, g in joins if t >= event.t and g is not None
                         and (event.generation is None or g > event.generation)]
                generation = min(later) if later else None
            resolved.append((event, generation))
        return resolved

    def _labels(self, tps: Iterable[TP]) -> list[Any]:
        tps = sorted(tps)
        if len(self.topics) == 1:
            return [p for _, p in tps]
        return [f"{t}:{p}" for t, p in tps]

    def _begin_step(self, label: str) -> None:
        with self._lock:
            self._steps.append(Step(label, self._now(), before=self.assignment()))

    def _now(self) -> float:
        return time.monotonic() - self._t0

    def _check_open(self) -> None:
        if self._closed_at is not None:
            raise RuntimeError(f"the recorder of group {self.group_id!r} is closed")


GROUP_SETTINGS = ("group.min.session.timeout.ms", "group.max.session.timeout.ms", "group.consumer.heartbeat.interval.ms",
                  "group.consumer.session.timeout.ms", "group.consumer.min.heartbeat.interval.ms",
                  "group.consumer.min.session.timeout.ms")


def broker_group_settings(cluster: Cluster) -> dict[str, int]:
    """The broker's consumer-group timeouts (ms) that bound the clients' settings, read from the first broker.

    ``group.min.session.timeout.ms`` is the shortest ``session.timeout.ms`` a classic member may ask for;
    under ``group.protocol=consumer`` the broker itself sets the session and heartbeat interval
    (``group.consumer.*``). Example: ``broker_group_settings(cluster)["group.min.session.timeout.ms"]``.
    """
    from confluent_kafka.admin import ConfigResource

    broker = str(cluster.brokers().iloc[0]["broker"])
    resource = ConfigResource("BROKER", broker)
    config = cluster.admin().describe_configs([resource], request_timeout=10)[resource].result()
    return {name: int(config[name].value) for name in GROUP_SETTINGS}


def summarize(recorders: Iterable[AssignmentRecorder]) -> pd.DataFrame:
    """The summaries of several recorders (e.g. one per strategy) in one table."""
    return pd.concat([r.summary() for r in recorders], ignore_index=True)
