"""kafkacourse.instruments.load: fire() and summarize() against real HTTP servers started with kc.serve."""

import asyncio
import socket
import time

import pandas as pd
import pytest
from fastapi import FastAPI, HTTPException

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
    assert parallel < 0.8 < 0.9 <= serial, (parallel, serial)


def test_interval_spaces_the_sends(server):
    results = fire(server.url + "/ping", n=4, interval_s=0.1, concurrency=4)
    assert results.status.tolist() == [200] * 4
    due = [0.0, 0.1, 0.2, 0.3]
    assert (results.sent_s >= [d - 0.005 for d in due]).all(), results.sent_s.tolist()
    assert results.sent_s.iloc[-1] < 0.5, results.sent_s.tolist()


def test_transport_errors_are_rows(server):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed again: nobody listens there
    results = fire(f"http://127.0.0.1:{port}/ping", n=2, timeout=2)
    assert results.status.isna().all() and not results.ok.any()
    assert results.error.str.contains("ConnectError").all()


def test_keep_alive_requests_are_fast(server):
    """A kc.serve server answers keep-alive requests without the ~40 ms Nagle/delayed-ACK stall."""
    results = fire(server.url + "/ping", n=20, concurrency=1)
    assert results.latency_ms.median() < 20, results.latency_ms.describe()


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
