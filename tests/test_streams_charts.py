"""plots.streams: what the lesson-05 charts draw."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import pytest  # noqa: E402

from kafkacourse.instruments.windows import WindowResult  # noqa: E402
from kafkacourse.plots.streams import event_time_chart, window_counts_chart  # noqa: E402


def test_event_time_chart_marks_dropped_records():
    ax = event_time_chart([1_000, 3_000, 2_000, 6_000], dropped=[2])
    labels = [c.get_label() for c in ax.collections]
    assert labels == ["record's event time", "dropped: later than the grace"]
    assert list(ax.collections[1].get_offsets()[0]) == [2, 1.0]      # position 2, 1 s after the first
    with pytest.raises(ValueError):
        event_time_chart([])


def test_window_counts_chart_draws_one_bar_per_window_and_key():
    streams = [WindowResult("a", 0, 10_000, 3), WindowResult("b", 0, 10_000, 1), WindowResult("a", 10_000, 20_000, 2)]
    ax = window_counts_chart(streams, streams)
    assert sorted(p.get_height() for p in ax.patches) == [1, 2, 3]
    with pytest.raises(ValueError):
        window_counts_chart([], [])
