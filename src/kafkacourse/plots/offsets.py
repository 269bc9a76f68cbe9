"""An offset timeline drawn: the high watermark and the last stable offset of a partition over time."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from matplotlib.axes import Axes

    from ..instruments.offsets import OffsetTimeline


def plot_offsets(timeline: "OffsetTimeline", ax: "Axes", partition: int = 0) -> None:
    """Draw the HW and the LSO of `partition` over time as steps, the marks as labelled vertical lines."""
    frame = timeline.frame().query("partition == @partition")
    ax.step(frame.t, frame.high_watermark, where="post", label="high watermark (read_uncommitted end)")
    ax.step(frame.t, frame.last_stable, where="post", label="last stable offset (read_committed end)")
    for i, (t, label) in enumerate(timeline.marks):   # labels on three staggered rows, so close marks stay legible
        ax.axvline(t, color="grey", linestyle="--", linewidth=1)
        ax.annotate(label, (t, 1.0), xycoords=("data", "axes fraction"), xytext=(3, -12 - 11 * (i % 3)),
                    textcoords="offset points", fontsize=8, color="dimgrey")
    ax.set(xlabel="seconds", ylabel="offset")
    ax.legend(fontsize=8, loc="center right")
