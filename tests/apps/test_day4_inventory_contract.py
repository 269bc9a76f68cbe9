"""The consumer-driven contract between the Day 2 order API (provider) and the Day 3 inventory consumer.

The consumer side runs offline. The provider side serves the real Day 2 gateway, posts an order, and reads the
record it produced back from the broker: that record is what gets verified. It does not satisfy the contract
(the gateway sends order_id/customer/amount; the inventory consumer needs event_id and lines), and the test
says so; an OrderPlaced event (the course's schemas/OrderPlaced.avsc shape, as the Day 3 lab produces) does.
Lesson 06 runs this file.
"""

from __future__ import annotations

import uuid

import httpx
import pytest

import kafkacourse as kc
from courseapps.day2.order_gateway import Settings, create_app
from courseapps.day3 import inventory_stock
from courseapps.day4.inventory_contract import StockHandler, order_placed_contract
from kafkacourse.instruments.contracts import message_pact, verify_provider

DESCRIPTION = "an order placed"


@pytest.fixture
def pact_dir(tmp_path):
    stock = inventory_stock.create(tmp_path / "stock.db", {"mug": 10})
    handler = StockHandler(stock)
    message_pact("inventory-consumer", "order-api", DESCRIPTION, order_placed_contract(), handler, tmp_path / "pacts")
    assert inventory_stock.levels(stock) == {"mug": 8} and handler.applied == ["e-1"]  # the example was applied
    return tmp_path / "pacts"


def test_consumer_side_writes_the_contract(pact_dir):
    assert (pact_dir / "inventory-consumer-order-api.json").exists()


def test_the_consumer_handler_refuses_a_message_without_lines(tmp_path):
    handler = StockHandler(inventory_stock.create(tmp_path / "s.db", {"mug": 1}))
    with pytest.raises(ValueError, match="lines"):
        handler(b'{"order_id": "o-1", "customer": "ada", "amount": 9.5}', {})


def test_an_order_placed_event_satisfies_the_contract(pact_dir):
    event = {"event_id": str(uuid.uuid4()), "order_id": "o-7", "customer_id": "c-1",
             "lines": [{"sku": "tea", "quantity": 1, "unit_price_cents": 250}], "total_cents": 250, "currency": "EUR"}
    assert verify_provider("order-api", pact_dir, {DESCRIPTION: event}).passed


def test_the_day2_gateway_breaks_the_contract(pact_dir, cluster, topic):
    with kc.serve(create_app(Settings(cluster.bootstrap_servers, topic))) as api:
        answer = httpx.post(api.url + "/orders", json={"order_id": "o-1", "customer": "ada", "amount": 9.5},
                            timeout=30)
    assert answer.status_code == 201, answer.text
    [record] = cluster.messages(topic)
    verification = verify_provider("order-api", pact_dir, {DESCRIPTION: record.value()})
    assert not verification.passed
    assert any('"event_id"' in line for line in verification.mismatches()), verification.output
