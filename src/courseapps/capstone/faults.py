"""Failure injection for the running capstone system, each fault recorded in faults.jsonl and its recovery timed.

>>> from courseapps.capstone import faults
>>> faults.kill_service(system, "payments")          # SIGKILL, restart at once
>>> faults.cut_provider(system, seconds=3)           # the payments → provider link cut through the FaultProxy
>>> faults.slow_provider(system, latency_ms=800, seconds=4)
>>> faults.poison(system)                            # a record that is not Avro, into orders.placed → inventory's DLQ
>>> faults.kill_broker(system)                       # a broker of the 3-broker cluster SIGKILLed, restarted at once
>>> faults.recovery(system, fault)                   # after the load: how long until the system worked again

Every function returns the fault's entry (``{"at", "fault", "detail", "until"}``: epoch seconds, ``until`` =
when the fault ended, also kept in its detail). :func:`recovery` measures two things from the orders store, once the load has gone on
past the fault: **first_terminal_s** — from the fault's start until the first order *placed after it*
reached a terminal state (the system does new work again), and **drained_s** — from the fault's end until
every order placed before that end was terminal (the backlog it built is gone).
"""

from __future__ import annotations

import time
import uuid
from typing import TYPE_CHECKING, Any

from . import contracts

if TYPE_CHECKING:
    from .system import System


def _record(system: "System", name: str, at: float, detail: Any) -> dict[str, Any]:
    entry = system.record_fault(name, {**detail, "until": time.time()}, at=at)
    entry["until"] = entry["detail"]["until"]
    return entry


def kill_service(system: "System", service: str, down_for: float = 0.0) -> dict[str, Any]:
    """SIGKILL `service`, keep it down `down_for` s, start it again and wait until it is ready."""
    at = time.time()
    system.kill(service)
    if down_for:
        time.sleep(down_for)
    system.restart(service)
    return _record(system, "service-kill", at, {"service": service, "down_for": down_for})


def kill_broker(system: "System", node_id: int = 2) -> dict[str, Any]:
    """SIGKILL one broker of the 3-broker cluster and start it again at once (it is shared with other lessons:
    the window stays short), then wait until every partition of the run has its 3 replicas in sync again."""
    from kafkacourse.instruments.replication import wait_for_isr

    if system.brokers != 3:
        raise ValueError("a broker kill needs System(brokers=3): the single broker is shared, and killing it "
                         "would stop every other lesson too")
    at = time.time()
    system.cluster.kill_broker(node_id)
    system.cluster.start_broker(node_id)
    for topic in system.topics.values():
        wait_for_isr(system.cluster, topic, size=3, timeout=120)
    return _record(system, "broker-kill", at, {"node": node_id})


def cut_provider(system: "System", seconds: float = 3.0) -> dict[str, Any]:
    """Cut the payments → provider link (every connection reset, new ones refused) for `seconds`, through the
    system's FaultProxy: payments' circuit breaker opens, its loop holds the record, nothing is charged twice."""
    if system.provider_proxy is None:
        raise ValueError("this system runs without its fault proxy (System(fault_proxy=True) has one)")
    at = time.time()
    system.provider_proxy.cut(refuse_for=seconds)
    time.sleep(seconds)
    return _record(system, "network-cut", at, {"link": "payments→provider", "seconds": seconds})


def slow_provider(system: "System", latency_ms: float = 800.0, seconds: float = 4.0) -> dict[str, Any]:
    """Make the provider answer `latency_ms` slower for `seconds`, then restore its latency."""
    before = system.set_provider()["latency_ms"]
    at = time.time()
    system.set_provider(latency_ms=latency_ms)
    try:
        time.sleep(seconds)
    finally:
        system.set_provider(latency_ms=before)
    return _record(system, "slow-provider", at, {"latency_ms": latency_ms, "seconds": seconds})


def poison(system: "System", n: int = 1) -> dict[str, Any]:
    """Write `n` records that are not the registry's Avro into orders.placed; inventory sends them to its DLQ
    (expected: the checker allows exactly these keys there)."""
    keys = [f"poison-{uuid.uuid4().hex[:8]}" for _ in range(n)]
    at = time.time()
    report = system.cluster.produce(system.topics["orders.placed"],
                                    [(key, b'{"order_id": "not avro"}') for key in keys])
    if report.error.notna().any():
        raise RuntimeError(f"the poison records were not written: {report.error.dropna().tolist()}")
    return _record(system, "poison", at, {"keys": keys, "topic": system.topics["orders.placed"]})


def recovery(system: "System", fault: dict[str, Any], timeout: float = 60.0) -> dict[str, Any]:
    """first_terminal_s and drained_s of one fault (see the module's docstring), polled for up to `timeout` s.

    For a poison fault: dlq_s, from the write until the last poison key is in the inventory's DLQ."""
    if fault["fault"] == "poison":
        return {"fault": "poison", "dlq_s": _poison_in_dlq(system, fault, timeout)}
    from .checker import read_store

    start_ms, end_ms = int(fault["at"] * 1000), int(fault["until"] * 1000)
    deadline = time.monotonic() + timeout
    first = drained = None
    while first is None or drained is None:
        if first is None:
            after = read_store(system, "orders", f"SELECT min(terminal_at) AS t FROM orders WHERE placed_at >= {start_ms}"
                                                 " AND terminal_at IS NOT NULL")
            if after.t.notna().any():
                first = (int(after.t[0]) - start_ms) / 1000
        if drained is None:
            before = read_store(system, "orders", "SELECT count(*) AS open, max(terminal_at) AS t FROM orders "
                                                  f"WHERE placed_at <= {end_ms}")
            still = read_store(system, "orders", f"SELECT count(*) AS n FROM orders WHERE placed_at <= {end_ms} "
                                                 "AND state = 'PLACED'")
            if int(still.n[0]) == 0:
                drained = max(0.0, (int(before.t[0] or end_ms) - end_ms) / 1000)
        if time.monotonic() > deadline:
            raise TimeoutError(f"{fault['fault']}: not recovered within {timeout:.0f} s "
                               f"(first terminal {first}, drained {drained}); is the load still running?")
        if first is None or drained is None:
            time.sleep(0.3)
    return {"fault": fault["fault"], "first_terminal_s": first, "drained_s": drained}


def _poison_in_dlq(system: "System", fault: dict[str, Any], timeout: float) -> float:
    wanted = set(fault["detail"]["keys"])
    dlq = contracts.dlq(system.prefix, "inventory")
    deadline = time.monotonic() + timeout
    while True:
        arrived = {m.key().decode(): m.timestamp()[1] for m in system.cluster.messages(dlq) if m.key()}
        if wanted <= set(arrived):
            return max(arrived[k] for k in wanted) / 1000 - fault["at"]
        if time.monotonic() > deadline:
            raise TimeoutError(f"poison keys {sorted(wanted - set(arrived))} not in {dlq} within {timeout:.0f} s")
        time.sleep(0.3)
