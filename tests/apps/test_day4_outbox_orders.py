"""The outbox service writes an order and its event atomically, on the live course database."""

from __future__ import annotations

import pytest

import kafkacourse as kc
from courseapps.day4.outbox_orders import OrderFailed, OutboxOrders
from kafkacourse import postgres


@pytest.fixture
def shop(postgres_server):
    shop = OutboxOrders(kc.unique_name("outbox").replace("-", "_"))
    shop.create_tables()
    shop.create_tables()  # idempotent
    try:
        yield shop
    finally:
        shop.drop_tables()


def test_an_order_commits_with_its_event_and_a_failed_one_leaves_nothing(shop):
    order_id, event_id = shop.place_order("ada", 42.0)
    with pytest.raises(OrderFailed):
        shop.place_order("bob", 7.0, fail_before_commit=True)
    assert shop.orders_placed() == [order_id]
    assert len(event_id) == 36  # a uuid
    # The outbox row was deleted in the same transaction: the table stays empty, only the WAL saw it.
    assert postgres.query(f"SELECT count(*) AS n FROM {shop.outbox}")["n"].item() == 0


def test_bad_prefix_is_refused():
    with pytest.raises(ValueError, match="lower-case"):
        OutboxOrders("Robert'); DROP TABLE students;--")
