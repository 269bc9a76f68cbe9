"""courseapps.day1.blocking: time.sleep in async def stalls /ping; asyncio.sleep and def do not."""

import threading
import time

import httpx
import pytest
from fastapi.testclient import TestClient

import kafkacourse as kc
from courseapps.day1 import blocking

BLOCK = 0.6


@pytest.fixture(scope="module")
def server():
    with kc.serve(blocking.app) as running:
        yield running


def slowest_ping_during(server, variant: str) -> tuple[float, bool]:
    """How long a /ping took while /slow/<variant> ran, and whether the slow request was still running then."""
    with httpx.Client(timeout=10) as slow_client, httpx.Client() as client:
        slow_client.get(server.url + "/ping")  # connected and warm: the slow request goes out at once
        client.get(server.url + "/ping")
        slow = threading.Thread(target=slow_client.get, args=(f"{server.url}/slow/{variant}",),
                                kwargs={"params": {"seconds": BLOCK}})
        slow.start()
        time.sleep(0.15)  # the slow request is in
        started = time.perf_counter()
        assert client.get(server.url + "/ping").json() == {"pong": True}
        latency = time.perf_counter() - started
        still_running = slow.is_alive()
        slow.join()
    return latency, still_running


def test_blocking_call_in_async_def_stalls_other_requests(server):
    latency, _ = slowest_ping_during(server, "blocking")
    assert latency >= BLOCK - 0.25


@pytest.mark.parametrize("variant", ["awaiting", "threadpool"])
def test_non_blocking_variants_keep_ping_fast(server, variant):
    latency, still_running = slowest_ping_during(server, variant)
    assert still_running, f"/ping ({latency:.2f} s) should have been answered while /slow/{variant} still ran"


def test_each_endpoint_answers_and_validates():
    with TestClient(blocking.app) as client:
        for variant in ("blocking", "awaiting", "threadpool"):
            assert client.get(f"/slow/{variant}", params={"seconds": 0}).status_code == 200
            assert client.get(f"/slow/{variant}", params={"seconds": -1}).status_code == 422
        assert client.get("/ping").json() == {"pong": True}
