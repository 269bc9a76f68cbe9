"""Charts of a scale-out: how long a backlog took and how fast each member went; lag over time.

>>> from kafkacourse.plots.scaling import plot_scaling, plot_lag
>>> plot_scaling(rounds)                  # rounds: members, drain_s, member_rate_mean (one row per step)
>>> plot_lag(lag.frame(), marks=[(3.2, "2 members"), (9.8, "3 members")])
>>> plot_lags({"1 member": frame1, "6 members": frame6})   # several groups' lag on one time axis
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import pandas as pd

if TYPE_CHECKING:
    from matplotlib.figure import Figure


def plot_scaling(rounds: pd.DataFrame, x: str = "members", time_col: str = "drain_s",
                 rate_col: str = "member_rate_mean", total_col: str | None = "records_per_s",
                 what: str = "consumers", partitions: int | None = None) -> "Figure":
    """Two panels over `x` (number of processes): the time the work took (bars), and each process's rate
    (bars, left axis) with the group's total rate (line, right axis). `partitions` draws a dotted line there."""
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.4))
    labels = rounds[x].astype(str)
    left.bar(labels, rounds[time_col], color="tab:blue")
    left.set(title=f"time to drain, per number of {what}", xlabel=f"{what} ({x})", ylabel="seconds")
    right.bar(labels, rounds[rate_col], color="tab:orange", label="each (mean)")
    right.set(title=f"records/s: each of the {what}, and all together", xlabel=f"{what} ({x})",
              ylabel="records/s per process")
    if total_col:
        twin = right.twinx()
        twin.plot(labels, rounds[total_col], "o-", color="tab:green", label="all together")
        twin.set_ylabel("records/s, all", color="tab:green")
        twin.set_ylim(0, rounds[total_col].max() * 1.15)
    if partitions is not None and str(partitions) in set(labels):
        for ax in (left, right):
            ax.axvline(list(labels).index(str(partitions)) + 0.5, color="grey", linestyle=":", linewidth=1)
    for ax in (left, right):
        ax.grid(alpha=0.3, axis="y")
    fig.tight_layout()
    return fig


def plot_lag(lag: pd.DataFrame, marks: Sequence[tuple[float, str]] = (), title: str = "Consumer lag, read from the broker",
             t: str = "t", value: str = "lag") -> "Figure":
    """Lag over time (a step line of the samples) with a dotted vertical line and a label at each mark."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(10, 3.2))
    ax.step(lag[t], lag[value], where="post", color="tab:red")
    top = float(lag[value].max()) if len(lag) else 1.0
    for at, label in marks:
        ax.axvline(at, color="grey", linestyle=":", linewidth=1)
        ax.text(at, top * 1.02, f" {label}", fontsize=8, va="bottom")
    ax.set(title=title, xlabel="seconds", ylabel="records behind (sum over partitions)", ylim=(0, top * 1.15 or 1))
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def plot_lags(lags: dict[str, pd.DataFrame], title: str = "Each group's lag, read from the broker",
              t: str = "t", value: str = "lag") -> "Figure":
    """Several lag series (label → frame with `t` and `value`) as step lines on one time axis."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(10, 3.2))
    for label, frame in lags.items():
        ax.step(frame[t], frame[value], where="post", label=label)
    ax.set(title=title, xlabel="seconds since the go", ylabel="records behind (sum over partitions)")
    ax.set_ylim(bottom=0)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig
