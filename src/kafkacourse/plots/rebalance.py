"""The charts of the assignment recorder (``kafkacourse.instruments.rebalance``): who owned which partition when,
and when each member processed records."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import matplotlib.pyplot as plt
from matplotlib.figure import Figure

from ..instruments.rebalance import _CALLBACKS, TP, AssignmentRecorder


def plot_timelines(recorders: Sequence[AssignmentRecorder], width: float = 10.0) -> Figure:
    """One panel per recorder: a lane per member, a thin coloured bar per partition while the member owns it.

    A black tick marks each revoked partition; a labelled dashed line marks the moment the group was stable
    again after each step (a member joins or leaves). Returns a matplotlib Figure (not left open in pyplot:
    a notebook shows it once, as the cell's value; headless, ``fig.savefig(path)``).
    """
    lanes = [max(1, len(r._members)) for r in recorders]
    fig = plt.figure(figsize=(width, sum(1.0 + 0.55 * n for n in lanes) + 0.4), layout="constrained")
    plt.close(fig)  # not shown again at the end of the cell; still drawable and displayable
    axes = fig.subplots(len(recorders), 1, squeeze=False, height_ratios=[1.0 + 0.55 * n for n in lanes])[:, 0]
    colors = _partition_colors(recorders)
    for ax, recorder in zip(axes, recorders):
        _draw_timeline(ax, recorder, colors)
    axes[-1].set_xlabel("seconds since the recorder started")
    handles = {}
    for tp, color in colors.items():  # one legend entry per label (panels may share partition numbers)
        patch = _patch(color, recorders, tp)
        handles.setdefault(patch.get_label(), patch)
    handles = list(handles.values())
    fig.legend(handles=handles, loc="outside right upper", title="partition", fontsize="small")
    return fig


def plot_processing(recorders: Sequence[AssignmentRecorder], bin_s: float = 0.1, width: float = 10.0) -> Figure:
    """One panel per recorder, one lane per member: a bar wherever the member processed records.

    Time is cut in bins of `bin_s`; a bin in which the member received at least one record is drawn, so a
    white hole in a lane is a processing gap. A thin dotted line marks each step's start, a labelled
    dashed line the moment the group was stable again (as in :func:`plot_timelines`).
    """
    import numpy as np

    lanes = [max(1, len(r._members)) for r in recorders]
    fig = plt.figure(figsize=(width, sum(0.8 + 0.4 * n for n in lanes) + 0.4), layout="constrained")
    plt.close(fig)
    axes = fig.subplots(len(recorders), 1, squeeze=False, sharex=True,
                        height_ratios=[0.8 + 0.4 * n for n in lanes])[:, 0]
    palette = plt.get_cmap("tab10")
    for ax, recorder in zip(axes, recorders):
        processed = recorder.processed()
        end = recorder._closed_at if recorder._closed_at is not None else recorder._now()
        edges = np.arange(0.0, end + bin_s, bin_s)
        members = list(recorder._members)
        for lane, name in enumerate(members):
            counts, _ = np.histogram(processed.loc[processed.member == name, "t"].to_numpy(), bins=edges)
            busy = [(edges[i], bin_s) for i in np.flatnonzero(counts)]
            ax.broken_barh(busy, (lane + 0.15, 0.7), color=palette(lane % 10))
        for step in recorder.steps:
            ax.axvline(step.started, color="grey", linestyle=":", linewidth=0.8)
            if step.stable is not None:
                ax.axvline(step.stable, color="grey", linestyle="--", linewidth=0.8)
                ax.text(step.stable, 1.01, step.label, transform=ax.get_xaxis_transform(), fontsize="small",
                        va="bottom")
        ax.set_title(f"{recorder.strategy}: when each member processed records", loc="left", fontsize="medium",
                     pad=14)
        ax.set_yticks([i + 0.5 for i in range(len(members))], members)
        ax.set_ylim(len(members), 0)
        ax.grid(axis="x", alpha=0.3)
    axes[-1].set_xlabel(f"seconds since the recorder started (bins of {bin_s:g} s)")
    return fig


def _partition_colors(recorders: Sequence[AssignmentRecorder]) -> dict[TP, Any]:
    import matplotlib

    every = sorted({tp for r in recorders for tp in r.partitions})
    palette = matplotlib.colormaps["tab10" if len(every) <= 10 else "tab20"]
    if all(len(r.topics) == 1 for r in recorders):
        # one topic per panel: the same partition number gets the same colour in every panel
        numbers = sorted({p for _, p in every})
        return {tp: palette(numbers.index(tp[1]) % palette.N) for tp in every}
    return {tp: palette(i % palette.N) for i, tp in enumerate(every)}


def _patch(color: Any, recorders: Sequence[AssignmentRecorder], tp: TP):
    from matplotlib.patches import Patch

    single = all(len(r.topics) == 1 for r in recorders)
    return Patch(color=color, label=str(tp[1]) if single else f"{tp[0]}:{tp[1]}")


def _draw_timeline(ax: Any, recorder: AssignmentRecorder, colors: dict[TP, Any]) -> None:
    members = list(recorder._members)
    partitions = sorted(recorder.partitions)
    rows = len(partitions)
    resolved = recorder._resolved()
    end = recorder._closed_at if recorder._closed_at is not None else recorder._now()
    end = max([end] + [e.t for e, _ in resolved])
    owned: dict[str, dict[TP, float]] = {m: {} for m in members}   # member → partition → owned since
    bars: list[tuple[int, TP, float, float]] = []
    ticks: list[tuple[int, TP, float]] = []
    for event, _ in resolved:
        if event.kind not in _CALLBACKS:
            continue
        lane = members.index(event.member)
        since = owned[event.member]
        for tp in set(since) - event.owned_after:
            bars.append((lane, tp, since.pop(tp), event.t))
        for tp in event.owned_after - set(since):
            since[tp] = event.t
        if event.kind in ("revoke", "lost"):
            ticks.extend((lane, tp, event.t) for tp in event.partitions)
    for member, since in owned.items():
        bars.extend((members.index(member), tp, start, end) for tp, start in since.items())
    height = 0.8 / rows
    for lane, tp, start, stop in bars:
        y = lane + 0.1 + partitions.index(tp) * height
        ax.broken_barh([(start, max(stop - start, 0.01))], (y, height * 0.9), color=colors[tp])
    for lane, tp, t in ticks:
        y = lane + 0.1 + partitions.index(tp) * height
        ax.vlines(t, y - 0.02, y + height + 0.02, color="black", linewidth=1.5)
    for step in recorder.steps:  # a dashed line when the group is stable again after the step
        at = step.stable if step.stable is not None else step.started
        ax.axvline(at, color="grey", linestyle="--", linewidth=0.8)
        ax.text(at, 1.01, step.label, transform=ax.get_xaxis_transform(), fontsize="small", va="bottom")
    revoked = sum(len(e.partitions) for e, _ in resolved if e.kind in ("revoke", "lost"))
    ax.set_title(f"{recorder.strategy}: {revoked} partitions revoked", loc="left", fontsize="medium", pad=14)
    ax.set_yticks([i + 0.5 for i in range(len(members))], members)
    ax.set_ylim(len(members), 0)
    ax.set_xlim(0, end + 0.2)
    ax.grid(axis="x", alpha=0.3)
