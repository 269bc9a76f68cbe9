"""The crash simulation against the live single broker: what each delivery mode loses or duplicates."""

from __future__ import annotations

import pytest

import kafkacourse as kc
from kafkacourse.instruments.crash import (CrashingProcessor, committed_offsets, crash_table,
                               run_crash_experiment)
from kafkacourse.instruments.ledger import DeliveryLedger, read_into

# 30 records, batches of 5, crash after 12 processed: two batches (10 records) were fully handled before.


def test_at_most_once_loses_the_rest_of_the_committed_batch(cluster):
    result = run_crash_experiment(cluster, "at-most-once", records=30, crash_after=12, batch_size=5)
    summary = result.summary()
    assert result.committed_at_crash == {0: 15}, "the third batch was committed before it was processed"
    assert (summary["lost"], summary["duplicates"]) == (3, 0), summary
    assert result.ledger.losses()["id"].tolist() == [12, 13, 14]
    assert (result.processed_before_crash, result.processed_after_restart) == (12, 15)
    assert result.input_topic not in cluster.topics() and result.output_topic not in cluster.topics()


def test_at_least_once_redoes_what_was_processed_since_the_last_commit(cluster):
    result = run_crash_experiment(cluster, "at-least-once", records=30, crash_after=12, batch_size=5)
    summary = result.summary()
    assert result.committed_at_crash == {0: 10}
    assert (summary["lost"], summary["duplicates"]) == (0, 2), summary
    dups = result.ledger.duplicates()
    assert dups["id"].tolist() == [10, 11] and (dups["times"] == 2).all()
    received = result.ledger.received
    copies = received[received["id"].isin([10, 11])].groupby("id")["processed_by"].apply(sorted).tolist()
    assert copies == [["first", "restarted"]] * 2
    assert result.ledger.summary()["out_of_order_by_key"] == 0, "a replay is not a reordering"


def test_exactly_once_neither_loses_nor_duplicates_and_fences_the_zombie(cluster):
    result = run_crash_experiment(cluster, "exactly-once", records=30, crash_after=12, batch_size=5)
    summary = result.summary()
    assert (summary["lost"], summary["duplicates"], summary["received"]) == (0, 0, 30), summary
    assert result.committed_at_crash == {0: 10}, "the open transaction's offsets must not count"
    assert result.read_uncommitted == 32, "the aborted transaction's 2 records are in the log all the same"
    assert result.zombie_error in {"_FENCED", "PRODUCER_FENCED", "INVALID_PRODUCER_EPOCH"}, result.zombie_error
    assert set(result.ledger.received["processed_by"]) == {"first", "restarted"}


@pytest.mark.parametrize("mode, lost, duplicates", [("at-most-once", 3, 0), ("at-least-once", 0, 2),
                                                    ("exactly-once", 0, 0)])
def test_three_partitions_give_the_same_counts(cluster, mode, lost, duplicates):
    result = run_crash_experiment(cluster, mode, records=30, crash_after=12, batch_size=5, partitions=3, keys=6)
    summary = result.summary()
    assert (summary["lost"], summary["duplicates"]) == (lost, duplicates), summary
    assert result.ledger.summary()["out_of_order_by_key"] == 0


def test_crash_table_has_one_row_per_mode(cluster):
    results = [run_crash_experiment(cluster, mode, records=10, crash_after=3, batch_size=2)
               for mode in ("at-most-once", "at-least-once")]
    table = crash_table(results)
    assert table.index.tolist() == ["at-most-once", "at-least-once"]
    assert table.loc["at-most-once", "lost"] == 1 and table.loc["at-least-once", "duplicates"] == 1


def test_a_processor_without_a_crash_handles_everything_once(cluster):
    source = cluster.create_topic(kc.unique_name("crash-src"), partitions=2)
    sink = cluster.create_topic(kc.unique_name("crash-sink"), partitions=2)
    group, ledger = kc.unique_name("crash-group"), DeliveryLedger()
    try:
        producer = cluster.producer()
        for i in range(13):
            producer.produce(source, key=f"k{i % 4}", value=ledger.stamp(f"k{i % 4}"), on_delivery=ledger.on_delivery)
        producer.flush(30)
        processor = CrashingProcessor(cluster, "exactly_once", source, sink, group,
                                      transactional_id=kc.unique_name("crash-tx"), batch_size=4, name="only")
        assert processor.run() == 13 and not processor.crashed
        committed = committed_offsets(cluster, group, source)
        assert sum(offset or 0 for offset in committed.values()) == 13, committed
        assert len(read_into(ledger, cluster, sink).received) == 13
        assert ledger.summary()["lost"] == 0 and ledger.summary()["duplicates"] == 0
    finally:
        cluster.delete_topic(source)
        cluster.delete_topic(sink)


def test_bad_arguments_are_refused(cluster):
    with pytest.raises(ValueError, match="mode must be one of"):
        run_crash_experiment(cluster, "twice")
    with pytest.raises(ValueError, match="transactional_id"):
        CrashingProcessor(cluster, "exactly-once", "in", "out", "group")
    before = set(cluster.topics("crash-"))
    with pytest.raises(ValueError, match="never crashed"):
        run_crash_experiment(cluster, "at-least-once", records=5, crash_after=10)
    assert set(cluster.topics("crash-")) <= before, "topics left behind after a failed experiment"
