"""Notifications: tells the customer how their order ended (OrderCompleted / OrderCancelled), once per order.

    python -m courseapps.capstone.notifications.service --prefix P --bootstrap-servers B --registry-url R --store n.db

"Telling" is a row in its store (``notifications(order_id PRIMARY KEY, kind, text)``): the outbox of a mail
sender that is not part of the course. A redelivered event notifies nobody twice. It publishes nothing.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from ..service import EventLoop, Published, arguments, connect_store, http_app, now_ms, serve_http

SCHEMA = "CREATE TABLE IF NOT EXISTS notifications (order_id TEXT PRIMARY KEY, kind TEXT NOT NULL, text TEXT, at INTEGER);"


class Notifications:
    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    def handle(self, suffix: str, event: dict[str, Any], msg: Any = None) -> Published:
        if suffix == "orders.completed":
            kind, text = "completed", f"Your order {event['order_id']} is on its way."
        elif suffix == "orders.cancelled":
            kind, text = "cancelled", f"Your order {event['order_id']} was cancelled ({event['reason']})."
        else:
            raise ValueError(f"notifications does not consume {suffix}")
        self.db.execute("INSERT OR IGNORE INTO notifications VALUES (?, ?, ?, ?)", (event["order_id"], kind, text, now_ms()))
        return []

    def count(self) -> int:
        return self.db.execute("SELECT count(*) FROM notifications").fetchone()[0]


def main() -> None:
    args = arguments("capstone notifications")
    notifications = Notifications(connect_store(args.store, SCHEMA))
    server = serve_http(http_app("notifications", lambda: {"sent": notifications.count()}), args.port)
    EventLoop("notifications", args, notifications.handle).run(on_close=server.stop)


if __name__ == "__main__":
    main()
