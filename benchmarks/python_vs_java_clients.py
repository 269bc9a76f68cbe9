"""Python (confluent-kafka / librdkafka) vs Kafka's Java perf tools: producer and consumer, same broker, same run.

    PYTHONPATH=src .venv/bin/python benchmarks/python_vs_java_clients.py [--records 300000] [--group 3]

One fresh 6-partition topic on the course's single broker. Producers: ``kafka-producer-perf-test.sh`` and a
Python produce loop (``instruments.producers.blast``), both acks=1, linger.ms=5, batch.size=131072, 100-byte
records. Consumers, on everything both wrote: ``kafka-consumer-perf-test.sh`` (its fetch rate, group join
left out), a Python ``poll()`` loop, ``consume(num_messages=1000)``, and a group of ``--group`` Python
processes (``courseapps.day4.scaling_consumer``, started together). Prints one table with each ratio.
"""

from __future__ import annotations

import argparse
import os
import time

import pandas as pd

import kafkacourse as kc
from kafkacourse.instruments import perf
from kafkacourse.instruments import producers as bench
from kafkacourse.instruments.scaling import ConsumerFleet, LagSampler


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=300_000, help="records each producer writes")
    parser.add_argument("--group", type=int, default=3, help="processes in the Python consumer group")
    args = parser.parse_args()
    cluster = kc.connect()
    topic = cluster.create_topic(kc.unique_name("bench-clients"), partitions=6)
    rows = []
    try:
        java = perf.producer_perf_test(cluster, topic, args.records, record_size=100,
                                       settings={"acks": 1, "linger.ms": 5, "batch.size": 131072}).iloc[-1]
        rows.append(("producer", "java ProducerPerformance", java.records_per_s))
        py = bench.blast(cluster, topic, [b"x" * 100] * args.records,
                         settings={"acks": "1", "linger.ms": 5, "batch.size": 131072})
        rows.append(("producer", "python produce loop", py["records_per_s"]))
        total = sum(cluster.end_offsets(topic).values())
        jc = perf.consumer_perf_test(cluster, topic, total).fetch_records_per_s.iloc[0]
        rows.append(("consumer", "java ConsumerPerformance", jc))
        rows.append(("consumer", "python poll()", perf.python_consume(cluster, topic, total)["records_per_s"]))
        rows.append(("consumer", "python consume(1000)",
                     perf.python_consume(cluster, topic, total, batch=1000)["records_per_s"]))
        with ConsumerFleet(cluster, topic, kc.unique_name("bench-group"), batch=1000, go=True, out=False) as fleet:
            fleet.add(args.group)
            with LagSampler(cluster, fleet.group, topic, interval=0.2) as lag:
                go = fleet.go()
                lag.wait_for_zero(timeout=120, end_at_least=total)
            members = fleet.stop()
        rows.append(("consumer", f"python group of {args.group} processes",
                     members.processed.sum() / (members.last_t.max() - go)))
    finally:
        cluster.delete_topic(topic)
    table = pd.DataFrame(rows, columns=["side", "client", "records_per_s"])
    java_rate = table[table.client.str.startswith("java")].set_index("side").records_per_s
    table["vs_java"] = table.records_per_s / table.side.map(java_rate)
    print(f"{args.records} records per producer, 100 bytes, acks=1, linger.ms=5, batch.size=131072; "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores; {time.strftime('%Y-%m-%d %H:%M')}")
    print(table.to_string(index=False, formatters={"records_per_s": "{:,.0f}".format, "vs_java": "{:.2f}x".format}))


if __name__ == "__main__":
    main()
