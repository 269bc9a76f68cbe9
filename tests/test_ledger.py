"""DeliveryLedger: pure bookkeeping tests, and one round trip through the live broker."""

from __future__ import annotations

import time

import pandas as pd
import pytest

import kafkacourse as kc
from kafkacourse.instruments.ledger import DeliveryLedger, decode_value, encode_value


def test_values_round_trip_and_reject_foreign_values():
    value = encode_value("order-7", seq=3, note="hi")
    assert decode_value(value) == {"id": "order-7", "seq": 3, "note": "hi"}
    assert decode_value(value.decode())["id"] == "order-7"
    for bad in (None, b"plain text", b'{"seq": 1}', b"[1, 2]", b"\xff\xfe"):
        with pytest.raises(ValueError):
            decode_value(bad)


def test_stamp_numbers_ids_globally_and_sequences_per_key():
    ledger = DeliveryLedger()
    values = [decode_value(ledger.stamp(key)) for key in ["a", "b", "a", "a", "b", None]]
    assert [v["id"] for v in values] == [0, 1, 2, 3, 4, 5]
    assert [v["seq"] for v in values] == [0, 0, 1, 2, 1, 0]
    sent = ledger.sent
    assert sent[["key", "seq", "index"]].head(5).values.tolist() == [
        ["a", 0, 0], ["b", 0, 1], ["a", 1, 2], ["a", 2, 3], ["b", 1, 4]]
    assert pd.isna(sent["key"].iloc[5]) and sent["seq"].iloc[5] == 0
    with pytest.raises(ValueError, match="already sent"):
        ledger.stamp("a", record_id=3)


def test_record_sent_again_updates_the_row():
    ledger = DeliveryLedger()
    ledger.record_sent("x", key="k")
    ledger.record_sent("x", partition=2, offset=41)
    ledger.record_sent("y", key="k", error="timed out")
    sent = ledger.sent.set_index("id")
    assert (sent.loc["x", "partition"], sent.loc["x", "offset"], sent.loc["x", "seq"]) == (2, 41, 0)
    assert sent.loc["y", "seq"] == 1 and sent.loc["y", "error"] == "timed out"
    assert len(ledger.sent) == 2


def test_losses_duplicates_and_unexpected():
    ledger = DeliveryLedger()
    for i in range(5):
        ledger.record_sent(i, key="k", error="broker down" if i == 4 else None)
    for i, offset in [(0, 0), (1, 1), (1, 5), (2, 2), (2, 6), (2, 7), (99, 8)]:
        ledger.record_received(i, partition=0, offset=offset)
    assert ledger.losses()["id"].tolist() == [3, 4]
    assert ledger.losses(acked_only=True)["id"].tolist() == [3]
    dups = ledger.duplicates().set_index("id")
    assert dups["times"].to_dict() == {1: 2, 2: 3}
    assert dups.loc[2, "offsets"] == [2, 6, 7]
    assert ledger.unexpected()["id"].tolist() == [99]
    summary = ledger.summary()
    assert summary == {"sent": 5, "failed": 1, "received": 7, "unique_received": 4, "lost": 2, "duplicates": 3,
                       "duplicated_ids": 2, "unexpected": 1, "out_of_order_by_key": 0,
                       "out_of_order_by_partition": 0}


def test_out_of_order_per_key_partition_and_globally():
    ledger = DeliveryLedger()
    # Keys a and b interleaved; a lives in partition 0, b in partition 1.
    for record_id, key in enumerate(["a", "b", "a", "b", "a", "b"]):
        ledger.record_sent(record_id, key=key, partition=0 if key == "a" else 1)
    # Partition 0 first, then partition 1: each key and each partition in order, the whole stream not.
    for record_id in [0, 2, 4, 1, 3, 5]:
        ledger.record_received(record_id, partition=0 if record_id % 2 == 0 else 1)
    assert ledger.out_of_order(by="key").empty
    assert ledger.out_of_order(by="partition").empty
    late = ledger.out_of_order(by="global")
    assert late["id"].tolist() == [1, 3] and late["behind"].tolist() == [4, 4]
    report = ledger.order_report(by="key").set_index("key")
    assert report["received"].to_dict() == {"a": 3, "b": 3} and report["in_order"].all()
    assert not ledger.order_report(by="global")["in_order"].item()


