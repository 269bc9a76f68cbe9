"""Charts of lesson 05 (stream processing): event time against arrival order, and windowed counts side by side."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def event_time_chart(timestamps_ms: Sequence[int], dropped: Sequence[int] = (), ax: Any = None,
                     title: str = "Event time against arrival order"):
    """Each record's event time (s from the first) against its position in the topic; `dropped` positions
    (late beyond the grace) drawn in red. Returns the Axes."""
    import matplotlib.pyplot as plt

    if not timestamps_ms:
        raise ValueError("no timestamps to draw")
    if ax is None:
        _, ax = plt.subplots(figsize=(9, 3.2))
    t0 = min(timestamps_ms)
    seconds = [(t - t0) / 1000 for t in timestamps_ms]
    running_max = [max(seconds[: i + 1]) for i in range(len(seconds))]
    ax.plot(range(len(seconds)), running_max, color="grey", lw=1, label="stream time (max so far)")
    ax.scatter(range(len(seconds)), seconds, s=8, label="record's event time")
    late = [i for i in dropped if 0 <= i < len(seconds)]
    if late:
        ax.scatter(late, [seconds[i] for i in late], s=30, color="red", label="dropped: later than the grace")
    ax.set_xlabel("position in the topic (arrival order)")
    ax.set_ylabel("event time (s)")
    ax.set_title(title)
    ax.legend(loc="upper left", fontsize=8)
    return ax


def window_counts_chart(streams: Sequence[Any], python: Sequence[Any], size_ms: int = 10_000, ax: Any = None,
                        title: str = "Final tumbling-window counts: Kafka Streams and the Python twin"):
    """Bars of Kafka Streams' counts per (window, key) with the Python counts as dots on top; both are lists of
    objects with key, start and count (WindowResult). Returns the Axes."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(9, 3.2))
    keys = sorted({r.key for r in streams} | {r.key for r in python})
    if not keys:
        raise ValueError("no window results to draw")
    t0 = min(r.start for r in [*streams, *python])
    width = 0.8 / len(keys)
    for i, key in enumerate(keys):
        s = [r for r in streams if r.key == key]
        p = [r for r in python if r.key == key]
        ax.bar([(r.start - t0) / size_ms + i * width for r in s], [r.count for r in s], width=width,
               label=f"{key} (Streams)")
        ax.scatter([(r.start - t0) / size_ms + i * width for r in p], [r.count for r in p], color="black", s=10,
                   zorder=3, label="Python" if i == 0 else None)
    ax.set_xlabel(f"window ({size_ms / 1000:g} s each, from the first)")
    ax.set_ylabel("orders in the window")
    ax.set_title(title)
    ax.legend(fontsize=8, ncol=2)
    return ax
