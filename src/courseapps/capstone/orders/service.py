"""Orders: the HTTP API that accepts orders (Idempotency-Key, outbox), and the saga's end (COMPLETED / CANCELLED).

    python -m courseapps.capstone.orders.service --prefix P --bootstrap-servers B --registry-url R \
        --store orders.db --port 8600

``POST /orders`` (header ``Idempotency-Key``, body ``{"customer_id", "lines": [{"sku", "quantity",
"unit_price"}]}``) writes the order and its OrderPlaced into the store in **one SQLite transaction** (the
outbox pattern) and answers 201 with the order id. The same key again answers the same order (200, header
``Idempotent-Replayed: true``) and writes nothing; the same key with another body is a 422. The API never
waits for Kafka: while a broker is down orders are still accepted, and a relay thread publishes the outbox
(idempotent producer, acks=all) once the cluster answers; a row is marked sent only after its ack, so a crash
in between re-sends it with the same event id.

The consumer side closes the saga: InventoryRejected → CANCELLED (out_of_stock), PaymentFailed → CANCELLED
(payment_failed), OrderShipped → COMPLETED, each a guarded ``UPDATE ... WHERE state = 'PLACED'`` in the same
transaction as the OrderCompleted / OrderCancelled outbox row: an order reaches exactly one terminal state,
once, however often an event is redelivered. ``GET /orders/{id}`` shows an order.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
import time
import uuid
from typing import Any

from confluent_kafka import Producer
from fastapi import FastAPI, Header, HTTPException, Response
from pydantic import BaseModel, Field

from kafkacourse.instruments.retry import TransientError

from .. import contracts
from ..service import (ORDER_E2E, SAGA_OUTCOMES, EventLoop, Events, Published, arguments, connect_store, http_app,
                       now_ms, producer_config, publish, say, serve_http)

SCHEMA = """
CREATE TABLE IF NOT EXISTS orders (order_id TEXT PRIMARY KEY, idempotency_key TEXT UNIQUE NOT NULL,
    request_hash TEXT NOT NULL, customer_id TEXT NOT NULL, lines TEXT NOT NULL, total INTEGER NOT NULL,
    state TEXT NOT NULL, reason TEXT, placed_at INTEGER NOT NULL, terminal_at INTEGER);
CREATE TABLE IF NOT EXISTS outbox (id INTEGER PRIMARY KEY AUTOINCREMENT, suffix TEXT NOT NULL, order_id TEXT NOT NULL,
    event TEXT NOT NULL, created_at INTEGER NOT NULL, sent_at INTEGER);
CREATE INDEX IF NOT EXISTS outbox_unsent ON outbox (sent_at) WHERE sent_at IS NULL;
"""


class Line(BaseModel):
    sku: str = Field(min_length=1)
    quantity: int = Field(ge=1)
    unit_price: int = Field(ge=0, description="cents")


class PlaceOrder(BaseModel):
    customer_id: str = Field(min_length=1)
    lines: list[Line] = Field(min_length=1)


class Orders:
    """The orders store: placing (API), closing (consumer), and the outbox the relay publishes."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db
        self.lock = threading.Lock()  # one writer at a time on this connection (API threads + consumer)

    def place(self, key: str, request: PlaceOrder) -> tuple[dict[str, Any], bool]:
        """(the order, created?) for an Idempotency-Key; ValueError when the key was used for another body."""
        body = request.model_dump()
        digest = hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()
        with self.lock:
            self.db.execute("BEGIN IMMEDIATE")
            try:
                row = self.db.execute("SELECT order_id, request_hash FROM orders WHERE idempotency_key = ?",
                                      (key,)).fetchone()
                if row is not None:
                    self.db.execute("COMMIT")
                    if row[1] != digest:
                        raise ValueError(f"Idempotency-Key {key!r} was used for another order ({row[0]})")
                    return self.get(row[0]), False
                order_id, placed_at = str(uuid.uuid4()), now_ms()
                total = sum(l["quantity"] * l["unit_price"] for l in body["lines"])
                self.db.execute("INSERT INTO orders VALUES (?, ?, ?, ?, ?, ?, 'PLACED', NULL, ?, NULL)",
                                (order_id, key, digest, body["customer_id"], json.dumps(body["lines"]), total, placed_at))
                event = {"event_id": contracts.event_id("OrderPlaced", order_id), "order_id": order_id,
                         "occurred_at": placed_at, "customer_id": body["customer_id"], "lines": body["lines"],
                         "total": total, "placed_at": placed_at}
                self._outbox("orders.placed", event)
                self.db.execute("COMMIT")
            except sqlite3.Error:
                self.db.execute("ROLLBACK")
                raise
        return self.get(order_id), True

    def get(self, order_id: str) -> dict[str, Any] | None:
        row = self.db.execute("SELECT order_id, customer_id, lines, total, state, reason, placed_at, terminal_at "
                              "FROM orders WHERE order_id = ?", (order_id,)).fetchone()
        if row is None:
            return None
        keys = ("order_id", "customer_id", "lines", "total", "state", "reason", "placed_at", "terminal_at")
        order = dict(zip(keys, row))
        order["lines"] = json.loads(order["lines"])
        return order

    def handle(self, suffix: str, event: dict[str, Any], msg: Any = None) -> Published:
        if suffix == "shipping.shipped":
            self.close(event["order_id"], "COMPLETED", None)
        elif suffix == "inventory.rejected":
            self.close(event["order_id"], "CANCELLED", "out_of_stock")
        elif suffix == "payments.failed":
            self.close(event["order_id"], "CANCELLED", "payment_failed")
        else:
            raise ValueError(f"orders does not consume {suffix}")
        return []  # the terminal events go out through the outbox

    def close(self, order_id: str, state: str, reason: str | None) -> bool:
        """Move a PLACED order to its terminal state, once; False when it already had one."""
        with self.lock:
            self.db.execute("BEGIN IMMEDIATE")
            try:
                row = self.db.execute("SELECT placed_at FROM orders WHERE order_id = ?", (order_id,)).fetchone()
                if row is None:
                    raise ValueError(f"no order {order_id} in this run's store")
                at = now_ms()
                changed = self.db.execute("UPDATE orders SET state = ?, reason = ?, terminal_at = ? "
                                          "WHERE order_id = ? AND state = 'PLACED'",
                                          (state, reason, at, order_id)).rowcount
                if changed:
                    common = {"order_id": order_id, "occurred_at": at, "placed_at": row[0]}
                    if state == "COMPLETED":
                        self._outbox("orders.completed", {"event_id": contracts.event_id("OrderCompleted", order_id),
                                                          **common})
                    else:
                        self._outbox("orders.cancelled", {"event_id": contracts.event_id("OrderCancelled", order_id),
                                                          "reason": reason, **common})
                self.db.execute("COMMIT")
            except BaseException:
                self.db.execute("ROLLBACK")
                raise
        if changed:
            SAGA_OUTCOMES.labels("completed" if state == "COMPLETED" else f"cancelled_{reason}").inc()
            ORDER_E2E.observe((at - row[0]) / 1000)
        return bool(changed)

    def _outbox(self, suffix: str, event: dict[str, Any]) -> None:
        self.db.execute("INSERT INTO outbox (suffix, order_id, event, created_at) VALUES (?, ?, ?, ?)",
                        (suffix, event["order_id"], json.dumps(event), now_ms()))

    def unsent(self, limit: int = 200) -> list[tuple[int, str, dict[str, Any]]]:
        with self.lock:
            rows = self.db.execute("SELECT id, suffix, event FROM outbox WHERE sent_at IS NULL ORDER BY id LIMIT ?",
                                   (limit,)).fetchall()
        return [(i, s, json.loads(e)) for i, s, e in rows]

    def mark_sent(self, ids: list[int]) -> None:
        with self.lock:
            self.db.executemany("UPDATE outbox SET sent_at = ? WHERE id = ?", [(now_ms(), i) for i in ids])


