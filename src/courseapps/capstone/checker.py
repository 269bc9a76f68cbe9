"""The invariants of the capstone, checked from what the system left behind: its topics and its stores.

>>> from courseapps.capstone.checker import settle, check
>>> settle(system)                 # wait until every order is terminal, the outbox empty, every group caught up
>>> table = check(system)          # invariant, holds, violations, examples — one row per invariant
>>> assert table.holds.all(), table

The invariants (CAPSTONE.md):

* **one terminal state** — every order in the orders store is COMPLETED or CANCELLED, and the terminal topics
  hold events of exactly one kind for it (OrderCompleted xor OrderCancelled; a redelivered copy with the same
  event id is the same event);
* **stock never negative** — the inventory's stock now, every level its ledger (``moves``) went through, and
  the history rebuilt from the topics: the initial stock, minus each InventoryReserved, plus each
  InventoryReleased, by occurred_at (at a tie of milliseconds the release first: the topics cannot say);
  the ledger must also add up (initial + every move = available);
* **stock matches confirmed orders** — per sku, initial − available = the units of the COMPLETED orders;
* **no double charge** — the provider made at most one charge per order (its own store), and
  payments.charged holds at most one distinct charge per order;
* **failed payments compensated** — every order with a PaymentFailed has an InventoryReleased, its
  reservation RELEASED and its order CANCELLED (payment_failed);
* **DLQs hold only the expected** — every DLQ record is a poison message the run injected (its key is in a
  ``poison`` fault of faults.jsonl).
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections import defaultdict
from typing import TYPE_CHECKING, Any

import pandas as pd

from . import contracts

if TYPE_CHECKING:
    from .system import System

INVARIANTS = ("one terminal state", "stock never negative", "stock matches confirmed orders", "no double charge",
              "failed payments compensated", "DLQs hold only the expected")


def read_store(system: "System", service: str, query: str) -> pd.DataFrame:
    """A query's rows from a service's SQLite store (read-only; WAL lets it read while the service writes)."""
    path = system.store(service)
    if not path.exists():
        return pd.DataFrame()
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30) as db:
        return pd.read_sql_query(query, db)


def read_events(system: "System", suffix: str) -> list[dict[str, Any]]:
    """Every event of one of the run's topics, decoded (Avro), in partition order, each with its partition
    and offset; a record that does not decode is returned as ``{"undecodable": True}``."""
    from .service import Events

    events = Events(system.cluster.schema_registry_url, system.prefix)
    topic = system.topics[suffix]
    found = []
    for msg in system.cluster.messages(topic, timeout=60):
        try:
            event = events.decode(topic, msg.value())
        except Exception:  # a poison record: counted, not fatal
            event = {"undecodable": True, "key": msg.key()}
        found.append({**event, "partition": msg.partition(), "offset": msg.offset()})
    return found


def poison_keys(system: "System") -> set[str]:
    """The keys of the poison records the run injected (faults.jsonl, fault ``poison``)."""
    return {str(key) for fault in system.faults() if fault["fault"] == "poison"
            for key in (fault.get("detail") or {}).get("keys", [])}


def settle(system: "System", timeout: float = 90.0) -> float:
    """Wait until no order is PLACED, the outbox is sent and every service's group has consumed its topics
    to the end; the seconds it took. A TimeoutError says what is still open."""
    started = time.monotonic()
    deadline = started + timeout
    while True:
        open_orders = read_store(system, "orders", "SELECT count(*) AS n FROM orders WHERE state = 'PLACED'")
        unsent = read_store(system, "orders", "SELECT count(*) AS n FROM outbox WHERE sent_at IS NULL")
        left = int(open_orders.n[0]) if len(open_orders) else 0
        if left == 0 and (unsent.empty or int(unsent.n[0]) == 0):
            break
        if time.monotonic() > deadline:
            raise TimeoutError(f"after {timeout:.0f} s {left} orders are still PLACED, "
                               f"{int(unsent.n[0])} outbox rows unsent")
        time.sleep(0.3)
    while True:
        lags = {service: group_lag(system, service) for service in system.services}
        if not any(lags.values()):
            return time.monotonic() - started
        if time.monotonic() > deadline:
            raise TimeoutError(f"after {timeout:.0f} s the services' groups still lag: {lags}")
        time.sleep(0.3)


def group_lag(system: "System", service: str, timeout: float = 60.0) -> int:
    """A service's consumer group's lag summed over the topics it reads: end offsets minus the group's committed
    offsets (none committed counts as 0). Read with a plain consumer of the group that never joins it
    (``committed()`` + ``get_watermark_offsets()``), not the AdminClient: on a cluster whose brokers restart,
    librdkafka 2.16's admin requests timing out have aborted the process (an enq_once assertion). A failed
    request (a coordinator still loading, a broker restarting) is asked again, for up to `timeout` s."""
    from confluent_kafka import Consumer, KafkaException, TopicPartition

    group = contracts.group(system.prefix, service)
    deadline = time.monotonic() + timeout
    consumer = Consumer(system.cluster.config(settings={"group.id": group, "enable.auto.commit": False}))
    try:
        while True:
            try:
                partitions = [TopicPartition(system.topics[s], p) for s in contracts.CONSUMES[service]
                              for p in range(contracts.PARTITIONS)]
                committed = consumer.committed(partitions, timeout=10)
                total = 0
                for tp in committed:
                    if tp.error is not None:
                        raise KafkaException(tp.error)
                    high = consumer.get_watermark_offsets(TopicPartition(tp.topic, tp.partition), timeout=10)[1]
                    total += high - max(tp.offset, 0)
                return total
            except KafkaException as exc:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"no lag for group {group} within {timeout:.0f} s: {exc}") from exc
                time.sleep(0.5)
    finally:
        consumer.close()


def check(system: "System") -> pd.DataFrame:
    """One row per invariant: holds (bool), violations (count), examples (a few order ids or skus), checked."""
    orders = read_store(system, "orders", "SELECT order_id, state, reason, lines FROM orders")
    stock = read_store(system, "inventory", "SELECT sku, available, initial FROM stock")
    moves = read_store(system, "inventory", "SELECT sku, delta, available FROM moves ORDER BY seq")
    reservations = read_store(system, "inventory", "SELECT order_id, state FROM reservations")
    charges = read_store(system, "provider", "SELECT order_id, status FROM charges")
    events = {s: read_events(system, s) for s in ("orders.completed", "orders.cancelled", "inventory.reserved",
                                                  "inventory.released", "payments.charged", "payments.failed")}
    rows = [
        _one_terminal_state(orders, events),
        _stock_never_negative(stock, moves, events),
        _stock_matches(stock, orders),
        _no_double_charge(charges, events),
        _compensated(events, reservations, orders),
        _dlqs_expected(system),
    ]
    return pd.DataFrame(rows, columns=["invariant", "holds", "violations", "examples", "checked"]).set_index("invariant")


def _row(name: str, bad: list[Any], checked: int) -> dict[str, Any]:
    return {"invariant": name, "holds": not bad, "violations": len(bad), "examples": ", ".join(map(str, bad[:3])),
            "checked": checked}


def _distinct(events: list[dict[str, Any]]) -> dict[str, set[str]]:
    """order id → the distinct event ids of one topic's events about it."""
    ids: dict[str, set[str]] = defaultdict(set)
    for event in events:
        if "order_id" in event:
            ids[event["order_id"]].add(event["event_id"])
    return ids


