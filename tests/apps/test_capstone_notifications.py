"""Capstone notifications: one message per order's end, whatever the redeliveries."""

from __future__ import annotations

import pytest

from courseapps.capstone.notifications.service import SCHEMA, Notifications
from courseapps.capstone.service import connect_store, now_ms


def test_notifies_once_per_terminal_order(tmp_path):
    notifications = Notifications(connect_store(tmp_path / "n.db", SCHEMA))
    done = {"event_id": "e1", "order_id": "o-1", "occurred_at": now_ms(), "placed_at": now_ms()}
    cancelled = {"event_id": "e2", "order_id": "o-2", "occurred_at": now_ms(), "placed_at": now_ms(),
                 "reason": "out_of_stock"}
    for _ in range(2):
        assert notifications.handle("orders.completed", done) == []
        notifications.handle("orders.cancelled", cancelled)
    rows = dict(notifications.db.execute("SELECT order_id, text FROM notifications"))
    assert notifications.count() == 2 and "out_of_stock" in rows["o-2"]
    with pytest.raises(ValueError, match="does not consume"):
        notifications.handle("payments.failed", done)
