"""Charts of tuning experiments: throughput against latency per setting, and client-vs-client ratios.

>>> from kafkacourse.plots.tuning import plot_tradeoff, plot_ratios
>>> plot_tradeoff(bench.sweep(...), label=lambda row: f"linger {row['linger.ms']}")
>>> plot_ratios({"python poll()": 0.5, "python consume(1000)": 0.9}, title="vs the Java consumer")
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import pandas as pd

if TYPE_CHECKING:
    from matplotlib.figure import Figure


def plot_tradeoff(runs: pd.DataFrame, label: Callable[[Any], str], x: str = "p50_ms", y: str = "records_per_s",
                  title: str = "Throughput vs latency") -> "Figure":
    """One labelled point per row of `runs` (e.g. :func:`~kafkacourse.instruments.producers.sweep`'s result):
    `x` (latency, ms) against `y` (records/s). Up and to the left is better. `label` gets each row as a
    Series: ``row["linger.ms"]`` for a column named after a client setting."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 3.6))
    for _, row in runs.iterrows():
        ax.scatter(row[x], row[y] / 1000, s=40)
        ax.annotate(label(row), (row[x], row[y] / 1000), fontsize=8,
                    xytext=(4, 4), textcoords="offset points")
    ax.set(title=title, xlabel=f"{x} (ms)", ylabel=f"thousand {y.replace('_per_s', '')}/s")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def plot_ratios(ratios: Mapping[str, float], title: str = "ratio", reference: float = 1.0) -> "Figure":
    """Horizontal bars, one per entry, with a dotted line at `reference` (1.0: as fast as the baseline)."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 0.5 + 0.45 * len(ratios)))
    names = list(ratios)
    ax.barh(names, [ratios[n] for n in names], color=["tab:green" if ratios[n] >= reference else "tab:orange"
                                                     for n in names])
    ax.axvline(reference, color="grey", linestyle=":", linewidth=1)
    for i, name in enumerate(names):
        ax.text(ratios[name], i, f" {ratios[name]:.2f}x", va="center", fontsize=8)
    ax.invert_yaxis()
    ax.set(title=title, xlabel="ratio")
    fig.tight_layout()
    return fig
