"""Shipping: ships a paid order (PaymentCharged → OrderShipped), once per order.

    python -m courseapps.capstone.shipping.service --prefix P --bootstrap-servers B --registry-url R --store shipping.db

Store: ``shipments(order_id PRIMARY KEY, shipment_id)``; a redelivered PaymentCharged re-sends the same
OrderShipped (same event id, same shipment id) and ships nothing twice.
"""

from __future__ import annotations

import sqlite3
import uuid
from typing import Any

from .. import contracts
from ..service import EventLoop, Published, arguments, connect_store, http_app, now_ms, serve_http

SCHEMA = "CREATE TABLE IF NOT EXISTS shipments (order_id TEXT PRIMARY KEY, shipment_id TEXT NOT NULL, at INTEGER NOT NULL);"


class Shipping:
    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    def handle(self, suffix: str, event: dict[str, Any], msg: Any = None) -> Published:
        if suffix != "payments.charged":
            raise ValueError(f"shipping does not consume {suffix}")
        order_id = event["order_id"]
        self.db.execute("INSERT OR IGNORE INTO shipments VALUES (?, ?, ?)",
                        (order_id, f"sh_{uuid.uuid4().hex[:12]}", now_ms()))
        shipment_id = self.db.execute("SELECT shipment_id FROM shipments WHERE order_id = ?", (order_id,)).fetchone()[0]
        return [("shipping.shipped", {"event_id": contracts.event_id("OrderShipped", order_id), "order_id": order_id,
                                      "occurred_at": now_ms(), "shipment_id": shipment_id})]


def main() -> None:
    args = arguments("capstone shipping")
    shipping = Shipping(connect_store(args.store, SCHEMA))
    server = serve_http(http_app("shipping"), args.port)
    EventLoop("shipping", args, shipping.handle).run(on_close=server.stop)


if __name__ == "__main__":
    main()
