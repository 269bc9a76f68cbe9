"""Lag three ways on the live single broker: AdminClient, kafka-consumer-groups.sh, librdkafka statistics."""

from __future__ import annotations

import time

import pytest

import kafkacourse as kc
from kafkacourse.instruments.lag import Statistics, describe_group, parse_describe, reconcile


def test_the_three_views_agree_on_an_idle_group(cluster):
    topic = cluster.create_topic(kc.unique_name("lag3"), partitions=2)
    group = kc.unique_name("lag3")
    cluster.produce(topic, [(str(i), str(i)) for i in range(100)])
    stats = Statistics()
    consumer = cluster.consumer(group, settings={"statistics.interval.ms": 200, "stats_cb": stats,
                                                 "enable.auto.commit": False})
    try:
        consumer.subscribe([topic])
        got = []
        while len(got) < 30 or len({m.partition() for m in got}) < 2:  # a commit on each partition
            msg = consumer.poll(1)
            if msg is not None and not msg.error():
                got.append(msg)
        consumer.commit(asynchronous=False)
        consumer.pause(consumer.assignment())
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:  # wait for a statistics document after the commit
            consumer.poll(0.2)
            if len(stats.lag(topic)) == 2 and sum(stats.lag(topic).values()) == 100 - len(got):
                break
        table = reconcile(cluster.group_offsets(group, topic), describe_group(cluster.bootstrap_servers, group),
                          stats.lag(topic))
    finally:
        consumer.close()
        cluster.delete_topic(topic)
    assert table["agree"].all() and table["admin_lag"].sum() == 100 - len(got), table


def test_parse_describe_reads_the_tools_table_and_refuses_other_text():
    text = ("\nConsumer group 'g' has no active members.\n\n"
            "GROUP TOPIC PARTITION  CURRENT-OFFSET  LOG-END-OFFSET  LAG  CONSUMER-ID HOST CLIENT-ID\n"
            "g     t     1          -               5               -    -           -    -\n"
            "g     t     0          3               7               4    -           -    -\n")
    frame = parse_describe(text)
    assert frame[["partition", "current_offset", "log_end_offset", "lag"]].values.tolist() == [[0, 3, 7, 4],
                                                                                              [1, None, 5, None]]
    with pytest.raises(ValueError, match="no partition table"):
        parse_describe("Error: Consumer group 'g' does not exist.")
    with pytest.raises(ValueError, match="non-empty"):
        describe_group("localhost:9092", "")
