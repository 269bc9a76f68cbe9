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
from .checker import group_lag, read_store

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
    rows = [{"service": service, "group": contracts.group(system.prefix, service), "lag": group_lag(system, service)}
            for service in system.services]
    return pd.DataFrame(rows).set_index("service")


class LagSampler:
    """Samples :func:`lag` every `interval` s on a thread while a load runs; ``frame()`` is one row per sample
    and service (t = seconds since the sampler started), for a chart of where the backlog builds up.

    >>> with LagSampler(system) as lags:
    ...     run_the_load()
    >>> lags.frame().pivot(index="t", columns="service", values="lag").plot()
    """

    def __init__(self, system: "System", interval: float = 1.0) -> None:
        import threading

        self.system, self.interval = system, interval
        self.rows: list[dict] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="lag-sampler", daemon=True)
        self.t0 = 0.0

    def _run(self) -> None:
        import time

        while not self._stop.is_set():
            try:
                sample = lag(self.system)
            except Exception:  # a broker restarting: skip this sample
                sample = None
            if sample is not None:
                t = time.time() - self.t0
                self.rows += [{"t": t, "service": s, "lag": int(v)} for s, v in sample.lag.items()]
            self._stop.wait(self.interval)

    def __enter__(self) -> "LagSampler":
        import time

        self.t0 = time.time()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(30)

    def frame(self) -> pd.DataFrame:
        return pd.DataFrame(self.rows, columns=["t", "service", "lag"])