def test_records_without_a_key_form_one_group():
    ledger = DeliveryLedger()
    for record_id in range(3):
        ledger.record_sent(record_id)            # no key: seq 0, 1, 2 in the None group
    for record_id in [2, 0, 1]:
        ledger.record_received(record_id)
    assert ledger.out_of_order(by="key")["id"].tolist() == [0, 1]
    assert ledger.order_report(by="key")["out_of_order"].tolist() == [2]


def test_reordering_within_a_key_and_replays():
    ledger = DeliveryLedger()
    for record_id in range(4):
        ledger.record_sent(record_id, key="k", partition=0)
    for record_id in [0, 2, 1, 3]:                 # 1 overtaken by 2
        ledger.record_received(record_id, partition=0)
    for record_id in [2, 3]:                       # a replay after a rewind: duplicates, not reordering
        ledger.record_received(record_id, partition=0)
    late = ledger.out_of_order(by="key")
    assert late[["id", "seq", "behind"]].values.tolist() == [[1, 1, 2]]
    assert len(ledger.out_of_order(by="key", first_only=False)) == 2
    assert ledger.summary()["out_of_order_by_key"] == 1 and ledger.summary()["duplicates"] == 2


def test_received_rows_take_key_and_seq_from_the_sent_record_and_keep_extras():
    ledger = DeliveryLedger()
    ledger.record_sent("r1", key="user-1", seq=7)
    ledger.record_received("r1", partition=2, offset=10, consumer="restarted")
    row = ledger.received.iloc[0]
    assert (row["key"], row["seq"], row["index"], row["consumer"]) == ("user-1", 7, 0, "restarted")


def test_an_empty_ledger_has_empty_tables():
    ledger = DeliveryLedger()
    assert ledger.summary()["sent"] == 0 and ledger.losses().empty and ledger.duplicates().empty
    assert ledger.out_of_order().empty and ledger.received.empty


def test_live_round_trip_keeps_per_key_order(cluster):
    topic = cluster.create_topic(kc.unique_name("ledger-test"), partitions=3)
    ledger = DeliveryLedger()
    producer = cluster.producer(settings={"enable.idempotence": True})
    try:
        for i in range(60):
            key = f"user-{i % 6}"
            producer.produce(topic, key=key, value=ledger.stamp(key, note="live"), on_delivery=ledger.on_delivery)
            producer.poll(0)
        assert producer.flush(30) == 0, "records left undelivered"
        sent = ledger.sent
        assert sent["partition"].notna().all() and sent["offset"].notna().all() and sent["error"].isna().all()
        assert sent.groupby("key")["partition"].nunique().eq(1).all(), "a key spread over partitions"

        consumer = cluster.consumer(settings={"enable.auto.commit": False})
        consumer.subscribe([topic])
        deadline = time.monotonic() + 30
        try:
            while len(ledger.received) < 60 and time.monotonic() < deadline:
                msg = consumer.poll(0.5)
                if msg is not None and msg.error() is None:
                    ledger.record_received_message(msg, consumer="test")
        finally:
            consumer.close()
        summary = ledger.summary()
        assert summary["received"] == 60 and summary["lost"] == 0 and summary["duplicates"] == 0, summary
        assert summary["out_of_order_by_key"] == 0 and summary["out_of_order_by_partition"] == 0, summary
        received = ledger.received
        assert set(received.columns) >= {"note", "consumer"} and (received["note"] == "live").all()
        merged = received.merge(sent, on="id", suffixes=("", "_sent"))
        assert (merged["partition"] == merged["partition_sent"]).all()
        assert (merged["offset"] == merged["offset_sent"]).all()
    finally:
        cluster.delete_topic(topic)
