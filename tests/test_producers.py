"""kafkacourse.instruments.producers: latency, throughput, disk bytes and delivery ledgers on the live brokers."""

from __future__ import annotations

import json
import time

import pytest

import kafkacourse as kc
from kafkacourse.instruments import mirror, perf, replication, security
from kafkacourse.instruments import producers as bench
from kafkacourse.instruments.faults import FaultProxy
from kafkacourse.instruments.ledger import read_into


def test_instruments_refuse_keyword_settings_before_touching_the_cluster():
    """No cluster needed: the refusal comes first, naming the dotted spelling (issue #13: one spelling)."""
    for name, call in [
        ("round_trips", lambda: bench.round_trips(None, "t", linger_ms=5)),
        ("blast", lambda: bench.blast(None, "t", [b"x"], linger_ms=5)),
        ("sweep", lambda: bench.sweep(None, "t", {"linger.ms": [0]}, [b"x"], linger_ms=5)),
        ("NumberedStream", lambda: bench.NumberedStream(None, "t", linger_ms=5)),
        ("reordering_under_lost_requests", lambda: bench.reordering_under_lost_requests(None, None, "t", linger_ms=5)),
        ("duplicates_under_lost_responses",
         lambda: bench.duplicates_under_lost_responses(None, None, "t", idempotence=True, linger_ms=5)),
        ("SteadyProducer", lambda: replication.SteadyProducer(None, "t", linger_ms=5)),
        ("producer_perf_test", lambda: perf.producer_perf_test(None, "t", 1, linger_ms=5)),
        ("consumer_perf_test", lambda: perf.consumer_perf_test(None, "t", 1, linger_ms=5)),
        ("python_consume", lambda: perf.python_consume(None, "t", 1, linger_ms=5)),
        ("fetch_latency", lambda: perf.fetch_latency(None, "t", linger_ms=5)),
        ("SiteConsumer", lambda: mirror.SiteConsumer(None, "t", "g", None, "primary", linger_ms=5)),
        ("produce_one", lambda: security.produce_one({}, "t", linger_ms=5)),
    ]:
        with pytest.raises(TypeError, match=rf"^{name}\(\) .*settings=\{{'linger.ms': 5\}}, not as keywords \(linger_ms=\)"):
            call()
    with pytest.raises(TypeError, match=r"settings=\{'acks': 'all'\}"):
        bench.round_trips(None, "t", acks="all")
    with pytest.raises(TypeError, match=r"settings=\{'bootstrap.servers': 'b:9092'\}"):
        bench.NumberedStream(None, "t", bootstrap_servers="b:9092")


def test_round_trips_one_row_per_record(cluster, topic):
    frame = bench.round_trips(cluster, topic, n=30, settings={"acks": "all"})
    assert len(frame) == 30 and frame.error.isna().all(), frame[frame.error.notna()]
    assert (frame.latency_ms > 0).all()
    assert sum(cluster.end_offsets(topic).values()) == 30


def test_blast_and_sweep(cluster, topic):
    values = [b"x" * 100] * 5000
    result = bench.blast(cluster, topic, values, settings={"linger.ms": 20})
    assert result["records"] == 5000 and result["errors"] == 0, result
    assert result["records_per_s"] > 0 and result["requests"] >= 1 and result["records_per_batch"] > 1
    grid = bench.sweep(cluster, topic, {"linger.ms": [0, 50], "batch.size": [16384]}, values[:2000], per_second=4000)
    assert list(grid["linger.ms"]) == [0, 50] and (grid.errors == 0).all()
    # a paced stream: 50 ms of linger holds records back for a batch, so fewer, fuller requests. (Its latency
    # is measured, not asserted: on a loaded machine linger 0's p50 can exceed linger 50's; see
    # benchmarks/producer_linger.py.)
    slow, fast = grid.set_index("linger.ms").loc[50], grid.set_index("linger.ms").loc[0]
    assert slow.requests < fast.requests and slow.records_per_batch > fast.records_per_batch, grid
    assert (grid.p50_ms > 0).all() and (grid.p50_ms <= grid.p99_ms).all(), grid
    assert grid.seconds.min() >= 0.45, "paced at 4000/s, 2000 records cannot all be sent in under half a second"


def test_order_payloads_are_repeatable_json():
    first, again = bench.order_payloads(50), bench.order_payloads(50)
    assert first == again
    order = json.loads(first[3])
    assert order["order_id"] == "o-000003" and order["items"]


