"""The replication lesson's charts: each replica's role as a heat map, leadership and ISR over time."""

from __future__ import annotations

from collections.abc import Iterable

import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.colors import ListedColormap

from ..instruments.replication import (IN_SYNC, LEADER, OUT_OF_SYNC, ROLE_COLORS, ROLE_ORDER, Recorder, SteadyProducer,
                                       brokers_of, roles)


def plot_roles(descriptions: dict[str, pd.DataFrame], brokers: Iterable[int] | None = None) -> plt.Figure:
    """Heat maps (partitions × brokers) of each replica's role, one panel per labelled description.

    >>> plot_roles({"before": before, "broker 2 down": during, "after": after})
    """
    ids = sorted(brokers) if brokers is not None else sorted(
        {b for d in descriptions.values() for b in brokers_of(d)})
    fig, axes = plt.subplots(1, len(descriptions), figsize=(2.6 * len(descriptions) + 1.6, 3.4), squeeze=False)
    cmap = ListedColormap(ROLE_COLORS)
    for ax, (label, description) in zip(axes[0], descriptions.items()):
        table = roles(description, ids)
        codes = table.apply(lambda col: col.map(ROLE_ORDER.index)).to_numpy()
        ax.imshow(codes, cmap=cmap, vmin=-0.5, vmax=len(ROLE_ORDER) - 0.5, aspect="auto")
        for (row, col), code in pd.DataFrame(codes).stack().items():
            text = {LEADER: "L", IN_SYNC: "F", OUT_OF_SYNC: "✗"}.get(ROLE_ORDER[code], "")
            ax.text(col, row, text, ha="center", va="center", color="white" if code in (1, 3) else "black")
        ax.set_xticks(range(len(ids)), [f"broker {b}" for b in ids], fontsize=8)
        ax.set_yticks(range(len(table)), [f"p{p}" for p in table.index], fontsize=8)
        ax.set_title(label, fontsize=10)
    handles = [plt.Rectangle((0, 0), 1, 1, color=c) for c in ROLE_COLORS[1:]]
    fig.legend(handles, ["out of sync (✗)", "in-sync follower (F)", "leader (L)"], loc="lower center",
               ncol=3, fontsize=8, frameon=False)
    fig.tight_layout(rect=(0, 0.08, 1, 1))
    return fig


def plot_timeline(recorder: Recorder, producer: SteadyProducer | None = None) -> plt.Figure:
    """Leaders per broker and the smallest ISR over time (and acknowledged records, given a producer)."""
    rows = 3 if producer is not None else 2
    fig, axes = plt.subplots(rows, 1, figsize=(8, 1.9 * rows + 0.6), sharex=True)
    counts = recorder.leader_counts()
    if not counts.empty:  # stacked: each band is one broker's share of the partitions' leaders
        axes[0].stackplot(counts.index, *(counts[c] for c in counts), labels=list(counts), step="post", alpha=0.85)
        axes[0].set_ylim(0, counts.sum(axis=1).max() + 0.5)
    axes[0].set_ylabel("partitions led")
    axes[0].legend(loc="lower left", fontsize=8, ncol=len(counts.columns), framealpha=0.9)
    min_isr = recorder.min_isr_size()
    axes[1].step(min_isr.index, min_isr, where="post", color="tab:purple")
    axes[1].set_ylabel("smallest ISR")
    axes[1].set_ylim(0, max(3, int(min_isr.max()) if len(min_isr) else 3) + 0.5)
    if producer is not None:
        acked = producer.acked().sort_values("t")
        axes[2].plot(acked.t, range(1, len(acked) + 1), color="tab:green")
        axes[2].set_ylabel("records acked")
    for ax in axes:
        ax.grid(alpha=0.3)
        for t, label in recorder.marks:
            ax.axvline(t, color="gray", linestyle="--", linewidth=1)
    for t, label in recorder.marks:
        axes[0].annotate(label, (t, 1), xycoords=("data", "axes fraction"), rotation=90, va="top", ha="right",
                         fontsize=8, color="dimgray")
    axes[-1].set_xlabel("seconds")
    axes[0].set_title(f"Topic {recorder.topic}: leadership and ISR over time")
    fig.tight_layout()
    return fig
