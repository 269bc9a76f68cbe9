"""What producing with acks=all adds to a FastAPI request: the same endpoint with and without Kafka.

    PYTHONPATH=src .venv/bin/python benchmarks/fastapi_acks_overhead.py [--requests 2000] [--concurrency 200]

``courseapps.day4.acks_api`` runs twice as its own uvicorn process (so the load generator's threads do not
share its GIL): once producing each order with acks=all and awaiting the delivery report, once without
Kafka. ``instruments.load.fire`` sends the same orders at `--concurrency` concurrent requests to each, one
after the other, after a warm-up; prints p50/p95/p99 per variant and the difference (latencies of the
requests that succeeded; failures are counted and their errors printed).
"""

from __future__ import annotations

import argparse
import os
import socket

import pandas as pd

import kafkacourse as kc
from kafkacourse.instruments.latency import latency_table
from kafkacourse.instruments.load import fire
from kafkacourse.instruments.processes import ServiceProcess


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def measure(cluster: kc.Cluster, topic: str, kafka: bool, orders: list[dict], concurrency: int) -> pd.DataFrame:
    port = free_port()
    args = ["--bootstrap-servers", cluster.bootstrap_servers, "--topic", topic, "--port", str(port)]
    with ServiceProcess("courseapps.day4.acks_api", *args, *([] if kafka else ["--no-kafka"]),
                        name="acks-api" if kafka else "no-kafka-api") as api:
        url = f"http://127.0.0.1:{port}/orders"
        for _ in range(300):  # until it answers
            try:
                if not fire(url, orders[:1], concurrency=1, timeout=2).error.notna().any():
                    break
            except Exception:
                pass
        fire(url, orders[:200], concurrency=concurrency)           # warm-up: connections, producer metadata
        results = fire(url, orders, concurrency=concurrency, timeout=60)
    failed = results[~results.ok]
    for error, count in failed.error.fillna(failed.status.astype(str)).value_counts().items():
        print(f"  {'acks=all' if kafka else 'no Kafka'}: {count} request(s) failed: {error}")
    return results[results.ok].assign(variant="acks=all (Kafka)" if kafka else "no Kafka", failed=len(failed))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=200)
    args = parser.parse_args()
    cluster = kc.connect()
    topic = cluster.create_topic(kc.unique_name("bench-acks"), partitions=3)
    orders = [{"order_id": f"o-{i}", "customer": "ada", "amount": 9.5} for i in range(args.requests)]
    try:
        results = pd.concat([measure(cluster, topic, kafka, orders, args.concurrency) for kafka in (False, True)])
    finally:
        cluster.delete_topic(topic)
    table = latency_table(results, by="variant")
    table["failed"] = results.groupby("variant", sort=False).failed.first()
    print(f"{args.requests} POST /orders at {args.concurrency} concurrent requests; load average "
          f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    print(table.round(1).to_string())
    base, kafka = table.loc["no Kafka"], table.loc["acks=all (Kafka)"]
    print(f"acks=all adds: p50 {kafka.p50_ms - base.p50_ms:+.1f} ms, p99 {kafka.p99_ms - base.p99_ms:+.1f} ms; "
          f"throughput {kafka.per_s / base.per_s:.2f}x")


if __name__ == "__main__":
    main()
