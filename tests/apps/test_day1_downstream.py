"""courseapps.day1.downstream: a service whose delay and failure a lesson switches at run time."""

import time

from fastapi.testclient import TestClient

from courseapps.day1 import downstream


def test_handles_orders_and_records_them():
    with TestClient(downstream.create_app("inventory")) as client:
        response = client.post("/orders", json={"order_id": "o-1", "event": "order_placed", "amount": 3})
        assert response.status_code == 200, response.text
        assert response.json() == {"service": "inventory", "order_id": "o-1", "status": "done"}
        assert client.get("/stats").json()["order_ids"] == ["o-1"]


def test_failing_answers_503_and_records_nothing():
    with TestClient(downstream.create_app("payment")) as client:
        assert client.put("/control", json={"failing": True}).status_code == 200
        response = client.post("/orders", json={"order_id": "o-1"})
        assert response.status_code == 503
        assert "payment is unavailable" in response.json()["detail"]
        stats = client.get("/stats").json()
        assert stats["failing"] is True and stats["handled"] == 0


def test_delay_makes_it_slow():
    with TestClient(downstream.create_app("email")) as client:
        client.put("/control", json={"delay_s": 0.3})
        started = time.perf_counter()
        assert client.post("/orders", json={"order_id": "o-2"}).status_code == 200
        assert time.perf_counter() - started >= 0.3


def test_invalid_payloads_get_422():
    with TestClient(downstream.create_app("inventory")) as client:
        assert client.post("/orders", json={"customer": "no id"}).status_code == 422
        assert client.post("/orders", json={"order_id": "spaces are not allowed"}).status_code == 422
        assert client.put("/control", json={"delay_s": -1}).status_code == 422
        assert client.put("/control", json={"failing": True, "typo": 1}).status_code == 422
        assert client.get("/stats").json()["handled"] == 0
