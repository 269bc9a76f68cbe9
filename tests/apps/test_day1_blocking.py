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


def slowest_ping_during(server, variant: str) -> float:
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
        slow.join()
    return latency


def test_blocking_call_in_async_def_stalls_other_requests(server):
    assert slowest_ping_during(server, "blocking") >= BLOCK - 0.25


@pytest.mark.parametrize("variant", ["awaiting", "threadpool"])
def test_non_blocking_variants_keep_ping_fast(server, variant):
    assert slowest_ping_during(server, variant) < 0.2


def test_each_endpoint_answers_and_validates():
    with TestClient(blocking.app) as client:
        for variant in ("blocking", "awaiting", "threadpool"):
            assert client.get(f"/slow/{variant}", params={"seconds": 0}).status_code == 200
            assert client.get(f"/slow/{variant}", params={"seconds": -1}).status_code == 422
        assert client.get("/ping").json() == {"pong": True}
