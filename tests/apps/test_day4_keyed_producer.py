"""courseapps.day4.keyed_producer: several processes split the keys; each key stays on one partition, in order."""

from __future__ import annotations

import pytest

from courseapps.day4.keyed_producer import key_range, ledger_value, run
from kafkacourse.instruments.ledger import DeliveryLedger, encode_value, read_into
from kafkacourse.instruments.scaling import run_producers


def test_two_processes_keep_every_key_in_order_on_one_partition(cluster, make_topic):
    topic = make_topic(partitions=3, prefix="test-keyed")
    run = run_producers(cluster, topic, 2, keys=6, per_key=5, work_ms=1, batch=4)  # chunks of 4, the last of 3
    deliveries = run["deliveries"]
    assert len(deliveries) == 30 and deliveries.error.isna().all()
    assert set(deliveries.groupby("key").producer.nunique()) == {1}, "each key belongs to one process"
    ledger = DeliveryLedger()
    for row in deliveries.itertuples(index=False):
        ledger.record_sent(row.id, key=row.key, seq=row.seq, partition=row.partition, offset=row.offset)
    summary = read_into(ledger, cluster, topic).summary()
    assert summary["lost"] == 0 and summary["duplicates"] == 0 and summary["out_of_order_by_key"] == 0, summary
    assert (ledger.received.groupby("key").partition.nunique() == 1).all()
    assert list(run["done"].records) == [15, 15]
    assert (run["done"].first_t <= run["done"].sent_t).all() and (run["done"].sent_t <= run["done"].last_t).all()


def test_values_are_ledger_values_and_bad_key_ranges_are_refused():
    assert ledger_value("key-001/3", 3) == encode_value("key-001/3", 3)
    assert key_range("2:5") == range(2, 5)
    for bad in ("5", "a:b", "4:4"):
        with pytest.raises(ValueError, match="START:END"):
            key_range(bad)
    with pytest.raises(ValueError, match="1 or more"):
        run({}, "t", range(0, 2), 1, batch=0)
