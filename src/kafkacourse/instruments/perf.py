"""Kafka's own benchmark tools, and the same measurements made from Python, for side-by-side ratios.

* :func:`producer_perf_test` / :func:`consumer_perf_test` — run ``kafka-producer-perf-test.sh`` /
  ``kafka-consumer-perf-test.sh`` (the real ``ProducerPerformance`` / ``ConsumerPerformance`` classes of the
  course's Kafka jars, the Java client) and parse what they print into a DataFrame
  (:func:`parse_producer_output`, :func:`parse_consumer_output`).
* :func:`python_consume` — read a topic with confluent-kafka (librdkafka) as fast as possible, one
  ``poll()`` per record or ``consume(num_messages=N)`` per batch, measured the way ConsumerPerformance
  measures (records / seconds, the group join left out: partitions are assigned directly), plus the CPU
  each record cost the Python thread and the whole process.
* :func:`fetch_latency` — produce at a steady rate and measure how long each record took to reach a
  consumer with given fetch settings (``fetch.min.bytes``, ``fetch.wait.max.ms``…).

The Python producer side is :func:`kafkacourse.instruments.producers.blast`.

>>> java = consumer_perf_test(cluster, topic, 500_000)                  # one row: records_per_s, fetch_records_per_s…
>>> py = python_consume(cluster, topic, 500_000, batch=1000)
>>> py["records_per_s"] / java.fetch_records_per_s[0]
"""

from __future__ import annotations

import re
import subprocess
import threading
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import pandas as pd
from confluent_kafka import OFFSET_BEGINNING, KafkaError, KafkaException, TopicPartition

from ..connection import refuse_keywords

if TYPE_CHECKING:
    from ..cluster import Cluster

PRODUCER_COLUMNS = ["kind", "records", "records_per_s", "mb_per_s", "avg_latency_ms", "max_latency_ms",
                    "p50_ms", "p95_ms", "p99_ms", "p999_ms"]
CONSUMER_COLUMNS = ["start", "end", "mb", "mb_per_s", "records", "records_per_s", "rebalance_ms", "fetch_ms",
                    "fetch_mb_per_s", "fetch_records_per_s"]

_NUM = r"([\d.]+)"
_WINDOW = re.compile(rf"^{_NUM} records sent, {_NUM} records/sec \({_NUM} MB/sec\), {_NUM} ms avg latency, "
                     rf"{_NUM} ms max latency\.?$")
_TOTAL = re.compile(rf"^{_NUM} records sent, {_NUM} records/sec \({_NUM} MB/sec\), {_NUM} ms avg latency, "
                    rf"{_NUM} ms max latency, {_NUM} ms 50th, {_NUM} ms 95th, {_NUM} ms 99th, {_NUM} ms 99\.9th\.?$")


class PerfToolError(RuntimeError):
    """A Kafka perf tool exited with an error or printed nothing to parse (the message has its output)."""


def _props(settings: Mapping[str, Any] | None) -> dict[str, str]:
    """Client settings as the Java tools' ``--command-property`` values (booleans as ``true`` / ``false``)."""
    return {k: str(v).lower() if isinstance(v, bool) else str(v) for k, v in (settings or {}).items()}


def _run_tool(tool: str, args: list[str], timeout: float) -> str:
    from ..course.tools import java_command

    # java directly (the bin/ wrapper would start one more Python that imports the library first)
    command = java_command(tool, args)
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired as exc:
        raise PerfToolError(f"{tool} did not finish within {timeout:.0f} s") from exc
    if done.returncode != 0:
        raise PerfToolError(f"{tool} exited with {done.returncode}:\n{(done.stdout + done.stderr)[-2000:]}")
    return done.stdout


def parse_producer_output(text: str) -> pd.DataFrame:
    """The lines ``kafka-producer-perf-test.sh`` prints, one row each: ``kind`` "window" (a progress line,
    every ``--reporting-interval``) or "total" (the final line, with percentiles); records, records_per_s,
    mb_per_s, avg/max latency and p50/p95/p99/p999 in ms (missing on windows)."""
    rows = []
    for line in text.splitlines():
        line = line.strip()
        if match := _TOTAL.match(line):
            rows.append(dict(zip(PRODUCER_COLUMNS, ["total", *map(float, match.groups())])))
        elif match := _WINDOW.match(line):
            rows.append(dict(zip(PRODUCER_COLUMNS[:6], ["window", *map(float, match.groups())])))
    if not any(row["kind"] == "total" for row in rows):
        raise PerfToolError(f"no final line in the producer perf test's output:\n{text[-2000:]}")
    frame = pd.DataFrame(rows, columns=PRODUCER_COLUMNS)
    frame["records"] = frame["records"].astype(int)
    return frame


