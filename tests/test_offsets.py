"""instruments.offsets: high watermark vs last stable offset, lag to each, and a timeline of both."""

from __future__ import annotations

import pytest

import kafkacourse as kc
from kafkacourse.instruments import offsets
from kafkacourse.plots.offsets import plot_offsets


def test_open_transaction_holds_the_lso_and_a_read_committed_group_lags_only_the_high_watermark(cluster, make_topic):
    topic = make_topic(partitions=1, prefix="test-lso")
    producer = cluster.producer(settings={"transactional.id": kc.unique_name("test-lso-tx")})
    producer.init_transactions(30)
    producer.begin_transaction()
    for i in range(4):
        producer.produce(topic, value=f"committed {i}")
    producer.commit_transaction(30)                 # offsets 0-3, commit marker at 4
    producer.begin_transaction()
    for i in range(3):
        producer.produce(topic, value=f"open {i}")  # offsets 5-7, transaction left open
    producer.flush(30)
    group = kc.unique_name("test-lso-reader")
    with offsets.OffsetTimeline(cluster, topic, interval=0.1) as timeline:
        marks = offsets.watermarks(cluster, topic)
        assert marks.to_dict("records") == [{"partition": 0, "last_stable": 5, "high_watermark": 8}]
        assert offsets.read_as_group(cluster, group, topic, "read_committed") == 4
        lag = offsets.lag(cluster, group, topic).iloc[0]
        assert (lag.committed, lag.lag_to_lso, lag.lag_to_hw) == (5, 0, 3), lag
        timeline.mark("commit")
        producer.commit_transaction(30)
        timeline.sample()
    producer.close()
    assert offsets.read_as_group(cluster, group, topic, "read_committed") == 3
    lag = offsets.lag(cluster, group, topic).iloc[0]
    assert (lag.committed, lag.lag_to_lso, lag.lag_to_hw) == (9, 0, 0), lag
    frame = timeline.frame()
    assert {5, 9} <= set(frame.last_stable) and frame.t.is_monotonic_increasing
    assert [label for _, label in timeline.marks] == ["commit"]


def test_a_group_that_committed_nothing_lags_by_everything(cluster, make_topic):
    topic = make_topic(partitions=2, prefix="test-lag")
    cluster.produce(topic, [{"value": "x", "partition": p} for p in (0, 0, 1)])
    lag = offsets.lag(cluster, kc.unique_name("never-read"), topic)
    assert lag.committed.tolist() == [None, None] and lag.lag_to_hw.tolist() == [2, 1] == lag.lag_to_lso.tolist()


def test_bad_input_is_refused_clearly(cluster):
    with pytest.raises(ValueError, match="no topic"):
        offsets.watermarks(cluster, kc.unique_name("missing"))
    with pytest.raises(ValueError, match="interval"):
        offsets.OffsetTimeline(cluster, "any", interval=0)


def test_timeline_plot_draws_both_lines_and_the_marks(cluster, make_topic):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    topic = make_topic(partitions=1, prefix="test-plot")
    timeline = offsets.OffsetTimeline(cluster, topic)
    timeline.sample()
    timeline.mark("now")
    timeline.sample()
    fig, ax = plt.subplots()
    plot_offsets(timeline, ax)
    assert len(ax.get_lines()) == 3 and [t.get_text() for t in ax.texts] == ["now"]
    plt.close(fig)
