"""courseapps.day1.order_sync: the request-response order API, against real downstream HTTP services."""

import time

import httpx
import pytest
from fastapi.testclient import TestClient

import kafkacourse as kc
from courseapps.day1 import downstream, order_sync

ORDER = {"order_id": "o-1", "customer": "ada", "amount": 12.5}


@pytest.fixture
def services():
    servers = {name: kc.serve(downstream.create_app(name)) for name in ("inventory", "payment", "email")}
    yield servers
    for server in servers.values():
        server.stop()


def handled(server) -> list[str]:
    return httpx.get(server.url + "/stats").json()["order_ids"]


def control(server, **behaviour) -> None:
    httpx.put(server.url + "/control", json=behaviour).raise_for_status()


def test_confirms_when_every_service_answers(services):
    app = order_sync.create_app({name: s.url for name, s in services.items()})
    with TestClient(app) as client:
        response = client.post("/orders", json=ORDER)
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "confirmed"
    assert list(response.json()["calls_ms"]) == ["inventory", "payment", "email"]
    assert all(handled(s) == ["o-1"] for s in services.values())


def test_latency_includes_the_slow_service(services):
    control(services["payment"], delay_s=0.4)
    with TestClient(order_sync.create_app({name: s.url for name, s in services.items()})) as client:
        started = time.perf_counter()
        assert client.post("/orders", json=ORDER).status_code == 200
        assert time.perf_counter() - started >= 0.4


def test_failing_service_gives_502_and_leaves_earlier_calls_done(services):
    control(services["payment"], failing=True)
    with TestClient(order_sync.create_app({name: s.url for name, s in services.items()})) as client:
        response = client.post("/orders", json=ORDER)
    assert response.status_code == 502, response.text
    detail = response.json()["detail"]
    assert detail["failed"] == "payment" and detail["status"] == 503 and detail["already_done"] == ["inventory"]
    assert handled(services["inventory"]) == ["o-1"], "inventory acted before payment failed"
    assert handled(services["email"]) == [], "email is never called after payment failed"


def test_timeout_gives_504(services):
    control(services["payment"], delay_s=1.0)
    with TestClient(order_sync.create_app({name: s.url for name, s in services.items()}, timeout_s=0.3)) as client:
        response = client.post("/orders", json=ORDER)
    assert response.status_code == 504, response.text
    assert response.json()["detail"]["failed"] == "payment"


def test_unreachable_service_gives_502(services):
    app = order_sync.create_app({"inventory": services["inventory"].url, "gone": "http://127.0.0.1:9"})
    with TestClient(app) as client:
        response = client.post("/orders", json=ORDER)
    assert response.status_code == 502
    assert response.json()["detail"]["failed"] == "gone"


@pytest.mark.parametrize("payload", [
    {"customer": "ada", "amount": 1},                               # no order_id
    {**ORDER, "amount": 0},                                          # amount must be > 0
    {**ORDER, "amount": "a lot"},
    {**ORDER, "order_id": "has spaces"},
    {**ORDER, "coupon": "FREE"},                                     # unknown field
])
def test_invalid_order_gets_422_and_calls_nobody(services, payload):
    with TestClient(order_sync.create_app({name: s.url for name, s in services.items()})) as client:
        assert client.post("/orders", json=payload).status_code == 422
    assert all(handled(s) == [] for s in services.values())