def _one_terminal_state(orders: pd.DataFrame, events: dict[str, list]) -> dict[str, Any]:
    completed, cancelled = _distinct(events["orders.completed"]), _distinct(events["orders.cancelled"])
    bad = []
    for order in orders.itertuples():
        kinds = (order.order_id in completed) + (order.order_id in cancelled)
        expected = {"COMPLETED": completed, "CANCELLED": cancelled}.get(order.state)
        if (order.state not in contracts.TERMINAL_STATES or kinds != 1 or order.order_id not in expected
                or len(expected[order.order_id]) != 1):
            bad.append(order.order_id)
    return _row("one terminal state", bad, len(orders))


def _stock_never_negative(stock: pd.DataFrame, moves: pd.DataFrame, events: dict[str, list]) -> dict[str, Any]:
    bad = [f"{r.sku} now {r.available}" for r in stock.itertuples() if r.available < 0]
    if len(moves):
        bad += [f"{r.sku} at {r.available} in the ledger" for r in moves[moves.available < 0].itertuples()]
        net = moves.groupby("sku").delta.sum()
        bad += [f"{r.sku}: ledger does not add up" for r in stock.itertuples()
                if r.initial + int(net.get(r.sku, 0)) != r.available]
    level = dict(zip(stock.sku, stock.initial))
    history = [(e["occurred_at"], -1, e) for e in _first_per_order(events["inventory.reserved"])]
    history += [(e["occurred_at"], +1, e) for e in _first_per_order(events["inventory.released"])]
    lowest = dict(level)
    for _, sign, event in sorted(history, key=lambda m: (m[0], -m[1])):  # at a tie, the release first
        for line in event["lines"]:
            level[line["sku"]] = level.get(line["sku"], 0) + sign * int(line["quantity"])
            lowest[line["sku"]] = min(lowest.get(line["sku"], 0), level[line["sku"]])
    bad += [f"{sku} reached {low}" for sku, low in lowest.items() if low < 0]
    return _row("stock never negative", bad, len(history))


