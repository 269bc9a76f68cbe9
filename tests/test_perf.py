"""instruments.perf: Kafka's perf tools run and parsed; the Python measurements beside them."""

from __future__ import annotations

import pytest

from kafkacourse.instruments import perf

PRODUCER_OUTPUT = """\
Option --producer-props has been deprecated and will be removed in a future version.
39146 records sent, 7819.8 records/sec (0.75 MB/sec), 129.0 ms avg latency, 3244.0 ms max latency.
200000 records sent, 24943.876278 records/sec (2.38 MB/sec), 542.60 ms avg latency, 3244.00 ms max latency, 613 ms 50th, 823 ms 95th, 858 ms 99th, 883 ms 99.9th.
"""
CONSUMER_OUTPUT = """\
start.time, end.time, data.consumed.in.MB, MB.sec, data.consumed.in.nMsg, nMsg.sec, rebalance.time.ms, fetch.time.ms, fetch.MB.sec, fetch.nMsg.sec
2026-12-01 08:57:02:599, 2026-12-01 08:57:09:961, 19.0735, 2.5908, 200000, 27166.5308, 3438, 3924, 4.8607, 50968.3996
"""


def test_parsers_read_what_the_tools_print():
    producer = perf.parse_producer_output(PRODUCER_OUTPUT)
    assert list(producer.kind) == ["window", "total"]
    total = producer.iloc[-1]
    assert total.records == 200000 and total.p99_ms == 858 and round(total.records_per_s) == 24944
    consumer = perf.parse_consumer_output(CONSUMER_OUTPUT).iloc[0]
    assert consumer.records == 200000 and consumer.rebalance_ms == 3438 and round(consumer.fetch_records_per_s) == 50968


def test_parsers_refuse_output_without_results():
    with pytest.raises(perf.PerfToolError, match="no final line"):
        perf.parse_producer_output("Exception in thread main: TimeoutException\n")
    with pytest.raises(perf.PerfToolError, match="no summary"):
        perf.parse_consumer_output("WARNING: Exiting before consuming the expected number of messages\n")


@pytest.mark.slow
def test_java_tools_and_python_read_the_same_records(cluster, make_topic):
    topic = make_topic(partitions=2, prefix="test-perf")
    java = perf.producer_perf_test(cluster, topic, 20_000, record_size=100, settings={"acks": 1, "linger.ms": 5})
    assert java.iloc[-1].records == 20_000
    consumed = perf.consumer_perf_test(cluster, topic, 20_000)
    assert consumed.records.iloc[0] == 20_000
    for batch in (0, 500):
        python = perf.python_consume(cluster, topic, 20_000, batch=batch, touch=True)
        assert python["records"] == 20_000 and python["bytes"] == 20_000 * 100 and python["thread_us"] > 0


def test_fetch_latency_follows_fetch_wait_max_ms(cluster, make_topic):
    topic = make_topic(partitions=1, prefix="test-latency")
    quick = perf.fetch_latency(cluster, topic, per_second=100, seconds=1.0)
    held = perf.fetch_latency(cluster, topic, per_second=100, seconds=1.0,
                              settings={"fetch.min.bytes": 1_000_000, "fetch.wait.max.ms": 300})
    assert len(quick) > 50 and len(held) > 50
    assert held.latency_ms.median() > quick.latency_ms.median() and held.latency_ms.max() > 150
