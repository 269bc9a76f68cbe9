"""The transactional outbox (Day 4 lesson 04): an order row and its event written in ONE database transaction.

The service never talks to Kafka. It inserts the order and, in the same transaction, an ``OrderPlaced`` row
into the outbox table (and deletes it again at once: the row only has to reach PostgreSQL's write-ahead log,
where Debezium's connector reads it; the outbox event router SMT turns each outbox insert into one Kafka record
and ignores the delete). Either both the order and its event commit, or neither does.

>>> shop = OutboxOrders("shop_1")            # tables shop_1_orders and shop_1_outbox
>>> shop.create_tables()
>>> order_id, event_id = shop.place_order("ada", 42.0)
>>> shop.place_order("bob", 7.0, fail_before_commit=True)   # raises OrderFailed: no order, no event
>>> shop.drop_tables()
"""

from __future__ import annotations

import json
import re

from kafkacourse import postgres


class OrderFailed(RuntimeError):
    """The order's transaction was rolled back (a crash before COMMIT): neither its row nor its event exists."""


class OutboxOrders:
    """Orders and their outbox in the course database, under table names starting with `prefix`."""

    def __init__(self, prefix: str) -> None:
        if not re.fullmatch(r"[a-z_][a-z0-9_]*", prefix):
            raise ValueError(f"a table prefix is lower-case letters, digits and _, not {prefix!r}")
        self.orders, self.outbox = f"{prefix}_orders", f"{prefix}_outbox"

    def create_tables(self) -> None:
        """The orders table and the outbox table in the shape the event router reads by default
        (id, aggregatetype, aggregateid, type, payload); idempotent."""
        postgres.execute(f"CREATE TABLE IF NOT EXISTS {self.orders} "
                         "(id serial PRIMARY KEY, customer text NOT NULL, total numeric(10, 2) NOT NULL)")
        postgres.execute(f"CREATE TABLE IF NOT EXISTS {self.outbox} (id uuid PRIMARY KEY DEFAULT gen_random_uuid(), "
                         "aggregatetype text NOT NULL, aggregateid text NOT NULL, type text NOT NULL, "
                         "payload jsonb NOT NULL)")

    def place_order(self, customer: str, total: float, fail_before_commit: bool = False) -> tuple[int, str]:
        """Insert the order and its OrderPlaced outbox event in one transaction; return (order id, event id).

        `fail_before_commit` raises OrderFailed after both inserts, before COMMIT (the transaction rolls back)."""
        with postgres.connect(autocommit=False) as conn:
            with conn.transaction():
                order_id = conn.execute(f"INSERT INTO {self.orders} (customer, total) VALUES (%s, %s) "
                                        "RETURNING id", [customer, total]).fetchone()[0]
                payload = {"order_id": order_id, "customer": customer, "total": total}
                event_id = conn.execute(
                    f"INSERT INTO {self.outbox} (aggregatetype, aggregateid, type, payload) "
                    "VALUES ('order', %s, 'OrderPlaced', %s) RETURNING id::text",
                    [str(order_id), json.dumps(payload)]).fetchone()[0]
                conn.execute(f"DELETE FROM {self.outbox} WHERE id = %s", [event_id])
                if fail_before_commit:  # leaving the transaction block with an exception rolls it back
                    raise OrderFailed(f"order of {customer} failed before COMMIT")
        return order_id, event_id

    def orders_placed(self) -> list[int]:
        """Ids of the orders that committed, in order."""
        return postgres.query(f"SELECT id FROM {self.orders} ORDER BY id")["id"].tolist()

    def drop_tables(self) -> None:
        postgres.execute(f"DROP TABLE IF EXISTS {self.orders}, {self.outbox}")
