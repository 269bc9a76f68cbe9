"""Compare latency distributions: a percentile table and an ECDF + box chart of several series.

Input: a DataFrame with one row per request (what `kafkacourse.load.fire` returns, ``latency_ms`` and
``sent_s`` columns) and a column naming the series, e.g. ``path``.

>>> from kafkacourse.instruments.latency import latency_table
>>> from kafkacourse.plots.latency import plot_latency
>>> results = pd.concat([fire(a, orders).assign(path="sync"), fire(b, orders).assign(path="async")])
>>> latency_table(results, by="path")        # requests, p50/p95/p99/max ms, throughput per second
>>> plot_latency(results, by="path")         # ECDF (left) and box plot (right), one colour per series
"""

from __future__ import annotations

from collections.abc import Sequence
import numpy as np
import pandas as pd

PERCENTILES = (50, 95, 99)


def latency_table(results: pd.DataFrame, by: str, percentiles: Sequence[int] = PERCENTILES,
                  value: str = "latency_ms") -> pd.DataFrame:
    """One row per series (in order of first appearance): requests, pXX_ms for each of `percentiles`, max_ms,
    and ``per_s`` (throughput: requests divided by the time from the series' first send to its last answer,
    when the frame has a ``sent_s`` column).

    >>> latency_table(results, by="path").round(1)
    """
    rows = []
    for name, group in results.groupby(by, sort=False):
        latency = group[value].astype(float)
        row = {by: name, "requests": len(group)}
        row.update({f"p{q}_ms": float(np.percentile(latency, q)) for q in percentiles})
        row["max_ms"] = float(latency.max())
        if "sent_s" in group:
            span = float((group["sent_s"] + latency / 1000).max() - group["sent_s"].min())
            row["per_s"] = len(group) / span if span > 0 else float("nan")
        rows.append(row)
    return pd.DataFrame(rows).set_index(by)


def ecdf(values: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
    """Sorted values and the fraction of values ≤ each: x, y of an empirical cumulative distribution."""
    x = np.sort(np.asarray(values, dtype=float))
    return x, np.arange(1, len(x) + 1) / len(x)
