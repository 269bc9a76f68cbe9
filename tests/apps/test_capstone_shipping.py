"""Capstone shipping: a paid order ships once; a redelivered PaymentCharged re-sends the same OrderShipped."""

from __future__ import annotations

import pytest

from courseapps.capstone import contracts
from courseapps.capstone.service import connect_store, now_ms
from courseapps.capstone.shipping.service import SCHEMA, Shipping


def test_ships_once_per_order(tmp_path):
    shipping = Shipping(connect_store(tmp_path / "shipping.db", SCHEMA))
    charged = {"event_id": "e", "order_id": "o-1", "occurred_at": now_ms(), "amount": 5, "charge_id": "ch"}
    [(topic, first)] = shipping.handle("payments.charged", charged)
    [(_, again)] = shipping.handle("payments.charged", charged)
    assert topic == "shipping.shipped" and first["event_id"] == contracts.event_id("OrderShipped", "o-1")
    assert again["shipment_id"] == first["shipment_id"] and again["event_id"] == first["event_id"]
    assert shipping.db.execute("SELECT count(*) FROM shipments").fetchone()[0] == 1
    with pytest.raises(ValueError, match="does not consume"):
        shipping.handle("orders.placed", charged)
