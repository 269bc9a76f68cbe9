"""Payments: charges an order once its stock is reserved; exactly one charge per order, behind a circuit breaker.

    python -m courseapps.capstone.payments.service --prefix P --bootstrap-servers B --registry-url R \
        --store payments.db --provider http://127.0.0.1:8700

On InventoryReserved it asks the provider (``POST /charges``, ``Idempotency-Key: <order id>``) and publishes
PaymentCharged (200) or PaymentFailed (402, declined). Exactly-once charging per order, two ways at once:
its store (``payments(order_id PRIMARY KEY, state, charge_id)``) answers a redelivered order without calling
the provider again, and the idempotency key covers the window where it crashed after the charge but before
its store knew (the provider answers the first charge again instead of charging twice).

A 5xx, a timeout or a refused connection is transient: the loop retries the record in place. A pybreaker
circuit breaker (``--fail-max`` failures → open for ``--reset-timeout`` s → one trial call, half-open) stops
the service from hammering a provider that is down; its state is the ``capstone_circuit_breaker_state`` gauge.
"""

from __future__ import annotations

import sqlite3
from typing import Any

import httpx
import pybreaker

from kafkacourse.instruments.retry import TransientError

from .. import contracts
from ..service import (BREAKER_CODES, BREAKER_STATE, EventLoop, Published, arguments, connect_store, http_app,
                       now_ms, say, serve_http)

SCHEMA = """
CREATE TABLE IF NOT EXISTS payments (order_id TEXT PRIMARY KEY, state TEXT NOT NULL, amount INTEGER NOT NULL,
                                     charge_id TEXT, reason TEXT, at INTEGER NOT NULL);
"""


class BreakerGauge(pybreaker.CircuitBreakerListener):
    def __init__(self, service: str, breaker: str) -> None:
        self.gauge = BREAKER_STATE.labels(service, breaker)
        self.gauge.set(0)

    def state_change(self, cb: Any, old_state: Any, new_state: Any) -> None:
        self.gauge.set(BREAKER_CODES.get(new_state.name, 0))
        say("breaker", old=old_state.name if old_state else None, new=new_state.name)


class Payments:
    def __init__(self, db: sqlite3.Connection, provider: str, fail_max: int = 3, reset_timeout: float = 2.0,
                 timeout: float = 5.0) -> None:
        self.db, self.provider = db, provider.rstrip("/")
        self.client = httpx.Client(timeout=timeout)
        self.breaker = pybreaker.CircuitBreaker(fail_max=fail_max, reset_timeout=reset_timeout,
                                                listeners=[BreakerGauge("payments", "provider")])

    def handle(self, suffix: str, event: dict[str, Any], msg: Any = None) -> Published:
        if suffix != "inventory.reserved":
            raise ValueError(f"payments does not consume {suffix}")
        order_id, amount = event["order_id"], int(event["total"])
        row = self.db.execute("SELECT state, charge_id, reason FROM payments WHERE order_id = ?", (order_id,)).fetchone()
        if row is None:
            answer = self.breaker.call(self._charge, order_id, amount)
            row = ("CHARGED", answer.get("charge_id"), None) if answer["status"] == "charged" else \
                ("FAILED", None, answer["status"])
            self.db.execute("INSERT OR IGNORE INTO payments VALUES (?, ?, ?, ?, ?, ?)",
                            (order_id, row[0], amount, row[1], row[2], now_ms()))
        if row[0] == "CHARGED":
            return [("payments.charged", {"event_id": contracts.event_id("PaymentCharged", order_id),
                                          "order_id": order_id, "occurred_at": now_ms(), "amount": amount,
                                          "charge_id": row[1]})]
        return [("payments.failed", {"event_id": contracts.event_id("PaymentFailed", order_id), "order_id": order_id,
                                     "occurred_at": now_ms(), "amount": amount, "reason": row[2] or "declined"})]

    def _charge(self, order_id: str, amount: int) -> dict[str, Any]:
        try:
            response = self.client.post(f"{self.provider}/charges", json={"order_id": order_id, "amount": amount},
                                        headers={"Idempotency-Key": order_id})
        except httpx.HTTPError as exc:
            raise TransientError(f"provider unreachable: {type(exc).__name__}") from None
        if response.status_code == 402:
            return {"status": "declined"}
        if response.status_code >= 500 or response.status_code == 429:
            raise TransientError(f"provider answered {response.status_code}")
        response.raise_for_status()
        return response.json()


def main() -> None:
    def extra(parser: Any) -> None:
        parser.add_argument("--provider", required=True, help="the payment provider's base URL")
        parser.add_argument("--fail-max", type=int, default=3)
        parser.add_argument("--reset-timeout", type=float, default=2.0)

    args = arguments("capstone payments", extra)
    payments = Payments(connect_store(args.store, SCHEMA), args.provider, args.fail_max, args.reset_timeout)
    server = serve_http(http_app("payments", lambda: {"breaker": payments.breaker.current_state}), args.port)
    EventLoop("payments", args, payments.handle).run(on_close=server.stop)


if __name__ == "__main__":
    main()
