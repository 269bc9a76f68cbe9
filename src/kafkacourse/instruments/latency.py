"""Compare latency distributions: a percentile table and an ECDF + box chart of several series.

Input: a DataFrame with one row per request (what `kafkacourse.load.fire` returns, ``latency_ms`` and
``sent_s`` columns) and a column naming the series, e.g. ``path``.

>>> from kafkacourse.latency import latency_table, plot_latency
>>> results = pd.concat([fire(a, orders).assign(path="sync"), fire(b, orders).assign(path="async")])
>>> latency_table(results, by="path")        # requests, p50/p95/p99/max ms, throughput per second
>>> plot_latency(results, by="path")         # ECDF (left) and box plot (right), one colour per series
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from matplotlib.figure import Figure

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


def plot_latency(results: pd.DataFrame, by: str, value: str = "latency_ms", title: str = "Latency",
                 log: bool = True, marks: Sequence[int] = (50, 95)) -> "Figure":
    """An ECDF (left: read "y % of requests took ≤ x ms") and a box plot (right) per series; returns the figure.

    `log` puts latency on a log scale (series that differ tenfold stay readable); `marks` draws dotted
    horizontal lines at those percentiles on the ECDF.
    """
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.6), gridspec_kw={"width_ratios": [3, 2]})
    names, series = [], []
    for name, group in results.groupby(by, sort=False):
        x, y = ecdf(group[value])
        left.step(x, y * 100, where="post", label=f"{name} (p50 {np.percentile(x, 50):.0f} ms)")
        names.append(str(name))
        series.append(x)
    for q in marks:
        left.axhline(q, color="grey", linestyle=":", linewidth=0.8)
    left.set(xlabel=f"{value} (log scale)" if log else value, ylabel="% of requests at or below",
             title=f"{title}: cumulative distribution", ylim=(0, 101))
    left.legend(loc="lower right", fontsize=8)
    right.boxplot(series, vert=False, showfliers=True)
    right.set_yticks(range(1, len(names) + 1), names)
    right.invert_yaxis()  # first series on top, as in the legend
    right.set(xlabel=value, title="box: median, quartiles, 1.5 IQR whiskers")
    if log:
        left.set_xscale("log")
        right.set_xscale("log")
    fig.tight_layout()
    return fig
