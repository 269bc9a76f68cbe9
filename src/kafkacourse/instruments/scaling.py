"""Scale a consumer group (or a set of producers) out across real processes, and measure what it buys.

Day 4's horizontal-scaling and tuning lessons start the course's own services as child processes
(:class:`~kafkacourse.instruments.processes.ServiceProcess`): ``courseapps.day4.scaling_consumer`` for group
members, ``courseapps.day4.keyed_producer`` for producers that split the keys between them.

* :class:`ConsumerFleet` — members of one group: :meth:`~ConsumerFleet.add` starts more and waits until the
  broker's group coordinator has settled the assignment; :meth:`~ConsumerFleet.records` reads what each member
  processed; :meth:`~ConsumerFleet.stop` SIGTERMs them (each commits and leaves).
* :func:`group_assignment` — who owns which partition, as the coordinator reports it.
* :class:`LagSampler` — the group's lag, read from the broker (committed vs end offsets) every `interval` s
  on a background thread, as a DataFrame.
* :func:`run_producers` — `processes` producers, each owning a slice of the keys, started together.
* :func:`fill_backlog` / :func:`drain_backlog` — a ledger-stamped backlog in every partition; one fleet drains it.
* :func:`drain_together` — several fleets (e.g. 1, 2, 3, 6 and 7 members) each drain their own topic's backlog
  at the same time, so a busy machine slows all of them alike and their rates compare.

>>> fleet = ConsumerFleet(cluster, topic, kc.unique_name("scale"), work_ms=10)
>>> fleet.add(2)                      # two processes; returns when the coordinator shows both with partitions
>>> with LagSampler(cluster, fleet.group, topic) as lag:
...     cluster.produce(topic, records)
...     lag.wait_for_zero()
>>> fleet.records()                   # one row per record processed: member, id, partition, offset, t
>>> fleet.stop()
"""

from __future__ import annotations

import os
import signal
import tempfile
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
from confluent_kafka import ConsumerGroupState, KafkaException

from .processes import ServiceProcess

if TYPE_CHECKING:
    from ..cluster import Cluster

CONSUMER = "courseapps.day4.scaling_consumer"
PRODUCER = "courseapps.day4.keyed_producer"


def group_assignment(cluster: "Cluster", group: str) -> tuple[str, pd.DataFrame]:
    """The group's state (``STABLE``, ``PREPARING_REBALANCE``, ``EMPTY``…) and one row per member as the
    coordinator reports it: ``member`` (client.id), ``partitions`` (sorted list, possibly empty)."""
    description = cluster.admin().describe_consumer_groups([group], request_timeout=10)[group].result()
    rows = [{"member": m.client_id, "partitions": sorted(tp.partition for tp in m.assignment.topic_partitions)}
            for m in description.members]
    frame = pd.DataFrame(rows, columns=["member", "partitions"]).sort_values("member", ignore_index=True)
    return description.state.name, frame


