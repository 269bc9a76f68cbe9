"""Latency distributions drawn: an ECDF and a box plot per series."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from ..instruments.latency import ecdf

if TYPE_CHECKING:
    from matplotlib.figure import Figure


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
