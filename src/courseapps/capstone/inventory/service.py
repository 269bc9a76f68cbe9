"""Inventory: reserves an order's stock on OrderPlaced, gives it back on PaymentFailed (the compensation).

    python -m courseapps.capstone.inventory.service --prefix P --bootstrap-servers B --registry-url R \
        --store inventory.db --stock '{"sku-1": 50, "sku-2": 20}'

Store (SQLite): ``stock(sku, available CHECK (available >= 0), initial)``, ``reservations(order_id PRIMARY
KEY, state RESERVED | REJECTED | RELEASED, lines, ...)`` and ``moves`` (a ledger: every change of a sku's
stock in the order it happened, with the level after it). One SQLite transaction per event: an order is
reserved whole (every line) or rejected whole, so stock never goes negative (the CHECK would refuse it too).
An OrderPlaced for an order that already has a reservation changes nothing and re-sends the same answer
(same event id): redelivery after a crash is harmless. A PaymentFailed releases a RESERVED order once.
"""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from .. import contracts
from ..service import EventLoop, Published, arguments, connect_store, http_app, now_ms, serve_http

SCHEMA = """
CREATE TABLE IF NOT EXISTS stock (sku TEXT PRIMARY KEY, available INTEGER NOT NULL CHECK (available >= 0),
                                  initial INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS moves (seq INTEGER PRIMARY KEY AUTOINCREMENT, sku TEXT NOT NULL, delta INTEGER NOT NULL,
                                  available INTEGER NOT NULL, order_id TEXT NOT NULL, at INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS reservations (order_id TEXT PRIMARY KEY, state TEXT NOT NULL, customer_id TEXT,
                                         total INTEGER, lines TEXT NOT NULL, reason TEXT, updated_at INTEGER);
"""


class Inventory:
    """The inventory's store and its two handlers (usable without Kafka: the tests call them directly)."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    def seed(self, stock: dict[str, int]) -> None:
        """Put each sku's stock in, once (a restart keeps what the store has)."""
        for sku, quantity in stock.items():
            if int(quantity) < 0:
                raise ValueError(f"stock of {sku!r} must be >= 0, not {quantity}")
            self.db.execute("INSERT OR IGNORE INTO stock (sku, available, initial) VALUES (?, ?, ?)",
                            (sku, int(quantity), int(quantity)))

    def handle(self, suffix: str, event: dict[str, Any], msg: Any = None) -> Published:
        if suffix == "orders.placed":
            return self.reserve(event)
        if suffix == "payments.failed":
            return self.release(event)
        raise ValueError(f"inventory does not consume {suffix}")

    def reserve(self, order: dict[str, Any]) -> Published:
        order_id = order["order_id"]
        lines = [{"sku": l["sku"], "quantity": int(l["quantity"]), "unit_price": int(l["unit_price"])}
                 for l in order["lines"]]
        if not lines or any(l["quantity"] < 1 for l in lines):
            raise ValueError(f"order {order_id}: every line needs a quantity >= 1")
        db = self.db
        db.execute("BEGIN IMMEDIATE")
        try:
            row = db.execute("SELECT state, reason, updated_at FROM reservations WHERE order_id = ?",
                             (order_id,)).fetchone()
            at = now_ms() if row is None else row[2]  # a re-sent answer keeps the time of the reservation
            if row is None:
                needed: dict[str, int] = {}
                for line in lines:
                    needed[line["sku"]] = needed.get(line["sku"], 0) + line["quantity"]
                short = []
                for sku, quantity in needed.items():
                    have = db.execute("SELECT available FROM stock WHERE sku = ?", (sku,)).fetchone()
                    if have is None or have[0] < quantity:
                        short.append(sku)
                state = "REJECTED" if short else "RESERVED"
                if not short:
                    for sku, quantity in needed.items():
                        self._move(sku, -quantity, order_id, at)
                db.execute("INSERT INTO reservations VALUES (?, ?, ?, ?, ?, ?, ?)",
                           (order_id, state, order["customer_id"], int(order["total"]), json.dumps(lines),
                            ",".join(short) or None, at))
            else:
                state, short = row[0], (row[1] or "").split(",")
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        if state == "REJECTED":
            return [("inventory.rejected", {"event_id": contracts.event_id("InventoryRejected", order_id),
                                            "order_id": order_id, "occurred_at": at, "reason": "out_of_stock",
                                            "skus": [s for s in short if s]})]
        return [("inventory.reserved", {"event_id": contracts.event_id("InventoryReserved", order_id),
                                        "order_id": order_id, "occurred_at": at,
                                        "customer_id": order["customer_id"], "lines": lines,
                                        "total": int(order["total"])})]

    def release(self, failed: dict[str, Any]) -> Published:
        order_id = failed["order_id"]
        db = self.db
        db.execute("BEGIN IMMEDIATE")
        try:
            row = db.execute("SELECT state, lines, updated_at FROM reservations WHERE order_id = ?",
                             (order_id,)).fetchone()
            if row is None or row[0] == "REJECTED":
                db.execute("COMMIT")
                return []  # nothing was reserved for it: nothing to give back
            lines, at = json.loads(row[1]), row[2]
            if row[0] == "RESERVED":
                at = now_ms()
                for line in lines:
                    self._move(line["sku"], line["quantity"], order_id, at)
                db.execute("UPDATE reservations SET state = 'RELEASED', updated_at = ? WHERE order_id = ?",
                           (at, order_id))
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        return [("inventory.released", {"event_id": contracts.event_id("InventoryReleased", order_id),
                                        "order_id": order_id, "occurred_at": at, "reason": "payment_failed",
                                        "lines": lines})]

    def _move(self, sku: str, delta: int, order_id: str, at: int) -> None:
        """Change one sku's stock by `delta` and write the move, with the level after it, to the ledger."""
        self.db.execute("UPDATE stock SET available = available + ? WHERE sku = ?", (delta, sku))
        self.db.execute("INSERT INTO moves (sku, delta, available, order_id, at) "
                        "SELECT sku, ?, available, ?, ? FROM stock WHERE sku = ?", (delta, order_id, at, sku))

    def stock(self) -> dict[str, int]:
        return dict(self.db.execute("SELECT sku, available FROM stock ORDER BY sku"))


def main() -> None:
    args = arguments("capstone inventory", lambda p: p.add_argument("--stock", default="{}",
                                                                   help="JSON {sku: units} put in on first start"))
    inventory = Inventory(connect_store(args.store, SCHEMA))
    inventory.seed(json.loads(args.stock))
    server = serve_http(http_app("inventory", lambda: {"stock": inventory.stock()}), args.port)
    EventLoop("inventory", args, inventory.handle).run(on_close=server.stop)


if __name__ == "__main__":
    main()
