"""The Python windowed count (instruments.windows): window arithmetic, grace, late records, emission."""

import pytest

from kafkacourse.instruments.windows import WindowedCount, WindowResult, window_starts


def test_window_starts_tumbling_and_hopping():
    assert window_starts(12_000, 10_000, 10_000) == [10_000]
    assert window_starts(12_000, 10_000, 5_000) == [5_000, 10_000]
    assert window_starts(3_000, 10_000, 5_000) == [0]          # no window starts before 0
    assert window_starts(10_000, 10_000, 5_000) == [5_000, 10_000]   # end is exclusive: 0..10000 does not hold it


def test_bad_windows_are_refused():
    with pytest.raises(ValueError, match="advance_ms <= size_ms"):
        window_starts(0, 10, 20)
    with pytest.raises(ValueError, match="grace_ms"):
        WindowedCount(10_000, grace_ms=-1)


def test_a_window_closes_at_end_plus_grace_and_later_records_are_dropped():
    counter = WindowedCount(size_ms=10_000, grace_ms=5_000)
    assert counter.add("a", 1_000) == []
    assert counter.add("a", 14_000) == []                 # stream time 14 s < 10 s + 5 s grace: still open
    assert counter.add("b", 9_000) == []                  # late but within the grace: counted
    closed = counter.add("b", 15_000)                     # stream time reaches 15 s: [0, 10 s) closes
    assert closed == [WindowResult("a", 0, 10_000, 1), WindowResult("b", 0, 10_000, 1)]
    assert counter.add("a", 2_000) == [] and counter.dropped == [("a", 2_000, 15_000)]
    assert counter.expired == [("a", 2_000, 0)]


def test_hopping_counts_a_record_in_every_window_that_holds_it():
    counter = WindowedCount(size_ms=10_000, advance_ms=5_000, grace_ms=0)
    counter.add("a", 7_000)
    assert counter.add("a", 100_000) == [WindowResult("a", 0, 10_000, 1), WindowResult("a", 5_000, 15_000, 1)]
