"""A deliberately slow consumer that exports its own lag for Prometheus (Day 4 lesson 03).

Each record costs ``--delay-ms`` of "work". librdkafka's statistics (``statistics.interval.ms``, delivered to
``stats_cb`` from ``poll()``) carry each partition's ``consumer_lag`` (high watermark minus committed offset);
the service publishes them with prometheus-client on ``--metrics-port`` (``/metrics``):

* ``course_consumer_lag{topic, partition}`` — librdkafka's consumer_lag per assigned partition;
* ``course_consumer_records_total{topic}`` — records processed.

Offsets are auto-committed every 500 ms (``auto.commit.interval.ms``), so the broker's view of the lag and the
client's own move together.

    python -m courseapps.day4.lag_consumer --bootstrap-servers localhost:9192 --topic T --group G \\
        --delay-ms 2 --metrics-port 8000

Lines it prints: ``metrics on :<port>``, ``assigned [0, 1, …]``, and ``stopped`` after SIGTERM.
"""

from __future__ import annotations

import argparse
import signal
import time

from confluent_kafka import Consumer
from prometheus_client import CollectorRegistry, Counter, Gauge, start_http_server

from kafkacourse.instruments.lag import Statistics
from kafkacourse.client_env import env_client_settings


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bootstrap-servers", required=True)
    parser.add_argument("--topic", required=True)
    parser.add_argument("--group", required=True)
    parser.add_argument("--delay-ms", type=float, default=2.0, help="work per record (default 2 ms)")
    parser.add_argument("--metrics-port", type=int, required=True)
    args = parser.parse_args(argv)
    if args.delay_ms < 0:
        parser.error("--delay-ms must be >= 0")

    registry = CollectorRegistry()
    lag = Gauge("course_consumer_lag", "librdkafka's consumer_lag (high watermark - committed offset)",
                ["topic", "partition"], registry=registry)
    records = Counter("course_consumer_records", "records processed", ["topic"], registry=registry)
    stats = Statistics()
    server, thread = start_http_server(args.metrics_port, addr="127.0.0.1", registry=registry)
    print(f"metrics on :{args.metrics_port}", flush=True)

    stopping = False

    def stop(*_):
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    consumer = Consumer({**env_client_settings(), "bootstrap.servers": args.bootstrap_servers, "group.id": args.group,
                         "auto.offset.reset": "earliest", "auto.commit.interval.ms": 500,
                         "statistics.interval.ms": 500, "stats_cb": stats})
    consumer.subscribe([args.topic], on_assign=lambda c, parts: print(
        f"assigned {sorted(p.partition for p in parts)}", flush=True))
    seen_stats = 0
    try:
        while not stopping:
            msg = consumer.poll(0.2)
            if stats.count != seen_stats:  # a new statistics document: publish its lag
                seen_stats = stats.count
                for partition, value in stats.lag(args.topic).items():
                    lag.labels(args.topic, str(partition)).set(value)
            if msg is None or msg.error():
                continue
            time.sleep(args.delay_ms / 1000)
            records.labels(args.topic).inc()
    finally:
        consumer.close()
        server.shutdown()
        thread.join(5)
        print("stopped", flush=True)


if __name__ == "__main__":
    main()