def _first_per_order(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    seen, first = set(), []
    for event in events:
        if event.get("order_id") and event["order_id"] not in seen:
            seen.add(event["order_id"])
            first.append(event)
    return first


def _stock_matches(stock: pd.DataFrame, orders: pd.DataFrame) -> dict[str, Any]:
    confirmed: dict[str, int] = defaultdict(int)
    for order in orders[orders.state == "COMPLETED"].itertuples():
        for line in json.loads(order.lines):
            confirmed[line["sku"]] += int(line["quantity"])
    bad = [f"{r.sku}: {r.initial - r.available} taken, {confirmed.get(r.sku, 0)} confirmed"
           for r in stock.itertuples() if r.initial - r.available != confirmed.get(r.sku, 0)]
    bad += [f"{sku}: not in stock" for sku in confirmed if sku not in set(stock.sku)]
    return _row("stock matches confirmed orders", bad, len(stock))


def _no_double_charge(charges: pd.DataFrame, events: dict[str, list]) -> dict[str, Any]:
    made = charges[charges.status == "charged"].groupby("order_id").size() if len(charges) else pd.Series(dtype=int)
    bad = list(made[made > 1].index)
    charge_ids: dict[str, set[str]] = defaultdict(set)
    for event in events["payments.charged"]:
        charge_ids[event["order_id"]].add(event["charge_id"])
    bad += [order_id for order_id, ids in charge_ids.items() if len(ids) > 1 and order_id not in bad]
    return _row("no double charge", bad, len(charge_ids))


def _compensated(events: dict[str, list], reservations: pd.DataFrame, orders: pd.DataFrame) -> dict[str, Any]:
    failed = set(_distinct(events["payments.failed"]))
    released = set(_distinct(events["inventory.released"]))
    state = dict(zip(reservations.order_id, reservations.state))
    order_state = {r.order_id: (r.state, r.reason) for r in orders.itertuples()}
    bad = [o for o in sorted(failed) if o not in released or state.get(o) != "RELEASED"
           or order_state.get(o) != ("CANCELLED", "payment_failed")]
    return _row("failed payments compensated", bad, len(failed))


def _dlqs_expected(system: "System") -> dict[str, Any]:
    expected = poison_keys(system)
    bad, checked = [], 0
    for service in contracts.CONSUMES:
        for msg in system.cluster.messages(contracts.dlq(system.prefix, service), timeout=60):
            checked += 1
            key = msg.key().decode(errors="replace") if msg.key() else None
            if key not in expected:
                bad.append(f"{service}:{key}")
    return _row("DLQs hold only the expected", bad, checked)