class ConsumerFleet:
    """Members of `group` on `topic`, each a ``courseapps.day4.scaling_consumer`` process (see its docstring).

    `work_ms` is each record's cost (a wait), `batch` > 0 reads with ``consume(num_messages=batch)``,
    `bulk` (with `batch`) waits once per batch for all its records (fewer wake-ups: steadier on a busy machine),
    `settings` are extra librdkafka settings for every member, `go` pauses new members until :meth:`go`,
    `out` writes one line per record (needed by :meth:`records`; turn it off for pure throughput runs).
    """

    def __init__(self, cluster: "Cluster", topic: str, group: str, *, work_ms: float = 0.0, batch: int = 0,
                 bulk: bool = False, settings: dict[str, Any] | None = None, go: bool = False, out: bool = True,
                 log_dir: Path | None = None, prefix: str = "m") -> None:
        if bulk and not batch:
            raise ValueError("bulk waits once per batch: give a batch size too (batch=20)")
        self.cluster, self.topic, self.group = cluster, topic, group
        self.work_ms, self.batch, self.bulk, self.settings = work_ms, batch, bulk, dict(settings or {})
        self.out = out
        self.log_dir = Path(log_dir or tempfile.mkdtemp(prefix="fleet-"))
        self.go_file = self.log_dir / "go" if go else None
        self.go_t: float | None = None
        self.prefix = prefix
        self.members: list[ServiceProcess] = []

    def _process(self, name: str) -> ServiceProcess:
        args = ["--bootstrap-servers", self.cluster.bootstrap_servers, "--topic", self.topic, "--group",
                self.group, "--name", name, "--work-ms", self.work_ms, "--batch", self.batch]
        if self.bulk:
            args.append("--bulk")
        if self.out:
            args += ["--out", self.log_dir / f"{name}.txt"]
        if self.go_file is not None:
            args += ["--go-file", self.go_file]
        for key, value in {**self.cluster.client_settings, **self.settings}.items():
            args += ["--set", f"{key}={value}"]
        # each member in its own session: scheduled as a separate service would be, not as a slice of the kernel's
        return ServiceProcess(CONSUMER, *map(str, args), name=name, log_dir=self.log_dir, new_session=True)

    def add(self, n: int = 1, timeout: float = 90.0, wait: bool = True) -> list[str]:
        """Start `n` more members (all at once) and wait until the coordinator lists every member, the group
        is stable and every partition is owned (each member owns one while members ≤ partitions).
        ``wait=False`` returns at once (start several fleets, then :meth:`wait_settled` each)."""
        if n < 1:
            raise ValueError(f"add at least one member, not {n}")
        names = [f"{self.prefix}{len(self.members) + i + 1}" for i in range(n)]
        for name in names:
            self.members.append(self._process(name).start())
        if wait:
            self.wait_settled(timeout)
        return names

    def wait_settled(self, timeout: float = 90.0) -> pd.DataFrame:
        """Wait until the coordinator shows every running member, STABLE, all partitions owned once."""
        partitions = set(self.cluster.end_offsets(self.topic))
        expected = {m.name for m in self.members if m.alive}
        deadline = time.monotonic() + timeout
        problem = "not asked yet"
        while time.monotonic() < deadline:
            for member in self.members:
                if member.name in expected and not member.alive:
                    raise RuntimeError(f"member {member.name} exited while the group settled.\n{member.tail()}")
            try:
                state, owners = group_assignment(self.cluster, self.group)
            except KafkaException as exc:
                problem = str(exc)
                time.sleep(0.3)
                continue
            owned = [p for parts in owners.partitions for p in parts]
            want_each = len(expected) <= len(partitions)
            if state != ConsumerGroupState.STABLE.name:
                problem = f"group is {state}"
            elif set(owners.member) != expected:
                problem = f"coordinator lists {sorted(owners.member)}, expected {sorted(expected)}"
            elif sorted(owned) != sorted(partitions):
                problem = f"partitions owned: {sorted(owned)}"
            elif want_each and not all(owners.partitions.map(bool)):
                problem = "a member owns no partition yet"
            elif self._local_owned() != dict(zip(owners.member, owners.partitions)):
                problem = "members have not all applied the assignment yet"
            else:
                return owners
            time.sleep(0.3)
        raise TimeoutError(f"group {self.group} did not settle within {timeout:.0f} s: {problem}")

    def _local_owned(self) -> dict[str, list[int]]:
        """What each member says it owns (its last assigned/revoked event)."""
        owned = {}
        for member in self.members:
            if member.alive:
                changes = [e for e in member.events(this_run=True) if e.get("event") in ("assigned", "revoked")]
                owned[member.name] = sorted(changes[-1]["owned"]) if changes else []
        return owned

    def go(self) -> float:
        """Let paused members start (creates the go file); the moment, as epoch seconds."""
        if self.go_file is None:
            raise RuntimeError("this fleet was made without go=True: its members never wait")
        self.go_t = time.time()
        self.go_file.touch()
        return self.go_t

    def records(self) -> pd.DataFrame:
        """One row per record processed, over all members: member, id, partition, offset, t (epoch s)."""
        from courseapps.day4.scaling_consumer import read_out

        rows = [{"member": m.name, "id": rid, "partition": p, "offset": o, "t": t}
                for m in self.members for rid, p, o, t in read_out(str(self.log_dir / f"{m.name}.txt"))]
        return pd.DataFrame(rows, columns=["member", "id", "partition", "offset", "t"])

    def stop(self, timeout: float = 30.0) -> pd.DataFrame:
        """SIGTERM every running member (each finishes its record, commits, leaves); one row per member from
        its ``closed`` event: member, processed, first_t, last_t, partitions (those it read records from)."""
        for member in self.members:
            if member.alive:
                os.kill(member.pid, signal.SIGTERM)  # type: ignore[arg-type]  # all at once, then wait for each
        rows = []
        for member in self.members:
            if member.alive:
                try:
                    member.wait(timeout)
                except TimeoutError:
                    member.kill()
            closed = [e for e in member.events() if e.get("event") == "closed"]
            last = closed[-1] if closed else {"processed": None, "first_t": None, "last_t": None, "partitions": None}
            rows.append({"member": member.name, **{k: last.get(k) for k in
                                                   ("processed", "first_t", "last_t", "partitions")}})
        return pd.DataFrame(rows)

    def kill_all(self) -> None:
        """SIGKILL whatever still runs (cleanup after a failure)."""
        for member in self.members:
            if member.alive:
                member.kill()

    def __enter__(self) -> "ConsumerFleet":
        return self

    def __exit__(self, *exc: object) -> None:
        self.kill_all()


