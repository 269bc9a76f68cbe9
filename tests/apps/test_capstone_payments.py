"""Capstone payments: the fake provider's idempotency key and decline rate, one charge per order, and the
circuit breaker opening when the provider is down (a real provider process, cut through the fault proxy)."""

from __future__ import annotations

import pybreaker
import pytest

from courseapps.capstone.payments.provider import declined
from courseapps.capstone.payments.service import SCHEMA, Payments
from courseapps.capstone.service import connect_store, now_ms
from kafkacourse.instruments.faults import FaultProxy, Route
from kafkacourse.instruments.processes import ServiceProcess, free_port
from kafkacourse.instruments.retry import TransientError


def reserved(order_id: str, total: int = 700) -> dict:
    return {"event_id": "e", "order_id": order_id, "occurred_at": now_ms(), "customer_id": "c", "lines": [],
            "total": total}


def test_the_decline_decision_depends_on_the_order_alone():
    ids = [f"o-{i}" for i in range(400)]
    share = sum(declined(i, 0.25) for i in ids) / len(ids)
    assert 0.15 < share < 0.35 and [declined(i, 0.25) for i in ids] == [declined(i, 0.25) for i in ids]
    assert not any(declined(i, 0.0) for i in ids) and all(declined(i, 1.0) for i in ids)


def test_one_charge_per_order_a_decline_and_the_breaker_on_a_cut_link(tmp_path):
    port = free_port()
    provider = ServiceProcess("courseapps.capstone.payments.provider", "--port", str(port), "--store",
                              str(tmp_path / "provider.db"), "--latency-ms", "0", "--decline-rate", "0.5",
                              log_dir=tmp_path).start()
    proxy = FaultProxy([Route(free_port(), port)]).start()
    try:
        provider.wait_for('"event": "listening"')
        payments = Payments(connect_store(tmp_path / "payments.db", SCHEMA),
                            f"http://127.0.0.1:{proxy.routes[0].listen_port}", fail_max=2, reset_timeout=30)
        ok = next(f"o-{i}" for i in range(100) if not declined(f"o-{i}", 0.5))
        bad = next(f"o-{i}" for i in range(100) if declined(f"o-{i}", 0.5))
        [(topic, charged)] = payments.handle("inventory.reserved", reserved(ok))
        assert topic == "payments.charged" and charged["amount"] == 700
        payments.db.execute("DELETE FROM payments")  # as if it crashed after the charge, before its store knew
        [(_, again)] = payments.handle("inventory.reserved", reserved(ok))
        assert again["charge_id"] == charged["charge_id"], "the idempotency key: the provider answers the first charge"
        assert payments.handle("inventory.reserved", reserved(bad))[0][0] == "payments.failed"

        proxy.cut(refuse_for=60)
        with pytest.raises(TransientError):
            payments.handle("inventory.reserved", reserved("o-cut"))
        with pytest.raises(pybreaker.CircuitBreakerError):  # the second failure trips it (fail_max=2)
            payments.handle("inventory.reserved", reserved("o-cut"))
        assert payments.breaker.current_state == "open"
        proxy.heal()
        import sqlite3
        with sqlite3.connect(tmp_path / "provider.db") as db:
            made = db.execute("SELECT order_id, count(*) FROM charges GROUP BY order_id").fetchall()
        assert sorted(made) == sorted([(ok, 1), (bad, 1)]), "charged once; the cut calls never reached it"
        assert provider.terminate() == 0
    finally:
        proxy.stop()
        if provider.alive:
            provider.kill()