def parse_consumer_output(text: str) -> pd.DataFrame:
    """The summary ``kafka-consumer-perf-test.sh`` prints (the line after its header), one row: start, end,
    mb (MiB), mb_per_s, records, records_per_s (over the whole run), rebalance_ms (joining the group),
    fetch_ms (the rest), fetch_mb_per_s and fetch_records_per_s (over fetch_ms: the rate once consuming)."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    header = next((i for i, line in enumerate(lines) if line.startswith("start.time")), None)
    if header is None or header + 1 >= len(lines):
        raise PerfToolError(f"no summary in the consumer perf test's output:\n{text[-2000:]}")
    fields = [f.strip() for f in lines[header + 1].split(",")]
    if len(fields) != len(CONSUMER_COLUMNS):
        raise PerfToolError(f"unexpected summary line {lines[header + 1]!r}")
    row: dict[str, Any] = {"start": fields[0], "end": fields[1]}
    row.update({name: float(value) for name, value in zip(CONSUMER_COLUMNS[2:], fields[2:])})
    for name in ("records", "rebalance_ms", "fetch_ms"):
        row[name] = int(row[name])
    warning = [line for line in lines if line.startswith("WARNING")]
    frame = pd.DataFrame([row], columns=CONSUMER_COLUMNS)
    frame.attrs["warning"] = warning[0] if warning else None
    return frame


def producer_perf_test(cluster: "Cluster", topic: str, num_records: int, record_size: int = 100,
                       throughput: int = -1, *, settings: Mapping[str, Any] | None = None,
                       reporting_interval_ms: int | None = None, timeout: float = 300.0,
                       **keywords: Any) -> pd.DataFrame:
    """``kafka-producer-perf-test.sh`` against `topic`: `num_records` records of `record_size` bytes, at most
    `throughput` records/s (-1: no limit). `settings` (dotted names, ``{"linger.ms": 5}``) are the Java
    producer's properties; the cluster's bootstrap servers are added. The parsed output (see
    :func:`parse_producer_output`); ``frame.attrs["command"]`` holds the tool's arguments.

    >>> producer_perf_test(cluster, topic, 200_000, settings={"acks": 1, "linger.ms": 5, "batch.size": 131072}
    ...                    ).query("kind == 'total'")
    """
    refuse_keywords("producer_perf_test", keywords)
    props = _props(settings)
    args = ["--topic", topic, "--num-records", str(num_records), "--record-size", str(record_size),
            "--throughput", str(throughput), "--bootstrap-server", cluster.bootstrap_servers]
    if reporting_interval_ms:
        args += ["--reporting-interval", str(reporting_interval_ms)]
    if props:
        args += ["--command-property", *(f"{k}={v}" for k, v in props.items())]
    frame = parse_producer_output(_run_tool("kafka-producer-perf-test.sh", args, timeout))
    frame.attrs["command"] = ["kafka-producer-perf-test.sh", *args]
    return frame


def consumer_perf_test(cluster: "Cluster", topic: str, num_records: int, group: str | None = None, *,
                       settings: Mapping[str, Any] | None = None, timeout: float = 300.0,
                       **keywords: Any) -> pd.DataFrame:
    """``kafka-consumer-perf-test.sh``: a Java consumer in `group` (a fresh one by default) reads
    `num_records` records of `topic` from the beginning. `settings` (dotted names) are consumer properties.
    The parsed summary (:func:`parse_consumer_output`), one row; ``attrs["warning"]`` is set when the tool
    stopped before `num_records` (its --timeout without records ran out).

    >>> consumer_perf_test(cluster, topic, 500_000).fetch_records_per_s[0]
    """
    from ..cluster import unique_name

    refuse_keywords("consumer_perf_test", keywords)
    props = _props(settings)
    args = ["--bootstrap-server", cluster.bootstrap_servers, "--topic", topic, "--num-records", str(num_records),
            "--group", group or unique_name("perf-consumer")]
    if props:
        args += ["--command-property", *(f"{k}={v}" for k, v in props.items())]
    frame = parse_consumer_output(_run_tool("kafka-consumer-perf-test.sh", args, timeout))
    frame.attrs["command"] = ["kafka-consumer-perf-test.sh", *args]
    return frame


def python_consume(cluster: "Cluster", topic: str, num_records: int, batch: int = 0, touch: bool = False, *,
                   settings: Mapping[str, Any] | None = None, timeout: float = 120.0,
                   **keywords: Any) -> dict[str, Any]:
    """Read `num_records` of `topic` from the beginning with one confluent-kafka Consumer, as fast as it goes.

    `batch` 0: one ``poll()`` per record; `batch` N: ``consume(num_messages=N)``. `touch` also reads each
    record's value (``msg.value()``, a bytes object, and its length), as ConsumerPerformance counts bytes.
    Partitions are assigned directly (no group join) and the clock starts right after ``assign()``, as
    ConsumerPerformance's fetch time starts once it has joined its group (its first fetch included).
    `settings` are the consumer's librdkafka settings (dotted names).

    Returns ``records``, ``seconds``, ``records_per_s``, ``thread_us`` (CPU the calling Python thread spent
    per record: the Python side of the client) and ``process_us`` (CPU of the whole process per record,
    librdkafka's own fetch and parse threads included).

    >>> python_consume(cluster, topic, 500_000, batch=1000, settings={"fetch.min.bytes": 100_000})["records_per_s"]
    """
    refuse_keywords("python_consume", keywords)
    partitions = sorted(cluster.end_offsets(topic))
    consumer = cluster.consumer(settings={"enable.auto.commit": False, **(settings or {})})
    count = size = 0
    deadline = time.monotonic() + timeout
    try:
        consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in partitions])
        start, thread0, process0 = time.perf_counter(), time.thread_time(), time.process_time()
        while count < num_records:
            if time.monotonic() > deadline:
                raise TimeoutError(f"read {count} of {num_records} records of {topic!r} in {timeout:.0f} s")
            messages = consumer.consume(batch, 1.0) if batch else [consumer.poll(1.0)]
            for msg in messages:
                if msg is None:
                    continue
                if msg.error() is not None:
                    if msg.error().code() == KafkaError._PARTITION_EOF:
                        continue
                    raise KafkaException(msg.error())
                count += 1
                if touch:
                    size += len(msg.value())
        seconds = time.perf_counter() - start
        thread_cpu = time.thread_time() - thread0
        process_cpu = time.process_time() - process0
    finally:
        consumer.close()
    return {"records": count, "seconds": round(seconds, 3), "records_per_s": round(count / seconds),
            "thread_us": round(thread_cpu / count * 1e6, 3), "process_us": round(process_cpu / count * 1e6, 3),
            "bytes": size if touch else None}


def fetch_latency(cluster: "Cluster", topic: str, per_second: float = 200, seconds: float = 2.0, *,
                  settings: Mapping[str, Any] | None = None, **keywords: Any) -> pd.DataFrame:
    """Produce `per_second` small records for `seconds` (``linger.ms=0``) while a consumer with the given
    `settings` (librdkafka's dotted names) reads them; one row per record received: ``latency_ms`` from
    produce() to the consumer's hand.

    The consumer is assigned at the end offset of every partition before the first record is sent.

    >>> fetch_latency(cluster, topic, settings={"fetch.min.bytes": 100_000, "fetch.wait.max.ms": 300}).latency_ms.median()
    """
    refuse_keywords("fetch_latency", keywords)
    ends = cluster.end_offsets(topic)
    partitions = sorted(ends)
    consumer = cluster.consumer(settings={"enable.auto.commit": False, **(settings or {})})
    producer = cluster.producer(settings={"linger.ms": 0})
    rows: list[dict[str, Any]] = []
    stop = threading.Event()

    def send() -> None:
        due = time.perf_counter()
        i = 0
        while not stop.is_set():
            producer.produce(topic, value=f"{i} {time.perf_counter()!r}".encode(), partition=partitions[i % len(partitions)])
            producer.poll(0)
            i += 1
            due += 1 / per_second
            stop.wait(max(0.0, due - time.perf_counter()))

    sender = threading.Thread(target=send, name="latency-producer", daemon=True)
    try:
        consumer.assign([TopicPartition(topic, p, ends[p]) for p in partitions])
        consumer.poll(0.5)        # connected and fetching before the first record leaves
        sender.start()
        end = time.monotonic() + seconds
        while time.monotonic() < end + 1.0:   # one more second to receive what was sent last
            msg = consumer.poll(0.05)
            if msg is None or msg.error() is not None:
                if time.monotonic() > end:
                    stop.set()
                continue
            now = time.perf_counter()
            number, sent = msg.value().split()
            rows.append({"record": int(number), "latency_ms": (now - float(sent)) * 1000})
            if time.monotonic() > end:
                stop.set()
    finally:
        stop.set()
        if sender.is_alive():
            sender.join(5)
        producer.flush(10)
        consumer.close()
    return pd.DataFrame(rows, columns=["record", "latency_ms"])