class LagSampler:
    """The group's total lag on `topic` read from the broker (``Cluster.group_offsets``) every `interval` s.

    A context manager; :meth:`frame` has one row per sample: ``t`` (seconds since the start, or epoch with
    ``epoch=True``), ``lag`` (sum over partitions), ``end`` (records in the topic), ``committed``.
    """

    def __init__(self, cluster: "Cluster", group: str, topic: str, interval: float = 0.25) -> None:
        self.cluster, self.group, self.topic, self.interval = cluster, group, topic, interval
        self.t0 = time.time()
        self.rows: list[dict[str, Any]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"lag-{group}", daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.sample()
            self._stop.wait(self.interval)

    def sample(self) -> dict[str, Any] | None:
        try:
            offsets = self.cluster.group_offsets(self.group, self.topic)
        except KafkaException:
            return None
        committed = sum(c for c in offsets.committed if c is not None)
        row = {"epoch": time.time(), "lag": int(offsets.lag.sum()), "end": int(offsets.end.sum()),
               "committed": int(committed)}
        row["t"] = row["epoch"] - self.t0
        self.rows.append(row)
        return row

    def wait_for_zero(self, timeout: float = 60.0, end_at_least: int = 0) -> dict[str, Any]:
        """Wait until a sample shows lag 0 with at least `end_at_least` records in the topic; that sample."""
        return self.wait_for(0, timeout=timeout, end_at_least=end_at_least)

    def wait_for(self, at_most: int, timeout: float = 60.0, end_at_least: int = 0) -> dict[str, Any]:
        """Wait until a sample shows lag ≤ `at_most` with at least `end_at_least` records in the topic (a
        sample taken after this call); that sample."""
        deadline = time.monotonic() + timeout
        seen = len(self.rows)
        while time.monotonic() < deadline:
            row = self.rows[-1] if len(self.rows) > seen else None
            if row and row["lag"] <= at_most and row["end"] >= end_at_least:
                return row
            time.sleep(self.interval / 2)
        raise TimeoutError(f"group {self.group} still lags more than {at_most} on {self.topic} after "
                           f"{timeout:.0f} s: {self.rows[-1:]}")

    def frame(self) -> pd.DataFrame:
        return pd.DataFrame(list(self.rows), columns=["t", "epoch", "lag", "end", "committed"])

    def __enter__(self) -> "LagSampler":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)


