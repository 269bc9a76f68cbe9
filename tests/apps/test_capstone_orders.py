"""Capstone orders: the API's Idempotency-Key and outbox, the saga's guarded terminal states; live: an order
placed over HTTP reaches orders.placed in the settled OrderPlaced contract, and a shipped event completes it."""

from __future__ import annotations

import time
import uuid

import httpx
import pytest

from courseapps.capstone import contracts
from courseapps.capstone.orders.service import SCHEMA, Orders, PlaceOrder
from courseapps.capstone.service import Events, connect_store, now_ms
from courseapps.capstone.system import System

BODY = {"customer_id": "c-1", "lines": [{"sku": "mug", "quantity": 2, "unit_price": 450}]}


def test_one_key_one_order_and_each_order_closes_once(tmp_path):
    orders = Orders(connect_store(tmp_path / "orders.db", SCHEMA))
    first, created = orders.place("k-1", PlaceOrder(**BODY))
    again, created_again = orders.place("k-1", PlaceOrder(**BODY))
    assert created and not created_again and again["order_id"] == first["order_id"] and first["total"] == 900
    with pytest.raises(ValueError, match="another order"):
        orders.place("k-1", PlaceOrder(**{**BODY, "customer_id": "c-2"}))
    assert [s for _, s, _ in orders.unsent()] == ["orders.placed"], "one outbox row, in the order's transaction"
    assert orders.close(first["order_id"], "CANCELLED", "payment_failed")
    assert not orders.close(first["order_id"], "COMPLETED", None), "a terminal order never changes again"
    assert orders.get(first["order_id"])["state"] == "CANCELLED"
    assert [s for _, s, _ in orders.unsent()] == ["orders.placed", "orders.cancelled"]
    with pytest.raises(ValueError, match="no order"):
        orders.close("unknown", "COMPLETED", None)


@pytest.mark.slow
def test_the_api_publishes_the_settled_contract_and_completes_on_shipped(cluster):
    system = System(services=["orders"], cluster=cluster).start()
    try:
        url, key = system.url("orders") + "/orders", str(uuid.uuid4())
        placed = httpx.post(url, json=BODY, headers={"Idempotency-Key": key}, timeout=30)
        replay = httpx.post(url, json=BODY, headers={"Idempotency-Key": key}, timeout=30)
        assert placed.status_code == 201 and replay.status_code == 200
        assert replay.headers["Idempotent-Replayed"] == "true" and replay.json()["order_id"] == placed.json()["order_id"]
        assert httpx.post(url, json=BODY, timeout=30).status_code == 422, "no Idempotency-Key, no order"
        assert httpx.post(url, json={**BODY, "lines": []}, headers={"Idempotency-Key": "x"}, timeout=30).status_code == 422
        order_id = placed.json()["order_id"]

        events = Events(cluster.schema_registry_url, system.prefix)
        [record] = wait_for(lambda: cluster.messages(system.topics["orders.placed"]), 1)
        event = events.decode(system.topics["orders.placed"], record.value())
        assert record.key().decode() == order_id and event["event_id"] == contracts.event_id("OrderPlaced", order_id)
        assert event["lines"] == BODY["lines"] and event["total"] == 900 and event["customer_id"] == "c-1"

        shipped = {"event_id": str(uuid.uuid4()), "order_id": order_id, "occurred_at": now_ms(), "shipment_id": "s-1"}
        cluster.produce(system.topics["shipping.shipped"], [(order_id, events.encode("shipping.shipped", shipped))] * 2)
        wait_for(lambda: [1] if httpx.get(f"{url}/{order_id}").json()["state"] == "COMPLETED" else [], 1)
        completed = wait_for(lambda: cluster.messages(system.topics["orders.completed"]), 1)
        assert len(completed) == 1, "a redelivered OrderShipped completes the order once"
        metrics = httpx.get(system.url("orders") + "/metrics").text
        assert 'capstone_saga_outcomes_total{outcome="completed"} 1.0' in metrics
        assert "capstone_order_e2e_seconds_count 1.0" in metrics
    finally:
        system.stop()
        system.delete()


def wait_for(read, n: int, timeout: float = 60.0) -> list:
    deadline = time.monotonic() + timeout
    while True:
        found = read()
        if len(found) >= n or time.monotonic() > deadline:
            assert len(found) >= n, f"{len(found)} after {timeout:.0f} s, not {n}"
            return found
        time.sleep(0.3)
