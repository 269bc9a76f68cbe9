"""kafkacourse.instruments.latency: percentile table, ECDF and chart, on synthetic rows and on real fire() results."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pandas as pd
import pytest
from fastapi import FastAPI

import kafkacourse as kc
from kafkacourse.instruments.latency import ecdf, latency_table
from kafkacourse.plots.latency import plot_latency
from kafkacourse.instruments.load import fire


def rows(name: str, latencies: list[float], spacing_s: float) -> pd.DataFrame:
    return pd.DataFrame({"path": name, "latency_ms": latencies,
                         "sent_s": [i * spacing_s for i in range(len(latencies))]})


def test_latency_table_has_percentiles_max_and_throughput_per_series_in_order():
    results = pd.concat([rows("slow", [100.0] * 10, 0.1), rows("fast", list(range(1, 101)), 0.0)])
    table = latency_table(results, by="path")
    assert list(table.index) == ["slow", "fast"]
    assert table.loc["slow", "p50_ms"] == 100 and table.loc["slow", "max_ms"] == 100
    assert table.loc["fast", "p50_ms"] == pytest.approx(50.5) and table.loc["fast", "p99_ms"] == pytest.approx(99.01)
    # slow: 10 requests from t=0 to 0.9 s + 0.1 s answer = 1 s; fast: 100 requests sent at 0, last answer at 0.1 s
    assert table.loc["slow", "per_s"] == pytest.approx(10.0)
    assert table.loc["fast", "per_s"] == pytest.approx(1000.0)


def test_ecdf_is_sorted_and_ends_at_one():
    x, y = ecdf([3, 1, 2, 2])
    assert x.tolist() == [1, 2, 2, 3] and y.tolist() == [0.25, 0.5, 0.75, 1.0]


def test_plot_latency_draws_one_line_and_one_box_per_series():
    results = pd.concat([rows("a", list(np.linspace(1, 10, 20)), 0.01), rows("b", [5.0] * 20, 0.01)])
    fig = plot_latency(results, by="path")
    left, right = fig.axes
    assert len(left.get_lines()) >= 2 and left.get_xscale() == "log"
    assert [t.get_text() for t in right.get_yticklabels()] == ["a", "b"]


def test_on_real_requests():
    app = FastAPI()

    @app.get("/ping")
    async def ping() -> dict:
        return {"pong": True}

    with kc.serve(app) as server:
        results = fire(server.url + "/ping", n=20, concurrency=4).assign(path="ping")
    table = latency_table(results, by="path")
    assert table.loc["ping", "requests"] == 20 and table.loc["ping", "per_s"] > 0
    assert table.loc["ping", "p50_ms"] <= table.loc["ping", "p95_ms"] <= table.loc["ping", "max_ms"]