def run_producers(cluster: "Cluster", topic: str, processes: int, keys: int, per_key: int, *,
                  work_ms: float = 0.0, batch: int = 1, log_dir: Path | None = None,
                  timeout: float = 120.0) -> dict[str, Any]:
    """`processes` ``courseapps.day4.keyed_producer`` processes, the `keys` keys split between them in
    contiguous slices, started together (a go file once every one is connected); `work_ms` per record,
    waited once per `batch` records. Returns ``deliveries``
    (one row per record: producer, id, key, seq, partition, offset, error), ``done`` (one row per producer:
    records, errors, first_t, sent_t — its last record handed to the producer —, last_t — its last delivery
    report) and ``go_t`` (epoch s)."""
    from courseapps.day4.keyed_producer import read_out

    if not 1 <= processes <= keys:
        raise ValueError(f"between 1 and {keys} processes (one key at least each), not {processes}")
    folder = Path(log_dir or tempfile.mkdtemp(prefix="producers-"))
    go_file = folder / "go"
    bounds = [round(i * keys / processes) for i in range(processes + 1)]
    procs = []
    try:
        for i in range(processes):
            name = f"p{i + 1}"
            procs.append(ServiceProcess(PRODUCER, "--bootstrap-servers", cluster.bootstrap_servers, "--topic", topic,
                                        "--keys", f"{bounds[i]}:{bounds[i + 1]}", "--per-key", str(per_key),
                                        "--work-ms", str(work_ms), "--batch", str(batch),
                                        "--out", str(folder / f"{name}.txt"),
                                        "--go-file", str(go_file), name=name, log_dir=folder,
                                        new_session=True).start())
        for proc in procs:
            proc.wait_for('"event": "ready"', timeout=timeout)
        go_t = time.time()
        go_file.touch()
        for proc in procs:
            if proc.wait(timeout) != 0:
                raise RuntimeError(f"producer {proc.name} failed.\n{proc.tail()}")
    finally:
        for proc in procs:
            if proc.alive:
                proc.kill()
    deliveries = pd.DataFrame([{"producer": p.name, **row} for p in procs for row in read_out(str(folder / f"{p.name}.txt"))],
                              columns=["producer", "id", "key", "seq", "partition", "offset", "error"])
    done = pd.DataFrame([{"producer": p.name, **{k: e.get(k) for k in ("records", "errors", "first_t", "sent_t", "last_t")}}
                         for p in procs for e in p.events() if e.get("event") == "done"])
    return {"deliveries": deliveries, "done": done, "go_t": go_t}


def fill_backlog(cluster: "Cluster", topic: str, ledger: Any, per_partition: int = 100) -> int:
    """Produce `per_partition` ledger-stamped records (``ledger.stamp``, keys k0…k59) into every partition of
    `topic`, the same number in each; returns the topic's record count afterwards (its end offsets summed)."""
    partitions = sorted(cluster.end_offsets(topic))
    records = [{"key": f"k{i % 60}", "partition": partitions[i % len(partitions)],
                "value": ledger.stamp(f"k{i % 60}")} for i in range(per_partition * len(partitions))]
    cluster.produce(topic, records)
    return sum(cluster.end_offsets(topic).values())


