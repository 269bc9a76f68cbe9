"""Capstone inventory: whole-order reservations, stock never negative, compensation once; live: its process
reserves from orders.placed and sends a poison record to its DLQ."""

from __future__ import annotations


import pytest

from courseapps.capstone import contracts
from courseapps.capstone.inventory.service import SCHEMA, Inventory
from courseapps.capstone.service import Events, connect_store, now_ms
from courseapps.capstone.system import System


def order(order_id: str, *lines: tuple[str, int]) -> dict:
    items = [{"sku": sku, "quantity": quantity, "unit_price": 100} for sku, quantity in lines]
    return {"event_id": contracts.event_id("OrderPlaced", order_id), "order_id": order_id, "occurred_at": now_ms(),
            "customer_id": "c-1", "lines": items, "total": 100 * sum(q for _, q in lines), "placed_at": now_ms()}


@pytest.fixture
def inventory(tmp_path) -> Inventory:
    inv = Inventory(connect_store(tmp_path / "inventory.db", SCHEMA))
    inv.seed({"mug": 3, "tea": 1})
    return inv


def test_an_order_is_reserved_whole_or_rejected_whole_and_stock_never_goes_negative(inventory):
    [(topic, event)] = inventory.reserve(order("o-1", ("mug", 2), ("tea", 1)))
    assert topic == "inventory.reserved" and event["total"] == 300
    [(topic, event)] = inventory.reserve(order("o-2", ("mug", 2), ("tea", 1)))   # mug 1 left, tea 0
    assert topic == "inventory.rejected" and event["skus"] == ["mug", "tea"] and event["reason"] == "out_of_stock"
    assert inventory.stock() == {"mug": 1, "tea": 0}, "a rejected order took nothing, not even the mug it could have"
    again = inventory.reserve(order("o-1", ("mug", 2), ("tea", 1)))
    assert again[0][1]["event_id"] == contracts.event_id("InventoryReserved", "o-1"), "the same answer, same id"
    assert inventory.stock() == {"mug": 1, "tea": 0}, "a redelivered OrderPlaced reserves nothing twice"
    levels = [row[0] for row in inventory.db.execute("SELECT available FROM moves ORDER BY seq")]
    assert levels == [1, 0] and min(levels) >= 0


def test_a_failed_payment_releases_once_and_a_rejected_order_releases_nothing(inventory):
    inventory.reserve(order("o-1", ("mug", 2)))
    inventory.reserve(order("o-2", ("tea", 5)))
    failed = {"event_id": "e", "order_id": "o-1", "occurred_at": now_ms(), "amount": 200, "reason": "declined"}
    [(topic, event)] = inventory.release(failed)
    assert topic == "inventory.released" and event["lines"][0]["quantity"] == 2
    inventory.release(failed)
    assert inventory.stock() == {"mug": 3, "tea": 1}, "released once, however often PaymentFailed arrives"
    assert inventory.release({**failed, "order_id": "o-2"}) == []
    with pytest.raises(ValueError, match="quantity"):
        inventory.reserve(order("o-3", ("mug", 0)))
    with pytest.raises(ValueError):
        inventory.seed({"pen": -1})


@pytest.mark.slow
def test_the_process_reserves_from_its_topic_and_dead_letters_a_poison_record(cluster):
    system = System(services=["inventory"], stock={"mug": 5}, cluster=cluster).start()
    try:
        events = Events(cluster.schema_registry_url, system.prefix)
        placed = order("o-live", ("mug", 2))
        cluster.produce(system.topics["orders.placed"], [
            ("o-live", events.encode("orders.placed", placed)), ("poison-1", b"not avro")])
        reserved = wait_for_records(cluster, system.topics["inventory.reserved"], 1)
        assert events.decode(system.topics["inventory.reserved"], reserved[0].value())["order_id"] == "o-live"
        [dead] = wait_for_records(cluster, contracts.dlq(system.prefix, "inventory"), 1)
        headers = dict((k, v.decode()) for k, v in dead.headers())
        assert dead.key() == b"poison-1" and headers["error.reason"] == "malformed"
        assert system.health()["inventory"]["stock"] == {"mug": 3}
        assert system.terminate("inventory") == 0, "SIGTERM: a clean exit"
        assert system.process("inventory").events(this_run=True)[-1]["event"] == "closed"
    finally:
        system.stop()
        system.delete()


def wait_for_records(cluster, topic: str, n: int, timeout: float = 60.0) -> list:
    import time

    deadline = time.monotonic() + timeout
    while True:
        found = cluster.messages(topic)
        if len(found) >= n or time.monotonic() > deadline:
            assert len(found) >= n, f"{topic}: {len(found)} records after {timeout:.0f} s, not {n}"
            return found
        time.sleep(0.3)
