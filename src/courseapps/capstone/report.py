"""What a run measured: end-to-end latency (placed → terminal) per order, throughput, lag per consumer group.

>>> from courseapps.capstone import report
>>> orders = report.e2e(system)          # one row per terminal order: outcome, placed_s, latency_ms
>>> report.summary(orders)               # per outcome and all: orders, p50/p95/p99/max ms, per_s
>>> report.lag(system)                   # per service: its group's lag summed over its topics (the bottleneck)
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd

from kafkacourse.instruments.latency import latency_table

from . import contracts
from .checker import read_store

if TYPE_CHECKING:
    from .system import System


def e2e(system: "System") -> pd.DataFrame:
    """One row per order that reached a terminal state: order_id, outcome (completed, cancelled_out_of_stock,
    cancelled_payment_failed), placed_s / terminal_s (epoch s) and latency_ms (terminal − placed)."""
    frame = read_store(system, "orders", "SELECT order_id, state, reason, placed_at, terminal_at FROM orders "
                                         "WHERE terminal_at IS NOT NULL ORDER BY placed_at")
    if frame.empty:
        return pd.DataFrame(columns=["order_id", "outcome", "placed_s", "terminal_s", "latency_ms"])
    outcome = frame.state.str.lower().where(frame.state == "COMPLETED", "cancelled_" + frame.reason.fillna(""))
    return pd.DataFrame({"order_id": frame.order_id, "outcome": outcome, "placed_s": frame.placed_at / 1000,
                         "terminal_s": frame.terminal_at / 1000,
                         "latency_ms": (frame.terminal_at - frame.placed_at).astype(float)})


def summary(orders: pd.DataFrame) -> pd.DataFrame:
    """latency_table of the orders per outcome plus an ``all`` row: orders, p50/p95/p99/max ms, per_s
    (terminal orders per second from the first placement to the last terminal state)."""
    both = pd.concat([orders, orders.assign(outcome="all")]).rename(columns={"placed_s": "sent_s"})
    return latency_table(both, by="outcome").rename(columns={"requests": "orders"})


def lag(system: "System") -> pd.DataFrame:
    """Per service: its consumer group's lag summed over the topics it reads, now."""
    rows = []
    for service in system.services:
        group = contracts.group(system.prefix, service)
        total = sum(int(system.cluster.group_offsets(group, system.topics[s]).lag.sum())
                    for s in contracts.CONSUMES[service])
        rows.append({"service": service, "group": group, "lag": total})
    return pd.DataFrame(rows).set_index("service")