class Relay(threading.Thread):
    """Publishes the outbox in order, marks rows sent after their acks; retries while the cluster is away."""

    def __init__(self, orders: Orders, args: Any) -> None:
        super().__init__(name="outbox-relay", daemon=True)
        self.orders, self.stopping = orders, threading.Event()
        self.events = Events(args.registry_url, args.prefix)
        self.producer = Producer(producer_config(args.bootstrap_servers))
        self.published = 0

    def run(self) -> None:
        try:
            while not self.stopping.is_set():
                batch = self.orders.unsent()
                if not batch:
                    self.stopping.wait(0.02)
                    continue
                try:
                    publish(self.producer, self.events, [(s, e) for _, s, e in batch], timeout=30)
                except (TransientError, Exception) as exc:  # the cluster is away: the rows stay unsent
                    say("relay-retry", error=str(exc)[:200])
                    self.stopping.wait(0.5)
                    continue
                self.orders.mark_sent([i for i, _, _ in batch])
                self.published += len(batch)
        finally:
            self.producer.flush(10)


def create_app(orders: Orders) -> FastAPI:
    app = FastAPI(title="capstone orders")

    @app.post("/orders", status_code=201)
    def place_order(request: PlaceOrder, response: Response, idempotency_key: str = Header(min_length=1)) -> dict:
        try:
            order, created = orders.place(idempotency_key, request)
        except ValueError as exc:
            raise HTTPException(422, str(exc)) from None
        if not created:
            response.status_code = 200
            response.headers["Idempotent-Replayed"] = "true"
        return order

    @app.get("/orders/{order_id}")
    def get_order(order_id: str) -> dict:
        order = orders.get(order_id)
        if order is None:
            raise HTTPException(404, f"no order {order_id}")
        return order

    return app


def main() -> None:
    args = arguments("capstone orders")
    orders = Orders(connect_store(args.store, SCHEMA))
    relay = Relay(orders, args)
    relay.start()
    unsent = lambda: orders.db.execute("SELECT count(*) FROM outbox WHERE sent_at IS NULL").fetchone()[0]
    server = serve_http(http_app("orders", lambda: {"outbox_unsent": unsent()}, create_app(orders)), args.port)

    def close() -> None:
        deadline = time.monotonic() + 10  # graceful: give the relay a moment to drain the outbox
        while unsent() and time.monotonic() < deadline:
            time.sleep(0.05)
        relay.stopping.set()
        relay.join(15)
        server.stop()

    EventLoop("orders", args, orders.handle).run(on_close=close)


if __name__ == "__main__":
    main()