def test_compression_shrinks_the_log(cluster):
    values = bench.order_payloads(3000)
    topics = {codec: cluster.create_topic(kc.unique_name(f"test-codec-{codec}")) for codec in ("none", "zstd")}
    try:
        for codec, name in topics.items():
            assert bench.blast(cluster, name, values, settings={"compression.type": codec, "linger.ms": 20})["errors"] == 0
        sizes = bench.disk_bytes(cluster, topics.values())
        raw = sum(map(len, values))
        assert sizes[topics["none"]] >= raw, sizes  # every payload byte, plus record and batch headers
        assert sizes[topics["zstd"]] < sizes[topics["none"]] / 3, sizes
    finally:
        for name in topics.values():
            cluster.delete_topic(name)


def test_numbered_stream_reads_back_whole(cluster, topic):
    with bench.NumberedStream(cluster, topic, per_second=400,
                              settings={"acks": "all", "statistics.interval.ms": 200}) as stream:
        time.sleep(1.0)
    assert stream.unflushed == 0
    frame = stream.frame()
    # paced at 400/s for ~1 s; on a loaded machine the pacing thread may fall behind, so only a wide band
    assert 100 <= len(frame) <= 1000 and frame.error.isna().all()
    assert (frame.acked_s >= frame.sent_s).all()
    assert len(stream.stats_frame()) >= 2
    summary = read_into(stream.ledger, cluster, topic).summary()
    assert summary["sent"] == summary["received"] == len(frame) and summary["lost"] == summary["duplicates"] == 0


def test_read_into_splits_by_partition(cluster, topic):
    streams = [bench.NumberedStream(cluster, topic, per_second=200, partition=p) for p in (0, 1)]
    for stream in streams:
        stream.start()
    time.sleep(0.5)
    for stream in streams:
        stream.stop()
    ledgers = read_into({0: streams[0].ledger, 1: streams[1].ledger}, cluster, topic)
    for ledger in ledgers.values():
        assert ledger.summary()["lost"] == 0 and ledger.summary()["unexpected"] == 0


def test_create_topic_led_by(cluster3):
    leader = int(cluster3.brokers().broker.max())
    name = bench.create_topic_led_by(cluster3, kc.unique_name("test-led"), leader=leader, partitions=2)
    try:
        # any broker answers metadata; one that (re)started a moment ago may not know the topic yet: ask again
        description = replication.wait_for(cluster3, name, lambda d: len(d) == 2, "both partitions")
        assert (description.leader == leader).all() and all(r[0] == leader for r in description.replicas)
    finally:
        cluster3.delete_topic(name)


def test_lost_responses_duplicate_without_idempotence(cluster):
    topics = [cluster.create_topic(kc.unique_name("test-dups")) for _ in range(2)]
    try:
        with FaultProxy.for_cluster(cluster) as proxy:
            plain = bench.duplicates_under_lost_responses(cluster, proxy, topics[0], idempotence=False)
            safe = bench.duplicates_under_lost_responses(cluster, proxy, topics[1], idempotence=True)
        assert plain.summary()["lost"] == 0 and plain.summary()["duplicates"] > 0, plain.summary()
        assert safe.summary()["lost"] == 0 and safe.summary()["duplicates"] == 0, safe.summary()
    finally:
        for name in topics:
            cluster.delete_topic(name)


def test_partition_for_matches_where_librdkafka_puts_keys(cluster, make_topic):
    topic = make_topic(6)
    keys = [f"order-{i}" for i in range(20)] + ["", "a", "ab", "abc", "abcd", "abcde"]
    for partitioner in ("consistent_random", "murmur2_random"):
        placed = cluster.produce(topic, [(k, "v") for k in keys if k], settings={"partitioner": partitioner})
        assert dict(zip(placed.key, placed.partition)) == {k: bench.partition_for(k, 6, partitioner) for k in keys if k}
    assert bench.murmur2(b"21") == -973932308 & 0xFFFFFFFF, "Kafka's own test vector (UtilsTest.testMurmur2)"
    with pytest.raises(ValueError):
        bench.partition_for("k", 6, "random")


def test_retries_reorder_without_idempotence_and_not_with_it(cluster, make_topic):
    with FaultProxy.for_cluster(cluster) as proxy:
        plain = bench.reordering_under_lost_requests(cluster, proxy, make_topic(1)).summary()
        safe = bench.reordering_under_lost_requests(cluster, proxy, make_topic(1),
                                                   settings={"enable.idempotence": True}).summary()
    assert plain["out_of_order_by_key"] > 0 and plain["lost"] == 0, plain
    assert safe["out_of_order_by_key"] == 0 and safe["lost"] == 0 and safe["duplicates"] == 0, safe
