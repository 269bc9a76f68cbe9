"""courseapps.day3.consuming: batches from a live consumer and the end of every partition, reported once."""

from __future__ import annotations

from confluent_kafka import OFFSET_BEGINNING, TopicPartition

from courseapps.day3.consuming import BatchReader


def test_batches_until_every_partition_is_at_its_end(cluster, make_topic):
    topic = make_topic(partitions=2, prefix="test-batches")
    cluster.produce(topic, [{"value": str(i), "partition": i % 2} for i in range(25)])
    consumer = cluster.consumer(settings={"enable.auto.commit": False, "enable.partition.eof": True})
    reader = BatchReader(consumer)
    assert not reader.at_end_of_all, "nothing assigned yet: not at the end of anything"
    partitions = [TopicPartition(topic, p, OFFSET_BEGINNING) for p in (0, 1)]
    try:
        consumer.assign(partitions)
        reader.assigned(partitions)
        batches, reports = [], 0
        for _ in range(100):
            batch = reader.next_batch(10)
            batches.append(len(batch))
            reports += reader.newly_caught_up(batch)
            if reader.at_end_of_all and sum(batches) == 25:
                break
        assert sum(batches) == 25 and max(batches) <= 10 and reader.at_end_of_all
        assert reports == 1 and not reader.newly_caught_up([]), "caught up is reported once"
        reader.revoked(partitions[:1])
        assert reader.partitions == {1}
    finally:
        consumer.close()
