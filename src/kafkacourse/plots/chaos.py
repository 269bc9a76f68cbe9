"""The chaos lesson's chart: every experiment's fault window, healing and checks on one time axis."""

from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd

from ..instruments.chaos import Experiment


def plot_timeline(experiments: list[Experiment], isr: dict[str, pd.Series] | None = None) -> plt.Figure:
    """One lane per experiment: the fault window (red), the healing (orange) until the cluster answered, each
    check as a dot (green passed, red ✗ failed) and each mark as a tick. With `isr` (label → the smallest ISR
    over time, e.g. ``Recorder.min_isr_size()`` on the experiments' common `t0`) a second panel draws it.

    >>> plot_timeline([e1, e2, e3], isr={"leader killed": recorder.min_isr_size()})
    """
    rows = 2 if isr else 1
    fig, axes = plt.subplots(rows, 1, figsize=(10, 1.0 + 0.7 * len(experiments) + (2.2 if isr else 0)),
                             sharex=True, squeeze=False, gridspec_kw={"height_ratios": [len(experiments), 2.5][:rows]})
    lanes = axes[0][0]
    for lane, e in enumerate(reversed(experiments)):
        for w in e.windows:
            end = w["end"] if w["end"] is not None else e.now()
            lanes.broken_barh([(w["start"], end - w["start"])], (lane - 0.3, 0.6), color="#e4572e", alpha=0.8)
            if w["healed"] is not None:
                lanes.broken_barh([(end, w["healed"] - end)], (lane - 0.3, 0.6), color="#f3a712", alpha=0.7)
        for c in e.checks:
            lanes.plot(c["t"], lane, marker="o" if c["passed"] else "X", markersize=7 if c["passed"] else 10,
                       color="#2e7d32" if c["passed"] else "#c62828", linestyle="none")
        for t, label in e.marks:
            lanes.plot([t, t], [lane - 0.38, lane + 0.38], color="dimgray", linewidth=1)
            lanes.annotate(label, (t, lane + 0.38), fontsize=7, color="dimgray", rotation=20, va="bottom")
    lanes.set_yticks(range(len(experiments)), [f"{e.name}\n({e.verdict()})" for e in reversed(experiments)],
                     fontsize=8)
    lanes.set_ylim(-0.6, len(experiments) - 0.2)
    handles = [plt.Rectangle((0, 0), 1, 1, color="#e4572e", alpha=0.8),
               plt.Rectangle((0, 0), 1, 1, color="#f3a712", alpha=0.7),
               plt.Line2D([], [], marker="o", color="#2e7d32", linestyle="none"),
               plt.Line2D([], [], marker="X", color="#c62828", linestyle="none")]
    lanes.legend(handles, ["fault on", "healing", "check passed", "check failed"], loc="upper left",
                 fontsize=8, ncol=4, bbox_to_anchor=(0, 1.02, 1, 0.2), frameon=False)
    lanes.grid(axis="x", alpha=0.3)
    if isr:
        ax = axes[1][0]
        for label, series in isr.items():
            ax.step(series.index, series, where="post", label=label)
        ax.set_ylabel("smallest ISR")
        ax.set_ylim(0, 3.5)
        ax.legend(fontsize=8, loc="lower right")
        ax.grid(alpha=0.3)
    axes[-1][0].set_xlabel("seconds since the lesson started")
    fig.tight_layout()
    return fig
