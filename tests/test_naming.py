"""The naming lint: the convention's good names pass, each kind of bad name fails with its reason."""

from __future__ import annotations

import pytest

from kafkacourse.instruments.naming import (NamingError, check_event_type, check_topic, event_type_for, event_type_problems,
                                is_past_tense, lint, lint_report, topic_for, topic_problems)


@pytest.mark.parametrize("name", ["shop.order.placed.v1", "shop.payment-refund.issued.v12", "shop-3f9a1c.order.paid.v2",
                                  "billing.invoice.sent.v1"])
def test_conventional_topics_pass(name):
    assert topic_problems(name) == []
    assert check_topic(name) == name


@pytest.mark.parametrize("name, reason", [
    ("", "is empty"),
    ("orders", "has 1 segment(s)"),
    ("shop.order.placed", "has 3 segment(s)"),
    ("shop.Order.placed.v1", "uppercase"),
    ("shop.order_line.placed.v1", "contains '_'"),
    ("shop.order.place.v1", "not in the past tense"),
    ("shop.order.placed.1", "version segment '1'"),
    ("shop.order.placed.v0", "version segment 'v0'"),
    ("shop.order.placed v1", "characters Kafka rejects"),
    ("__shop.order.placed.v1", "reserves for internal topics"),
    ("shop..placed.v1", "entity segment ''"),
    ("shop.order--x.placed.v1", "not lowercase kebab-case"),
    ("s" * 250, "at most 249"),
])
def test_bad_topics_fail_with_a_reason(name, reason):
    problems = topic_problems(name)
    assert any(reason in p for p in problems), problems
    with pytest.raises(NamingError) as err:
        check_topic(name)
    assert err.value.problems == problems and reason in str(err.value)


@pytest.mark.parametrize("name", ["OrderPlaced", "PaymentRefundIssued", "InvoiceSent", "Order2Shipped"])
def test_conventional_event_types_pass(name):
    assert event_type_problems(name) == [] and check_event_type(name) == name


@pytest.mark.parametrize("name, reason", [
    ("orderPlaced", "not PascalCase"),
    ("Order_Placed", "not PascalCase"),
    ("ORDERPLACED", "not PascalCase"),
    ("PlaceOrder", "not a past-tense verb"),
    ("Order", "needs an entity and a verb"),
    ("OrderPlacedEvent", "ends in 'Event'"),
    ("", "is empty"),
])
def test_bad_event_types_fail_with_a_reason(name, reason):
    problems = event_type_problems(name)
    assert any(reason in p for p in problems), problems
    with pytest.raises(NamingError, match="event type"):
        check_event_type(name)


def test_topic_and_event_type_name_each_other():
    assert topic_for("shop", "OrderPlaced") == "shop.order.placed.v1"
    assert topic_for("shop", "PaymentRefundIssued", version=3) == "shop.payment-refund.issued.v3"
    for event_type in ["OrderPlaced", "PaymentRefundIssued", "InvoiceSent"]:
        assert event_type_for(topic_for("shop", event_type)) == event_type
    with pytest.raises(NamingError):
        topic_for("shop", "PlaceOrder")
    with pytest.raises(NamingError):
        topic_for("Shop", "OrderPlaced")


def test_past_tense_heuristic_and_lint_table():
    assert [is_past_tense(w) for w in ["placed", "paid", "sent", "place", "ship", "red"]] == [
        True, True, True, False, False, False]
    table = lint(["shop.order.placed.v1", "orders"])
    assert table["ok"].tolist() == [True, False] and table["problems"][0] == ""
    assert "segment" in table["problems"][1]
    assert lint(["OrderPlaced", "PlaceOrder"], kind="event type")["ok"].tolist() == [True, False]


def test_lint_report_lists_each_problem_on_its_own_line():
    assert lint_report(["shop.order.placed.v1", "Shop_orders"]).splitlines() == [
        "✓ shop.order.placed.v1",
        "✗ Shop_orders",
        "    contains '_': the convention uses '.' between segments and '-' inside them "
        "(Kafka warns that '.' and '_' collide in metric names)",
        "    has uppercase letters: segments are lowercase kebab-case",
        "    has 1 segment(s), the convention <domain>.<entity>.<event>.v<N> needs 4",
    ]


def test_one_mistake_is_reported_once():
    assert len(topic_problems("Shop.Orders.Placed.v1")) == 1
    assert len(topic_problems("shop.order_line.added.v1")) == 1
    assert len(topic_problems("Shop.order.place.v1")) == 2  # uppercase, and not past tense