def drain_backlog(cluster: "Cluster", fleet: ConsumerFleet, lag: LagSampler, ledger: Any,
                  per_partition: int = 100, timeout: float = 120.0) -> dict[str, Any]:
    """Produce a backlog of `per_partition` ledger-stamped records into every partition of the fleet's topic,
    wait until the broker shows the group's lag at 0, and measure the drain.

    Returns one dict: ``members`` (running), ``records``, ``drain_s`` (from the first produce to the last
    record processed), ``records_per_s`` (the group's), ``per_member`` (records per member, every running
    member listed, 0 for an idle one), ``member_rate`` (records/s of each member that got records), ``start``
    (epoch s) and ``ids`` (the backlog's ledger ids).
    """
    first_id = len(ledger.sent)
    start = time.time()
    total = fill_backlog(cluster, fleet.topic, ledger, per_partition)
    lag.wait_for_zero(timeout=timeout, end_at_least=total)
    ids = {str(i) for i in range(first_id, len(ledger.sent))}
    done = fleet.records()
    done = done[done.id.isin(ids)]
    drain_s = float(done.t.max() - start)
    running = [m.name for m in fleet.members if m.alive]
    per_member = {name: int((done.member == name).sum()) for name in running}
    return {"members": len(running), "records": len(done), "drain_s": drain_s,
            "records_per_s": len(done) / drain_s, "per_member": per_member,
            "member_rate": {name: n / drain_s for name, n in per_member.items() if n},
            "start": start, "ids": ids}


def drain_together(cluster: "Cluster", fleets: dict[Any, ConsumerFleet], timeout: float = 120.0,
                   interval: float = 0.25) -> dict[str, Any]:
    """Race several fleets, side by side: each made with ``go=True``, settled, its topic holding its backlog.

    Every fleet's members get the go at the same moment; then this waits until the broker shows every
    group's lag at 0 (a :class:`LagSampler` per group). Whatever else the machine does meanwhile slows all
    of them alike, so their rates compare. Returns ``rounds`` (one row per fleet, by its key: members,
    busy_members, idle_members, records, drain_s = go to its last record, records_per_s, member_rate_mean =
    records/drain_s per busy member), ``per_member`` (fleet, member, records, partitions read) and ``lag``
    (fleet key → the sampler's frame, ``t`` in seconds since the go).
    """
    if not fleets:
        raise ValueError("give at least one fleet")
    for key, fleet in fleets.items():
        if fleet.go_file is None:
            raise ValueError(f"fleet {key!r} was made without go=True: its members would start before the others")
    totals = {key: sum(cluster.end_offsets(f.topic).values()) for key, f in fleets.items()}
    samplers = {key: LagSampler(cluster, f.group, f.topic, interval) for key, f in fleets.items()}
    for sampler in samplers.values():
        sampler.__enter__()
    try:
        go_t = time.time()
        for fleet in fleets.values():
            fleet.go()
        deadline = time.monotonic() + timeout
        for key, sampler in samplers.items():
            sampler.wait_for_zero(timeout=max(1.0, deadline - time.monotonic()), end_at_least=totals[key])
    finally:
        for sampler in samplers.values():
            sampler.__exit__(None, None, None)
    rounds, members = [], []
    for key, fleet in fleets.items():
        done = fleet.records()
        running = [m.name for m in fleet.members if m.alive]
        drain_s = float(done.t.max() - go_t) if len(done) else float("nan")
        counts = {name: int((done.member == name).sum()) for name in running}
        busy = [n for n in counts.values() if n]
        rounds.append({"fleet": key, "members": len(running), "busy_members": len(busy),
                       "idle_members": len(running) - len(busy), "records": len(done), "drain_s": drain_s,
                       "records_per_s": len(done) / drain_s,
                       "member_rate_mean": sum(busy) / len(busy) / drain_s if busy else 0.0})
        members += [{"fleet": key, "member": name, "records": n,
                     "partitions": sorted(set(done.partition[done.member == name]))} for name, n in counts.items()]
    lag = {}
    for key, sampler in samplers.items():
        frame = sampler.frame()
        frame["t"] = frame["epoch"] - go_t
        lag[key] = frame
    return {"rounds": pd.DataFrame(rounds), "per_member": pd.DataFrame(members), "lag": lag, "go_t": go_t}
