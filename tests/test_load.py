"""kafkacourse.instruments.load: fire() and summarize() against real HTTP servers started with kc.serve."""

import asyncio
import socket
import statistics
import time

import httpx

import pandas as pd
import pytest
from fastapi import FastAPI, HTTPException, Request

import kafkacourse as kc
from kafkacourse.instruments.load import COLUMNS, fire, summarize

app = FastAPI()


@app.post("/echo")
async def echo(body: dict) -> dict:
    if body.get("fail"):
        raise HTTPException(503, "asked to fail")
    await asyncio.sleep(body.get("sleep", 0))
    return body


@app.get("/ping")
async def ping() -> dict:
    return {"pong": True}


@pytest.fixture(scope="module")
def server():
    with kc.serve(app) as running:
        yield running


def test_one_row_per_request_in_order(server):
    payloads = [{"i": i} for i in range(6)] + [{"fail": True}]
    results = fire(server.url + "/echo", payloads, concurrency=3)
    assert list(results.columns) == COLUMNS
    assert list(results.request) == list(range(7))
    assert results.status.tolist() == [200] * 6 + [503]
    assert results.ok.tolist() == [True] * 6 + [False]
    assert [b["i"] for b in results.body[:6]] == list(range(6))
    assert (results.latency_ms > 0).all() and results.error.isna().all()


def test_concurrency_overlaps_requests(server):
    payloads = [{"sleep": 0.3}] * 6
    started = time.perf_counter()
    fire(server.url + "/echo", payloads, concurrency=6)
    parallel = time.perf_counter() - started
    started = time.perf_counter()
    fire(server.url + "/echo", payloads[:3], concurrency=1)
    serial = time.perf_counter() - started
    # six 0.3 s requests at once vs three one after the other (>= 0.9 s): measured side by side, a ratio
    assert serial >= 0.9 and parallel < serial * 0.75, (parallel, serial)


def test_interval_spaces_the_sends(server):
    results = fire(server.url + "/ping", n=4, interval_s=0.1, concurrency=4)
    assert results.status.tolist() == [200] * 4
    due = [0.0, 0.1, 0.2, 0.3]
    assert (results.sent_s >= [d - 0.005 for d in due]).all(), results.sent_s.tolist()
    assert results.sent_s.is_monotonic_increasing, results.sent_s.tolist()


def test_transport_errors_are_rows(server):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed again: nobody listens there
    results = fire(f"http://127.0.0.1:{port}/ping", n=2, timeout=2)
    assert results.status.isna().all() and not results.ok.any()
    assert results.error.str.contains("ConnectError").all()


def test_keep_alive_requests_are_fast(server):
    """A kc.serve server answers keep-alive requests without the ~40 ms Nagle/delayed-ACK stall."""
    # Side by side, interleaved: a request on a kept-alive connection vs one on a fresh connection each time.
    # The stall would add a fixed ~40 ms to every kept-alive request; a fresh connection never meets it.
    kept, fresh = [], []
    with httpx.Client() as client:
        client.get(server.url + "/ping")
        for _ in range(20):
            started = time.perf_counter()
            client.get(server.url + "/ping")
            kept.append(time.perf_counter() - started)
            started = time.perf_counter()
            httpx.get(server.url + "/ping")
            fresh.append(time.perf_counter() - started)
    assert statistics.median(kept) < 2 * statistics.median(fresh), (kept, fresh)


def test_summarize_per_group(server):
    a = fire(server.url + "/ping", n=4).assign(path="a")
    b = fire(server.url + "/echo", [{"fail": True}, {}]).assign(path="b")
    summary = summarize(pd.concat([a, b]), by="path")
    assert summary.loc["a", "requests"] == 4 and summary.loc["a", "ok_rate"] == 1.0
    assert summary.loc["b", "ok_rate"] == 0.5
    assert summary.loc["b", "statuses"] in ("503×1, 200×1", "200×1, 503×1")
    assert summary.loc["a", "p50_ms"] <= summary.loc["a", "p95_ms"] <= summary.loc["a", "max_ms"]
    whole = summarize(a)
    assert len(whole) == 1 and whole.requests[0] == 4


def test_needs_payloads_or_n(server):
    with pytest.raises(ValueError):
        fire(server.url + "/ping")


@app.get("/headers")
async def headers(request: Request) -> dict:
    return {"key": request.headers.get("idempotency-key")}


def test_headers_for_all_requests_or_one_each(server):
    same = fire(server.url + "/headers", n=2, headers={"Idempotency-Key": "k"})
    assert [b["key"] for b in same.body] == ["k", "k"]
    each = fire(server.url + "/headers", n=3, headers=[{"Idempotency-Key": f"k{i}"} for i in range(3)])
    assert [b["key"] for b in each.body] == ["k0", "k1", "k2"]
    with pytest.raises(ValueError):
        fire(server.url + "/headers", n=3, headers=[{}])
